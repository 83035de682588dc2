// The season verdicts of many reports at once, in a few queries whatever their number: the leaderboard
// asks for one on each of its 100 rows and on every member of an ensemble's row, and judging each alone
// read the dataset, the model's members and its newest evaluation again for every row. Calls made in
// the same turn of the event loop are judged together, and what one batch read (datasets, models,
// latencies) serves the next, so an ensemble's member reports, resolved later, cost nothing more.
import type { Db } from '../db/client.js';
import type { EvaluationReport } from '../db/generated/client.js';
import { notFound } from '../errors.js';
import type { SeasonProfiles } from './profiles.js';
import { judgeModel, type ModelFacts, type SeasonVerdict } from './verdict.js';

/** What a season reads of a stored report's metrics (reports/evaluate.ts's ReportMetrics has it; declared
 *  here because reports/ stands above seasons). */
interface MeasuredCost {
  source: string;
  model?: { cpuLatencyMs: number };
}

/** Latency measured by an evaluation through the serving path (a worker's quick report measures none). */
export const latencyOf = (report: Pick<EvaluationReport, 'metrics'> | null) => {
  const metrics = report?.metrics as MeasuredCost | null;
  return metrics?.source === 'evaluation' ? (metrics.model?.cpuLatencyMs ?? null) : null;
};

interface ModelTarget {
  kind: 'artifact' | 'ensemble';
  id: number;
}
type Report = Pick<EvaluationReport, 'id' | 'datasetId' | 'artifactId' | 'ensembleId' | 'metrics'>;
type Facts = Omit<ModelFacts, 'cpuLatencyMs'> & { classCounts: number[] };
interface ArtifactRow {
  id: number;
  sizeBytes: number;
  labelSchema: { tasks: unknown };
}

const targetOf = (report: Report): ModelTarget =>
  report.ensembleId ? { kind: 'ensemble', id: report.ensembleId } : { kind: 'artifact', id: report.artifactId! };
const keyOf = (target: ModelTarget) => `${target.kind}:${target.id}`;

function factsOf(artifacts: ArtifactRow[]): Facts {
  const tasks = artifacts[0]!.labelSchema.tasks as { classes: string[] }[];
  return {
    models: artifacts.length,
    sizeMb: artifacts.reduce((sum, a) => sum + a.sizeBytes, 0) / 1e6,
    classCounts: tasks.map((t) => t.classes.length),
  };
}

const ARTIFACT_FIELDS = { id: true, sizeBytes: true, labelSchema: { select: { tasks: true } } } as const;

export class ReportVerdicts {
  private readonly datasets = new Map<number, { seasonProfile: string | null }>();
  /** By target key; null: the model does not exist (any more). */
  private readonly models = new Map<string, Facts | null>();
  /** The CPU latency of each model's newest evaluation, for reports that measured none themselves. */
  private readonly newestLatency = new Map<string, number | null>();
  private pending: { report: Report; resolve: (verdict: SeasonVerdict) => void; reject: (error: unknown) => void }[] = [];

  constructor(
    private readonly db: Db,
    private readonly profiles: SeasonProfiles,
  ) {}

  /** The verdict of the dataset's season (the default profile, without its label space, when it declares
   *  none) on the model a report scored, with the report's own latency when it measured one. */
  judge(report: Report): Promise<SeasonVerdict> {
    return new Promise((resolve, reject) => {
      this.pending.push({ report, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.load(batch.map((p) => p.report));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (const p of batch) {
      try {
        p.resolve(this.verdict(p.report));
      } catch (error) {
        p.reject(error);
      }
    }
  }

  private verdict(report: Report): SeasonVerdict {
    const { profile, declared } = this.profiles.of(this.datasets.get(report.datasetId)!);
    const target = targetOf(report);
    const facts = this.models.get(keyOf(target));
    if (!facts) throw notFound(target.kind, target.id);
    const { classCounts, ...rest } = facts;
    const cpuLatencyMs = latencyOf(report) ?? this.newestLatency.get(keyOf(target)) ?? null;
    return judgeModel(profile, { ...rest, cpuLatencyMs, ...(declared ? { classCounts } : {}) });
  }

  /** Reads what the reports' verdicts need and this object does not hold yet: at most seven queries. */
  private async load(reports: Report[]): Promise<void> {
    const datasetIds = [...new Set(reports.map((r) => r.datasetId))].filter((id) => !this.datasets.has(id));
    if (datasetIds.length > 0) {
      for (const d of await this.db.dataset.findMany({ where: { id: { in: datasetIds } }, select: { id: true, seasonProfile: true } })) {
        this.datasets.set(d.id, d);
      }
    }
    const targets = reports.map(targetOf);
    const missing = (kind: ModelTarget['kind']) => [...new Set(targets.filter((t) => t.kind === kind && !this.models.has(keyOf(t))).map((t) => t.id))];
    const ensembleIds = missing('ensemble');
    if (ensembleIds.length > 0) {
      const members = await this.db.ensembleMember.findMany({
        where: { ensembleId: { in: ensembleIds } },
        select: { ensembleId: true, artifact: { select: ARTIFACT_FIELDS } },
      });
      for (const id of ensembleIds) {
        const artifacts = members.filter((m) => m.ensembleId === id).map((m) => m.artifact);
        this.models.set(keyOf({ kind: 'ensemble', id }), artifacts.length > 0 ? factsOf(artifacts) : null);
        // An ensemble's member reports judge these artifacts alone.
        for (const a of artifacts) this.models.set(keyOf({ kind: 'artifact', id: a.id }), factsOf([a]));
      }
    }
    const artifactIds = missing('artifact');
    if (artifactIds.length > 0) {
      const rows = await this.db.modelArtifact.findMany({ where: { id: { in: artifactIds } }, select: ARTIFACT_FIELDS });
      for (const id of artifactIds) {
        const row = rows.find((a) => a.id === id);
        this.models.set(keyOf({ kind: 'artifact', id }), row ? factsOf([row]) : null);
      }
    }
    await this.loadNewestLatencies(reports.filter((r) => latencyOf(r) === null).map(targetOf));
  }

  /** The newest evaluation's latency of each target, as SeasonService.facts reads it for one model: an
   *  artifact's own report (not a member's), an ensemble's report. */
  private async loadNewestLatencies(targets: ModelTarget[]): Promise<void> {
    const wanted = (kind: ModelTarget['kind']) => [...new Set(targets.filter((t) => t.kind === kind && !this.newestLatency.has(keyOf(t))).map((t) => t.id))];
    const artifactIds = wanted('artifact');
    const ensembleIds = wanted('ensemble');
    const newestIds: number[] = [];
    if (artifactIds.length > 0) {
      const groups = await this.db.evaluationReport.groupBy({
        by: ['artifactId'],
        where: { artifactId: { in: artifactIds }, parentReportId: null },
        _max: { id: true },
      });
      newestIds.push(...groups.map((g) => g._max.id!));
    }
    if (ensembleIds.length > 0) {
      const groups = await this.db.evaluationReport.groupBy({ by: ['ensembleId'], where: { ensembleId: { in: ensembleIds } }, _max: { id: true } });
      newestIds.push(...groups.map((g) => g._max.id!));
    }
    const newest =
      newestIds.length > 0
        ? await this.db.evaluationReport.findMany({ where: { id: { in: newestIds } }, select: { artifactId: true, ensembleId: true, metrics: true } })
        : [];
    for (const id of artifactIds) {
      const report = newest.find((r) => r.artifactId === id && r.ensembleId === null);
      this.newestLatency.set(keyOf({ kind: 'artifact', id }), latencyOf(report ?? null));
    }
    for (const id of ensembleIds) {
      const report = newest.find((r) => r.ensembleId === id);
      this.newestLatency.set(keyOf({ kind: 'ensemble', id }), latencyOf(report ?? null));
    }
  }
}
