// What decides where and when a queued job executes, a training run or a prediction job alike: the
// RunQueue interface, with an in-process implementation (localRunQueue.ts, SQLite: the process that
// queues a job runs it) and one on PostgreSQL's job queue (postgresRunQueue.ts: any `fashion-how worker`
// host takes it). A queue only says "job N wants a worker"; whether it may run is the job's record
// (training/runRecord.ts or inference/predictionJobRecord.ts claims it). It sits below both users, so
// neither reaches into the other's folder for it.

/** Why a job was stopped from outside; passed as the AbortSignal's reason. */
export enum Stop {
  Cancel = 'cancel',
  Shutdown = 'shutdown',
  Timeout = 'timeout',
  /** Another process declared the run's worker dead (missing heartbeat) and may have resumed it. */
  Lost = 'lost',
}

export interface WorkerSlots {
  /** Jobs at once on this host. */
  concurrency: number;
  /** CUDA device per slot (one job per GPU); empty: no device is assigned (CPU, or torch's default). */
  gpus: number[];
}

/** Runs one job; `gpu` is the device its slot owns, if any. Resolves when the run's record is final. */
export type ExecuteRun = (runId: number, signal: AbortSignal, gpu: number | undefined) => Promise<void>;

export interface RunQueue {
  /** Whether any host may execute the queue's runs (PostgreSQL), not only the process that queued them. */
  readonly distributed: boolean;
  /** Starts executing jobs in this process until close(); a second call changes nothing. */
  startWorker(slots: WorkerSlots, execute: ExecuteRun): Promise<void>;
  /** Whether this process has started executing jobs. */
  readonly working: boolean;
  /** Adds a job for the run (once: a run already waiting or running is not added again). */
  enqueue(runId: number): Promise<void>;
  /** Drops a job waiting in this process ('dropped') or aborts one this process executes ('aborted');
   *  'unknown' when it waits or runs elsewhere, or not at all. */
  stop(runId: number, reason: Stop): 'dropped' | 'aborted' | 'unknown';
  /** Whether this process executes the run now. */
  isRunning(runId: number): boolean;
  /** Resolves when the run's job in this process has ended or was dropped; undefined when this process
   *  holds no job of the run. */
  settled(runId: number): Promise<void> | undefined;
  /** Runs whose jobs this process holds (waiting or running). */
  held(): number[];
  /** Removes the job of a run whose worker died, so that a resume never meets it. */
  release(runId: number): Promise<void>;
  /** Aborts every running job with `reason`, drops the waiting ones, waits for the running ones to end. */
  close(reason: Stop): Promise<void>;
}
