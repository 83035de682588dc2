// An in-process job queue: FIFO, at most `concurrency` jobs at once, each with an AbortController so
// a queued job can be dropped and a running one stopped. The database holds the jobs' state; this only
// decides what runs when. (Many machines: replace with a PostgreSQL job engine, see the README.)

export type Job = (signal: AbortSignal) => Promise<void>;

export class JobQueue {
  private readonly waiting: { id: number; job: Job }[] = [];
  private readonly running = new Map<number, AbortController>();
  private readonly settled = new Set<() => void>();

  constructor(private readonly concurrency: number) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }

  enqueue(id: number, job: Job): void {
    if (this.has(id)) return;
    this.waiting.push({ id, job });
    this.pump();
  }

  has(id: number): boolean {
    return this.running.has(id) || this.waiting.some((w) => w.id === id);
  }

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  /** Drops a waiting job (returns "dropped") or aborts a running one with `reason` (returns "aborted"). */
  stop(id: number, reason: unknown): 'dropped' | 'aborted' | 'unknown' {
    const index = this.waiting.findIndex((w) => w.id === id);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.notify();
      return 'dropped';
    }
    const controller = this.running.get(id);
    if (!controller) return 'unknown';
    controller.abort(reason);
    return 'aborted';
  }

  /** Aborts everything: used when the process shuts down. */
  stopAll(reason: unknown): void {
    this.waiting.length = 0;
    for (const controller of this.running.values()) controller.abort(reason);
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running.size };
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.waiting.length === 0 && this.running.size === 0) {
          this.settled.delete(check);
          resolve();
        }
      };
      this.settled.add(check);
    });
  }

  private notify() {
    for (const check of [...this.settled]) check();
  }

  private pump() {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const { id, job } = this.waiting.shift()!;
      const controller = new AbortController();
      this.running.set(id, controller);
      job(controller.signal)
        .catch(() => undefined) // jobs record their own failures
        .finally(() => {
          this.running.delete(id);
          this.pump();
          this.notify();
        });
    }
  }
}
