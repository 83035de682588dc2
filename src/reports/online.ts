// The online report: the same imbalance-aware metrics as evaluate (top-1, ACSA, per-class rows,
// calibration, bootstrap intervals), over logged predictions that feedback has labelled, per alias and
// window, for all of them and for each model that answered (champion, a canary's candidate, a shadow).
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { badInput } from '../errors.js';
import { taskReportsOf } from './evaluate.js';

export interface OnlineReportRequest {
  alias: string;
  from: Date;
  to: Date;
}

type Row = { role: string; modelKind: string; modelId: number; modelName: string; probabilities: unknown; labels: unknown };

function metricsOf(tasks: TaskSpec[], rows: Row[]) {
  const truth = tasks.map((_, t) => rows.map((r) => (r.labels as number[])[t]!));
  const probabilities = tasks.map((_, t) => rows.map((r) => (r.probabilities as number[][])[t]!));
  const { taskReports, meanTop1, meanAcsa } = taskReportsOf(tasks, truth, probabilities);
  return { count: rows.length, meanTop1, meanAcsa, details: taskReports };
}

/** The most labelled predictions one report reads: bootstrap intervals over more run for seconds. */
export const MAX_ONLINE_ROWS = 50_000;

export async function onlineReport(db: Db, request: OnlineReportRequest) {
  if (!(request.to > request.from)) throw badInput('to must be after from');
  const window = { alias: request.alias, createdAt: { gte: request.from, lt: request.to } };
  // Labelled answers, and the shadow copies of answers (labelled through the answer they copy).
  const where = { ...window, OR: [{ labelledAt: { not: null } }, { role: 'SHADOW' }] };
  const count = await db.prediction.count({ where });
  if (count > MAX_ONLINE_ROWS) throw badInput(`the window holds ${count} labelled or shadow predictions, over the limit of ${MAX_ONLINE_ROWS}: narrow it`);
  const found = await db.prediction.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const labelsOf = new Map(found.filter((r) => r.labelledAt !== null).map((r) => [r.id, r.labels]));
  const rows = found
    .map((r) => (r.role === 'SHADOW' ? { ...r, labels: labelsOf.get(r.id.replace(/-shadow$/, '')) ?? null } : r))
    .filter((r) => r.labels !== null && r.labels !== undefined);
  const schemas = new Set(rows.map((r) => r.labelSchemaId));
  if (schemas.size > 1) throw badInput(`the window holds predictions of ${schemas.size} label schemas; narrow it to one model's time`);
  const schemaId = [...schemas][0];
  const tasks = schemaId === undefined ? [] : ((await db.labelSchema.findUniqueOrThrow({ where: { id: schemaId } })).tasks as unknown as TaskSpec[]);
  // The answers clients got (a shadow's copy is reported on its own below, never mixed in).
  const answered = rows.filter((r) => r.role !== 'SHADOW');
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.role}\u0000${row.modelKind}\u0000${row.modelId}`;
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return {
    alias: request.alias,
    from: request.from,
    to: request.to,
    labelSchemaId: schemaId ?? null,
    ...metricsOf(tasks, answered),
    models: [...groups.values()].map((group) => ({
      role: group[0]!.role,
      kind: group[0]!.modelKind,
      id: group[0]!.modelId,
      name: group[0]!.modelName,
      ...metricsOf(tasks, group),
    })),
  };
}
