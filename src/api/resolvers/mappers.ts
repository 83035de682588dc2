// Storage rows behind GraphQL types. Prisma types stop here: the SDK and web/ see only GraphQL shapes.
import type {
  AliasChange,
  ApiToken,
  ConfusionMatrix,
  CrossValidation,
  Dataset,
  Ensemble,
  EvaluationReport,
  Item,
  ItemLabel,
  LabelIssue,
  LabelIssueScan,
  ModelArtifact,
  Prediction,
  PredictionJob,
  ReportPrediction,
  Submission,
  Sweep,
  TrainingRun,
} from '../../db/generated/client.js';
import type { LabelSchemaSpec } from '../../domain.js';
import type { AliasRow, AliasSettings, ModelRef } from '../../inference/aliases.js';
import type { LiveComparison } from '../../inference/liveComparison.js';
import type { ServeOutcome } from '../../inference/rollout.js';
import type { TuningResult } from '../../inference/sessionTuning.js';
import type { onlineReport } from '../../reports/online.js';
import type { SeasonProfile } from '../../seasons/profiles.js';
import type { SeasonVerdict } from '../../seasons/verdict.js';
import type { AccuracyChange, QuantizationRecord } from '../../training/quantization.js';
import type { SweepTrial } from '../../training/sweepService.js';
import type { Page } from '../pagination.js';

export type DatasetRow = Dataset;
export type LabelSchemaRow = LabelSchemaSpec & { id: number };
export type TrainingRunRow = TrainingRun;
export type PredictionJobRow = PredictionJob;
export type SweepRow = Sweep;
export type CrossValidationRow = CrossValidation;
export type SweepTrialRow = SweepTrial;
export type ModelArtifactRow = ModelArtifact;
export type EvaluationReportRow = EvaluationReport;
export type EnsembleRow = Ensemble;
export type ClassifyResultRow = ServeOutcome;
export type ConfusionMatrixRow = ConfusionMatrix;
/** A token as listed: everything but its hash. */
export type ApiTokenRow = Omit<ApiToken, 'hash'>;
export type DatasetConnectionRow = Page<DatasetRow>;
export type TrainingRunConnectionRow = Page<TrainingRunRow>;
export type EnsembleConnectionRow = Page<EnsembleRow>;
export type ModelArtifactConnectionRow = Page<ModelArtifactRow>;
export type ApiTokenConnectionRow = Page<ApiTokenRow>;
export type EvaluationReportConnectionRow = Page<EvaluationReportRow>;
/** An item, with its labels when the query that read it included them. */
export type ItemRow = Item & { labels?: ItemLabel[] };
export type ItemConnectionRow = Page<ItemRow>;
/** A report's prediction; `classes` names the task's classes (read once per page). */
export type ReportPredictionRow = ReportPrediction & { classes: string[] };
export type ReportPredictionConnectionRow = Page<ReportPredictionRow>;
/** An item's prediction in one report. */
export type ItemPredictionRow = ReportPredictionRow & { report: EvaluationReport };
export type LabelIssueScanRow = LabelIssueScan;
export type LabelIssueRow = LabelIssue;
export type QuantizationRow = QuantizationRecord;
export type AccuracyChangeRow = AccuracyChange;
export type SessionTuningRow = TuningResult;
export type ModelAliasRow = AliasRow;
export type AliasChangeRow = AliasChange;
export type AliasStateRow = AliasSettings;
export type ModelRefRow = ModelRef;
export type LiveComparisonRow = LiveComparison;
export type LoggedPredictionRow = Prediction;
/** A stored drift report, or one window of a timeline (no id). */
export type DriftReportRow = { id: number | null; alias: string; from: Date; to: Date; count: number; drifted: boolean; body: unknown; createdAt: Date };
export type OnlineReportRow = Awaited<ReturnType<typeof onlineReport>>;
export type OnlineModelReportRow = OnlineReportRow['models'][number] & { labelSchemaId: number | null };
export type SeasonProfileRow = SeasonProfile;
export type SeasonVerdictRow = SeasonVerdict;
export type SubmissionRow = Submission;
