// Fair use by many clients: a limit on each client's requests of one kind in flight (classify, imports;
// per token, per address when anonymous), answered RATE_LIMITED (HTTP 429 with Retry-After, see
// plugins/retryAfter.ts), so one busy client cannot take every slot.
import { AppError, ErrorCode } from '../errors.js';

/** Seconds a client is told to wait after RATE_LIMITED: about one batch's time. */
export const RETRY_AFTER_SECONDS = 1;

/** Requests of one kind in flight per client. */
export class ClientLimiter {
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly limit: number,
    /** What is counted and the setting that sets the limit, for the refusal's message. */
    private readonly what = 'classify requests',
    private readonly setting = 'FASHION_HOW_MAX_CLIENT_CONCURRENCY',
  ) {}

  /** Takes a slot for the client, or refuses with RATE_LIMITED; call the returned function when done. */
  private acquire(client: string): () => void {
    const used = this.inFlight.get(client) ?? 0;
    if (used >= this.limit) {
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `this client already has ${used} ${this.what} in flight, the limit is ${this.limit} (${this.setting}); retry after ${RETRY_AFTER_SECONDS} s`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS },
      );
    }
    this.inFlight.set(client, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(client) ?? 1) - 1;
      if (left > 0) this.inFlight.set(client, left);
      else this.inFlight.delete(client);
    };
  }

  /** Runs `work` in one of the client's slots (RATE_LIMITED when it has none left). */
  async run<T>(client: string, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(client);
    try {
      return await work();
    } finally {
      release();
    }
  }
}
