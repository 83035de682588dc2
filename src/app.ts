// Composition root: opens the database and builds the services once; the server and the CLI share it.
import { TokenService } from './auth/tokens.js';
import type { AppConfig } from './config.js';
import type { Services } from './context.js';
import { DatasetService } from './data/datasets.js';
import { databaseReachable, flavourOf, openDatabase } from './db/client.js';
import { ClassifyService } from './inference/classify.js';
import { EnsembleService } from './inference/ensembles.js';
import { ModelPool } from './inference/models.js';
import { sweepIncoming } from './inference/registry.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { EvaluationService } from './reports/evaluate.js';
import { EnsembleFitter } from './inference/fitEnsemble.js';
import { DistillationService } from './training/distillation.js';
import { ClientLimiter } from './fairness.js';
import { TrainingService } from './training/service.js';
import { LocalPubSub } from './pubsub.js';
import { openArtifactStore } from './storage/artifactStore.js';

export interface Readiness {
  ready: boolean;
  database: boolean;
  /** The default ensemble and whether all its members are loaded and warmed; null when there is none. */
  defaultEnsemble: { id: number; name: string; warm: boolean } | null;
}

export interface App {
  config: AppConfig;
  services: Services;
  log: Logger;
  /** Loads and warms the default ensemble's models (the server does this before it reports ready). */
  warmDefaultEnsemble(): Promise<void>;
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}

export async function openApp(config: AppConfig): Promise<App> {
  const db = await openDatabase(config.databaseUrl);
  const log = createLogger(config);
  const metrics = createMetrics();
  const ensembles = new EnsembleService(db);
  const artifactStore = openArtifactStore(config.artifactStore, config.artifactCacheDir);
  const models = new ModelPool(db, config.serving, metrics, artifactStore);
  const classify = new ClassifyService(models, ensembles, { maxImages: config.serving.maxClassifyImages, image: config.imageLimits, preprocessingThreads: config.preprocessingThreads });
  const evaluation = new EvaluationService(db, classify, models);
  const distillation = new DistillationService(db, config.dataDir, classify, evaluation, log);
  const training = new TrainingService(
    db,
    {
      dataDir: config.dataDir,
      artifactStore,
      pixelCacheDir: config.pixelCacheDir,
      weights: config.weights,
      python: config.python,
      concurrency: config.trainingConcurrency,
      // On PostgreSQL, runs go through its job queue and any worker host may take them.
      jobQueue: flavourOf(config.databaseUrl) === 'postgresql' ? { connectionString: config.databaseUrl } : undefined,
      heartbeatMs: config.heartbeatMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    },
    log,
    distillation,
  );
  training.events.on('ended', (runId: number) => distillation.runEnded(runId));
  // The one place that publishes to subscriptions: every write the services announce, nothing else.
  const pubsub = new LocalPubSub();
  training.events.on('run', (runId: number) => pubsub.publish('runChanged', { runId }));
  training.events.on('report', (reportId: number) => pubsub.publish('reportAdded', { reportId }));
  evaluation.events.on('report', (reportId: number) => pubsub.publish('reportAdded', { reportId }));
  await training.interruptOrphans();
  training.startReaper();
  await sweepIncoming(config.dataDir);
  const services: Services = {
    db,
    artifactStore,
    datasets: new DatasetService(db),
    importContext: { db, imageLimits: config.imageLimits, concurrency: config.importConcurrency },
    training,
    tokens: new TokenService(db),
    ensembles,
    models,
    classify,
    evaluation,
    distillation,
    fitter: new EnsembleFitter(db, classify, ensembles),
    metrics,
    clientLimiter: new ClientLimiter(config.serving.maxClientConcurrency),
    pubsub,
  };
  return {
    config,
    services,
    log,
    async warmDefaultEnsemble() {
      const ensemble = await ensembles.getDefault();
      if (!ensemble) return;
      await Promise.all((await ensembles.members(ensemble.id)).map((m) => models.get(m.artifactId)));
    },
    async readiness() {
      const database = await databaseReachable(db);
      const ensemble = database ? await ensembles.getDefault() : null;
      const warm = ensemble ? (await ensembles.members(ensemble.id)).every((m) => models.isWarm(m.artifactId)) : true;
      return { ready: database && warm, database, defaultEnsemble: ensemble ? { id: ensemble.id, name: ensemble.name, warm } : null };
    },
    async close() {
      pubsub.close();
      await training.close();
      await distillation.settled();
      await models.close();
      artifactStore.close();
      await db.$disconnect();
    },
  };
}
