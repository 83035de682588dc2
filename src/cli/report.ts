// `fashion-how report` and `fashion-how evaluate` output: a readable per-task table, or JSON / CSV exports.
import { stringify } from 'csv-stringify/sync';
import type { App } from '../app.js';
import type { EvaluationReport } from '../db/generated/client.js';
import { notFound } from '../errors.js';
import type { ReportMetrics } from '../reports/evaluate.js';
import { f3, table } from './format.js';

const interval = (i: { low: number; high: number }) => `[${f3(i.low)}, ${f3(i.high)}]`;

/** A report with everything a reader wants: metrics, confusion matrices, member reports. */
export async function loadReport(app: App, id: number) {
  const { db } = app.services;
  const report = await db.evaluationReport.findUnique({
    where: { id },
    include: { confusionMatrices: { orderBy: { task: 'asc' } }, memberReports: { orderBy: { id: 'asc' } } },
  });
  if (!report) throw notFound('report', id);
  const dataset = await app.services.datasets.get(report.datasetId);
  const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
  return { report, tasks };
}

function target(report: EvaluationReport): string {
  if (report.ensembleId) return `ensemble ${report.ensembleId}`;
  if (report.runId) return `run ${report.runId} (artifact ${report.artifactId})`;
  return `artifact ${report.artifactId}`;
}

export async function printReport(app: App, id: number): Promise<void> {
  const { report, tasks } = await loadReport(app, id);
  const metrics = report.metrics as unknown as ReportMetrics & { source: string };
  console.log(
    `report ${report.id}: ${target(report)} on dataset ${report.datasetId}, split ${report.split}, ${report.itemCount} items, ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  if (metrics.source !== 'evaluation') {
    console.log(
      table(
        ['task', 'top-1', 'ACSA'],
        metrics.tasks.map((t) => [t.name, f3(t.top1), f3(t.acsa)]),
      ),
    );
    return;
  }
  if (metrics.decisions) {
    console.log('decisions side by side (the ensemble answers with the logit-adjusted one):');
    console.log(
      table(
        ['decision', 'mean top-1', 'mean ACSA', ...metrics.decisions[0]!.tasks.map((t) => `${t.task} top-1 / ACSA`)],
        metrics.decisions.map((d) => [
          d.decision === 'SOFT_VOTE' ? 'soft vote' : 'logit-adjusted',
          f3(d.meanTop1),
          f3(d.meanAcsa),
          ...d.tasks.map((t) => `${f3(t.top1)} / ${f3(t.acsa)}`),
        ]),
      ),
    );
  }
  console.log(
    `mean top-1 ${f3(metrics.meanTop1)}, mean ACSA ${f3(metrics.meanAcsa)}; model ${metrics.model.sizeMB.toFixed(1)} MB, ${metrics.model.parameterCount ?? '?'} parameters, ${metrics.model.cpuLatencyMs.toFixed(1)} ms per image on this CPU`,
  );
  console.log('');
  console.log(
    table(
      ['task', 'top-1', '95% CI', 'ACSA', '95% CI', 'macro F1', 'MCC', 'kappa', 'G-mean', 'NLL', 'Brier', 'ECE'],
      metrics.tasks.map((t) => [
        t.name,
        f3(t.top1),
        interval(t.intervals.top1),
        f3(t.acsa),
        interval(t.intervals.acsa),
        f3(t.macroF1),
        f3(t.mcc),
        f3(t.kappa),
        f3(t.gmeanRecall),
        f3(t.nll),
        f3(t.brier),
        f3(t.ece),
      ]),
    ),
  );
  for (const t of metrics.tasks) {
    console.log(`\n${t.name}`);
    console.log(
      table(
        ['#', 'class', 'support', 'predicted', 'precision', 'recall', 'F1'],
        t.classes.map((c) => [c.index, tasks[t.task]!.classes[c.index]!, c.support, c.predicted, f3(c.precision), f3(c.recall), f3(c.f1)]),
      ),
    );
  }
  if (report.memberReports.length > 0) {
    console.log('\nmembers');
    console.log(
      table(
        ['report', 'artifact', 'mean top-1', 'mean ACSA'],
        report.memberReports.map((m) => {
          const mm = m.metrics as unknown as ReportMetrics;
          return [m.id, m.artifactId ?? '', f3(mm.meanTop1), f3(mm.meanAcsa)];
        }),
      ),
    );
    if (metrics.gain)
      console.log(
        `gain of the ensemble over its best member (artifact ${metrics.gain.bestMemberArtifactId}): mean ACSA ${metrics.gain.meanAcsa >= 0 ? '+' : ''}${f3(metrics.gain.meanAcsa)}, mean top-1 ${metrics.gain.meanTop1 >= 0 ? '+' : ''}${f3(metrics.gain.meanTop1)}`,
      );
  }
}

export async function reportJson(app: App, id: number): Promise<string> {
  const { report, tasks } = await loadReport(app, id);
  return JSON.stringify({ ...report, tasks }, null, 2);
}

/** One CSV row per task and class: the per-class table every spreadsheet can take. */
export async function reportCsv(app: App, id: number): Promise<string> {
  const { report, tasks } = await loadReport(app, id);
  const metrics = report.metrics as unknown as ReportMetrics;
  const rows = (metrics.tasks ?? []).flatMap((t) =>
    (t.classes ?? []).map((c) => [
      report.id,
      t.name,
      c.index,
      tasks[t.task]!.classes[c.index]!,
      c.support,
      c.predicted,
      c.precision,
      c.recall,
      c.f1,
      c.specificity,
      t.top1,
      t.acsa,
    ]),
  );
  return stringify([
    ['report', 'task', 'class_index', 'class', 'support', 'predicted', 'precision', 'recall', 'f1', 'specificity', 'task_top1', 'task_acsa'],
    ...rows,
  ]);
}
