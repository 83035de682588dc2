import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../../src/data/split.js';

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
