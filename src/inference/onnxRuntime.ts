// The one module that imports onnxruntime-node, and the thread it runs in. onnxruntime-node's run() is
// synchronous under its promise: on the main thread every batch held the event loop for its whole length,
// so no request was read, parsed or sent its answer meanwhile and a loaded server left a core idle
// (bench:serve). onnx.ts starts this module as a worker thread and talks to it in messages; sessions
// live here, and callers there pass plain Float32Arrays and get plain Float32Arrays back.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { SessionTuning } from '../config.js';

export interface SessionOptions extends SessionTuning {
  /** Use the CUDA execution provider when this build of onnxruntime-node offers it. */
  preferCuda?: boolean;
}

export interface TensorShape {
  name: string;
  /** Dimensions; a symbolic one (the batch) is a string. */
  shape: readonly (number | string)[];
}

/** listSupportedBackends names CUDA whenever the build has it, even when its provider library was never
 *  installed (the default: the install step that fetches it is skipped). So CUDA is tried only when the
 *  library sits beside the binding, and a failure means CPU from then on. */
let cudaWorks: boolean | undefined;

function cudaInstalled(): boolean {
  try {
    const packageDir = path.dirname(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
    const binding = path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(path.join(binding, 'libonnxruntime_providers_cuda.so')) && ort.listSupportedBackends().some((b) => b.name === 'cuda');
  } catch {
    return false;
  }
}

function create(modelPath: string, executionProvider: 'cuda' | 'cpu', options: SessionTuning) {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: [executionProvider],
    intraOpNumThreads: options.intraOpThreads ?? 0,
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    executionMode: options.executionMode ?? 'sequential',
    enableCpuMemArena: options.memoryArena ?? true,
    enableMemPattern: options.memoryPattern ?? true,
    logSeverityLevel: 3,
    // A server decodes images and answers HTTP on the same cores: ONNX Runtime's threads sleep between
    // runs instead of spinning, or they starve that work (the serving benchmark measures the difference).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}

async function openHere(modelPath: string, options: SessionOptions) {
  let session: ort.InferenceSession | undefined;
  let executionProvider: 'cuda' | 'cpu' = 'cpu';
  if (options.preferCuda !== false && cudaWorks !== false && cudaInstalled()) {
    try {
      session = await create(modelPath, 'cuda', options);
      executionProvider = 'cuda';
      cudaWorks = true;
    } catch {
      cudaWorks = false;
    }
  }
  session ??= await create(modelPath, 'cpu', options);
  const inputName = session.inputNames[0]!;
  const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorShape[] =>
    metadata.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
  const runShaped = async (input: Float32Array, dims: readonly number[]) => {
    const outputs = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
    return Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, value.data as Float32Array]));
  };
  return {
    description: {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      inputs: shapes(session.inputMetadata),
      outputs: shapes(session.outputMetadata),
      executionProvider,
    },
    runShaped,
    release: () => session.release(),
  };
}

/** What the main thread asks of this one, and what it answers (ids pair them). */
export type Request =
  | { id: number; op: 'open'; modelPath: string; options: SessionOptions }
  | { id: number; op: 'run'; session: number; input: Float32Array; dims: readonly number[] }
  | { id: number; op: 'release'; session: number };
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

const sessions = new Map<number, Awaited<ReturnType<typeof openHere>>>();
let nextSession = 1;

async function handle(request: Request): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case 'open': {
      const session = await openHere(request.modelPath, request.options);
      const id = nextSession++;
      sessions.set(id, session);
      return { value: { id, ...session.description }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(request.session);
      if (!session) throw new Error('the session was released');
      const outputs = await session.runShaped(request.input, request.dims);
      // An output's data may be a view into memory ONNX Runtime keeps: send copies, each its own buffer.
      const copies = Object.fromEntries(Object.entries(outputs).map(([name, data]) => [name, data.slice()]));
      return { value: copies, transfer: Object.values(copies).map((c) => c.buffer as ArrayBuffer) };
    }
    case 'release': {
      const session = sessions.get(request.session);
      sessions.delete(request.session);
      await session?.release();
      return { value: null, transfer: [] };
    }
  }
}

/** Where requests come from: the parent thread's port, or, in a child process that onnx.ts started for a
 *  graph under check (killable, so a graph that runs too long never holds a thread that serves), its IPC
 *  channel. Imported anywhere else, this module listens to nothing. */
interface Port {
  on(event: 'message', listener: (request: Request) => void): unknown;
  postMessage(reply: Reply, transfer: ArrayBuffer[]): unknown;
}
function portOfThisProcess(): Port | undefined {
  if (parentPort) return parentPort;
  if (!process.argv.includes('--onnx-runtime-child') || !process.send) return undefined;
  // A parent that dies (even by kill -9) closes the channel: the check is for nobody now.
  process.on('disconnect', () => process.exit(0));
  return { on: (_event, listener) => process.on('message', listener), postMessage: (reply) => process.send!(reply) };
}
const port = portOfThisProcess();

// One request at a time, in order, as on the main thread before: ONNX Runtime's own threads already
// use every core for one run, and a release never overtakes the run before it.
let chain = Promise.resolve();
port?.on('message', (request: Request) => {
  chain = chain.then(async () => {
    try {
      const { value, transfer } = await handle(request);
      port.postMessage({ id: request.id, ok: true, value } satisfies Reply, transfer);
    } catch (error) {
      port.postMessage({ id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies Reply, []);
    }
  });
});
