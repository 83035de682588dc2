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
  /** Prediction log records by outcome: logged, dropped (the queue was full) or failed. */
  predictionLog: Counter<'alias' | 'outcome'>;
  /** Answers (images) per alias and side: CHAMPION, CANDIDATE, SHADOW. */
  aliasImages: Counter<'alias' | 'role'>;
  aliasSeconds: Histogram<'alias' | 'role'>;
  /** The top-1 confidence of each side's answers, per task. */
  aliasConfidence: Histogram<'alias' | 'role' | 'task'>;
  /** Shadow scoring: whether the candidate's top class agreed with the answer, per task. */
  shadowAgreement: Counter<'alias' | 'task' | 'agree'>;
  /** Requests a shadow did not score (too many in flight, or it failed). */
  shadowSkipped: Counter<'alias' | 'reason'>;
  /** The latest drift report per alias: each feature's PSI (tasks' predictions and input statistics). */
  driftPsi: Gauge<'alias' | 'feature'>;
  driftDetected: Gauge<'alias'>;
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
    predictionLog: new Counter({
      name: 'fashion_how_prediction_log_records_total',
      help: 'Prediction log records by alias and outcome (logged, dropped because the queue was full, failed)',
      labelNames: ['alias', 'outcome'],
      registers: [registry],
    }),
    aliasImages: new Counter({
      name: 'fashion_how_alias_images_total',
      help: 'Images answered per alias and side',
      labelNames: ['alias', 'role'],
      registers: [registry],
    }),
    aliasSeconds: new Histogram({
      name: 'fashion_how_alias_request_seconds',
      help: 'Latency of a request per alias and side (SHADOW: the copy scored off the answer path)',
      labelNames: ['alias', 'role'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    aliasConfidence: new Histogram({
      name: 'fashion_how_alias_confidence',
      help: 'Top-1 probability of each answer per alias, side and task',
      labelNames: ['alias', 'role', 'task'],
      buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
      registers: [registry],
    }),
    shadowAgreement: new Counter({
      name: 'fashion_how_shadow_agreement_total',
      help: 'Shadow-scored images per alias and task by whether the candidate agreed with the answer',
      labelNames: ['alias', 'task', 'agree'],
      registers: [registry],
    }),
    shadowSkipped: new Counter({
      name: 'fashion_how_shadow_skipped_total',
      help: 'Requests a shadow candidate did not score, by reason (busy or failed)',
      labelNames: ['alias', 'reason'],
      registers: [registry],
    }),
    driftPsi: new Gauge({
      name: 'fashion_how_drift_psi',
      help: 'Population stability index of the latest drift report per alias and feature',
      labelNames: ['alias', 'feature'],
      registers: [registry],
    }),
    driftDetected: new Gauge({
      name: 'fashion_how_drift_detected',
      help: '1 when the latest drift report of an alias found drift',
      labelNames: ['alias'],
      registers: [registry],
    }),
  };
}
