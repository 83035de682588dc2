import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { stratifiedFolds, stratifiedSplit } from '../../src/data/split.js';

function randomLabels(n: number, seed: string): number[][] {
  const rng = seedrandom(seed);
  // Skewed like the seed: class 1 of task 0 about half the data.
  return Array.from({ length: n }, () => [rng() < 0.5 ? 1 : Math.floor(rng() * 7), Math.floor(rng() * 6), rng() < 0.6 ? 0 : Math.floor(rng() * 3)]);
}

describe('stratifiedSplit', () => {
  it('puts exactly round(n x fraction) items in validation', () => {
    for (const n of [1, 2, 7, 100, 1001]) {
      const splits = stratifiedSplit(randomLabels(n, `n${n}`), 0.25, 1);
      expect(splits.filter((s) => s === 'VALIDATION').length).toBe(Math.round(n * 0.25));
    }
  });

  it("keeps every task's class shares within a point or two in both splits", () => {
    const labels = randomLabels(4000, 'shares');
    const splits = stratifiedSplit(labels, 0.25, 7);
    for (let task = 0; task < 3; task++) {
      for (let k = 0; k < 7; k++) {
        const all = labels.filter((l) => l[task] === k).length;
        if (all === 0) continue;
        const inValidation = labels.filter((l, i) => l[task] === k && splits[i] === 'VALIDATION').length;
        expect(Math.abs(inValidation / 1000 - all / 4000), `task ${task} class ${k}`).toBeLessThan(0.02);
      }
    }
  });

  it('is fixed by its seed and changes with it', () => {
    const labels = randomLabels(500, 'seeded');
    expect(stratifiedSplit(labels, 0.25, 3)).toEqual(stratifiedSplit(labels, 0.25, 3));
    expect(stratifiedSplit(labels, 0.25, 3)).not.toEqual(stratifiedSplit(labels, 0.25, 4));
  });

  it('refuses a fraction outside [0, 1)', () => {
    expect(() => stratifiedSplit([[0]], 1, 1)).toThrow(/validationFraction must be in \[0, 1\), got 1/);
  });
});

describe('stratifiedFolds', () => {
  it('gives every item one fold, folds within one item of each other, each label tuple spread as evenly', () => {
    const labels = randomLabels(1003, 'folds');
    for (const k of [2, 3, 5, 10]) {
      const folds = stratifiedFolds(labels, k, 9);
      expect(folds).toHaveLength(labels.length);
      const sizes = Array.from({ length: k }, (_, f) => folds.filter((x) => x === f).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(labels.length);
      // Per label tuple, by brute force: its items' folds differ in count by at most one.
      const tuples = new Map<string, number[]>();
      labels.forEach((tuple, i) => {
        tuples.set(tuple.join(), [...(tuples.get(tuple.join()) ?? []), folds[i]!]);
      });
      for (const members of tuples.values()) {
        const counts = Array.from({ length: k }, (_, f) => members.filter((x) => x === f).length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('is fixed by its seed and changes with it, and refuses fewer than two folds', () => {
    const labels = randomLabels(300, 'seeded folds');
    expect(stratifiedFolds(labels, 5, 1)).toEqual(stratifiedFolds(labels, 5, 1));
    expect(stratifiedFolds(labels, 5, 1)).not.toEqual(stratifiedFolds(labels, 5, 2));
    expect(() => stratifiedFolds(labels, 1, 1)).toThrow(/folds must be an integer of at least 2, got 1/);
  });
});
