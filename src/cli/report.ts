// `fashion-how report` and `fashion-how evaluate` output: a readable per-task table, or JSON / CSV exports.
import { stringify } from 'csv-stringify/sync';
import type { App } from '../app.js';
import type { EvaluationReport } from '../db/generated/client.js';
import { notFound } from '../errors.js';
import type { ReportMetrics } from '../reports/evaluate.js';
import { classesTable, decisionsTable, f3, gainSentence, membersTable, metricsTable, type StoredMetrics, type Table } from '../reports/metricsTable.js';
import { table } from './format.js';

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

const text = ({ headers, rows }: Table) => table(headers, rows);

export async function printReport(app: App, id: number): Promise<void> {
  const { report, tasks } = await loadReport(app, id);
  const metrics = report.metrics as unknown as StoredMetrics;
  console.log(
    `report ${report.id}: ${target(report)} on dataset ${report.datasetId}, split ${report.split}, ${report.itemCount} items, ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  if (metrics.source !== 'evaluation') {
    console.log(text(metricsTable(metrics)));
    return;
  }
  if (metrics.decisions) {
    console.log('decisions side by side (the ensemble answers with the logit-adjusted one):');
    console.log(text(decisionsTable(metrics.decisions)));
  }
  console.log(
    `mean top-1 ${f3(metrics.meanTop1)}, mean ACSA ${f3(metrics.meanAcsa)}; model ${metrics.model.sizeMB.toFixed(1)} MB, ${metrics.model.parameterCount ?? '?'} parameters, ${metrics.model.cpuLatencyMs.toFixed(1)} ms per image on this CPU`,
  );
  console.log('');
  console.log(text(metricsTable(metrics)));
  for (const t of metrics.tasks) {
    console.log(`\n${t.name}`);
    console.log(text(classesTable(t, tasks[t.task]!.classes)));
  }
  if (report.memberReports.length > 0) {
    console.log('\nmembers');
    const members = report.memberReports.map((m) => ({
      name: `artifact ${m.artifactId ?? '?'} (report ${m.id})`,
      metrics: m.metrics as unknown as ReportMetrics,
    }));
    console.log(text(membersTable(members)));
    if (metrics.gain) console.log(gainSentence(metrics.gain));
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
