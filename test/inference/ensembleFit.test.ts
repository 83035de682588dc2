import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import {
  adjustForPrior,
  fitScore,
  fitTau,
  fitTemperature,
  greedySelection,
  logPriorOf,
  nll,
  softVote,
  TAU_GRID,
  type Votes,
  withTemperature,
} from '../../src/inference/ensembleFit.js';

/** A random model's votes on `items` items for tasks with these class counts, leaning to the truth by `skill`. */
function randomVotes(rng: () => number, truth: number[][], classCounts: number[], skill: number): Votes {
  return truth.map((labels, t) =>
    labels.map((label) => {
      const raw = Array.from({ length: classCounts[t]! }, (_, k) => Math.exp(2 * rng() + (k === label ? skill * rng() : 0)));
      const total = raw.reduce((a, b) => a + b, 0);
      return raw.map((v) => v / total);
    }),
  );
}

/** Every weight vector (counts summing to 1..maxPicks) over the pool: the brute-force best soft vote. */
function bruteForceBest(pool: Votes[], truth: number[][], metric: Parameters<typeof fitScore>[2], maxPicks: number): number {
  let best = -Infinity;
  const counts = new Array<number>(pool.length).fill(0);
  const visit = (m: number, left: number) => {
    if (m === pool.length) {
      if (counts.some((c) => c > 0)) best = Math.max(best, fitScore(softVote(pool, counts), truth, metric));
      return;
    }
    for (let c = 0; c <= left; c++) {
      counts[m] = c;
      visit(m + 1, left - c);
    }
    counts[m] = 0;
  };
  visit(0, maxPicks);
  return best;
}

describe('greedy ensemble selection', () => {
  it('never scores below the best single member, nor above the brute-force optimum, on small random pools', () => {
    for (let trial = 0; trial < 12; trial++) {
      const rng = seedrandom(`pool ${trial}`);
      const classCounts = [4, 3];
      const items = 30;
      const truth = classCounts.map((k) => Array.from({ length: items }, () => Math.floor(rng() ** 2 * k))); // skewed classes
      const pool = Array.from({ length: 3 }, (_, m) => randomVotes(rng, truth, classCounts, 1 + m));
      for (const metric of ['MEAN_ACSA', 'MEAN_TOP1', 'NLL'] as const) {
        const rounds = 4;
        const selection = greedySelection(pool, truth, metric, rounds);
        const memberScores = pool.map((votes) => fitScore(votes, truth, metric));
        expect(selection.memberScores).toEqual(memberScores);
        expect(selection.score).toBeGreaterThanOrEqual(Math.max(...memberScores));
        expect(selection.score).toBeLessThanOrEqual(bruteForceBest(pool, truth, metric, rounds) + 1e-12);
        // The stored weights reproduce the stored score.
        expect(fitScore(softVote(pool, selection.counts), truth, metric)).toBeCloseTo(selection.score, 12);
        expect(selection.counts.reduce((a, b) => a + b, 0)).toBe(selection.bestStep);
      }
    }
  });

  it('starts from the best member and can pick a member again', () => {
    // Item-wise: member 0 gets items 0-1 right, member 1 items 2-3, member 2 is right on all but weakly.
    const truth = [[0, 0, 1, 1]];
    const pool: Votes[] = [
      [
        [
          [0.9, 0.1],
          [0.9, 0.1],
          [0.8, 0.2],
          [0.8, 0.2],
        ],
      ],
      [
        [
          [0.2, 0.8],
          [0.2, 0.8],
          [0.1, 0.9],
          [0.1, 0.9],
        ],
      ],
      [
        [
          [0.55, 0.45],
          [0.55, 0.45],
          [0.45, 0.55],
          [0.45, 0.55],
        ],
      ],
    ];
    const selection = greedySelection(pool, truth, 'MEAN_TOP1', 5);
    expect(selection.steps[0]!.member).toBe(2); // the only member with top-1 = 1
    expect(selection.memberScores).toEqual([0.5, 0.5, 1]);
    expect(selection.score).toBe(1);
    expect(selection.counts[2]).toBeGreaterThanOrEqual(1);
  });
});

describe('temperature scaling', () => {
  it('finds the NLL minimum of an over-confident model and lowers its NLL', () => {
    const rng = seedrandom('temperature');
    const truth: number[] = [];
    const rows: number[][] = [];
    for (let i = 0; i < 400; i++) {
      // Calibrated logits, then sharpened 3x: an over-confident model.
      const logits = [rng() * 2, rng() * 2, rng() * 2];
      const exps = logits.map(Math.exp);
      const calibrated = exps.map((v) => v / exps.reduce((x, y) => x + y, 0));
      const u = rng();
      truth.push(u < calibrated[0]! ? 0 : u < calibrated[0]! + calibrated[1]! ? 1 : 2);
      const sharp = logits.map((z) => Math.exp(3 * z));
      rows.push(sharp.map((v) => v / sharp.reduce((a, b) => a + b, 0)));
    }
    const temperature = fitTemperature(rows, truth);
    const at = (T: number) =>
      nll(
        rows.map((row) => withTemperature(row, T)),
        truth,
      );
    expect(temperature).toBeGreaterThan(1.5); // it undoes most of the 3x sharpening
    expect(at(temperature)).toBeLessThan(at(1));
    // Independent check: no temperature on a fine grid does better.
    for (let T = 0.1; T <= 10; T += 0.01) expect(at(temperature)).toBeLessThanOrEqual(at(T) + 1e-9);
  });

  it('keeps the arg-max of every row', () => {
    const row = [0.5, 0.3, 0.2];
    for (const T of [0.2, 1, 5]) expect(withTemperature(row, T).indexOf(Math.max(...withTemperature(row, T)))).toBe(0);
    // T = 2 on [0.5, 0.3, 0.2]: proportional to the square roots.
    const roots = row.map(Math.sqrt);
    withTemperature(row, 2).forEach((p, k) => {
      expect(p).toBeCloseTo(roots[k]! / roots.reduce((a, b) => a + b, 0), 12);
    });
  });
});

describe('logit adjustment', () => {
  it('raises ACSA on a skewed set, with the tau a hand computation predicts', () => {
    // Prior 9:1. Item B (true 0) flips to class 1 once (1/9)^tau < 0.3/0.7, i.e. tau > log(7/3)/log 9 = 0.386;
    // item C (true 1) flips once tau > log(0.6/0.4)/log 9 = 0.185. So tau in (0.185, 0.386) gets all four
    // right: ACSA 0.75 -> 1, and 0.2 is the smallest such tau on the grid.
    const logPrior = logPriorOf([...new Array(9).fill(0), 1], 2);
    expect(logPrior[0]).toBeCloseTo(Math.log(0.9), 12);
    const rows = [
      [0.9, 0.1],
      [0.7, 0.3],
      [0.6, 0.4],
      [0.45, 0.55],
    ];
    const truth = [0, 0, 1, 1];
    expect(fitTau(rows, truth, logPrior)).toEqual({ tau: 0.2, acsa: 1, plainAcsa: 0.75, top1: 1, plainTop1: 0.75 });
    // p x prior^-tau, normalised: for C at tau 0.2, 0.6 x 0.9^-0.2 against 0.4 x 0.1^-0.2.
    const a = 0.6 * 0.9 ** -0.2;
    const b = 0.4 * 0.1 ** -0.2;
    const adjusted = adjustForPrior(rows[2]!, logPrior, 0.2);
    expect(adjusted[0]).toBeCloseTo(a / (a + b), 12);
    expect(adjusted[1]).toBeGreaterThan(adjusted[0]!);
  });

  it('keeps tau 0 when the adjustment would lower the top-1 it optimises, though it would raise ACSA', () => {
    // Prior 9:1, so an item flips to class 1 once its p0 / p1 falls below 9^tau. Three true-0 items with
    // ratios 1.22, 1.27 and 1.33 sit closer to the line than the true-1 item (ratio 1.5): any tau that
    // rescues the true-1 item (9^tau > 1.5, tau >= 0.2 on the grid) flips all three. Top-1 4/5 -> 2/5,
    // ACSA (1 + 0) / 2 -> (1/4 + 1) / 2.
    const logPrior = logPriorOf([...new Array(9).fill(0), 1], 2);
    const rows = [
      [0.9, 0.1],
      [0.55, 0.45],
      [0.56, 0.44],
      [0.57, 0.43],
      [0.6, 0.4],
    ];
    const truth = [0, 0, 0, 0, 1];
    expect(fitTau(rows, truth, logPrior, TAU_GRID, 'acsa')).toEqual({ tau: 0.2, acsa: 0.625, plainAcsa: 0.5, top1: 0.4, plainTop1: 0.8 });
    expect(fitTau(rows, truth, logPrior, TAU_GRID, 'top1')).toEqual({ tau: 0, acsa: 0.5, plainAcsa: 0.5, top1: 0.8, plainTop1: 0.8 });
  });

  it('gives a class never seen in training a finite prior', () => {
    const logPrior = logPriorOf([0, 0, 0], 3);
    expect(logPrior.every(Number.isFinite)).toBe(true);
    expect(Math.exp(logPrior[1]!)).toBeCloseTo(1 / 5, 12); // counts clamped to 1: 3, 1, 1
  });
});
