// The run queue on PostgreSQL, through graphile-worker (the one module that talks to the job queue):
// any `fashion-how worker` host takes a queued run.
// Chosen over pg-boss because a job is picked up through LISTEN/NOTIFY the moment it is added (pg-boss
// polls, every 2 s by default), jobs are taken with SKIP LOCKED by any number of hosts, and its 0.17
// line runs on the Node 20 this project supports (0.18 and pg-boss 11 need Node 22).
//
// The queue only says "run N wants a worker". Whether a job may run is the run's row: a worker claims
// the run with a conditional update (QUEUED -> RUNNING) before anything else, so a job that arrives twice
// (a resume racing a stale job) or for a cancelled run does nothing, and a run never runs twice at once.
// Liveness is the run's heartbeat, not graphile-worker's job lock (which a dead host keeps for 4 hours):
// see TrainingService.interruptStale and RunRecords.reap.
import type { Logger as QueueLogger, Runner, WorkerUtils } from 'graphile-worker';
import { PROCESS_ID } from '../host.js';
import type { Logger } from '../log.js';
import type { ExecuteRun, RunQueue, Stop, WorkerSlots } from './runQueue.js';

/** Which jobs a queue carries: graphile-worker's task name, and the prefix of the key that gives each
 *  record (a run, a prediction job) at most one job waiting, one that can be found again. */
export interface QueueKind {
  task: string;
  keyPrefix: string;
  /** What the logs call one of its jobs. */
  noun: string;
}

export const TRAINING_JOBS: QueueKind = { task: 'train', keyPrefix: 'run', noun: 'training' };

export interface QueuedTraining {
  runId: number;
}

type Graphile = typeof import('graphile-worker');

/** graphile-worker (and pg below it), loaded when a queue is first used (once: Node's module cache keeps
 *  it): it is about 0.1 s of the start of every process, and on SQLite no process uses it. */
const loadGraphile = (): Promise<Graphile> => import('graphile-worker');

function queueLogger({ Logger }: Graphile, log: Logger): QueueLogger {
  return new Logger(() => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : level === 'info' ? 'info' : 'debug';
    log[method]({ queue: 'graphile-worker', ...meta }, message);
  });
}

export class PostgresRunQueue implements RunQueue {
  readonly distributed = true;
  private utils?: Promise<WorkerUtils>;
  private runner?: Runner;
  private readonly running = new Map<number, AbortController>();
  private readonly settling = new Map<number, Promise<void>>();

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
    private readonly kind: QueueKind = TRAINING_JOBS,
  ) {}

  private jobKey(runId: number): string {
    return `${this.kind.keyPrefix}-${runId}`;
  }

  private producer(): Promise<WorkerUtils> {
    this.utils ??= loadGraphile().then(async (graphile) => {
      const utils = await graphile.makeWorkerUtils({ connectionString: this.connectionString, logger: queueLogger(graphile, this.log) });
      await utils.migrate();
      return utils;
    });
    return this.utils;
  }

  /** Adds a job for the run; some worker on some host picks it up. */
  async enqueue(runId: number): Promise<void> {
    const payload: QueuedTraining = { runId };
    // One attempt: a failed run is recorded on its row and resumed by a person, not retried blindly.
    await (await this.producer()).addJob(this.kind.task, payload, { maxAttempts: 1, jobKey: this.jobKey(runId) });
  }

  /** Removes the job of a run whose worker died: graphile-worker would keep it locked for 4 hours. The
   *  run's record, not this job, says what happens next (resumeRun adds a new job). */
  async release(runId: number): Promise<void> {
    const utils = await this.producer();
    const held = await utils.withPgClient((client) =>
      client.query<{ id: string; locked_by: string | null }>('SELECT id, locked_by FROM graphile_worker.jobs WHERE task_identifier = $1 AND key = $2', [
        this.kind.task,
        this.jobKey(runId),
      ]),
    );
    const lockers = held.rows.map((row) => row.locked_by).filter((worker): worker is string => worker !== null);
    if (lockers.length > 0) await utils.forceUnlockWorkers(lockers);
    if (held.rows.length > 0) await utils.completeJobs(held.rows.map((row) => row.id));
  }

  get working(): boolean {
    return this.runner !== undefined;
  }

  /** Starts pulling jobs in this process until close(). */
  async startWorker(slots: WorkerSlots, execute: ExecuteRun): Promise<void> {
    if (this.runner) return;
    await this.producer(); // the queue's own tables exist before the runner listens
    const graphile = await loadGraphile();
    const free = [...slots.gpus];
    this.runner = await graphile.run({
      connectionString: this.connectionString,
      concurrency: slots.concurrency,
      noHandleSignals: true,
      // Jobs arrive by LISTEN/NOTIFY; the poll only covers a notice lost while reconnecting.
      pollInterval: 2000,
      logger: queueLogger(graphile, this.log),
      // graphile-worker's own worker ids are per pool; ours names the host process in logs.
      taskList: {
        [this.kind.task]: async (payload, helpers) => {
          const { runId } = payload as QueuedTraining;
          const controller = new AbortController();
          const onShutdown = () => controller.abort(helpers.abortSignal?.reason);
          helpers.abortSignal?.addEventListener('abort', onShutdown, { once: true });
          const gpu = free.shift();
          this.running.set(runId, controller);
          this.log.info({ runId, workerId: PROCESS_ID, gpu }, `${this.kind.noun} job picked up`);
          const job = execute(runId, controller.signal, gpu);
          this.settling.set(
            runId,
            job.then(
              () => undefined,
              () => undefined,
            ),
          );
          try {
            await job;
          } finally {
            this.running.delete(runId);
            this.settling.delete(runId);
            helpers.abortSignal?.removeEventListener('abort', onShutdown);
            if (gpu !== undefined) free.push(gpu);
          }
        },
      },
    });
  }

  isRunning(runId: number): boolean {
    return this.running.has(runId);
  }

  /** Aborts a run this process is executing; 'unknown' when it runs elsewhere or not at all (a waiting
   *  job is never dropped here: its claim fails once the run is no longer QUEUED). */
  stop(runId: number, reason: Stop): 'aborted' | 'unknown' {
    const controller = this.running.get(runId);
    if (!controller) return 'unknown';
    controller.abort(reason);
    return 'aborted';
  }

  settled(runId: number): Promise<void> | undefined {
    return this.settling.get(runId);
  }

  held(): number[] {
    return [...this.running.keys()];
  }

  /** Stops the running jobs (their records say how) and stops taking jobs. */
  async close(reason: Stop): Promise<void> {
    for (const controller of this.running.values()) controller.abort(reason);
    const runner = this.runner;
    this.runner = undefined;
    await runner?.stop();
    const utils = await this.utils?.catch(() => undefined);
    this.utils = undefined;
    await utils?.release();
  }
}
