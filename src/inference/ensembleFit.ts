// Fitting an ensemble so that it wins: per-member temperature scaling, greedy ensemble selection with
// replacement (Caruana et al., 2004, as auto-sklearn and AutoGluon use it) and post-hoc logit
// adjustment (Menon et al., 2021). Pure functions over probabilities; the fitter scores the members
// through the serving path and stores what these return.
import { decisionScoresOf } from '../confusion.js';
import { EPSILON, mean } from '../numeric.js';

export const FIT_METRICS = ['MEAN_ACSA', 'MEAN_TOP1', 'NLL'] as const;
export type FitMetric = (typeof FIT_METRICS)[number];

/** One model's probabilities on the fitting items: [task][item][class]. */
export type Votes = number[][][];

/** Mean negative log-likelihood of the true classes. */
export function nll(rows: number[][], truth: number[]): number {
  return mean(rows.map((row, i) => -Math.log(Math.max(row[truth[i]!]!, EPSILON))));
}

/** The fitting objective, higher is better (NLL is negated). */
export function fitScore(votes: Votes, truth: number[][], metric: FitMetric): number {
  switch (metric) {
    case 'MEAN_ACSA':
      return mean(votes.map((rows, t) => decisionScoresOf(truth[t]!, rows, rows[0]?.length ?? 0).acsa));
    case 'MEAN_TOP1':
      return mean(votes.map((rows, t) => decisionScoresOf(truth[t]!, rows, rows[0]?.length ?? 0).top1));
    case 'NLL':
      return -mean(votes.map((rows, t) => nll(rows, truth[t]!)));
    default: {
      const unknown: never = metric;
      throw new Error(`unknown fit metric ${String(unknown)}`);
    }
  }
}

/** softmax(log p / T): T > 1 softens a distribution, T < 1 sharpens it; the arg-max never changes. */
export function withTemperature(row: readonly number[], temperature: number): number[] {
  return softmax(row.map((p) => Math.log(Math.max(p, EPSILON)) / temperature));
}

/** A numerically stable softmax in float64 (models.ts's softmaxInPlace works on float32 model outputs). */
function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** The temperature that minimises NLL on the rows (golden-section search on log T over [1/20, 20]). */
export function fitTemperature(rows: number[][], truth: number[]): number {
  const loss = (logT: number) =>
    nll(
      rows.map((row) => withTemperature(row, Math.exp(logT))),
      truth,
    );
  const ratio = (Math.sqrt(5) - 1) / 2;
  let [low, high] = [Math.log(1 / 20), Math.log(20)];
  let a = high - ratio * (high - low);
  let b = low + ratio * (high - low);
  let [fa, fb] = [loss(a), loss(b)];
  for (let i = 0; i < 60; i++) {
    if (fa <= fb) {
      [high, b, fb] = [b, a, fa];
      a = high - ratio * (high - low);
      fa = loss(a);
    } else {
      [low, a, fa] = [a, b, fb];
      b = low + ratio * (high - low);
      fb = loss(b);
    }
  }
  const best = Math.exp((low + high) / 2);
  // Keep T = 1 unless the fitted one is really better (flat losses wander).
  return loss(Math.log(best)) < loss(0) - 1e-12 ? best : 1;
}

/** The weighted mean of the members' votes. */
export function softVote(pool: readonly Votes[], weights: readonly number[]): Votes {
  const total = weights.reduce((a, b) => a + b, 0);
  return pool[0]!.map((task, t) => task.map((row, i) => row.map((_, k) => pool.reduce((s, votes, m) => s + (weights[m]! / total) * votes[t]![i]![k]!, 0))));
}

export interface SelectionStep {
  /** Index in the pool of the member added at this step. */
  member: number;
  score: number;
}

export interface Selection {
  /** Times each pool member was picked in the best prefix of the steps: its weight. */
  counts: number[];
  steps: SelectionStep[];
  /** 1-based length of the prefix kept. */
  bestStep: number;
  score: number;
  memberScores: number[];
}

/** Greedy selection with replacement: start from the best single member, then repeatedly add the member
 *  (any, again or not) that most improves the soft vote's score; keep the best prefix. The first step
 *  is the best member alone, so the result never scores below it on these items. */
export function greedySelection(pool: readonly Votes[], truth: number[][], metric: FitMetric, rounds = 50): Selection {
  if (pool.length === 0) throw new RangeError('ensemble selection needs at least one candidate');
  const memberScores = pool.map((votes) => fitScore(votes, truth, metric));
  const sums: Votes = pool[0]!.map((task) => task.map((row) => row.map(() => 0)));
  const counts = new Array<number>(pool.length).fill(0);
  const steps: SelectionStep[] = [];
  let best = { score: -Infinity, step: 0, counts: [...counts] };
  for (let step = 1; step <= rounds; step++) {
    let pick = { member: -1, score: -Infinity };
    for (let m = 0; m < pool.length; m++) {
      const score = trialScore(sums, pool[m]!, step, truth, metric);
      if (score > pick.score) pick = { member: m, score };
    }
    sums.forEach((task, t) => {
      task.forEach((row, i) => {
        row.forEach((_, k) => {
          row[k]! += pool[pick.member]![t]![i]![k]!;
        });
      });
    });
    counts[pick.member]! += 1;
    steps.push(pick);
    if (pick.score > best.score) best = { score: pick.score, step, counts: [...counts] };
  }
  return { counts: best.counts, steps, bestStep: best.step, score: best.score, memberScores };
}

/** fitScore of the vote (sums + candidate) / step, computed without building it: selection tries every
 *  candidate at every step, so this loop is where fitting spends its time. */
function trialScore(sums: Votes, candidate: Votes, step: number, truth: number[][], metric: FitMetric): number {
  let total = 0;
  for (let t = 0; t < sums.length; t++) {
    const rows = sums[t]!;
    const added = candidate[t]!;
    const labels = truth[t]!;
    if (metric === 'NLL') {
      let loss = 0;
      for (let i = 0; i < rows.length; i++) loss -= Math.log(Math.max((rows[i]![labels[i]!]! + added[i]![labels[i]!]!) / step, EPSILON));
      total -= rows.length ? loss / rows.length : 0;
      continue;
    }
    const classes = rows[0]?.length ?? 0;
    const support = new Array<number>(classes).fill(0);
    const right = new Array<number>(classes).fill(0);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const extra = added[i]!;
      let top = 0;
      let topValue = row[0]! + extra[0]!;
      for (let k = 1; k < classes; k++) {
        const value = row[k]! + extra[k]!;
        if (value > topValue) [top, topValue] = [k, value];
      }
      support[labels[i]!]! += 1;
      if (top === labels[i]) right[top]! += 1;
    }
    if (metric === 'MEAN_TOP1') total += rows.length ? right.reduce((a, b) => a + b, 0) / rows.length : 0;
    else total += mean(support.flatMap((n, k) => (n > 0 ? [right[k]! / n] : [])));
  }
  return total / sums.length;
}

/** Logit adjustment: argmax of log p - tau x log prior, as a distribution (p x prior^-tau, normalised). */
export function adjustForPrior(row: readonly number[], logPrior: readonly number[], tau: number): number[] {
  if (tau === 0) return [...row];
  return softmax(row.map((p, k) => Math.log(Math.max(p, EPSILON)) - tau * logPrior[k]!));
}

/** log of the class shares among the training labels, each count at least 1 so no class is impossible. */
export function logPriorOf(labels: readonly number[], classCount: number): number[] {
  const counts = new Array<number>(classCount).fill(0);
  for (const label of labels) counts[label]! += 1;
  const clamped = counts.map((c) => Math.max(c, 1));
  const total = clamped.reduce((a, b) => a + b, 0);
  return clamped.map((c) => Math.log(c / total));
}

export const TAU_GRID = Array.from({ length: 31 }, (_, i) => i / 10);

/** The tau on the grid (0 to 3) with the best `optimise` figure (ACSA by default, or top-1) on the rows;
 *  the smallest such tau on ties, so tau 0 (no adjustment) stays unless the adjustment raises the figure:
 *  the adjustment never lowers what it optimises on the fitting split. Both figures are returned. */
export function fitTau(rows: number[][], truth: number[], logPrior: number[], grid: readonly number[] = TAU_GRID, optimise: 'acsa' | 'top1' = 'acsa') {
  const classCount = logPrior.length;
  const scoresAt = (tau: number) =>
    decisionScoresOf(
      truth,
      rows.map((row) => adjustForPrior(row, logPrior, tau)),
      classCount,
    );
  const plain = scoresAt(0);
  let best = { tau: 0, scores: plain };
  for (const tau of grid) {
    const scores = scoresAt(tau);
    if (scores[optimise] > best.scores[optimise] + 1e-12) best = { tau, scores };
  }
  return { tau: best.tau, acsa: best.scores.acsa, plainAcsa: plain.acsa, top1: best.scores.top1, plainTop1: plain.top1 };
}
