// ONNX Runtime runs in a thread of its own: onnxruntime-node's run() is synchronous under its promise,
// and on the main thread it held the event loop (every request's parsing and answer) for each batch.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession } from '../../src/inference/onnx.js';
import { testPython } from '../fixtures/python.js';

let dir: string;
let graph: string;
const SIDE = 1024;
const LAYERS = 8;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-onnx-thread-'));
  graph = path.join(dir, 'matmuls.onnx');
  // A chain of MatMuls, y = x W1 W2 ... (8.6 GMAC a run at 1,024 rows): long enough to see a blocked loop.
  const script = `
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
side, layers, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
weights = [numpy_helper.from_array((rng.standard_normal((side, side)) / np.sqrt(side)).astype(np.float32), f"w{i}") for i in range(layers)]
nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", f"w{i}"], [f"h{i + 1}" if i < layers - 1 else "y"]) for i in range(layers)]
g = helper.make_graph(nodes, "matmuls", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", side])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", side])], weights)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), out)
`;
  execFileSync((await testPython()).executable, ['-c', script, String(SIDE), String(LAYERS), graph]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ONNX Runtime's thread", () => {
  it('keeps the event loop turning while a run is in progress, and answers what a hand computation gives', async () => {
    const session = await openSession(graph, { preferCuda: false });
    const input = new Float32Array(SIDE * SIDE).map((_, i) => Math.sin(i));
    await session.runShaped(input, [SIDE, SIDE]);
    // A timer every 2 ms: the longest gap between its ticks is how long the loop was ever held.
    let last = performance.now();
    let longestGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 2);
    const runs: number[] = [];
    let output: Float32Array | undefined;
    for (let r = 0; r < 3; r++) {
      const started = performance.now();
      output = (await session.runShaped(input, [SIDE, SIDE])).y!;
      runs.push(performance.now() - started);
    }
    clearInterval(timer);
    console.log(`runs ${runs.map((r) => r.toFixed(0)).join(', ')} ms; the event loop's longest gap ${longestGap.toFixed(1)} ms`);
    // On the main thread the gap would be at least a whole run.
    expect(Math.min(...runs)).toBeGreaterThan(20);
    expect(longestGap).toBeLessThan(Math.min(...runs) * 0.75);

    // The answer is the graph's: row 5 computed again by NumPy, in float64, from the graph's weights.
    const expected = JSON.parse(
      execFileSync((await testPython()).executable, [
        '-c',
        'import sys, json, numpy as np, onnx; from onnx import numpy_helper; m = onnx.load(sys.argv[1]); side = int(sys.argv[2])\n' +
          'row = np.sin(np.arange(5 * side, 6 * side)).astype(np.float32).astype(np.float64)\n' +
          'for w in m.graph.initializer: row = row @ numpy_helper.to_array(w).astype(np.float64)\n' +
          'print(json.dumps(row.tolist()))',
        graph,
        String(SIDE),
      ]).toString(),
    ) as number[];
    for (let j = 0; j < SIDE; j++) expect(Math.abs(output![5 * SIDE + j]! - expected[j]!)).toBeLessThan(1e-3);

    // The caller's array is its own again after a run (copied), unless it gives it up (moved).
    expect(input.length).toBe(SIDE * SIDE);
    const given = input.slice();
    await session.runShaped(given, [SIDE, SIDE], { consume: true });
    expect(given.length).toBe(0);
    await session.release();
    await expect(session.runShaped(input, [SIDE, SIDE])).rejects.toThrow(/released/);
  }, 120_000);

  it("passes ONNX Runtime's own refusal back as an error, and keeps serving other sessions", async () => {
    await expect(openSession(path.join(dir, 'missing.onnx'))).rejects.toThrow(/missing\.onnx/);
    const session = await openSession(graph, { preferCuda: false });
    await expect(session.runShaped(new Float32Array(10), [2, 5])).rejects.toThrow(/dimension|shape|Got invalid dimensions/i);
    expect((await session.runShaped(new Float32Array(SIDE), [1, SIDE])).y).toHaveLength(SIDE);
    await session.release();
  });

  it('runs batches side by side in lanes, one copy of the session per thread, with the same answers', async () => {
    // A long run (1,024 rows) asked for, then a short one (1 row) at once. The order the answers come
    // in says whether the short one waited: one lane answers in the order asked (the short run queues
    // behind the long one), two lanes answer the short one first (its copy is another thread, which
    // needs only a few milliseconds of a core while the long run takes hundreds). Orders, not timings:
    // the other test files share these two cores and stretch every run, but not which one ends first.
    const long = new Float32Array(1024 * SIDE).map((_, i) => Math.cos(i));
    const short = long.slice(0, SIDE);
    const answerOrder = async (lanes: number) => {
      const session = await openSession(graph, { preferCuda: false, lanes, intraOpThreads: 1 });
      // Each copy runs once first, so no copy's first-run set-up falls inside what is compared.
      await Promise.all([session.runShaped(short, [1, SIDE]), session.runShaped(short, [1, SIDE])]);
      const order: string[] = [];
      const answer = async (name: string, input: Float32Array, rows: number) => {
        const out = await session.runShaped(input, [rows, SIDE]);
        order.push(name);
        return out.y!;
      };
      const [longOut, shortOut] = await Promise.all([answer('long', long, 1024), answer('short', short, 1)]);
      await session.release();
      await expect(session.runShaped(short, [1, SIDE])).rejects.toThrow(/released/);
      return { lanes: session.lanes, order, longOut, shortOut };
    };
    const single = await answerOrder(1);
    const double = await answerOrder(2);
    expect([single.lanes, double.lanes]).toEqual([1, 2]);
    expect(single.order).toEqual(['long', 'short']);
    expect(double.order).toEqual(['short', 'long']);
    // Every copy is the same graph: the same numbers, bit for bit, from either lane; and the short run's
    // one row is the long run's first row (the rows of a MatMul chain are independent; a one-row product
    // may take another kernel, so to float32 rounding).
    expect(double.longOut).toEqual(single.longOut);
    expect(double.shortOut).toEqual(single.shortOut);
    const rowGap = Math.max(...single.shortOut.map((v, j) => Math.abs(v - single.longOut[j]!)));
    expect(rowGap).toBeLessThan(1e-3);
    // A copy that cannot open takes the others with it: all lanes or none.
    await expect(openSession(path.join(dir, 'missing.onnx'), { lanes: 2 })).rejects.toThrow(/missing\.onnx/);
  }, 120_000);
});
