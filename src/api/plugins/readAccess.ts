// Read access: the same rule for queries over HTTP and subscriptions over WebSocket.
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { type Caller, requireRole } from '../../auth/tokens.js';
import type { AppError } from '../../errors.js';
import type { Context } from '../context.js';
import { httpStatusOf } from '../httpStatus.js';

/** Without anonymous reads, every query and subscription needs at least a reader token (mutations
 *  check their own role); the same rule over HTTP and over WebSocket. */
export function readAccessError(anonymousRead: boolean, caller: Caller | null, operation: string | undefined): GraphQLError | undefined {
  if (anonymousRead || operation === 'mutation') return undefined;
  try {
    requireRole(caller, 'reader', 'this server (FASHION_HOW_ANONYMOUS_READ is off), so any query or subscription,');
    return undefined;
  } catch (error) {
    const { code, message } = error as AppError;
    return new GraphQLError(message, { extensions: { code, http: { status: httpStatusOf(code) } } });
  }
}

export function readAccessPlugin(anonymousRead: boolean): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          const refused = readAccessError(anonymousRead, contextValue.caller, operation?.operation);
          if (refused) throw refused;
        },
      };
    },
  };
}
