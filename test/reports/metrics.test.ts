import { execFile } from 'node:child_process';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { bootstrapIntervals, taskMetrics } from '../../src/reports/metrics.js';
import { testPython } from '../fixtures/python.js';

interface Case {
  name: string;
  truth: number[];
  probabilities: number[][];
  classes: number;
}

/** Random probability rows, skewed towards `favourite` so predictions are imbalanced too. */
function makeCase(name: string, rng: () => number, n: number, K: number, truthPriors: number[], favourite = -1, sharp = 2): Case {
  const cumulative = truthPriors.map((_, k) => truthPriors.slice(0, k + 1).reduce((a, b) => a + b, 0));
  const truth = Array.from({ length: n }, () => {
    const u = rng();
    const k = cumulative.findIndex((c) => u < c);
    return k < 0 ? K - 1 : k;
  });
  const probabilities = truth.map((t) => {
    const raw = Array.from({ length: K }, (_, k) => Math.exp(sharp * rng() + (k === t ? rng() * 2 : 0) + (k === favourite ? 1.5 : 0)));
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((v) => v / total);
  });
  return { name, truth, probabilities, classes: K };
}

function cases(): Case[] {
  const rng = seedrandom('metrics');
  const out: Case[] = [];
  for (const [n, K] of [
    [400, 7],
    [50, 6],
    [120, 3],
    [9, 2],
    [1, 3],
    [5, 7],
  ] as const) {
    out.push(makeCase(`random n=${n} K=${K}`, rng, n, K, Array(K).fill(1 / K)));
  }
  // Imbalanced like the seed's Daily: one class half the data, the rarest under 5%.
  out.push(makeCase('imbalanced', rng, 600, 7, [0.08, 0.5, 0.12, 0.06, 0.1, 0.03, 0.11], 1));
  // A class absent from the truth, and one never predicted.
  out.push(makeCase('absent class', rng, 80, 5, [0.4, 0.3, 0, 0.2, 0.1], 0, 0.5));
  // Every prediction the same class.
  out.push({ name: 'constant prediction', truth: [0, 1, 2, 2, 1, 0, 2], probabilities: Array(7).fill([0.2, 0.7, 0.1]), classes: 3 });
  // Truth all one class, predictions vary.
  out.push({
    name: 'constant truth',
    truth: [1, 1, 1, 1],
    probabilities: [
      [0.1, 0.8, 0.1],
      [0.6, 0.3, 0.1],
      [0.2, 0.3, 0.5],
      [0, 1, 0],
    ],
    classes: 3,
  });
  // Perfect and worst.
  out.push({
    name: 'perfect',
    truth: [0, 1, 2],
    probabilities: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    classes: 3,
  });
  return out;
}

describe('metrics agree with scikit-learn', () => {
  it('on randomized, imbalanced and degenerate inputs, to 1e-9', async () => {
    const all = cases();
    const python = await testPython();
    const child = execFile(python.executable, [new URL('./sklearn_metrics.py', import.meta.url).pathname], { maxBuffer: 64 * 1024 * 1024 });
    child.stdin!.end(JSON.stringify(all));
    let stdout = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    const code = await new Promise<number>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const answers = JSON.parse(stdout) as Record<string, any>[];
    all.forEach((c, i) => {
      const ours = taskMetrics(c.truth, c.probabilities, c.classes);
      const sk = answers[i]!;
      const close = (a: number, b: number, what: string) => expect(Math.abs(a - b), `${c.name}: ${what} ${a} vs ${b}`).toBeLessThan(1e-9);
      close(ours.top1, sk.accuracy, 'accuracy');
      close(ours.acsa, sk.balanced, 'ACSA vs balanced_accuracy_score');
      close(ours.macroF1, sk.macroF1, 'macro F1');
      close(ours.weightedF1, sk.weightedF1, 'weighted F1');
      close(ours.mcc, sk.mcc, 'MCC');
      if (sk.kappa !== null) close(ours.kappa, sk.kappa, 'kappa');
      close(ours.nll, sk.logLoss, 'log loss');
      expect(ours.confusion, c.name).toEqual(sk.confusion);
      ours.classes.forEach((row, k) => {
        close(row.precision, sk.precision[k], `precision[${k}]`);
        close(row.recall, sk.recall[k], `recall[${k}]`);
        close(row.f1, sk.f1[k], `f1[${k}]`);
        expect(row.support).toBe(sk.support[k]);
      });
      if (sk.topK)
        sk.topK.forEach((v: number, k: number) => {
          close(ours.topK[k]!, v, `top-${k + 1}`);
        });
      for (const value of [ours.top1, ours.acsa, ours.macroF1, ours.mcc, ours.kappa, ours.gmeanRecall, ours.nll, ours.brier, ours.ece])
        expect(Number.isFinite(value), c.name).toBe(true);
    });
  });
});

describe('metrics without a scikit-learn counterpart', () => {
  it('computes ECE and the reliability bins as an independent formula does', () => {
    const rng = seedrandom('ece');
    const truth = Array.from({ length: 300 }, () => Math.floor(rng() * 4));
    const probabilities = truth.map((t) => {
      const raw = [0, 1, 2, 3].map((k) => rng() + (k === t ? rng() : 0));
      return raw.map((v) => v / raw.reduce((a, b) => a + b, 0));
    });
    const ours = taskMetrics(truth, probabilities, 4, 10);
    // Independent: sort by confidence and walk the bins' edges.
    const items = probabilities
      .map((row, i) => ({ confidence: Math.max(...row), correct: row.indexOf(Math.max(...row)) === truth[i] ? 1 : 0 }))
      .sort((a, b) => a.confidence - b.confidence);
    let ece = 0;
    for (let b = 0; b < 10; b++) {
      const inBin = items.filter((x) => x.confidence > b / 10 && x.confidence <= (b + 1) / 10);
      if (inBin.length === 0) continue;
      const accuracy = inBin.reduce((s, x) => s + x.correct, 0) / inBin.length;
      const confidence = inBin.reduce((s, x) => s + x.confidence, 0) / inBin.length;
      ece += (inBin.length / items.length) * Math.abs(accuracy - confidence);
      expect(ours.reliability[b]!.count).toBe(inBin.length);
      expect(ours.reliability[b]!.accuracy).toBeCloseTo(accuracy, 12);
    }
    expect(ours.ece).toBeCloseTo(ece, 12);
  });

  it('computes the Brier score, G-mean of recalls and the normalised confusion matrix by hand', () => {
    // truth 0,0,1,2 ; predictions 0,1,1,1
    const m = taskMetrics(
      [0, 0, 1, 2],
      [
        [0.6, 0.3, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.8, 0.1],
        [0.3, 0.4, 0.3],
      ],
      3,
    );
    const brier = (0.4 ** 2 + 0.3 ** 2 + 0.1 ** 2 + (0.8 ** 2 + 0.7 ** 2 + 0.1 ** 2) + (0.1 ** 2 + 0.2 ** 2 + 0.1 ** 2) + (0.3 ** 2 + 0.4 ** 2 + 0.7 ** 2)) / 4;
    expect(m.brier).toBeCloseTo(brier, 12);
    expect(m.gmeanRecall).toBe(0); // class 2 is never recalled
    expect(m.confusionNormalized).toEqual([
      [0.5, 0.5, 0],
      [0, 1, 0],
      [0, 1, 0],
    ]);
    expect(m.classes[2]).toMatchObject({ support: 1, predicted: 0, precision: 0, recall: 0, f1: 0, specificity: 1 });
    expect(
      taskMetrics(
        [0, 1],
        [
          [0.9, 0.1],
          [0.2, 0.8],
        ],
        2,
      ).gmeanRecall,
    ).toBe(1);
    expect(taskMetrics([], [], 3)).toMatchObject({ top1: 0, acsa: 0, nll: 0, ece: 0, itemCount: 0 });
    // Both constant on one class: kappa is defined as 1 (scikit-learn gives NaN).
    expect(
      taskMetrics(
        [1, 1],
        [
          [0, 1],
          [0, 1],
        ],
        2,
      ).kappa,
    ).toBe(1);
  });

  it('bootstraps intervals that contain the point estimate and narrow with more items', () => {
    const rng = seedrandom('boot');
    const make = (n: number) => {
      const truth = Array.from({ length: n }, () => Math.floor(rng() * 3));
      return { truth, predicted: truth.map((t) => (rng() < 0.7 ? t : (t + 1) % 3)) };
    };
    const small = make(60);
    const large = make(2000);
    const a = bootstrapIntervals(small.truth, small.predicted, 3, 500, 7);
    const b = bootstrapIntervals(large.truth, large.predicted, 3, 500, 7);
    const point = taskMetrics(
      small.truth,
      small.predicted.map((p) => [0, 1, 2].map((k) => (k === p ? 1 : 0))),
      3,
    ).top1;
    expect(a.top1.low).toBeLessThanOrEqual(point);
    expect(a.top1.high).toBeGreaterThanOrEqual(point);
    expect(b.top1.high - b.top1.low).toBeLessThan(a.top1.high - a.top1.low);
    expect(bootstrapIntervals(small.truth, small.predicted, 3, 500, 7)).toEqual(a);
  });
});
