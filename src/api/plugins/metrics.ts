// Prometheus counters for every GraphQL request (see src/metrics.ts for the registry).
import type { ApolloServerPlugin } from '@apollo/server';
import type { Metrics } from '../../metrics.js';
import type { Context } from '../context.js';
import { operationLabel } from '../operationNames.js';

/** What one finished operation adds to the metrics, over HTTP or WebSocket: the operation's label is a
 *  known name or "other" (see operationNames.ts), so clients cannot grow the series. */
export function recordOperation(metrics: Metrics, known: ReadonlySet<string>, operationName: string | null | undefined, errorCodes: string[], seconds: number) {
  const operation = operationLabel(known, operationName);
  for (const code of errorCodes) metrics.errors.inc({ code });
  metrics.requests.inc({ operation, outcome: errorCodes.length > 0 ? 'error' : 'ok' });
  metrics.requestSeconds.observe({ operation }, seconds);
}

/** Counts requests, latency and error codes per operation (a known operation name, "other" or "anonymous"). */
export function metricsPlugin(metrics: Metrics, known: ReadonlySet<string>): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ request, response, operationName }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const codes = errors.map((error) => String(error.extensions?.code ?? 'UNKNOWN'));
          // The name of the operation that ran (the document's, when the body named none).
          recordOperation(metrics, known, operationName ?? request.operationName, codes, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
