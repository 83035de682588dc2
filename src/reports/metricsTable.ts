// The tables of a stored report, written once for both of its readers: `fashion-how report` draws them
// as aligned text (cli/report.ts) and the model card as HTML (modelCard.ts). Cells are plain text (the
// card escapes them) or numbers (counts, which both right-align), so the two show the same columns,
// labels and figures. Scores are written to three decimals and shares as percentages, here for every
// report surface, the CLI's other commands included.
import type { DecisionScores, ReportMetrics, TaskReport } from './evaluate.js';
import type { TaskScore } from './store.js';

export const f3 = (value: number) => value.toFixed(3);
export const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
/** A difference with its sign, + included. */
export const signed = (value: number) => `${value >= 0 ? '+' : ''}${f3(value)}`;
const interval = (i: { low: number; high: number }) => `[${f3(i.low)}, ${f3(i.high)}]`;

/** What a report stores: a worker's quick report holds top-1 and ACSA per task; an evaluation holds everything. */
export type StoredMetrics = ReportMetrics | { source: 'training-worker'; tasks: TaskScore[]; meanTop1: number; meanAcsa: number };

export interface Table {
  headers: string[];
  rows: (string | number)[][];
}

/** One row per task: top-1 and ACSA with their intervals, then every other score of an evaluation. */
export function metricsTable(metrics: StoredMetrics): Table {
  if (metrics.source !== 'evaluation') return { headers: ['task', 'top-1', 'ACSA'], rows: metrics.tasks.map((t) => [t.name, f3(t.top1), f3(t.acsa)]) };
  return {
    headers: ['task', 'top-1', '95% CI', 'ACSA', '95% CI', 'macro F1', 'weighted F1', 'MCC', 'kappa', 'G-mean recall', 'NLL', 'Brier', 'ECE'],
    rows: metrics.tasks.map((t) => [
      t.name,
      f3(t.top1),
      interval(t.intervals.top1),
      f3(t.acsa),
      interval(t.intervals.acsa),
      f3(t.macroF1),
      f3(t.weightedF1),
      f3(t.mcc),
      f3(t.kappa),
      f3(t.gmeanRecall),
      f3(t.nll),
      f3(t.brier),
      f3(t.ece),
    ]),
  };
}

/** An ensemble's plain soft vote beside its logit-adjusted decision (the one it answers with). */
export function decisionsTable(decisions: DecisionScores[]): Table {
  return {
    headers: ['decision', 'mean top-1', 'mean ACSA', ...decisions[0]!.tasks.map((t) => `${t.task} top-1 / ACSA`)],
    rows: decisions.map((d) => [
      d.decision === 'SOFT_VOTE' ? 'soft vote' : 'logit-adjusted',
      f3(d.meanTop1),
      f3(d.meanAcsa),
      ...d.tasks.map((t) => `${f3(t.top1)} / ${f3(t.acsa)}`),
    ]),
  };
}

/** One task's per-class rows, named by the label schema's classes. */
export function classesTable(task: Pick<TaskReport, 'classes'>, classNames: readonly string[]): Table {
  return {
    headers: ['class', 'support', 'predicted', 'precision', 'recall', 'F1', 'specificity'],
    rows: task.classes.map((c) => [classNames[c.index]!, c.support, c.predicted, f3(c.precision), f3(c.recall), f3(c.f1), f3(c.specificity)]),
  };
}

/** An ensemble's members scored on the same items, each under the caller's name for it. */
export function membersTable(members: { name: string; metrics: { meanTop1: number; meanAcsa: number } }[]): Table {
  return { headers: ['member', 'mean top-1', 'mean ACSA'], rows: members.map((m) => [m.name, f3(m.metrics.meanTop1), f3(m.metrics.meanAcsa)]) };
}

/** The ensemble against its best member, said plainly when it is worse. */
export function gainSentence(gain: NonNullable<ReportMetrics['gain']>): string {
  return `Gain over the best member (artifact ${gain.bestMemberArtifactId}): mean ACSA ${signed(gain.meanAcsa)}, mean top-1 ${signed(gain.meanTop1)}${gain.meanAcsa < 0 ? ' (the ensemble is worse than its best member)' : ''}.`;
}
