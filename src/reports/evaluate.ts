// evaluate: scores every item of a split through the serving path (the same preprocessing, sessions
// and soft vote as classify), then stores a report with the metrics, bootstrap intervals, per-class
// rows, confusion matrices, per-item predictions and the model's cost. An ensemble's report carries
// its members' reports on the same items, computed from the members' own votes (no second pass).
import { EventEmitter } from 'node:events';
import { decisionScoresOf } from '../confusion.js';
import type { Photos } from '../data/photos.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db, Prisma } from '../db/client.js';
import type { Split, TaskSpec } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import type { ClassifyService } from '../inference/classify.js';
import type { ModelPool } from '../inference/models.js';
import { labelledItems, scoreItems } from '../inference/scoring.js';
import { argmax, mean } from '../numeric.js';
import { bootstrapIntervals, type TaskMetrics, taskMetrics } from './metrics.js';

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

/** Top-1 and ACSA of one way of deciding (the plain soft vote, or after logit adjustment). */
export interface DecisionScores {
  decision: 'SOFT_VOTE' | 'LOGIT_ADJUSTED';
  meanTop1: number;
  meanAcsa: number;
  tasks: { task: string; top1: number; acsa: number }[];
}

export interface ReportMetrics {
  source: 'evaluation';
  tasks: TaskReport[];
  meanTop1: number;
  meanAcsa: number;
  /** For an ensemble with logit adjustment: both decisions side by side (the report's own is the adjusted one). */
  decisions?: DecisionScores[];
  model: { sizeMB: number; parameterCount: number | null; cpuLatencyMs: number };
  gain?: { meanTop1: number; meanAcsa: number; bestMemberArtifactId: number };
}

/** A report of every item of a large dataset is many rows; SQLite writes them in well under a minute. */
const WRITE_TRANSACTION = { timeout: 120_000, maxWait: 60_000 };

function decisionScores(decision: DecisionScores['decision'], tasks: TaskSpec[], truth: number[][], probabilities: number[][][]): DecisionScores {
  const scores = tasks.map((task, t) => {
    const { top1, acsa } = decisionScoresOf(truth[t]!, probabilities[t]!, task.classes.length);
    return { task: task.name, top1, acsa };
  });
  return { decision, meanTop1: mean(scores.map((s) => s.top1)), meanAcsa: mean(scores.map((s) => s.acsa)), tasks: scores };
}

/** Every task's metrics with bootstrap intervals, and their means: what evaluate stores and the online
 *  report (logged predictions with feedback) shows, computed one way for both. */
export function taskReportsOf(tasks: TaskSpec[], truth: number[][], probabilities: number[][][]) {
  const scored = tasks.map((task, t) => ({ task, t, metrics: taskMetrics(truth[t]!, probabilities[t]!, task.classes.length) }));
  const taskReports: TaskReport[] = scored.map(({ task, t, metrics }) => {
    const { confusion: _c, confusionNormalized: _n, ...rest } = metrics;
    const predicted = probabilities[t]!.map(argmax);
    return { task: t, name: task.name, ...rest, intervals: bootstrapIntervals(truth[t]!, predicted, task.classes.length, 1000, t + 1) };
  });
  return { scored, taskReports, meanTop1: mean(taskReports.map((r) => r.top1)), meanAcsa: mean(taskReports.map((r) => r.acsa)) };
}

export class EvaluationService {
  /** Emits 'report' with the id of each report evaluate stored (the top-level one, not its members'). */
  readonly events = new EventEmitter();

  constructor(
    private readonly db: Db,
    private readonly classify: ClassifyService,
    private readonly models: ModelPool,
    private readonly photos: Photos,
  ) {}

  async evaluate(request: EvaluateRequest) {
    const report = await this.score(request);
    this.events.emit('report', report.id);
    return report;
  }

  private async score(request: EvaluateRequest) {
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
    requireLabels(dataset, 'evaluate on');
    const split: Split | 'ALL' = request.split ?? (runId !== undefined && request.datasetId === undefined ? 'VALIDATION' : 'ALL');
    const tasks = dataset.labelSchema.tasks as unknown as TaskSpec[];
    const { target, members } = await this.classify.members({ artifactId, ensembleId: request.ensembleId });
    const modelTasks = members[0]!.model.info.tasks;
    if (modelTasks.map((t) => t.classes.length).join() !== tasks.map((t) => t.classes.length).join()) {
      throw badInput(
        `the model predicts ${modelTasks.map((t) => `${t.name} (${t.classes.length})`).join(', ')} but dataset ${dataset.id} has ${tasks.map((t) => `${t.name} (${t.classes.length})`).join(', ')}`,
      );
    }

    const { items, truth } = await labelledItems(this.db, dataset.id, split, tasks.length);
    if (items.length === 0) throw badInput(`dataset ${dataset.id} has no ${split === 'ALL' ? '' : `${split} `}items to evaluate`);

    const results = await scoreItems(this.classify, this.photos.of(dataset), items, {
      artifactId,
      ensembleId: request.ensembleId,
      includeMembers: target.kind === 'ensemble',
    });
    const costs = await Promise.all(
      members.map(async ({ model }) => ({
        latencyMs: await this.models.latencyMs(model.artifact.id),
        sizeBytes: model.artifact.sizeBytes,
        parameterCount: model.artifact.parameterCount,
      })),
    );
    const durationMs = Math.round(performance.now() - started);

    // Metrics (bootstrap intervals included) are computed first; then every row of a report (its members'
    // reports and predictions included) is written in one short transaction: a process killed mid-way
    // leaves no half report, and the write lock is held only while inserting.
    const prepare = (
      probabilities: number[][][],
      owner: { artifactId?: number; ensembleId?: number; runId?: number },
      cost: ReportMetrics['model'],
      extra: Partial<ReportMetrics> = {},
    ) => {
      const { scored, taskReports, meanTop1, meanAcsa } = taskReportsOf(tasks, truth, probabilities);
      const metrics: ReportMetrics = {
        source: 'evaluation',
        tasks: taskReports,
        meanTop1,
        meanAcsa,
        model: cost,
        ...extra,
      };
      const write = async (tx: Prisma.TransactionClient, parentReportId?: number) => {
        const report = await tx.evaluationReport.create({
          data: {
            datasetId: dataset.id,
            split,
            ...owner,
            ...(parentReportId !== undefined ? { parentReportId } : {}),
            itemCount: items.length,
            metrics: metrics as object,
            durationMs,
            confusionMatrices: {
              create: scored.map(({ task, t, metrics: m }) => ({ task: t, taskName: task.name, classes: task.classes, rows: m.confusion })),
            },
          },
        });
        await tx.reportPrediction.createMany({
          data: tasks.flatMap((_, t) =>
            items.map((item, i) => {
              const row = probabilities[t]![i]!;
              const predictedClass = argmax(row);
              return {
                reportId: report.id,
                itemId: item.id,
                task: t,
                trueClass: truth[t]![i]!,
                predictedClass,
                confidence: row[predictedClass]!,
                trueProbability: row[truth[t]![i]!]!,
              };
            }),
          ),
        });
        return report;
      };
      return { metrics, write };
    };

    const combined = tasks.map((_, t) => results.map((r) => r[t]!.probabilities));
    const total = {
      sizeMB: costs.reduce((s, c) => s + c.sizeBytes, 0) / 1e6,
      parameterCount: costs.every((c) => c.parameterCount !== null) ? costs.reduce((s, c) => s + c.parameterCount!, 0) : null,
      cpuLatencyMs: costs.reduce((s, c) => s + c.latencyMs, 0),
    };
    if (target.kind === 'artifact') {
      const single = prepare(combined, { artifactId: target.id, runId }, total);
      return this.db.$transaction((tx) => single.write(tx), WRITE_TRANSACTION);
    }
    const adjusted = results.some((r) => r.some((task) => task.softVote !== undefined));
    const decisions = adjusted
      ? [
          decisionScores(
            'SOFT_VOTE',
            tasks,
            truth,
            tasks.map((_, t) => results.map((r) => r[t]!.softVote ?? r[t]!.probabilities)),
          ),
          decisionScores('LOGIT_ADJUSTED', tasks, truth, combined),
        ]
      : undefined;
    const memberReports = members.map(({ model }, m) => {
      const probabilities = tasks.map((_, t) => results.map((r) => r[t]!.members![m]!.probabilities));
      const cost = costs[m]!;
      return prepare(
        probabilities,
        { artifactId: model.artifact.id, runId: model.artifact.runId ?? undefined },
        { sizeMB: cost.sizeBytes / 1e6, parameterCount: cost.parameterCount, cpuLatencyMs: cost.latencyMs },
      );
    });
    const memberMetrics = memberReports.map((r) => r.metrics);
    const ensembleReport = prepare(combined, { ensembleId: target.id }, total, decisions ? { decisions } : {});
    const best = memberMetrics.reduce((b, m, i) => (m.meanAcsa > memberMetrics[b]!.meanAcsa ? i : b), 0);
    ensembleReport.metrics.gain = {
      meanTop1: ensembleReport.metrics.meanTop1 - Math.max(...memberMetrics.map((m) => m.meanTop1)),
      meanAcsa: ensembleReport.metrics.meanAcsa - memberMetrics[best]!.meanAcsa,
      bestMemberArtifactId: members[best]!.model.artifact.id,
    };
    return this.db.$transaction(async (tx) => {
      const report = await ensembleReport.write(tx);
      for (const member of memberReports) await member.write(tx, report.id);
      return report;
    }, WRITE_TRANSACTION);
  }
}
