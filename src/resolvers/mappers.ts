// Storage rows behind GraphQL types. Prisma types stop here: the SDK and web/ see only GraphQL shapes.
import type { ConfusionMatrix, Dataset, Ensemble, EvaluationReport, ModelArtifact, TrainingRun } from '../db/generated/client.js';
import type { ClassifyOutcome } from '../inference/classify.js';
import type { LabelSchemaSpec } from '../domain.js';

export type DatasetRow = Dataset;
export type LabelSchemaRow = LabelSchemaSpec & { id: number };
export type TrainingRunRow = TrainingRun;
export type ModelArtifactRow = ModelArtifact;
export type EvaluationReportRow = EvaluationReport;
export type EnsembleRow = Ensemble;
export type ClassifyResultRow = ClassifyOutcome;
export type ConfusionMatrixRow = ConfusionMatrix;
