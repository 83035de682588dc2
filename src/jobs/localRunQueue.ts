// The in-process run queue (SQLite, one machine): FIFO, at most `concurrency` jobs at once, each with an
// AbortController so a waiting job can be dropped and a running one stopped. The database holds the
// runs' state; this only decides what runs when, in the process that queued it.
import type { ExecuteRun, RunQueue, Stop, WorkerSlots } from './runQueue.js';

interface Held {
  /** Set while the job runs. */
  controller?: AbortController;
  done: Promise<void>;
  settle: () => void;
}

export class LocalRunQueue implements RunQueue {
  readonly distributed = false;
  private concurrency = 0;
  private execute?: ExecuteRun;
  private readonly waiting: number[] = [];
  private readonly jobs = new Map<number, Held>();
  private running = 0;

  get working(): boolean {
    return this.execute !== undefined;
  }

  async startWorker(slots: WorkerSlots, execute: ExecuteRun): Promise<void> {
    if (this.execute) return;
    if (!(Number.isInteger(slots.concurrency) && slots.concurrency >= 1))
      throw new RangeError(`concurrency must be a positive integer, got ${slots.concurrency}`);
    this.concurrency = slots.concurrency;
    this.execute = execute;
    this.pump();
  }

  async enqueue(runId: number): Promise<void> {
    if (this.jobs.has(runId)) return;
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.jobs.set(runId, {
      done,
      settle: () => {
        this.jobs.delete(runId);
        settle();
      },
    });
    this.waiting.push(runId);
    this.pump();
  }

  stop(runId: number, reason: Stop): 'dropped' | 'aborted' | 'unknown' {
    const index = this.waiting.indexOf(runId);
    // A dropped job stays held until release(): its waiters wake once the caller has recorded why.
    if (index >= 0) {
      this.waiting.splice(index, 1);
      return 'dropped';
    }
    const controller = this.jobs.get(runId)?.controller;
    if (!controller) return 'unknown';
    controller.abort(reason);
    return 'aborted';
  }

  isRunning(runId: number): boolean {
    return this.jobs.get(runId)?.controller !== undefined;
  }

  settled(runId: number): Promise<void> | undefined {
    return this.jobs.get(runId)?.done;
  }

  held(): number[] {
    return [...this.jobs.keys()];
  }

  async release(runId: number): Promise<void> {
    const job = this.jobs.get(runId);
    if (job && !job.controller) {
      const index = this.waiting.indexOf(runId);
      if (index >= 0) this.waiting.splice(index, 1);
      job.settle();
    }
  }

  async close(reason: Stop): Promise<void> {
    this.waiting.length = 0;
    const running: Promise<void>[] = [];
    for (const job of [...this.jobs.values()]) {
      if (job.controller) {
        job.controller.abort(reason);
        running.push(job.done);
      } else job.settle();
    }
    await Promise.all(running);
  }

  private pump() {
    if (!this.execute) return;
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const runId = this.waiting.shift()!;
      const job = this.jobs.get(runId)!;
      const controller = new AbortController();
      job.controller = controller;
      this.running++;
      // The in-process queue assigns no device: torch picks its default.
      this.execute(runId, controller.signal, undefined)
        .catch(() => undefined) // jobs record their own failures
        .finally(() => {
          this.running--;
          job.settle();
          this.pump();
        });
    }
  }
}
