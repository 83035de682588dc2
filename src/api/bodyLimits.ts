// Request bodies are limited by who sends them, and the sender is known before a byte of the body is
// read: the token comes in a header. Without it the limit is small (a client that names nobody could
// otherwise make the server parse 32 MiB of JSON only to answer 401), and a bad token is refused before
// the body is read at all. The GraphQL endpoint and /v2 share this; the caller found here is the one
// the request's context uses.
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { App } from '../app.js';
import type { Caller } from '../auth/tokens.js';
import { AppError } from '../errors.js';

/** Without anonymous reads a request without a token is refused whatever it says; this is enough for
 *  any query it might carry, so the refusal can name the operation. */
export const REFUSED_ANONYMOUS_BODY_BYTES = 64 * 1024;

export interface BodyLimit {
  bytes: number;
  /** Who the limit is for, and the setting that sets it, for the refusal's message. */
  describe: string;
}

interface CallerLocals {
  caller?: Caller | null;
  bodyLimit?: BodyLimit;
}

const locals = (res: Response) => res.locals as CallerLocals;

/** The caller this request's token names (null: none), set by authenticateFirst. */
export function callerOf(res: Response): Caller | null | undefined {
  return locals(res).caller;
}

/** The body limit that applied to this request, for the message of a body over it. */
export function bodyLimitOf(res: Response, fallback: BodyLimit): BodyLimit {
  return locals(res).bodyLimit ?? fallback;
}

/** Answers a request refused before its body is read, then closes the connection: left to itself Node
 *  reads the rest of the body (to keep the connection alive), as much as the client cares to send. */
export function closeUnread(req: Request, res: Response) {
  res.set('connection', 'close');
  res.once('finish', () => {
    if (!req.complete) req.destroy();
  });
}

/** The message of a body over its limit. */
export const tooLargeMessage = (limit: BodyLimit) => `request body is larger than the limit of ${limit.bytes} bytes ${limit.describe}`;

/** Authenticates the request from its Authorization header before its body is read, and chooses the
 *  body limit for the caller; a bad token is answered by `refuse` without reading the body. */
export function authenticateFirst(app: App, refuse: (res: Response, error: AppError) => void): RequestHandler {
  const { config } = app;
  const withToken: BodyLimit = { bytes: config.maxBodyBytes, describe: '(FASHION_HOW_MAX_BODY_BYTES)' };
  const anonymousLimit: BodyLimit = config.anonymousRead
    ? { bytes: config.guards.maxAnonymousBodyBytes, describe: 'for a request without a token (FASHION_HOW_MAX_ANONYMOUS_BODY_BYTES)' }
    : { bytes: REFUSED_ANONYMOUS_BODY_BYTES, describe: 'for a request without a token (this server needs one: FASHION_HOW_ANONYMOUS_READ is off)' };
  // No one's limit is above the body limit.
  const anonymous = anonymousLimit.bytes <= withToken.bytes ? anonymousLimit : withToken;
  return async (req, res, next) => {
    try {
      const caller = await app.services.tokens.authenticate(req.headers.authorization);
      locals(res).caller = caller;
      locals(res).bodyLimit = caller ? withToken : anonymous;
      next();
    } catch (error) {
      if (!(error instanceof AppError)) return next(error);
      closeUnread(req, res);
      refuse(res, error);
    }
  };
}

/** express.json with the limit authenticateFirst chose (one parser per limit, made once). */
export function jsonBodyByCaller(app: App): RequestHandler {
  const parsers = new Map<number, RequestHandler>();
  const parserFor = (bytes: number) => {
    const made = parsers.get(bytes);
    if (made) return made;
    const parser = express.json({ limit: bytes });
    parsers.set(bytes, parser);
    return parser;
  };
  return (req, res, next) => {
    const bytes = locals(res).bodyLimit?.bytes ?? app.config.guards.maxAnonymousBodyBytes;
    // body-parser refuses a body whose Content-Length is over the limit, but answers only once the client
    // has sent all of it; refused here, the rest is never read and the connection closes.
    if (req.is('application/json') && Number(req.headers['content-length'] ?? 0) > bytes) {
      closeUnread(req, res);
      next(Object.assign(new Error('request entity too large'), { status: 413, type: 'entity.too.large' }));
      return;
    }
    parserFor(bytes)(req, res, next);
  };
}
