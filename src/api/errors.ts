// The API's one error boundary: every error leaves through formatError (GraphQL) or sendError (plain
// HTTP), which keep codes stable and hide internals (no message, stack or server path of an unknown error,
// and no server path in a known one's message).
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

export function errorFormatter(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const where = { ...(formatted.path ? { path: formatted.path } : {}), ...(formatted.locations ? { locations: formatted.locations } : {}) };
    if (original instanceof AppError) {
      return { message: maskServerPaths(original.message), ...where, extensions: { code: original.code, ...original.details } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && APOLLO_CLIENT_CODES.has(code)) {
      return { message: formatted.message, ...where, extensions: { code } };
    }
    log.error({ err: original }, 'unexpected error in a GraphQL request');
    return { message: 'Internal server error', ...where, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}

/** An error answered outside GraphQL (body parsing, item crops) in GraphQL's error shape. */
export function sendError(res: Response, code: ErrorCode, message: string, status = httpStatusOf(code)) {
  res.status(status).json({ errors: [{ message: maskServerPaths(message), extensions: { code } }] });
}
