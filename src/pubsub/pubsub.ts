// Change notices from the services that write (training, evaluation, ensembles) to the GraphQL
// subscriptions and the serving replicas that read them. Notices carry ids only: a subscriber reads the
// row itself, so a notice is small enough for PostgreSQL's NOTIFY. One process uses LocalPubSub;
// processes sharing a PostgreSQL database use PgPubSub (pgPubSub.ts), the same interface over LISTEN/NOTIFY.
import { EventEmitter } from 'node:events';

export interface ChangeNotices {
  /** A run was created or its record changed (status, progress, epochs). */
  runChanged: { runId: number };
  /** A top-level report was stored (a member report comes with its ensemble's). */
  reportAdded: { reportId: number };
  /** A batch prediction job was created or its record changed (status, items done). */
  predictionJobChanged: { jobId: number };
  /** An ensemble was created or made the default: serving replicas re-read the default and warm it. */
  ensemblesChanged: { ensembleId: number };
  /** How far an upload has come (uploadDataset's progressId); the message only with FAILED. */
  importProgress: { progressId: string; phase: string; done: number; total: number; message?: string };
}
export type Topic = keyof ChangeNotices;

export interface PubSub {
  publish<T extends Topic>(topic: T, notice: ChangeNotices[T]): void;
  /** The notices published after this call, in publish order, until the iterator's return(). */
  subscribe<T extends Topic>(topic: T): AsyncIterableIterator<ChangeNotices[T]>;
  /** Ends every subscription (and, for PgPubSub, its connections). */
  close(): void | Promise<void>;
}

const done = <T>(): IteratorResult<T> => ({ done: true, value: undefined });

/** Notices one subscription keeps for a reader that is behind (a client that does not read its socket
 *  holds up its subscriptions' readers); beyond, the oldest are dropped. A notice carries ids only and
 *  the reader reads the row itself, so a dropped notice loses an intermediate state, never the latest. */
export const MAX_QUEUED_NOTICES = 1000;

/** A queue of notices with one reader; return() ends it at once, even while the reader waits. */
export class Subscription<T> implements AsyncIterableIterator<T> {
  private readonly queued: T[] = [];
  /** Notices dropped because the reader was MAX_QUEUED_NOTICES behind. */
  dropped = 0;
  private waiting?: (result: IteratorResult<T>) => void;
  private ended = false;

  constructor(private readonly onEnd: () => void) {}

  push(notice: T) {
    if (this.ended) return;
    if (this.waiting) {
      this.waiting({ done: false, value: notice });
      this.waiting = undefined;
    } else {
      this.queued.push(notice);
      if (this.queued.length > MAX_QUEUED_NOTICES) {
        this.queued.shift();
        this.dropped++;
      }
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queued.length > 0) return Promise.resolve({ done: false, value: this.queued.shift()! });
    if (this.ended) return Promise.resolve(done());
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.queued.length = 0;
      this.onEnd();
      this.waiting?.(done());
      this.waiting = undefined;
    }
    return Promise.resolve(done());
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

/** Delivers notices within this process. */
export class LocalPubSub implements PubSub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly open = new Set<{ return(): Promise<unknown> }>();

  publish<T extends Topic>(topic: T, notice: ChangeNotices[T]): void {
    this.emitter.emit(topic, notice);
  }

  subscribe<T extends Topic>(topic: T): AsyncIterableIterator<ChangeNotices[T]> {
    const listener = (notice: ChangeNotices[T]) => subscription.push(notice);
    const subscription: Subscription<ChangeNotices[T]> = new Subscription(() => {
      this.emitter.off(topic, listener);
      this.open.delete(subscription);
    });
    this.emitter.on(topic, listener);
    this.open.add(subscription);
    return subscription;
  }

  close(): void {
    for (const subscription of this.open) void subscription.return();
  }
}

/**
 * Follows a stream of notices: an optional first value, then each notice mapped through `map`
 * (undefined skips it), ending after a value `isLast` accepts. Written out rather than as an async
 * generator so that return() reaches the notices at once instead of after the next one arrives.
 */
export function follow<N, T>(
  notices: AsyncIterator<N>,
  options: { first?: T; map: (notice: N) => Promise<T | undefined>; isLast?: (value: T) => boolean },
): AsyncIterableIterator<T> {
  let first = options.first;
  let ended = false;
  const end = async (): Promise<IteratorResult<T>> => {
    ended = true;
    await notices.return?.();
    return done();
  };
  return {
    async next() {
      while (!ended) {
        let value: T | undefined;
        if (first !== undefined) {
          value = first;
          first = undefined;
        } else {
          const notice = await notices.next();
          if (notice.done) return end();
          value = await options.map(notice.value);
        }
        if (value === undefined || ended) continue;
        if (options.isLast?.(value)) await end();
        return { done: false, value };
      }
      return done();
    },
    return: end,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
