// A client that keeps asking for what it is refused is held back before any of its requests is read.
// Each refusal is cheap (a rate limit, a query over its budget, a bad token), but a client that ignores
// Retry-After sends them as fast as the server answers: four such clients sent about 350 a second, each
// parsed, validated and answered on the one event loop every other client needs, and another client's
// classify p50 went to 4.9x (docs/serving.md). So refusals are counted per client in a token bucket;
// once a client has used its bucket, its next request is not read, parsed or authenticated: it is held
// until the bucket has room again (a timer, no work) and then answered RATE_LIMITED, and the connection
// closes. A client holding too many such requests at once is answered at once. A client that makes
// the odd mistake never notices.
import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ErrorCode } from '../errors.js';
import { closeUnread } from './bodyLimits.js';
import { sendError } from './errors.js';

/** Statuses that are a refusal of what the client asked for (not found is an answer, not a refusal). */
const REFUSALS = new Set([400, 401, 403, 413, 429]);
/** How long a held request waits at most before its answer. */
const MAX_HOLD_MS = 1000;
/** Clients remembered at most; those whose bucket is full again are forgotten first. */
const MAX_CLIENTS = 10_000;

/** Refusals a client may collect at once before the rate applies: a script's run of mistakes. */
export const REFUSAL_BURST = 50;
/** A held-back client's requests waiting at once; beyond, each is answered as it comes. */
export const MAX_HELD_PER_CLIENT = 8;

export interface RefusalLimits {
  /** Refusals per second a client may collect before it is held back (0: no gate). */
  perSecond: number;
  /** Refusals a client may collect at once before the rate applies. */
  burst: number;
  /** Requests of one held-back client waiting for their answer at once; beyond, answered at once. */
  maxHeld: number;
}

/** Who a request comes from before it is authenticated: its Authorization header (hashed: the map holds
 *  no secret) or, without one, its address. A forged token is a client of its own, but its requests
 *  are refused before their body is read. */
export function requestClient(req: Request): string {
  const header = req.headers.authorization;
  return header ? `token ${createHash('sha256').update(header).digest('hex').slice(0, 32)}` : `address ${req.ip}`;
}

interface Bucket {
  tokens: number;
  at: number;
  held: number;
}

export class RefusalGate {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: RefusalLimits) {}

  /** The bucket of `client` as it is at `now` (refilled since it was last seen). */
  private bucket(client: string, now: number): Bucket {
    const { perSecond, burst } = this.limits;
    const bucket = this.buckets.get(client) ?? { tokens: burst, at: now, held: 0 };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    return bucket;
  }

  /** Counts one refusal of `client`'s. */
  refused(client: string, now = performance.now()) {
    const bucket = this.bucket(client, now);
    // Never below empty: a client that stops is served again within 1/perSecond s.
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(client, bucket);
    if (this.buckets.size > MAX_CLIENTS) this.forgetIdle(now);
  }

  /** How long `client`'s next request must wait (0: serve it now). */
  holdMs(client: string, now = performance.now()): number {
    const bucket = this.buckets.get(client);
    if (!bucket) return 0;
    const { tokens } = this.bucket(client, now);
    return tokens >= 1 ? 0 : Math.min(MAX_HOLD_MS, Math.ceil(((1 - tokens) / this.limits.perSecond) * 1000));
  }

  private forgetIdle(now: number) {
    for (const [client, bucket] of this.buckets) {
      if (bucket.held === 0 && this.bucket(client, now).tokens >= this.limits.burst) this.buckets.delete(client);
    }
  }

  /** Express middleware, first on every route a client can send requests to. */
  middleware(): RequestHandler {
    const { perSecond, burst, maxHeld } = this.limits;
    return (req, res, next) => {
      if (perSecond <= 0) return next();
      const client = requestClient(req);
      const wait = this.holdMs(client);
      if (wait === 0) {
        res.once('finish', () => {
          if (REFUSALS.has(res.statusCode)) this.refused(client);
        });
        return next();
      }
      const bucket = this.buckets.get(client)!;
      const answer = () => {
        if (res.headersSent || res.destroyed) return;
        closeUnread(req, res);
        res.set('retry-after', '1');
        sendError(
          res,
          ErrorCode.RATE_LIMITED,
          `this client's requests were refused more than ${perSecond} times a second (${burst} at once; FASHION_HOW_CLIENT_REFUSALS_PER_SECOND): this one was held back and not read; retry after 1 s`,
        );
      };
      if (bucket.held >= maxHeld) return answer();
      bucket.held += 1;
      let waiting = true;
      const stopWaiting = () => {
        if (!waiting) return false;
        waiting = false;
        bucket.held -= 1;
        return true;
      };
      const timer = setTimeout(() => {
        if (stopWaiting()) answer();
      }, wait);
      // A client that gives up frees its place at once.
      res.once('close', () => {
        if (stopWaiting()) clearTimeout(timer);
      });
    };
  }
}
