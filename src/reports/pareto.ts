// The Pareto front of models by accuracy against a cost (size, latency): the models no other model
// beats on both at once. Pure, so the dashboard's leaderboard and the tests share one definition.

export interface TradeOff {
  /** Higher is better (e.g. mean ACSA). */
  accuracy: number;
  /** Lower is better (e.g. MB, ms per image). */
  cost: number;
}

/** Indices of the points on the front: no other point is at least as accurate and at most as costly
 *  while strictly better on one of the two. Points with equal values are all kept. */
export function paretoFront(points: readonly TradeOff[]): Set<number> {
  const front = new Set<number>();
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.accuracy >= p.accuracy && q.cost <= p.cost && (q.accuracy > p.accuracy || q.cost < p.cost));
    if (!dominated) front.add(i);
  });
  return front;
}
