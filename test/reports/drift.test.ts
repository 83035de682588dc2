// The drift report's statistics against SciPy (an independent implementation) and closed forms.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { chiSquareTest, ksTest, psi } from '../../src/reports/drift.js';

/** SciPy's answers for the same inputs, computed by a Python child process. */
function scipy(script: string, input: unknown): any {
  return JSON.parse(
    execFileSync('python3', ['-c', `import json, sys\nfrom scipy import stats\nimport numpy as np\nx = json.load(sys.stdin)\n${script}`], {
      input: JSON.stringify(input),
    }).toString(),
  );
}

/** A reproducible stream of numbers in [0, 1). */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('drift statistics', () => {
  it('computes the population stability index as its definition, with empty bins floored', () => {
    const reference = [0.5, 0.3, 0.2];
    const window = [0.2, 0.3, 0.5];
    const byHand = (0.2 - 0.5) * Math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * Math.log(0.5 / 0.2);
    expect(psi(reference, window)).toBeCloseTo(byHand, 12);
    expect(psi(reference, reference)).toBe(0);
    expect(psi([1, 0], [0.5, 0.5])).toBeCloseTo((0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 12);
  });

  it("gives Pearson's chi-square test of a 2 x K table as SciPy does", () => {
    const tables = [
      [
        [30, 20, 50],
        [25, 35, 40],
      ],
      [
        [100, 3, 0, 7],
        [40, 1, 0, 9],
      ],
      [
        [12, 18],
        [30, 10],
      ],
    ];
    const expected = scipy(
      'out = []\nfor t in x:\n  t = np.array(t)\n  t = t[:, t.sum(axis=0) > 0]\n  c, p, dof, _ = stats.chi2_contingency(t, correction=False)\n  out.append([c, p, dof])\nprint(json.dumps(out))',
      tables,
    );
    tables.forEach(([a, b], i) => {
      const ours = chiSquareTest(a!, b!);
      expect(ours.chiSquare).toBeCloseTo(expected[i][0], 9);
      expect(ours.pValue).toBeCloseTo(expected[i][1], 9);
      expect(ours.degreesOfFreedom).toBe(expected[i][2]);
    });
    // df = 1 in closed form: p = erfc(sqrt(x / 2)); this table gives x = 8, so p = erfc(2).
    const [a, b] = [
      [60, 40],
      [40, 60],
    ];
    const { chiSquare, pValue } = chiSquareTest(a!, b!);
    expect(chiSquare).toBeCloseTo(8, 12);
    expect(pValue).toBeCloseTo(0.004677734981047177, 9);
  });

  it('gives the two-sample Kolmogorov-Smirnov statistic exactly and its asymptotic p-value near SciPy', () => {
    const next = random(7);
    const samples = [
      [Array.from({ length: 120 }, () => next()), Array.from({ length: 80 }, () => next())],
      [Array.from({ length: 70 }, () => next() * 255), Array.from({ length: 70 }, () => next() * 255 * 0.6)],
      [Array.from({ length: 200 }, () => Math.round(next() * 10)), Array.from({ length: 150 }, () => Math.round(next() * 10 + 1))],
    ];
    const expected = scipy("print(json.dumps([list(stats.ks_2samp(a, b, method='asymp')) for a, b in x]))", samples);
    samples.forEach(([a, b], i) => {
      const ours = ksTest(a!, b!);
      expect(ours.ks).toBeCloseTo(expected[i][0], 12);
      // SciPy's asymptotic p-value has no small-sample correction; Stephens' correction moves it a little.
      expect(Math.abs(Math.log10(Math.max(ours.pValue, 1e-300)) - Math.log10(Math.max(expected[i][1], 1e-300)))).toBeLessThan(0.35);
    });
    expect(ksTest([1, 2, 3], [1, 2, 3])).toEqual({ ks: 0, pValue: 1 });
  });
});
