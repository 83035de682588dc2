// The season profiles against the database: which season a dataset declares, whether a season accepts
// a stored model (its members, file sizes, label space and the CPU latency its newest evaluation
// measured on this host), and the log of submissions written per dataset.
import type { Db } from '../db/client.js';
import type { EvaluationReport } from '../db/generated/client.js';
import { notFound } from '../errors.js';
import { DEFAULT_PROFILE_ID, type SeasonProfile, type SeasonProfiles } from './profiles.js';
import { latencyOf, ReportVerdicts } from './reportVerdicts.js';
import { judgeModel, type ModelFacts, type SeasonVerdict } from './verdict.js';

export interface ModelTarget {
  kind: 'artifact' | 'ensemble';
  id: number;
}

export class SeasonService {
  constructor(
    private readonly db: Db,
    readonly profiles: SeasonProfiles,
  ) {}

  /** Declares (or, with null, clears) the season a dataset is entered in. */
  async setDatasetSeason(datasetId: number, profileId: string | null) {
    if (profileId !== null) this.profiles.get(profileId);
    const dataset = await this.db.dataset.findUnique({ where: { id: datasetId } });
    if (!dataset) throw notFound('dataset', datasetId);
    return this.db.dataset.update({ where: { id: datasetId }, data: { seasonProfile: profileId } });
  }

  /** What is known of a model: its members, their files' size, its label space, and the CPU latency of
   *  its newest evaluation on this server (null when it has none). */
  async facts(target: ModelTarget): Promise<ModelFacts & { classCounts: number[] }> {
    const artifacts =
      target.kind === 'artifact'
        ? [await this.db.modelArtifact.findUnique({ where: { id: target.id }, include: { labelSchema: true } })]
        : (await this.db.ensembleMember.findMany({ where: { ensembleId: target.id }, include: { artifact: { include: { labelSchema: true } } } })).map(
            (m) => m.artifact,
          );
    if (artifacts.length === 0 || artifacts.some((a) => a === null)) throw notFound(target.kind, target.id);
    const newest = await this.db.evaluationReport.findFirst({
      where: target.kind === 'artifact' ? { artifactId: target.id, parentReportId: null } : { ensembleId: target.id },
      orderBy: { id: 'desc' },
    });
    const tasks = artifacts[0]!.labelSchema.tasks as { classes: string[] }[];
    return {
      models: artifacts.length,
      sizeMb: artifacts.reduce((sum, a) => sum + a!.sizeBytes, 0) / 1e6,
      classCounts: tasks.map((t) => t.classes.length),
      cpuLatencyMs: latencyOf(newest),
    };
  }

  /** Whether `profile` accepts a stored model; the label space is judged when `withLabels`. */
  async judge(target: ModelTarget, profile: SeasonProfile = this.profiles.get(DEFAULT_PROFILE_ID), withLabels = true): Promise<SeasonVerdict> {
    const { classCounts, ...facts } = await this.facts(target);
    return judgeModel(profile, withLabels ? { ...facts, classCounts } : facts);
  }

  /** Judges reports in batches, keeping what it read: one per request (a list of reports asks for many). */
  reportVerdicts(): ReportVerdicts {
    return new ReportVerdicts(this.db, this.profiles);
  }

  /** Whether the dataset's season accepts the model a report scored, with the report's own figures. */
  judgeReport(report: EvaluationReport): Promise<SeasonVerdict> {
    return this.reportVerdicts().judge(report);
  }

  submissions(datasetId: number, first: number) {
    return this.db.submission.findMany({ where: { datasetId }, orderBy: { id: 'desc' }, take: Math.min(Math.max(first, 1), 100) });
  }
}
