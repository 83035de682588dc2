import { describe, expect, it } from 'vitest';
import { paretoFront } from '../../src/reports/pareto.js';

describe('paretoFront', () => {
  it('keeps the models no other beats on accuracy and cost at once', () => {
    const points = [
      { accuracy: 0.9, cost: 50 }, // most accurate
      { accuracy: 0.8, cost: 10 }, // cheap and good
      { accuracy: 0.7, cost: 20 }, // beaten by the one above on both
      { accuracy: 0.8, cost: 12 }, // as accurate as #1 but dearer
      { accuracy: 0.5, cost: 5 }, // cheapest
      { accuracy: 0.9, cost: 50 }, // a tie with #0 stays
    ];
    expect([...paretoFront(points)].sort()).toEqual([0, 1, 4, 5]);
    expect([...paretoFront([])]).toEqual([]);
    expect([...paretoFront([{ accuracy: 0.1, cost: 1 }])]).toEqual([0]);
  });
});
