import type { ModelInfo } from '../../inference/registry.js';
import type { TuningResult } from '../../inference/sessionTuning.js';
import type { QuantizationRecord } from '../../training/quantization.js';
import type { AccuracyChangeResolvers, ModelArtifactResolvers, QuantizationResolvers, SessionTuningResolvers } from '../generated/graphql.js';

const info = (row: { modelInfo: unknown }) => row.modelInfo as ModelInfo;

export const ModelArtifact: ModelArtifactResolvers = {
  id: (row) => String(row.id),
  inputSize: (row) => info(row).input.size,
  run: (row, _args, { services }) => (row.runId ? services.training.get(row.runId) : null),
  backbone: (row) => info(row).backbone ?? null,
  head: (row) => info(row).head ?? null,
  outputKind: (row) => info(row).outputKind,
  testTimeFlip: (row) => info(row).testTimeFlip === true,
  tasks: (row) => info(row).tasks.map((task, index) => ({ index, name: task.name, column: task.name, classes: task.classes })),
  precision: (row) => (row.precision === 'int8' ? 'INT8' : 'FP32'),
  parent: (row, _args, { services }) => (row.parentId ? services.db.modelArtifact.findUnique({ where: { id: row.parentId } }) : null),
  quantized: (row, _args, { services }) => services.db.modelArtifact.findMany({ where: { parentId: row.id }, orderBy: { id: 'asc' } }),
  quantization: (row) => (row.quantization as QuantizationRecord | null) ?? null,
  sessionTuning: (row) => Object.values((row.sessionTuning as Record<string, TuningResult> | null) ?? {}),
};

export const SessionTuning: SessionTuningResolvers = {
  intraOpThreads: (t) => t.options.intraOpThreads ?? 0,
  graphOptimization: (t) => t.options.graphOptimization ?? 'all',
  executionMode: (t) => t.options.executionMode ?? 'sequential',
  memoryArena: (t) => t.options.memoryArena ?? true,
  memoryPattern: (t) => t.options.memoryPattern ?? true,
  lanes: (t) => t.options.lanes ?? 1,
  candidates: (t) => t.tried.length,
  measuredAt: (t) => new Date(t.measuredAt),
};

export const Quantization: QuantizationResolvers = {
  dataset: (record, _args, { services }) => services.db.dataset.findUnique({ where: { id: record.calibration.datasetId } }),
  datasetVersion: (record) => record.calibration.datasetVersion,
  split: (record) => record.calibration.split,
  items: (record) => record.calibration.items,
  images: (record) => record.calibrationImages,
};

export const AccuracyChange: AccuracyChangeResolvers = {
  parentReport: (change, _args, { services }) => services.db.evaluationReport.findUnique({ where: { id: change.parentReportId } }),
  report: (change, _args, { services }) => services.db.evaluationReport.findUnique({ where: { id: change.reportId } }),
};
