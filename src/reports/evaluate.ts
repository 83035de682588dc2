// evaluate: scores every item of a split through the serving path (the same preprocessing, sessions
// and soft vote as classify), then stores a report with the metrics, bootstrap intervals, per-class
// rows, confusion matrices, per-item predictions and the model's cost. An ensemble's report carries
// its members' reports on the same items, computed from the members' own votes (no second pass).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Db } from '../db/client.js';
import type { Split, TaskSpec } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import type { ClassifyService, TaskResult } from '../inference/classify.js';
import type { ModelPool } from '../inference/models.js';
import { argmax, bootstrapIntervals, mean, taskMetrics, type TaskMetrics } from './metrics.js';

export interface EvaluateRequest {
  runId?: number;
  artifactId?: number;
  ensembleId?: number;
  /** Default: the run's dataset; required for an artifact or an ensemble. */
  datasetId?: number;
  /** Default: VALIDATION for a run's own dataset, every item (ALL) otherwise. */
  split?: Split | 'ALL' | null;
}

export interface TaskReport extends Omit<TaskMetrics, 'confusion' | 'confusionNormalized'> {
  task: number;
  name: string;
  intervals: ReturnType<typeof bootstrapIntervals>;
}

export interface ReportMetrics {
  source: 'evaluation';
  tasks: TaskReport[];
  meanTop1: number;
  meanAcsa: number;
  model: { sizeMB: number; parameterCount: number | null; cpuLatencyMs: number };
  gain?: { meanTop1: number; meanAcsa: number; bestMemberArtifactId: number };
}

const CHUNK = 16;

export class EvaluationService {
  constructor(
    private readonly db: Db,
    private readonly classify: ClassifyService,
    private readonly models: ModelPool,
  ) {}

  async evaluate(request: EvaluateRequest) {
    const started = performance.now();
    const targets = [request.runId, request.artifactId, request.ensembleId].filter((t) => t !== undefined);
    if (targets.length !== 1) throw badInput('evaluate exactly one of runId, artifactId, ensembleId');
    let artifactId = request.artifactId;
    let datasetId = request.datasetId;
    let runId: number | undefined;
    if (request.runId !== undefined) {
      const run = await this.db.trainingRun.findUnique({ where: { id: request.runId }, include: { artifact: true } });
      if (!run) throw notFound('run', request.runId);
      if (!run.artifact) throw badInput(`run ${run.id} is ${run.status} and has no artifact to evaluate`);
      artifactId = run.artifact.id;
      datasetId ??= run.datasetId;
      runId = run.id;
    }
    if (datasetId === undefined) throw badInput('give the dataset to evaluate on (datasetId)');
    const dataset = await this.db.dataset.findUnique({ where: { id: datasetId }, include: { labelSchema: true } });
    if (!dataset) throw notFound('dataset', datasetId);
    const split: Split | 'ALL' = request.split ?? (runId !== undefined && request.datasetId === undefined ? 'VALIDATION' : 'ALL');
    const tasks = dataset.labelSchema.tasks as unknown as TaskSpec[];
    const { target, members } = await this.classify.members({ artifactId, ensembleId: request.ensembleId });
    const modelTasks = members[0]!.model.info.tasks;
    if (modelTasks.map((t) => t.classes.length).join() !== tasks.map((t) => t.classes.length).join()) {
      throw badInput(`the model predicts ${modelTasks.map((t) => `${t.name} (${t.classes.length})`).join(', ')} but dataset ${dataset.id} has ${tasks.map((t) => `${t.name} (${t.classes.length})`).join(', ')}`);
    }

    const items = await this.db.item.findMany({
      where: { datasetId: dataset.id, ...(split === 'ALL' ? {} : { split }) },
      include: { labels: { orderBy: { task: 'asc' } } },
      orderBy: { id: 'asc' },
    });
    if (items.length === 0) throw badInput(`dataset ${dataset.id} has no ${split === 'ALL' ? '' : `${split} `}items to evaluate`);

    // Chunks of items go through classify a few at a time: enough to keep every model's batcher full.
    const results: TaskResult[][] = new Array(items.length);
    const limit = pLimit(4);
    await Promise.all(
      Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, c) =>
        limit(async () => {
          const chunk = items.slice(c * CHUNK, (c + 1) * CHUNK);
          const images = await Promise.all(chunk.map(async (item) => ({ image: await readFile(path.join(dataset.imageRoot, item.imagePath)), bbox: item })));
          const outcome = await this.classify.score({ images, artifactId, ensembleId: request.ensembleId, includeMembers: members.length > 1 });
          outcome.results.forEach((r, i) => (results[c * CHUNK + i] = r));
        }),
      ),
    );
    const truth = tasks.map((_, t) => items.map((item) => item.labels[t]!.classIndex));
    const costs = await Promise.all(members.map(async ({ model }) => ({ latencyMs: await this.models.latencyMs(model.artifact.id), sizeBytes: model.artifact.sizeBytes, parameterCount: model.artifact.parameterCount })));
    const durationMs = Math.round(performance.now() - started);

    const store = async (probabilities: number[][][], owner: { artifactId?: number; ensembleId?: number; runId?: number; parentReportId?: number }, cost: ReportMetrics['model'], extra: Partial<ReportMetrics> = {}) => {
      const scored = tasks.map((task, t) => ({ task, t, metrics: taskMetrics(truth[t]!, probabilities[t]!, task.classes.length) }));
      const taskReports: TaskReport[] = scored.map(({ task, t, metrics }) => {
        const { confusion: _c, confusionNormalized: _n, ...rest } = metrics;
        const predicted = probabilities[t]!.map(argmax);
        return { task: t, name: task.name, ...rest, intervals: bootstrapIntervals(truth[t]!, predicted, task.classes.length, 1000, t + 1) };
      });
      const metrics: ReportMetrics = { source: 'evaluation', tasks: taskReports, meanTop1: mean(taskReports.map((r) => r.top1)), meanAcsa: mean(taskReports.map((r) => r.acsa)), model: cost, ...extra };
      const report = await this.db.evaluationReport.create({
        data: {
          datasetId: dataset.id,
          split,
          ...owner,
          itemCount: items.length,
          metrics: metrics as object,
          durationMs,
          confusionMatrices: { create: scored.map(({ task, t, metrics: m }) => ({ task: t, taskName: task.name, classes: task.classes, rows: m.confusion })) },
        },
      });
      await this.db.reportPrediction.createMany({
        data: tasks.flatMap((_, t) =>
          items.map((item, i) => {
            const row = probabilities[t]![i]!;
            const predictedClass = argmax(row);
            return { reportId: report.id, itemId: item.id, task: t, trueClass: truth[t]![i]!, predictedClass, confidence: row[predictedClass]!, trueProbability: row[truth[t]![i]!]! };
          }),
        ),
      });
      return { report, metrics };
    };

    const combined = tasks.map((_, t) => results.map((r) => r[t]!.probabilities));
    const total = {
      sizeMB: costs.reduce((s, c) => s + c.sizeBytes, 0) / 1e6,
      parameterCount: costs.every((c) => c.parameterCount !== null) ? costs.reduce((s, c) => s + c.parameterCount!, 0) : null,
      cpuLatencyMs: costs.reduce((s, c) => s + c.latencyMs, 0),
    };
    if (target.kind === 'artifact') {
      return (await store(combined, { artifactId: target.id, runId }, total)).report;
    }
    const ensembleReport = await store(combined, { ensembleId: target.id }, total);
    const memberMetrics = await Promise.all(
      members.map(async ({ model }, m) => {
        const probabilities = tasks.map((_, t) => results.map((r) => r[t]!.members![m]!.probabilities));
        const cost = costs[m]!;
        return (await store(probabilities, { artifactId: model.artifact.id, runId: model.artifact.runId ?? undefined, parentReportId: ensembleReport.report.id }, { sizeMB: cost.sizeBytes / 1e6, parameterCount: cost.parameterCount, cpuLatencyMs: cost.latencyMs })).metrics;
      }),
    );
    const best = memberMetrics.reduce((b, m, i) => (m.meanAcsa > memberMetrics[b]!.meanAcsa ? i : b), 0);
    const gain = {
      meanTop1: ensembleReport.metrics.meanTop1 - Math.max(...memberMetrics.map((m) => m.meanTop1)),
      meanAcsa: ensembleReport.metrics.meanAcsa - memberMetrics[best]!.meanAcsa,
      bestMemberArtifactId: members[best]!.model.artifact.id,
    };
    return this.db.evaluationReport.update({ where: { id: ensembleReport.report.id }, data: { metrics: { ...ensembleReport.metrics, gain } as object } });
  }
}
