// A micro-batcher: concurrent requests for one model are grouped into one session run. A batch is
// flushed when it holds maxBatch rows or its oldest row has waited maxWaitMs; one batch runs at a
// time per model, so rows arriving meanwhile form the next batch. The queue is bounded: when full,
// requests fail at once with OVERLOADED instead of piling up.
import { AppError, ErrorCode } from '../errors.js';

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  /** Runs rows (each a Float32Array of rowLength) as one batch; returns per output a row-major matrix. */
  run(batch: Float32Array, rows: number): Promise<Record<string, Float32Array>>;
  rowLength: number;
  onBatch?(rows: number, seconds: number): void;
  onQueueLength?(length: number): void;
}

interface Pending {
  row: Float32Array;
  resolve(outputs: Record<string, Float32Array>): void;
  reject(error: unknown): void;
}

export class MicroBatcher {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: BatcherOptions) {}

  get queueLength(): number {
    return this.queue.length;
  }

  /** Resolves with this row's slice of every output. */
  submit(row: Float32Array): Promise<Record<string, Float32Array>> {
    if (row.length !== this.options.rowLength) {
      return Promise.reject(new Error(`a row has ${row.length} values; the model takes ${this.options.rowLength}`));
    }
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new AppError(ErrorCode.OVERLOADED, `the model is overloaded: ${this.queue.length} images are waiting, the limit is ${this.options.maxQueue}; retry shortly`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.options.onQueueLength?.(this.queue.length);
      this.schedule();
    });
  }

  private schedule() {
    if (this.running) return;
    if (this.queue.length >= this.options.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else if (!this.timer && this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.options.maxWaitMs);
    }
  }

  private async flush() {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const taken = this.queue.splice(0, this.options.maxBatch);
    this.options.onQueueLength?.(this.queue.length);
    const { rowLength } = this.options;
    const batch = new Float32Array(taken.length * rowLength);
    taken.forEach((p, i) => batch.set(p.row, i * rowLength));
    const started = performance.now();
    try {
      const outputs = await this.options.run(batch, taken.length);
      this.options.onBatch?.(taken.length, (performance.now() - started) / 1000);
      taken.forEach((p, i) => {
        const mine: Record<string, Float32Array> = {};
        for (const [name, values] of Object.entries(outputs)) {
          const width = values.length / taken.length;
          mine[name] = values.slice(i * width, (i + 1) * width);
        }
        p.resolve(mine);
      });
    } catch (error) {
      for (const p of taken) p.reject(error);
    } finally {
      this.running = false;
      // Rows that arrived during the run have waited already: send them now.
      if (this.queue.length > 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
        void this.flush();
      }
    }
  }
}
