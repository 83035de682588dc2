// Every error a client can see carries one of these codes. Anything else is an internal error and
// reaches clients as INTERNAL_SERVER_ERROR without its message, stack or file paths.

export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  OVERLOADED: 'OVERLOADED',
  /** This client has too many requests in flight; retry after extensions.retryAfterSeconds. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A capability this installation lacks (e.g. no Python with torch for training). */
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error whose message is written for the user and safe to show them. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) => new AppError(ErrorCode.BAD_USER_INPUT, message, details);

export const notFound = (what: string, id: string | number) => new AppError(ErrorCode.NOT_FOUND, `${what} ${id} does not exist`);

/** Normalises anything thrown into an Error, so callers can rely on `.message`. */
export function ensureError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
}

// An absolute path of two or more segments that does not continue a word, a URL's host (s3://bucket/key,
// http://host/path) or a relative name (images/a/b.jpg).
const SERVER_PATH = /(?<![\w:/.~-])(?:\/[\w.@+~-]+){2,}\/?/g;

/** `text` with every absolute server path replaced by <server path>: what leaves the API (error
 *  messages, a run's error and stderr tail) names no file or folder of the server, whoever wrote it
 *  (ONNX Runtime, Python, Node). */
export function maskServerPaths(text: string): string {
  return text.replace(SERVER_PATH, '<server path>');
}
