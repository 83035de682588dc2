// The API's one error boundary: every error leaves through errorAnswer, read by formatError (GraphQL),
// sendError (plain HTTP in GraphQL's shape) and the Open Inference Protocol's own body, which keeps codes
// stable and hides internals (no message, stack or server path of an unknown error, and no server path in
// a known one's message).
import { unwrapResolverError } from '@apollo/server/errors';
import type { Response } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, maskServerPaths } from '../errors.js';
import type { Logger } from '../log.js';
import { httpStatusOf } from './httpStatus.js';

/** Apollo's own client-facing codes (validation, parsing, bad variables) pass through unchanged. */
const APOLLO_CLIENT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

/** What a client is told of an error, whichever protocol carries it: its code (GraphQL's extension code),
 *  the HTTP status the code maps to, a message safe to show and the details (e.g. retryAfterSeconds).
 *  `known` is false for anything not raised as an AppError: that one answers INTERNAL_SERVER_ERROR, and
 *  its caller logs it. */
export interface ErrorAnswer {
  code: ErrorCode;
  status: number;
  message: string;
  details: Record<string, unknown>;
  known: boolean;
}

export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof AppError) {
    return { code: error.code, status: httpStatusOf(error.code), message: maskServerPaths(error.message), details: error.details ?? {}, known: true };
  }
  const code = ErrorCode.INTERNAL_SERVER_ERROR;
  return { code, status: httpStatusOf(code), message: 'Internal server error', details: {}, known: false };
}

export function errorFormatter(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const where = { ...(formatted.path ? { path: formatted.path } : {}), ...(formatted.locations ? { locations: formatted.locations } : {}) };
    if (original instanceof AppError) {
      const { message, code, details } = errorAnswer(original);
      return { message, ...where, extensions: { code, ...details } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && APOLLO_CLIENT_CODES.has(code)) {
      return { message: formatted.message, ...where, extensions: { code } };
    }
    log.error({ err: original }, 'unexpected error in a GraphQL request');
    const internal = errorAnswer(original);
    return { message: internal.message, ...where, extensions: { code: internal.code } };
  };
}

/** An error answered outside GraphQL (body parsing, item crops) in GraphQL's error shape. */
export function sendError(res: Response, code: ErrorCode, message: string, status = httpStatusOf(code)) {
  res.status(status).json({ errors: [{ message: maskServerPaths(message), extensions: { code } }] });
}
