// The micro-batcher on its own: `run` here is the model (each row's output is its own first value, so
// the batches it saw can be read back); what is under test is which rows travel together and when.
import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../src/inference/batcher.js';

/** A batcher whose model records every batch (as the rows' tags) and can be held back. */
function recordingBatcher(options: { maxBatch: number; maxQueue?: number; maxWaitMs?: number; concurrency?: number }) {
  const batches: number[][] = [];
  let hold: Promise<void> = Promise.resolve();
  const batcher = new MicroBatcher({
    maxBatch: options.maxBatch,
    maxQueue: options.maxQueue ?? 100,
    maxWaitMs: options.maxWaitMs ?? 0,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    rowLength: 2,
    run: async (batch, rows) => {
      const tags = Array.from({ length: rows }, (_, i) => batch[i * 2]!);
      batches.push(tags);
      // Each batch waits on the hold set when it started, so a batch started later can be held alone.
      await hold;
      return { out: Float32Array.from(tags.flatMap((tag) => [tag, -tag])) };
    },
  });
  const row = (tag: number) => Float32Array.of(tag, 0);
  return {
    batcher,
    batches,
    row,
    /** Holds the model until the returned function is called. */
    holdModel() {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return release;
    },
  };
}

describe('MicroBatcher', () => {
  it('runs a lone request at once and gives every row its own slice of the outputs', async () => {
    const { batcher, batches, row } = recordingBatcher({ maxBatch: 8, maxWaitMs: 0 });
    const [out] = await batcher.submitAll([row(7)]);
    expect(Array.from(out!.out!)).toEqual([7, -7]);
    // Rows of one request (one turn of the event loop) share a batch.
    const outs = await batcher.submitAll([row(1), row(2), row(3)]);
    expect(outs.map((o) => Array.from(o.out!))).toEqual([
      [1, -1],
      [2, -2],
      [3, -3],
    ]);
    expect(batches).toEqual([[7], [1, 2, 3]]);
  });

  it('forms the next batch from the rows that arrive while one runs', async () => {
    const { batcher, batches, row, holdModel } = recordingBatcher({ maxBatch: 8 });
    const release = holdModel();
    const first = batcher.submit(row(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    const later = [batcher.submit(row(2), 'a'), batcher.submit(row(3), 'b')];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches).toEqual([[1]]); // nothing runs beside the running batch
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('takes rows round-robin across clients, so a backlog delays another client by about one batch', async () => {
    const { batcher, batches, row, holdModel } = recordingBatcher({ maxBatch: 4 });
    const release = holdModel();
    const blocker = batcher.submit(row(0), 'x');
    await new Promise((resolve) => setImmediate(resolve));
    const heavy = batcher.submitAll([101, 102, 103, 104, 105, 106, 107, 108, 109, 110].map(row), 'heavy');
    const light = batcher.submitAll([201, 202].map(row), 'light');
    release();
    await Promise.all([blocker, heavy, light]);
    expect(batches).toEqual([[0], [101, 201, 102, 202], [103, 104, 105, 106], [107, 108, 109, 110]]);
  });

  it('admits a request whole or refuses it at once, and keeps half the queue for others while they wait', async () => {
    const { batcher, batches, row, holdModel } = recordingBatcher({ maxBatch: 2, maxQueue: 6 });
    const release = holdModel();
    const running = batcher.submit(row(0), 'x');
    await new Promise((resolve) => setImmediate(resolve));
    await expect(batcher.submitAll([1, 2, 3, 4, 5, 6, 7].map(row), 'a')).rejects.toMatchObject({
      code: 'OVERLOADED',
      message: 'the model is overloaded: 0 images are waiting and this request adds 7, the limit is 6 (FASHION_HOW_INFERENCE_QUEUE); retry shortly',
    });
    expect(batcher.queueLength).toBe(0); // nothing of the refused request stayed
    const b = batcher.submitAll([21].map(row), 'b');
    await expect(batcher.submitAll([1, 2, 3, 4].map(row), 'a')).rejects.toMatchObject({
      code: 'OVERLOADED',
      message:
        'this client already has 0 images waiting for the model while others wait too; one client may hold at most 3 (half of FASHION_HOW_INFERENCE_QUEUE); retry shortly',
    });
    const a = batcher.submitAll([1, 2, 3].map(row), 'a');
    expect(batcher.queueLength).toBe(4);
    release();
    await Promise.all([running, a, b]);
    expect(batches.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 21]);
  });

  it('waits up to maxWaitMs for company when asked to', async () => {
    const { batcher, batches, row } = recordingBatcher({ maxBatch: 8, maxWaitMs: 50 });
    const first = batcher.submit(row(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = batcher.submit(row(2));
    await Promise.all([first, second]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('cuts the wait for company short once the batch is full', async () => {
    const { batcher, batches, row } = recordingBatcher({ maxBatch: 2, maxWaitMs: 5_000 });
    const started = performance.now();
    const first = batcher.submit(row(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all([first, batcher.submit(row(2))]);
    expect(batches).toEqual([[1, 2]]);
    // Without the cut the two rows would wait out the whole 5 s.
    expect(performance.now() - started).toBeLessThan(2_500);
    // The next lone row waits for company again.
    const third = batcher.submit(row(3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toEqual([[1, 2]]);
    void batcher.submit(row(4));
    await third;
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('runs as many batches at once as it has lanes, and the rows that come while all are busy form the next', async () => {
    const { batcher, batches, row, holdModel } = recordingBatcher({ maxBatch: 8, concurrency: 2 });
    const releaseFirst = holdModel();
    const first = batcher.submit(row(1));
    await new Promise((resolve) => setImmediate(resolve));
    const releaseSecond = holdModel();
    // The second lane is free: this row does not wait for the first batch.
    const second = batcher.submit(row(2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1], [2]]);
    const later = [batcher.submit(row(3), 'a'), batcher.submit(row(4), 'b')];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches).toEqual([[1], [2]]); // both lanes busy: nothing else runs
    releaseSecond();
    await second;
    await new Promise((resolve) => setImmediate(resolve));
    // The lane that came free took both waiting rows while the first batch still runs.
    expect(batches).toEqual([[1], [2], [3, 4]]);
    releaseFirst();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2], [3, 4]]);
  });
});
