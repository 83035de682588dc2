import type { TaskSpec } from '../../domain.js';
import { badInput } from '../../errors.js';
import type { ReportMetrics, TaskReport } from '../../reports/evaluate.js';
import type { StoredMetrics } from '../../reports/metricsTable.js';
import { modelCardHtml } from '../../reports/modelCard.js';
import type { ReportVerdicts } from '../../seasons/reportVerdicts.js';
import type { QuantizationRecord } from '../../training/quantization.js';
import type { Context } from '../context.js';
import type { EvaluationReportResolvers } from '../generated/graphql.js';
import { paginateByPosition } from '../pagination.js';

const metrics = (row: { metrics: unknown }) => row.metrics as StoredMetrics;
const evaluation = (row: { metrics: unknown }) => (metrics(row).source === 'evaluation' ? (metrics(row) as ReportMetrics) : null);

/** A report's task metrics as GraphQL's TaskReport shows them (the online report shows the same). */
export const detailsOf = (reports: TaskReport[], tasks: TaskSpec[]) =>
  reports.map((t) => ({
    ...t,
    top1Interval: t.intervals.top1,
    acsaInterval: t.intervals.acsa,
    classes: t.classes.map((c) => ({ ...c, name: tasks[t.task]!.classes[c.index]! })),
  }));

// One batch judge per request, so that a list's reports (the leaderboard's rows and their members) are
// judged together. A subscription keeps its context as long as it runs, so what a judge read is trusted
// for a few seconds only: a dataset's season may change.
const judges = new WeakMap<Context, { at: number; judge: ReportVerdicts }>();
const JUDGE_LIFETIME_MS = 5_000;
function judgeOf(context: Context): ReportVerdicts {
  const held = judges.get(context);
  if (held && performance.now() - held.at < JUDGE_LIFETIME_MS) return held.judge;
  const judge = context.services.seasons.reportVerdicts();
  judges.set(context, { at: performance.now(), judge });
  return judge;
}

export const EvaluationReport: EvaluationReportResolvers = {
  id: (row) => String(row.id),
  season: (row, _args, context) => judgeOf(context).judge(row),
  source: (row) => metrics(row).source,
  tasks: (row) => metrics(row).tasks.map((t) => ({ task: t.name, top1: t.top1, acsa: t.acsa })),
  meanTop1: (row) => metrics(row).meanTop1,
  meanAcsa: (row) => metrics(row).meanAcsa,
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  run: (row, _args, { services }) => (row.runId ? services.training.get(row.runId) : null),
  artifact: (row, _args, { services }) => (row.artifactId ? services.db.modelArtifact.findUnique({ where: { id: row.artifactId } }) : null),
  quantizationChange: async (row, _args, { services }) => {
    if (!row.artifactId) return null;
    const artifact = await services.db.modelArtifact.findUnique({ where: { id: row.artifactId } });
    const record = artifact?.quantization as QuantizationRecord | null | undefined;
    if (!record || record.calibration.datasetId !== row.datasetId) return null;
    return record.accuracy.find((change) => change.split === row.split) ?? null;
  },
  ensemble: (row, _args, { services }) => (row.ensembleId ? services.ensembles.get(row.ensembleId) : null),
  details: async (row, _args, { services }) => {
    const report = evaluation(row);
    if (!report) return [];
    const dataset = await services.datasets.get(row.datasetId);
    const { tasks } = await services.datasets.labelSchema(dataset.labelSchemaId);
    return detailsOf(report.tasks, tasks);
  },
  members: (row, _args, { services }) => services.db.evaluationReport.findMany({ where: { parentReportId: row.id }, orderBy: { id: 'asc' } }),
  gainOverBestMember: (row) => {
    const gain = evaluation(row)?.gain;
    return gain ? { ...gain, bestMemberArtifactId: String(gain.bestMemberArtifactId) } : null;
  },
  decisions: (row) => evaluation(row)?.decisions ?? null,
  modelCard: (row, _args, { services, heavyReads, client }, info) => {
    // A card reads the whole report, its dataset's distribution and its runs: one at a time, through
    // report(id), not for every row of a list (which the query cost would price as one string each).
    for (let at: typeof info.path | undefined = info.path; at; at = at.prev) {
      if (typeof at.key === 'number') throw badInput('modelCard is available on one report at a time: ask report(id) { modelCard }, not a list of reports');
    }
    // Decoding the gallery's crops is a heavy read; a stored report never changes, so its card is cached.
    return heavyReads.read(client, `card:${row.id}`, () => modelCardHtml(services, row.id), 'card');
  },
  model: (row) => evaluation(row)?.model ?? null,
  confusionMatrices: (row, _args, { services }) => services.db.confusionMatrix.findMany({ where: { reportId: row.id }, orderBy: { task: 'asc' } }),
  predictions: async (row, { task, trueClass, predictedClass, correct, orderBy, first, after }, { services }) => {
    const matrix = await services.db.confusionMatrix.findFirst({ where: { reportId: row.id, task } });
    if (!matrix) throw badInput(`report ${row.id} has no task ${task}`);
    const classes = matrix.classes as string[];
    const sameClass = { trueClass: { equals: services.db.reportPrediction.fields.predictedClass } };
    const where = {
      reportId: row.id,
      task,
      ...(trueClass != null ? { trueClass } : {}),
      ...(predictedClass != null ? { predictedClass } : {}),
      ...(correct === true ? sameClass : correct === false ? { NOT: sameClass } : {}),
    };
    // The loss is -ln of the true class's probability: by loss is by that probability, the other way round.
    const order = {
      CONFIDENCE_DESC: { confidence: 'desc' },
      CONFIDENCE_ASC: { confidence: 'asc' },
      LOSS_DESC: { trueProbability: 'asc' },
      LOSS_ASC: { trueProbability: 'desc' },
    } as const;
    return paginateByPosition(
      { first, after },
      async (skip, take) =>
        (await services.db.reportPrediction.findMany({ where, orderBy: [order[orderBy ?? 'CONFIDENCE_DESC'], { id: 'asc' }], skip, take })).map((p) => ({
          ...p,
          classes,
        })),
      () => services.db.reportPrediction.count({ where }),
    );
  },
  worstConfusions: async (row, { task, limit }, { services }) => {
    const matrix = await services.db.confusionMatrix.findFirst({ where: { reportId: row.id, task } });
    if (!matrix) return [];
    const classes = matrix.classes as string[];
    const wrong = await services.db.reportPrediction.findMany({
      where: { reportId: row.id, task, NOT: { trueClass: { equals: services.db.reportPrediction.fields.predictedClass } } },
      orderBy: { confidence: 'desc' },
      take: Math.min(Math.max(limit ?? 20, 0), 500),
    });
    const items = await services.db.item.findMany({ where: { id: { in: wrong.map((w) => w.itemId) } } });
    return wrong.map((w) => {
      const item = items.find((i) => i.id === w.itemId)!;
      return {
        itemId: String(w.itemId),
        imagePath: item.imagePath,
        bbox: { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax },
        trueClass: { index: w.trueClass, name: classes[w.trueClass]!, probability: w.trueProbability },
        predictedClass: { index: w.predictedClass, name: classes[w.predictedClass]!, probability: w.confidence },
      };
    });
  },
};
