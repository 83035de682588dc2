// Composition root: opens the database and builds the services once; the server and the CLI share it.

import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ClientLimiter } from './api/clientLimiter.js';
import type { Services } from './api/context.js';
import { TokenService } from './auth/tokens.js';
import type { AppConfig } from './config.js';
import { DatasetService } from './data/datasets.js';
import { namedImages, Photos } from './data/photos.js';
import { databaseReachable, flavourOf, openDatabase } from './db/client.js';
import { PROCESS_ID } from './host.js';
import { AliasService, CHAMPION } from './inference/aliases.js';
import { ClassifyService } from './inference/classify.js';
import { DefaultEnsembleWatcher } from './inference/defaultEnsemble.js';
import { EnsembleService } from './inference/ensembles.js';
import { EnsembleFitter } from './inference/fitEnsemble.js';
import { ModelPool } from './inference/models.js';
import { PredictionJobService } from './inference/predictionJobs.js';
import { PredictionLog } from './inference/predictionLog.js';
import { Router } from './inference/rollout.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { openPubSub } from './pubsub/postgresPubSub.js';
import { DriftService } from './reports/drift.js';
import { EvaluationService } from './reports/evaluate.js';
import { LabelReviewService } from './reports/labelReview.js';
import { startScratch } from './scratch.js';
import { type SeasonProfile, SeasonProfiles } from './seasons/profiles.js';
import { SeasonService } from './seasons/service.js';
import { openArtifactStore } from './storage/artifactStore.js';
import { PendingObjects } from './storage/pendingObjects.js';
import { CrossValidationService } from './training/crossValidation.js';
import { DistillationService } from './training/distillation.js';
import type { PythonRuntime } from './training/python.js';
import { QuantizationService } from './training/quantization.js';
import { RaceService } from './training/raceService.js';
import { TrainingService } from './training/service.js';
import { SweepService } from './training/sweepService.js';

/** This process's readiness: each replica answers for its own models (a load balancer asks each). */
export interface Readiness {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
  database: boolean;
  /** The default ensemble as the database has it now, and whether this process has all its members
   *  loaded and warmed; null when there is none. */
  defaultEnsemble: { id: number; name: string; warm: boolean; models: number; modelsWarm: number } | null;
  replica: {
    /** hostname:pid, the same in this process's logs. */
    id: string;
    /** Artifacts loaded and warm in this process (earlier defaults' stay loaded). */
    modelsLoaded: number[];
    /** How changes from other processes arrive: LISTEN/NOTIFY plus the poll, or the poll alone. */
    changeNotices: 'postgresql' | 'poll only';
    modelRefreshMs: number;
  };
}

export interface App {
  config: AppConfig;
  services: Services;
  log: Logger;
  /** Loads and warms the default ensemble's models (resolving when they are warm), then keeps following
   *  the default: a change made by another replica or the CLI is warmed within FASHION_HOW_MODEL_REFRESH_MS,
   *  sooner on PostgreSQL. Serving processes call it; other commands need not. */
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
  const classify = new ClassifyService(models, ensembles, {
    maxImages: config.serving.maxClassifyImages,
    image: config.imageLimits,
    preprocessingThreads: config.preprocessingThreads,
  });
  const photos = new Photos(artifactStore);
  const evaluation = new EvaluationService(db, classify, models, photos);
  const quantization = new QuantizationService(
    db,
    artifactStore,
    photos,
    evaluation,
    // The runtime is the training service's probe, made below; it is asked only when a quantization runs.
    { dataDir: config.dataDir, imageLimits: config.imageLimits, runtime: (): Promise<PythonRuntime> => training.runtime() },
    log,
  );
  // Users' season profiles are read once: a bad file stops start-up with its name and the problem.
  const seasons = await SeasonProfiles.load(config.seasonsDir);
  const distillation = new DistillationService(db, config.dataDir, classify, evaluation, photos, log, quantization, seasons);
  const training = new TrainingService(
    db,
    {
      dataDir: config.dataDir,
      artifactStore,
      pixelCacheDir: config.pixelCacheDir,
      weights: config.weights,
      python: config.python,
      pythonCacheDir: config.pythonCacheDir,
      concurrency: config.trainingConcurrency,
      // On PostgreSQL, runs go through its job queue and any worker host may take them.
      jobQueue: flavourOf(config.databaseUrl) === 'postgresql' ? { connectionString: config.databaseUrl } : undefined,
      heartbeatMs: config.heartbeatMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      modelChecks: config.modelChecks,
    },
    log,
    distillation,
  );
  training.events.on('ended', (runId: number) => distillation.runEnded(runId));
  const crossValidations = new CrossValidationService(db, ensembles, log);
  training.events.on('ended', (runId: number) => crossValidations.runEnded(runId));
  // The one place that publishes to subscriptions: every write the services announce, nothing else.
  const pubsub = await openPubSub(config.databaseUrl, log);
  training.events.on('run', (runId: number) => pubsub.publish('runChanged', { runId }));
  ensembles.events.on('changed', (ensembleId: number) => pubsub.publish('ensemblesChanged', { ensembleId }));
  training.events.on('report', (reportId: number) => pubsub.publish('reportAdded', { reportId }));
  evaluation.events.on('report', (reportId: number) => pubsub.publish('reportAdded', { reportId }));
  await training.interruptOrphans();
  training.startReaper();
  // Uploads, unpacked archives, logged crops and graphs under check live in this process's scratch
  // folder while it works; what a process killed mid-way left (its folder, its graphs) goes now.
  const { dir: scratchDir, swept } = await startScratch(config.dataDir);
  if (swept.scratch.length + swept.incoming.length > 0) log.info(swept, 'removed the scratch files of processes that are gone');
  const partials = await artifactStore.sweepPartials();
  if (partials.length > 0) log.info({ partials }, 'removed the partial downloads and writes of the artifact store that processes now gone left');
  // Photos and crops stored before their rows by a process killed (or an import that failed) in between.
  const pending = new PendingObjects(path.join(config.dataDir, 'pending'));
  const stopCollecting = await pending.startCollecting(artifactStore, namedImages(db), config.orphanGraceMs, log);
  const datasets = new DatasetService(db, config.imageLimits, photos);
  // Moving champion changes the default ensemble: replicas warm it as they do for setDefaultEnsemble.
  const aliases = new AliasService(db, (name) => {
    if (name === CHAMPION) ensembles.events.emit('changed', 0);
  });
  // An ensemble made the default moves champion too: read the aliases again.
  ensembles.events.on('changed', () => aliases.forget());
  const predictionLog = new PredictionLog(db, artifactStore, config.monitoring.log, { imageLimits: config.imageLimits, scratchDir, metrics, log, pending });
  const router = new Router(
    classify,
    aliases,
    predictionLog,
    metrics,
    { directLogRate: config.monitoring.directLogRate, shadowInFlight: config.monitoring.shadowInFlight },
    log,
  );
  const fitter = new EnsembleFitter(db, classify, ensembles, crossValidations, photos);
  const seasonService = new SeasonService(db, seasons);
  // Batch predictions run on the queue training uses: on PostgreSQL any worker host takes them.
  const predictions = new PredictionJobService<SeasonProfile>(
    db,
    classify,
    photos,
    artifactStore,
    { aliases, ensembles },
    seasonService,
    {
      dataDir: config.dataDir,
      jobQueue: flavourOf(config.databaseUrl) === 'postgresql' ? { connectionString: config.databaseUrl } : undefined,
      heartbeatMs: config.heartbeatMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    },
    log,
  );
  predictions.events.on('job', (jobId: number) => pubsub.publish('predictionJobChanged', { jobId }));
  await predictions.interruptOrphans();
  predictions.startReaper();
  const services: Services = {
    db,
    artifactStore,
    datasets,
    importContext: {
      db,
      photos,
      imageLimits: config.imageLimits,
      maxRows: config.imports.maxRows,
      maxCsvBytes: config.imports.maxCsvBytes,
      concurrency: config.importConcurrency,
      settings: config.imports,
      scratchDir,
      pending,
    },
    training,
    sweeps: new SweepService(db, training),
    crossValidations,
    tokens: new TokenService(db),
    ensembles,
    models,
    classify,
    aliases,
    router,
    predictionLog,
    drift: new DriftService(db, classify, aliases, photos, metrics, { referenceItems: config.monitoring.driftReferenceItems, imageLimits: config.imageLimits }),
    evaluation,
    distillation,
    quantization,
    labelReview: new LabelReviewService(db, datasets, classify, crossValidations),
    fitter,
    predictions,
    races: new RaceService(db, training, fitter, log, () => config.trainingConcurrency ?? 1, seasons, {
      heartbeatMs: config.heartbeatMs,
      timeoutMs: config.heartbeatTimeoutMs,
    }),
    seasons: seasonService,
    metrics,
    clientLimiter: new ClientLimiter(config.serving.maxClientConcurrency),
    importLimiter: new ClientLimiter(config.imports.maxPerClient, 'uploads or bucket imports', 'FASHION_HOW_MAX_CLIENT_IMPORTS'),
    pubsub,
  };
  const watcher = new DefaultEnsembleWatcher(ensembles, models, { refreshMs: config.modelRefreshMs, log });
  return {
    config,
    services,
    log,
    warmDefaultEnsemble: () => watcher.start(pubsub),
    async readiness() {
      // Read at the end: models warm up while this awaits the database.
      const replica = () => ({
        id: PROCESS_ID,
        modelsLoaded: models.warmIds(),
        changeNotices: flavourOf(config.databaseUrl) === 'postgresql' ? ('postgresql' as const) : ('poll only' as const),
        modelRefreshMs: config.modelRefreshMs,
      });
      const database = await databaseReachable(db);
      if (!database) return { ready: false, reason: 'the database does not answer', database, defaultEnsemble: null, replica: replica() };
      // The database's default, not the watcher's: a change the watcher has not seen yet already makes
      // this replica not ready, rather than ready with the old default.
      const ensemble = await ensembles.getDefault();
      if (!ensemble) return { ready: true, database, defaultEnsemble: null, replica: replica() };
      const artifactIds = (await ensembles.members(ensemble.id)).map((m) => m.artifactId);
      const modelsWarm = artifactIds.filter((id) => models.isWarm(id)).length;
      const warm = modelsWarm === artifactIds.length;
      const named = `default ensemble ${ensemble.id} ("${ensemble.name}")`;
      const failure = watcher.failureFor(ensemble.id);
      const reason = warm
        ? undefined
        : failure
          ? `the ${named} cannot be loaded on this replica: ${failure}`
          : `the ${named} is warming on this replica: ${modelsWarm} of ${artifactIds.length} models warm`;
      return {
        ready: warm,
        ...(reason ? { reason } : {}),
        database,
        defaultEnsemble: { id: ensemble.id, name: ensemble.name, warm, models: artifactIds.length, modelsWarm },
        replica: replica(),
      };
    },
    async close() {
      await watcher.stop();
      await router.settled();
      await predictionLog.flush();
      predictionLog.close();
      await stopCollecting();
      await pubsub.close();
      services.races.stop();
      await predictions.close();
      await training.close();
      await services.races.settled();
      await distillation.settled();
      await models.close();
      await artifactStore.close();
      await db.$disconnect();
      // Nothing of this process's runs on: its scratch folder goes with it.
      await rm(scratchDir, { recursive: true, force: true });
    },
  };
}
