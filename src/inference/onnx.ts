// Sessions of ONNX Runtime, which runs in a thread of its own (onnxRuntime.ts, the one module that
// imports onnxruntime-node): its run() blocks the thread it is called on for a whole batch, and here
// that would be the event loop every request needs. Callers pass plain Float32Arrays and get plain
// Float32Arrays back, as if the session were here.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Reply, Request, SessionOptions, TensorShape } from './onnxRuntime.js';

export type { SessionOptions, SessionTuning, TensorShape } from './onnxRuntime.js';

export interface ModelSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputs: TensorShape[];
  outputs: TensorShape[];
  executionProvider: string;
  /** Runs one batch: `input` is NCHW float32 of `batch` images of side `size`. With `consume`, the
   *  caller gives `input` up: its memory moves to ONNX Runtime's thread instead of being copied. */
  run(input: Float32Array, batch: number, size: number, options?: { consume?: boolean }): Promise<Record<string, Float32Array>>;
  /** Runs a graph whose one float32 input has any shape (benchmarks' MatMul graphs). */
  runShaped(input: Float32Array, dims: readonly number[], options?: { consume?: boolean }): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** The thread, started with the first session. It holds the process open only while it has work, so a
 *  command that has finished exits whatever sessions it left open. */
class RuntimeThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  /** Why the thread stopped; its sessions are gone with it. */
  private stopped?: Error;

  constructor() {
    // Under tsx or vitest this module is TypeScript, and so is its twin: the thread registers tsx's
    // loader for itself first (a worker's execArgv cannot carry --import on this Node).
    const runtime = new URL(`./onnxRuntime.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    this.worker = runtime.pathname.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(tsxLoader())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(runtime.href)}); });`, {
          eval: true,
        })
      : new Worker(runtime);
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) waiting?.resolve(reply.value);
      else waiting?.reject(new Error(reply.message));
    });
    // A thread that dies takes its sessions with it: whoever waits is told, and the next session starts a new one.
    const fail = (error: Error) => {
      if (thread === this) thread = undefined;
      this.stopped ??= new Error(`ONNX Runtime's thread stopped: ${error.message}`);
      for (const waiting of this.pending.values()) waiting.reject(this.stopped);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  ask<T>(request: DistributiveOmit<Request, 'id'>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }
}

/** The file URL of tsx's ESM API (its package's export map read by hand: vitest has no import.meta.resolve). */
function tsxLoader(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(manifest), exports['./esm/api']!.import.default)).href;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

let thread: RuntimeThread | undefined;

export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
  thread ??= new RuntimeThread();
  const runtime = thread;
  const opened = await runtime.ask<Omit<ModelSession, 'run' | 'runShaped' | 'release'> & { id: number }>({ op: 'open', modelPath, options });
  const { id, ...description } = opened;
  const runShaped = (input: Float32Array, dims: readonly number[], { consume = false } = {}) =>
    runtime.ask<Record<string, Float32Array>>(
      { op: 'run', session: id, input, dims },
      // Only an array that is its whole buffer moves; a view into a larger one is copied as before.
      consume && input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? [input.buffer as ArrayBuffer] : [],
    );
  return {
    ...description,
    run: (input, batch, size, options) => runShaped(input, [batch, 3, size, size], options),
    runShaped,
    release: () => runtime.ask<void>({ op: 'release', session: id }),
  };
}
