// Sessions of ONNX Runtime, which runs in a thread of its own (onnxRuntime.ts, the one module that
// imports onnxruntime-node): its run() blocks the thread it is called on for a whole batch, and here
// that would be the event loop every request needs. Callers pass plain Float32Arrays and get plain
// Float32Arrays back, as if the session were here.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Reply, Request, SessionOptions, TensorShape } from './onnxRuntime.js';

export type { SessionOptions, TensorShape } from './onnxRuntime.js';

export interface ModelSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputs: TensorShape[];
  outputs: TensorShape[];
  executionProvider: string;
  /** Batches this session runs side by side (its lanes, see SessionTuning.lanes). */
  lanes: number;
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
      const lane = threads.indexOf(this);
      if (lane >= 0) threads[lane] = undefined;
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

/** A check that ran past its time: its process was killed, with whatever the graph was doing. */
export class CheckTimeLimitError extends Error {
  constructor(readonly limitMs: number) {
    super(`the check ran past its time limit of ${limitMs} ms and was stopped`);
    this.name = 'CheckTimeLimitError';
  }
}

/** ONNX Runtime in a child process of its own, for one graph under check (an import, a run's export).
 *  A thread stuck in a native run cannot be stopped (a worker's terminate() waits for the run to return),
 *  and the shared runtime threads serve every client: a process can be killed, whatever the graph does. */
class CheckProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private stopped?: Error;
  private readonly deadline: NodeJS.Timeout;

  constructor(timeLimitMs: number) {
    const runtime = fileURLToPath(new URL(`./onnxRuntime.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
    // Under tsx or vitest the runtime module is TypeScript: the child loads tsx first (a process, unlike
    // a worker thread, takes --import). Nothing of this process's own flags is passed on.
    this.child = fork(runtime, ['--onnx-runtime-child'], {
      execArgv: runtime.endsWith('.ts') ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiting?.resolve(reply.value);
      else waiting?.reject(new Error(reply.message));
    });
    this.child.on('error', (error) => this.stop(new Error(`the check's process failed: ${error.message}`)));
    this.child.on('exit', (code, signal) => this.stop(new Error(`the check's process ended (${signal ?? `exit code ${code}`})`)));
    this.deadline = setTimeout(() => this.stop(new CheckTimeLimitError(timeLimitMs)), timeLimitMs);
  }

  ask<T>(request: DistributiveOmit<Request, 'id'>): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  /** Kills the process (if it still runs) and fails whatever waits on it with `reason`. */
  stop(reason: Error) {
    clearTimeout(this.deadline);
    this.stopped ??= reason;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const waiting of this.pending.values()) waiting.reject(this.stopped);
    this.pending.clear();
  }

  /** Resolves once the process is gone (at once if it already is). */
  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

/**
 * Opens a graph for a check (an imported model, a finished run's export) in a process of its own, never
 * in the runtime threads that serve: however long the graph takes to open or run, serving goes on, and
 * past `timeLimitMs` (counted from here, for opening and every run together) the process is killed and
 * every call fails with CheckTimeLimitError. release() ends the process.
 */
export async function openCheckSession(modelPath: string, options: SessionOptions & { timeLimitMs: number }): Promise<ModelSession> {
  const { timeLimitMs, lanes: _, ...perCopy } = options;
  const check = new CheckProcess(timeLimitMs);
  type Opened = Omit<ModelSession, 'run' | 'runShaped' | 'release' | 'lanes'> & { id: number };
  let opened: Opened;
  try {
    opened = await check.ask<Opened>({ op: 'open', modelPath, options: perCopy });
  } catch (error) {
    check.stop(error as Error);
    await check.exited();
    throw error;
  }
  const { id, ...description } = opened;
  const runShaped = (input: Float32Array, dims: readonly number[]) => check.ask<Record<string, Float32Array>>({ op: 'run', session: id, input, dims });
  return {
    ...description,
    lanes: 1,
    run: (input, batch, size) => runShaped(input, [batch, 3, size, size]),
    runShaped,
    release: async () => {
      check.stop(new Error('the check session was released'));
      await check.exited();
    },
  };
}

/** The file URL of tsx's ESM API (its package's export map read by hand: vitest has no import.meta.resolve). */
function tsxLoader(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(manifest), exports['./esm/api']!.import.default)).href;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Runtime threads by lane: lane 0 of every session runs in the first, lane 1 in the second, and so on. */
const threads: (RuntimeThread | undefined)[] = [];
const threadOf = (lane: number) => (threads[lane] ??= new RuntimeThread());

/**
 * Opens a graph in ONNX Runtime's thread. With `lanes` above 1, one copy of the session opens in each of
 * that many threads and each run goes to the copy with the fewest runs in flight, so that many batches
 * run at once. Copies share nothing, so a copy whose operators run on one thread never waits for a
 * second one: on a server whose cores also decode photos and answer HTTP, two one-thread copies beat one
 * two-thread session (bench:serve). Each copy takes cores / lanes operator threads unless told (an
 * intraOpThreads of 0 or none).
 */
export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
  const { lanes: asked, ...perCopy } = options;
  const lanes = Math.max(1, Math.floor(asked ?? 1));
  if (lanes > 1 && !perCopy.intraOpThreads) perCopy.intraOpThreads = Math.max(1, Math.floor(os.availableParallelism() / lanes));
  type Opened = Omit<ModelSession, 'run' | 'runShaped' | 'release' | 'lanes'> & { id: number };
  // The threads are taken once: one that dies while opening is replaced by the next caller, not here.
  const runtimes = Array.from({ length: lanes }, (_, lane) => threadOf(lane));
  const opened = await Promise.allSettled(runtimes.map((runtime) => runtime.ask<Opened>({ op: 'open', modelPath, options: perCopy })));
  const copies = opened.flatMap((o, lane) => (o.status === 'fulfilled' ? [{ runtime: runtimes[lane]!, id: o.value.id, inFlight: 0 }] : []));
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    // All or none: a copy that did open is released rather than left holding memory in its thread.
    await Promise.allSettled(copies.map((c) => c.runtime.ask<void>({ op: 'release', session: c.id })));
    throw (failed as PromiseRejectedResult).reason;
  }
  const { id: _, ...description } = (opened[0] as PromiseFulfilledResult<Opened>).value;
  const runShaped = async (input: Float32Array, dims: readonly number[], { consume = false } = {}) => {
    const copy = copies.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    copy.inFlight++;
    try {
      return await copy.runtime.ask<Record<string, Float32Array>>(
        { op: 'run', session: copy.id, input, dims },
        // Only an array that is its whole buffer moves; a view into a larger one is copied as before.
        consume && input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? [input.buffer as ArrayBuffer] : [],
      );
    } finally {
      copy.inFlight--;
    }
  };
  return {
    ...description,
    lanes,
    run: (input, batch, size, options) => runShaped(input, [batch, 3, size, size], options),
    runShaped,
    release: async () => {
      await Promise.all(copies.map((c) => c.runtime.ask<void>({ op: 'release', session: c.id })));
    },
  };
}
