// A micro-batcher: concurrent requests for one model are grouped into one session run. Up to
// `concurrency` batches run at a time per model (its session's lanes, 1 by default); a model with a free
// lane runs what it has at once (after maxWaitMs, 0 by default), and the rows that arrive while every
// lane is busy form the next batch, so batches grow with load and a lone request never waits out a fill
// window.
//
// Fairness: rows wait per client, and a batch takes them round-robin across clients, so one client's
// backlog delays another client's rows by at most about one batch. The queue is bounded: a request's
// rows are admitted all together or refused at once with OVERLOADED (never half a request queued),
// and while other clients wait, one client may hold at most half of the queue.
import { AppError, ErrorCode } from '../errors.js';
import { RoundRobin } from './roundRobin.js';

export interface BatcherOptions {
  maxBatch: number;
  /** How long an idle model waits for more rows before running; 0 runs at once. */
  maxWaitMs: number;
  maxQueue: number;
  /** Batches that may run at once (the session's lanes); 1 when not given. */
  concurrency?: number;
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

/** Images one client may hold in a model's queue of `maxQueue` while other clients wait: half. The
 *  platform's own work (evaluation, saliency maps) sizes its requests to fit it. */
export const clientShareOf = (maxQueue: number) => Math.max(1, Math.floor(maxQueue / 2));

export class MicroBatcher {
  /** Waiting rows per client, taken in turn. */
  private readonly waiting = new RoundRobin<Pending>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** The timer is maxWaitMs's wait for company, which a full batch cuts short. */
  private waitingForCompany = false;
  /** Batches running now, at most `concurrency`. */
  private running = 0;

  constructor(private readonly options: BatcherOptions) {}

  get queueLength(): number {
    return this.waiting.size;
  }

  /** Nothing waiting, running or about to run. */
  get idle(): boolean {
    return this.waiting.size === 0 && this.running === 0 && this.timer === undefined;
  }

  /** Queues one request's rows (all or none) and resolves with each row's slice of every output. */
  submitAll(rows: Float32Array[], client = ''): Promise<Record<string, Float32Array>[]> {
    if (rows.length === 0) return Promise.resolve([]);
    const { rowLength, maxQueue } = this.options;
    const wrong = rows.find((row) => row.length !== rowLength);
    if (wrong) return Promise.reject(new Error(`a row has ${wrong.length} values; the model takes ${rowLength}`));
    if (this.waiting.size + rows.length > maxQueue) {
      return Promise.reject(
        overloaded(
          `the model is overloaded: ${this.waiting.size} images are waiting and this request adds ${rows.length}, the limit is ${maxQueue} (FASHION_HOW_INFERENCE_QUEUE); retry shortly`,
        ),
      );
    }
    const mine = this.waiting.sizeOf(client);
    const others = this.waiting.size - mine;
    const share = clientShareOf(maxQueue);
    if (others > 0 && mine + rows.length > share) {
      return Promise.reject(
        overloaded(
          `this client already has ${mine} images waiting for the model while others wait too; one client may hold at most ${share} (half of FASHION_HOW_INFERENCE_QUEUE); retry shortly`,
        ),
      );
    }
    const done = rows.map((row) => new Promise<Record<string, Float32Array>>((resolve, reject) => this.waiting.push(client, { row, resolve, reject })));
    this.options.onQueueLength?.(this.waiting.size);
    this.schedule();
    return Promise.all(done);
  }

  /** Resolves with this row's slice of every output. */
  async submit(row: Float32Array, client = ''): Promise<Record<string, Float32Array>> {
    return (await this.submitAll([row], client))[0]!;
  }

  private get lanesBusy(): boolean {
    return this.running >= Math.max(1, this.options.concurrency ?? 1);
  }

  private schedule() {
    if (this.lanesBusy) return;
    const full = this.waiting.size >= this.options.maxBatch;
    if (this.timer && !(full && this.waitingForCompany)) return;
    if (this.timer) clearTimeout(this.timer as NodeJS.Timeout); // the company came: no need to wait on
    this.waitingForCompany = !full && this.options.maxWaitMs > 0;
    this.timer = this.waitingForCompany
      ? setTimeout(() => this.flushFromTimer(), this.options.maxWaitMs)
      : // setImmediate rather than now: rows submitted in the same turn of the event loop share the batch.
        setImmediate(() => this.flushFromTimer());
  }

  private flushFromTimer() {
    this.timer = undefined;
    this.waitingForCompany = false;
    void this.flush();
  }

  /** Up to maxBatch rows, one per client in turn; a client that still has rows goes to the back. */
  private take(): Pending[] {
    const taken: Pending[] = [];
    while (taken.length < this.options.maxBatch && this.waiting.size > 0) taken.push(this.waiting.shift()!);
    return taken;
  }

  private async flush() {
    if (this.lanesBusy || this.waiting.size === 0) return;
    this.running++;
    const taken = this.take();
    this.options.onQueueLength?.(this.waiting.size);
    const started = performance.now();
    try {
      const { rowLength } = this.options;
      const batch = new Float32Array(taken.length * rowLength);
      taken.forEach((p, i) => {
        batch.set(p.row, i * rowLength);
      });
      const outputs = await this.options.run(batch, taken.length);
      this.options.onBatch?.(taken.length, (performance.now() - started) / 1000);
      taken.forEach((p, i) => {
        const mine: Record<string, Float32Array> = {};
        for (const [name, values] of Object.entries(outputs)) {
          const width = values.length / taken.length;
          mine[name] = values.subarray(i * width, (i + 1) * width);
        }
        p.resolve(mine);
      });
    } catch (error) {
      for (const p of taken) p.reject(error);
    } finally {
      this.running--;
      // Rows that arrived while every lane was busy have waited already: send them now (no timer is
      // set then, see schedule).
      if (this.waiting.size > 0) void this.flush();
    }
  }
}

const overloaded = (message: string) => new AppError(ErrorCode.OVERLOADED, message);
