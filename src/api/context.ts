// What every resolver receives: the services, built once per server, and the caller of this request.
import type { Caller, TokenService } from '../auth/tokens.js';
import type { AppConfig } from '../config.js';
import type { DatasetService } from '../data/datasets.js';
import type { SourceContext } from '../data/sources.js';
import type { Db } from '../db/client.js';
import type { AliasService } from '../inference/aliases.js';
import type { ClassifyService } from '../inference/classify.js';
import type { EnsembleService } from '../inference/ensembles.js';
import type { EnsembleFitter } from '../inference/fitEnsemble.js';
import type { ModelPool } from '../inference/models.js';
import type { PredictionJobService } from '../inference/predictionJobs.js';
import type { PredictionLog } from '../inference/predictionLog.js';
import type { Router } from '../inference/rollout.js';
import type { Metrics } from '../metrics.js';
import type { PubSub } from '../pubsub/pubsub.js';
import type { DriftService } from '../reports/drift.js';
import type { EvaluationService } from '../reports/evaluate.js';
import type { LabelReviewService } from '../reports/labelReview.js';
import type { SeasonService } from '../seasons/service.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import type { CrossValidationService } from '../training/crossValidation.js';
import type { DistillationService } from '../training/distillation.js';
import type { QuantizationService } from '../training/quantization.js';
import type { RaceService } from '../training/raceService.js';
import type { TrainingService } from '../training/service.js';
import type { SweepService } from '../training/sweepService.js';
import type { ClientLimiter } from './clientLimiter.js';
import type { HeavyReads } from './heavyReads.js';
import type { UploadAccount } from './uploads.js';

export interface Services {
  db: Db;
  /** ONNX graphs and training checkpoints by sha256, shared by every host (put, fetch, has). */
  artifactStore: ArtifactStore;
  datasets: DatasetService;
  /** What an import needs besides the request: the database, the photo store, the limits, a scratch folder. */
  importContext: SourceContext;
  training: TrainingService;
  /** Hyperparameter sweeps: trials drawn from a space, judged at their rungs. */
  sweeps: SweepService;
  /** Time budgets raced over a portfolio of backbones by successive halving. */
  races: RaceService;
  /** k-fold cross-validations: fold runs, out-of-fold predictions, the fold ensemble. */
  crossValidations: CrossValidationService;
  tokens: TokenService;
  ensembles: EnsembleService;
  models: ModelPool;
  classify: ClassifyService;
  /** Named pointers at models (champion, challenger), with canary and shadow candidates. */
  aliases: AliasService;
  /** What a client's classify goes through: the alias, the canary's side, then (off the answer path) the shadow and the log. */
  router: Router;
  predictionLog: PredictionLog;
  /** Batch prediction jobs: a model over a dataset's items, on the job queue, its table in the artifact store. */
  predictions: PredictionJobService;
  drift: DriftService;
  evaluation: EvaluationService;
  fitter: EnsembleFitter;
  distillation: DistillationService;
  quantization: QuantizationService;
  /** Likely mislabels: confident-learning scans, their review, and the reviewed dataset version. */
  labelReview: LabelReviewService;
  metrics: Metrics;
  /** Classify requests in flight per client. */
  clientLimiter: ClientLimiter;
  /** Uploads and bucket imports in flight per client. */
  importLimiter: ClientLimiter;
  /** The season profiles this server knows (built-in and FASHION_HOW_SEASONS_DIR's), judged against stored models. */
  seasons: SeasonService;
  /** Change notices for subscriptions. */
  pubsub: PubSub;
}

export interface Context {
  config: AppConfig;
  services: Services;
  /** The token's owner, or null for a request without one. */
  caller: Caller | null;
  /** Who fair-use limits count this request against: the token, else the remote address. */
  client: string;
  /** Model cards and item images: the client's limit, the fair queue and the cache (one per server). */
  heavyReads: HeavyReads;
  /** Bytes of uploaded files this request holds in memory (per request and per client). */
  uploads: UploadAccount;
}
