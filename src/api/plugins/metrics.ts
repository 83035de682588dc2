// Prometheus counters for every GraphQL request (see src/metrics.ts for the registry).
import type { ApolloServerPlugin } from '@apollo/server';
import type { Metrics } from '../../metrics.js';
import type { Context } from '../context.js';

/** Counts requests, latency and error codes per operation (the operation name, or "anonymous"). */
export function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ request, response }) {
          const operation = request.operationName ?? 'anonymous';
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          for (const error of errors) metrics.errors.inc({ code: String(error.extensions?.code ?? 'UNKNOWN') });
          metrics.requests.inc({ operation, outcome: errors.length > 0 ? 'error' : 'ok' });
          metrics.requestSeconds.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
