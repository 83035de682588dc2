// RATE_LIMITED answers as HTTP clients and proxies expect them: status 429 and a Retry-After header.
import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '../../errors.js';
import { RETRY_AFTER_SECONDS } from '../clientLimiter.js';
import type { Context } from '../context.js';
import { httpStatusOf } from '../httpStatus.js';

/** RATE_LIMITED answers carry HTTP 429 and Retry-After, as HTTP clients and proxies expect. */
export function retryAfterPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          if (!errors.some((e) => e.extensions?.code === ErrorCode.RATE_LIMITED)) return;
          response.http.status = httpStatusOf(ErrorCode.RATE_LIMITED);
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
