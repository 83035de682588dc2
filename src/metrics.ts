// Prometheus metrics (prom-client), one registry per app so several apps in one process (tests) do not collide.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'operation' | 'outcome'>;
  requestSeconds: Histogram<'operation'>;
  errors: Counter<'code'>;
  batchSize: Histogram<'model'>;
  queueLength: Gauge<'model'>;
  inferenceSeconds: Histogram<'model'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fashion_how_' });
  return {
    registry,
    requests: new Counter({
      name: 'fashion_how_graphql_requests_total',
      help: 'GraphQL requests by operation and outcome (ok or error)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'fashion_how_graphql_request_duration_seconds',
      help: 'GraphQL request latency by operation',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    errors: new Counter({ name: 'fashion_how_errors_total', help: 'Errors sent to clients, by code', labelNames: ['code'], registers: [registry] }),
    batchSize: new Histogram({
      name: 'fashion_how_inference_batch_size',
      help: 'Rows per ONNX Runtime session run',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    queueLength: new Gauge({ name: 'fashion_how_inference_queue_length', help: 'Images waiting for a model', labelNames: ['model'], registers: [registry] }),
    inferenceSeconds: new Histogram({
      name: 'fashion_how_inference_seconds',
      help: 'Time of one session run, by model',
      labelNames: ['model'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
