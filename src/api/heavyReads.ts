// Reads that cost far more than a field (a model card decodes dozens of photo crops; an item's photo or
// crop preview decodes a whole photo) pay their way: each goes through a per-client limit (RATE_LIMITED
// past it) and a fair queue shared by all clients (at most FASHION_HOW_HEAVY_READ_CONCURRENCY at once,
// taken round-robin across clients), so a client asking for many of them waits behind its own, and
// sharp's threads stay free for classify. Results are cached by content (a card by its report, which never
// changes once stored; a preview by the photo's sha256, its box and its size) in one cache bounded in bytes.
import { createHash } from 'node:crypto';
import type { GuardSettings } from '../config.js';
import { AppError, ErrorCode } from '../errors.js';
import { FairScheduler } from '../inference/scheduler.js';
import { ClientLimiter } from './clientLimiter.js';

/** Heavy reads a client may make at once before its rate applies: a dashboard session's first pages of
 *  photos and crops (the dataset browser alone shows up to 100 thumbnails; at 64 its browser test saw
 *  429s). A flood still gets no more than the rate once the burst is spent. */
export const HEAVY_READ_BURST = 256;
/** Model cards: a person reads one at a time, and a cached card is still a large answer. */
export const CARD_BURST = 4;
export const CARDS_PER_SECOND = 1;

/** Heavy reads per second per client, cached ones too: a cached card is still a large answer, read and
 *  sent on the event loop every client shares. A token bucket: `burst` at once, then `perSecond`. */
export class ClientRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    /** What is counted and the setting that sets the rate, for the refusal's message. */
    private readonly what = 'model cards or item images',
    private readonly setting = 'FASHION_HOW_HEAVY_READS_PER_SECOND',
  ) {}

  /** Takes one read for the client, or refuses with RATE_LIMITED. */
  take(client: string, now = performance.now()) {
    const bucket = this.buckets.get(client) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `this client asks for more than ${this.perSecond} ${this.what} per second (${this.setting}, ${this.burst} at once); retry after ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    bucket.tokens -= 1;
    this.buckets.set(client, bucket);
    // A client whose bucket has filled again is forgotten: the map holds the recently busy ones only.
    if (this.buckets.size > 10_000) {
      for (const [name, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(name);
    }
  }
}

/** A map that keeps at most `maxBytes` of values, dropping the least recently used first. */
export class ByteBoundedCache<V extends string | Buffer> {
  private readonly entries = new Map<string, V>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Map keeps insertion order: moving a hit to the end makes the first entry the least recently used.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V) {
    const size = sizeOf(value);
    if (size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= sizeOf(old);
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += size;
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= sizeOf(evicted);
    }
  }

  /** Bytes held now (never above maxBytes). */
  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.entries.size;
  }
}

const sizeOf = (value: string | Buffer) => (typeof value === 'string' ? Buffer.byteLength(value) : value.length);

/** The key of a photo's bytes, for caching what is made from them. */
export const photoKey = (photo: Buffer) => createHash('sha256').update(photo).digest('hex');

export class HeavyReads {
  private readonly limiter: ClientLimiter;
  private readonly rate: ClientRate;
  private readonly cardRate = new ClientRate(CARDS_PER_SECOND, CARD_BURST, 'model cards', 'a fixed rate: a person reads one card at a time');
  private readonly queue: FairScheduler;
  readonly cache: ByteBoundedCache<string | Buffer>;
  /** The same result asked for again while it is being made waits for that one. */
  private readonly making = new Map<string, Promise<string | Buffer>>();

  constructor(guards: Pick<GuardSettings, 'maxClientHeavyReads' | 'heavyReadConcurrency' | 'previewCacheBytes' | 'heavyReadsPerSecond'>) {
    this.limiter = new ClientLimiter(guards.maxClientHeavyReads, 'model cards or item images', 'FASHION_HOW_MAX_CLIENT_HEAVY_READS');
    this.rate = new ClientRate(guards.heavyReadsPerSecond, HEAVY_READ_BURST);
    this.queue = new FairScheduler(guards.heavyReadConcurrency);
    this.cache = new ByteBoundedCache(guards.previewCacheBytes);
  }

  /** The cached result under `key`, else `make`'s, made in one of the client's slots and the fair queue.
   *  A key that must be found first (cheap: reading a row and a file) is found in the client's slot too. */
  async read<V extends string | Buffer>(
    client: string,
    key: string | (() => Promise<string>),
    make: () => Promise<V>,
    kind: 'card' | 'image' = 'image',
  ): Promise<V> {
    (kind === 'card' ? this.cardRate : this.rate).take(client);
    return this.limiter.run(client, async () => {
      const cacheKey = typeof key === 'string' ? key : await key();
      const cached = this.cache.get(cacheKey);
      if (cached !== undefined) return cached as V;
      let pending = this.making.get(cacheKey);
      if (!pending) {
        pending = this.queue.run(client, make);
        this.making.set(cacheKey, pending);
        pending.then(
          (value) => this.cache.set(cacheKey, value),
          () => undefined,
        );
        void pending.finally(() => this.making.delete(cacheKey)).catch(() => undefined);
      }
      return (await pending) as V;
    });
  }
}
