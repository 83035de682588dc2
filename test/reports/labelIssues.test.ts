// Confident learning's arithmetic by hand, and its behaviour on simulated noisy labels.
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { findLabelIssues } from '../../src/reports/labelIssues.js';

describe('confident learning', () => {
  it('computes thresholds, the confident joint and the ranked suspects as by hand', () => {
    // Three classes, six items. Labels 0,0,1,1,2,2.
    const labels = [0, 0, 1, 1, 2, 2];
    const p = [
      [0.8, 0.1, 0.1], // labelled 0, confidently 0
      [0.2, 0.7, 0.1], // labelled 0, confidently 1: a suspect, self-confidence 0.2
      [0.1, 0.8, 0.1], // labelled 1, 1
      [0.5, 0.4, 0.1], // labelled 1: 0 reaches t0 and 1 does not: suspect, self-confidence 0.4
      [0.1, 0.1, 0.8], // labelled 2, 2
      [0.3, 0.3, 0.4], // labelled 2: nothing reaches its threshold (t0 0.5, t1 0.6, t2 0.6): counted nowhere
    ];
    // t0 = (0.8 + 0.2) / 2 = 0.5; t1 = (0.8 + 0.4) / 2 = 0.6; t2 = (0.8 + 0.4) / 2 = 0.6.
    const { thresholds, confidentJoint, suspects } = findLabelIssues(labels, p, 3);
    expect(thresholds.map((t) => Number(t.toFixed(9)))).toEqual([0.5, 0.6, 0.6]);
    // Item 1: classes at or above their threshold are 1 (0.7 >= 0.6): suggested 1. Item 3: 0 (0.5 >= 0.5).
    expect(confidentJoint).toEqual([
      [1, 1, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    expect(suspects).toEqual([
      { index: 1, given: 0, selfConfidence: 0.2, suggested: 1, suggestedProbability: 0.7 },
      { index: 3, given: 1, selfConfidence: 0.4, suggested: 0, suggestedProbability: 0.5 },
    ]);
  });

  it('takes the most probable of the classes over their thresholds, and never a class nobody has', () => {
    // Labels only 0 and 1: t0 = 0.2, t1 = (0.5 + 0.1) / 2 = 0.3, class 2 has no threshold. Item 0
    // (labelled 0) reaches both t0 and t1 and is suggested 1, the more probable of the two, although
    // class 2 has more (0.5): nobody is labelled 2. Item 2 reaches no threshold and counts nowhere.
    const { thresholds, suspects } = findLabelIssues(
      [0, 1, 1],
      [
        [0.2, 0.3, 0.5],
        [0.1, 0.5, 0.4],
        [0.0, 0.1, 0.9],
      ],
      3,
    );
    expect(thresholds[2]).toBe(Number.POSITIVE_INFINITY);
    expect(suspects.map((s) => [s.index, s.suggested])).toEqual([[0, 1]]);
  });

  it('finds most flipped labels of a simulated model, with few false alarms', () => {
    // 2,000 items, 5 classes; 10 % of the labels flipped to another class. The simulated model puts
    // 0.6 to 0.9 on the clean class (the rest spread at random): a good model that was never shown the
    // flips (out of sample). A flipped item then has its given class well under that class's threshold
    // and the clean class over its own: confident learning should find nearly all flips and little else.
    const rng = seedrandom('cl');
    const n = 2000;
    const k = 5;
    const clean = Array.from({ length: n }, () => Math.floor(rng() * k));
    const flipped = new Set<number>();
    const labels = clean.map((c, i) => {
      if (rng() >= 0.1) return c;
      flipped.add(i);
      return (c + 1 + Math.floor(rng() * (k - 1))) % k;
    });
    const probabilities = clean.map((c) => {
      const top = 0.6 + 0.3 * rng();
      const rest = Array.from({ length: k - 1 }, () => rng());
      const sum = rest.reduce((a, b) => a + b, 0);
      const row = new Array<number>(k).fill(0);
      let r = 0;
      for (let j = 0; j < k; j++) row[j] = j === c ? top : ((1 - top) * rest[r++]!) / sum;
      return row;
    });
    const { suspects } = findLabelIssues(labels, probabilities, k);
    const found = new Set(suspects.map((s) => s.index));
    const hits = [...found].filter((i) => flipped.has(i)).length;
    const precision = hits / found.size;
    const recall = hits / flipped.size;
    // Counted by brute force over the same rows: every flip's clean class has p >= 0.6 while the class's
    // threshold (its mean over items labelled with it, about 0.9 x 0.75 + 0.1 x 0.07) sits near 0.68,
    // so a few flips with p in [0.6, 0.68) escape; clean items never leave the diagonal.
    expect(precision).toBe(1);
    expect(recall).toBeGreaterThan(0.6);
    // Ranked by self-confidence: the given label's probability never falls along the list.
    for (let i = 1; i < suspects.length; i++) expect(suspects[i]!.selfConfidence).toBeGreaterThanOrEqual(suspects[i - 1]!.selfConfidence);
  });
});
