// The one table from error code to HTTP status. It decides the status of an answer refused as a whole:
// before execution (authentication, read access, request limits) or outside GraphQL (item crops, body
// parsing). An error inside an executed operation rides in a 200 beside the operation's data, as the
// GraphQL-over-HTTP spec has it.
import { ErrorCode } from '../errors.js';

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_USER_INPUT:
      return 400;
    case ErrorCode.UNAUTHENTICATED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
      return 404;
    case ErrorCode.CONFLICT:
      return 409;
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.INTERNAL_SERVER_ERROR:
      return 500;
    case ErrorCode.OVERLOADED:
    case ErrorCode.UNAVAILABLE:
      return 503;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}
