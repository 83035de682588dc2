// Another client's classify latency while a hostile request runs: what the hostile suites compare
// against the same client's latency alone.
import { expect } from 'vitest';
import type { graphqlClient } from '../helpers.js';

const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { results { index } } }`;

/** The reader's classify latencies, one request at a time, until `done` settles (at least `least`). */
export async function classifyLatencies(
  reader: ReturnType<typeof graphqlClient>,
  input: Record<string, unknown>,
  done: Promise<unknown> | null,
  least: number,
): Promise<number[]> {
  let settled = done === null;
  done?.finally(() => {
    settled = true;
  });
  const latencies: number[] = [];
  while (!settled || latencies.length < least) {
    const started = performance.now();
    const { errors } = await reader(CLASSIFY, { input });
    expect(errors).toBeUndefined();
    latencies.push(performance.now() - started);
    if (settled && latencies.length >= least) break;
  }
  return latencies;
}

export const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
