// Distillation: one small student trained on a teacher ensemble's soft targets, for where one model is
// required (the dataset's season profile, e.g. the 2024 rules: one model, ONNX <= 25 MB, CPU). The teacher's probabilities for every
// TRAIN and VALIDATION item are computed once through the serving path and kept in a file that every
// student of the same teacher and dataset reuses. When a student and its baseline (the same student
// trained without the teacher) have both finished, the three are evaluated on the same items and the
// comparison, with the compliance line, is stored on the student's run.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Photos } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { AppError, badInput, ensureError, notFound } from '../errors.js';
import type { ClassifyService } from '../inference/classify.js';
import { scoreItems } from '../inference/scoring.js';
import { FINAL_STATUSES } from '../jobs/statuses.js';
import type { Logger } from '../log.js';
import type { EvaluationService, ReportMetrics } from '../reports/evaluate.js';
import { BUILT_IN_PROFILES, SeasonProfiles } from '../seasons/profiles.js';
import { judgeModel } from '../seasons/verdict.js';
import type { QuantizationService } from './quantization.js';

export interface DistillationScores {
  reportId: number;
  meanTop1: number;
  meanAcsa: number;
  sizeMB: number;
  cpuLatencyMs: number;
}

/** What is stored in TrainingRun.distillation. */
export interface DistillationRecord {
  teacherEnsembleId: number;
  temperature: number;
  alpha: number;
  /** The same student trained without the teacher (null when not asked for). */
  baselineRunId: number | null;
  comparison?: {
    split: 'TEST' | 'VALIDATION';
    itemCount: number;
    student: DistillationScores;
    teacher: DistillationScores;
    baseline: DistillationScores | null;
    /** Judged by the dataset's season profile; limitMB null when the season has no size limit. */
    compliance: { models: 1; sizeMB: number; limitMB: number | null; cpuLatencyMs: number; compliant: boolean };
    /** The student quantized to INT8 (calibrated on the dataset's TRAIN split) and scored on the same items. */
    studentInt8?: (DistillationScores & { artifactId: number }) | null;
    /** Why there is no INT8 student, when it could not be made. */
    studentInt8Error?: string;
  };
  /** Why there is no comparison, when it could not be made. */
  comparisonError?: string;
}

export class DistillationService {
  private readonly pending = new Set<Promise<unknown>>();
  /** Teacher files being written, so students that start together share one scoring pass. */
  private readonly building = new Map<string, Promise<string>>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly classify: ClassifyService,
    private readonly evaluation: EvaluationService,
    private readonly photos: Photos,
    private readonly log: Logger,
    private readonly quantization?: QuantizationService,
    private readonly seasons: SeasonProfiles = new SeasonProfiles(BUILT_IN_PROFILES),
  ) {}

  /** The file of the teacher's probabilities for the dataset's TRAIN and VALIDATION items, made once
   *  (students that start together share one scoring pass). */
  teacherTargets(ensembleId: number, datasetId: number, signal?: AbortSignal): Promise<string> {
    const file = path.join(this.dataDir, 'teachers', `ensemble-${ensembleId}-dataset-${datasetId}.json`);
    if (existsSync(file)) return Promise.resolve(file);
    let building = this.building.get(file);
    if (!building) {
      building = this.writeTeacherTargets(file, ensembleId, datasetId, signal).finally(() => this.building.delete(file));
      this.building.set(file, building);
    }
    return building;
  }

  private async writeTeacherTargets(file: string, ensembleId: number, datasetId: number, signal?: AbortSignal): Promise<string> {
    const dataset = await this.db.dataset.findUniqueOrThrow({ where: { id: datasetId }, include: { labelSchema: true } });
    const tasks = dataset.labelSchema.tasks as unknown as TaskSpec[];
    const items = await this.db.item.findMany({ where: { datasetId, split: { in: ['TRAIN', 'VALIDATION'] } }, orderBy: { id: 'asc' } });
    const results = await scoreItems(this.classify, this.photos.of(dataset), items, { ensembleId }, signal);
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${randomUUID()}.partial`;
    await writeFile(
      partial,
      JSON.stringify({ ensembleId, datasetId, itemIds: items.map((i) => i.id), probabilities: tasks.map((_, t) => results.map((r) => r[t]!.probabilities)) }),
    );
    await rename(partial, file);
    return file;
  }

  /** Called when a run ends: compares a student with its teacher and baseline once both are done.
   *  Comparisons of one student run one at a time, so two endings never store it twice. */
  runEnded(runId: number): void {
    const work = this.chain
      .then(() => this.compareIfReady(runId))
      .catch((error) => this.log.error({ err: error, runId }, 'could not compare a distilled student'));
    this.chain = work;
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves when the comparisons under way are stored. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async compareIfReady(runId: number) {
    const run = await this.db.trainingRun.findUniqueOrThrow({ where: { id: runId } });
    const students = run.distillation
      ? [run]
      : (await this.db.trainingRun.findMany({ where: { datasetId: run.datasetId } })).filter(
          (r) => (r.distillation as DistillationRecord | null)?.baselineRunId === runId,
        );
    for (const student of students) {
      try {
        await this.compare(student.id);
      } catch (error) {
        // The message may hold server paths (an unreadable image): the run says what failed, the log says why.
        const record = student.distillation as unknown as DistillationRecord;
        await this.db.trainingRun.update({
          where: { id: student.id },
          data: {
            distillation: {
              ...record,
              comparisonError: `the comparison could not be made (${ensureError(error).name}); the server log has the details`,
            } as object,
          },
        });
        throw error;
      }
    }
  }

  private async compare(studentRunId: number) {
    const student = await this.db.trainingRun.findUniqueOrThrow({ where: { id: studentRunId }, include: { artifact: true } });
    const record = student.distillation as DistillationRecord | null;
    if (!record || record.comparison || student.status !== 'SUCCEEDED' || !student.artifact) return;
    const baseline = record.baselineRunId ? await this.db.trainingRun.findUnique({ where: { id: record.baselineRunId }, include: { artifact: true } }) : null;
    if (baseline && !FINAL_STATUSES.has(baseline.status)) return; // compared when the baseline ends
    // A baseline that failed or was cancelled leaves the comparison without it (its run says why).
    const split = (await this.db.item.count({ where: { datasetId: student.datasetId, split: 'TEST' } })) > 0 ? ('TEST' as const) : ('VALIDATION' as const);
    const scores = async (target: { artifactId?: number; ensembleId?: number }): Promise<DistillationScores> => {
      const report = await this.evaluation.evaluate({ ...target, datasetId: student.datasetId, split });
      const metrics = report.metrics as unknown as ReportMetrics;
      return {
        reportId: report.id,
        meanTop1: metrics.meanTop1,
        meanAcsa: metrics.meanAcsa,
        sizeMB: metrics.model.sizeMB,
        cpuLatencyMs: metrics.model.cpuLatencyMs,
      };
    };
    const studentScores = await scores({ artifactId: student.artifact.id });
    // The student is judged by the dataset's season (the default profile when it declares none).
    const { profile } = this.seasons.of(await this.db.dataset.findUniqueOrThrow({ where: { id: student.datasetId } }));
    const verdict = judgeModel(profile, { models: 1, sizeMb: studentScores.sizeMB, cpuLatencyMs: studentScores.cpuLatencyMs });
    const comparison: DistillationRecord['comparison'] = {
      split,
      itemCount: await this.db.item.count({ where: { datasetId: student.datasetId, split } }),
      student: studentScores,
      teacher: await scores({ ensembleId: record.teacherEnsembleId }),
      baseline: baseline?.artifact ? await scores({ artifactId: baseline.artifact.id }) : null,
      compliance: {
        models: 1,
        sizeMB: studentScores.sizeMB,
        limitMB: profile.sizeLimitMb,
        cpuLatencyMs: studentScores.cpuLatencyMs,
        compliant: verdict.accepted,
      },
    };
    if (this.quantization) {
      // The one model a CPU-scored season allows is cheapest in INT8: the student is quantized too.
      try {
        const int8 = await this.quantization.quantize({ artifactId: student.artifact.id });
        comparison.studentInt8 = { artifactId: int8.id, ...(await scores({ artifactId: int8.id })) };
      } catch (error) {
        this.log.warn({ err: error, runId: studentRunId }, 'the distilled student could not be quantized');
        comparison.studentInt8 = null;
        comparison.studentInt8Error =
          error instanceof AppError ? error.message : `quantization failed (${ensureError(error).name}); the server log has the details`;
      }
    }
    await this.db.trainingRun.update({ where: { id: studentRunId }, data: { distillation: { ...record, comparison } as object } });
  }
}

/** Distillation: train each combo as a student of an ensemble's soft targets. */
export interface TeacherRequest {
  ensembleId: number;
  /** Softening of the teacher's and the student's distributions (default 2). */
  temperature?: number;
  /** Weight of the teacher's term in the loss; 1 - alpha stays on the labels (default 0.5). */
  alpha?: number;
  /** Also train each combo without the teacher, to compare (default true). */
  compareWithoutTeacher?: boolean;
}

/** A distillation request checked against the dataset's label schema, with its defaults filled in. */
export async function checkTeacher(db: Db, request: TeacherRequest, labelSchemaId: number) {
  const { ensembleId, temperature = 2, alpha = 0.5, compareWithoutTeacher = true } = request;
  const ensemble = await db.ensemble.findUnique({ where: { id: ensembleId } });
  if (!ensemble) throw notFound('ensemble', ensembleId);
  if (ensemble.labelSchemaId !== labelSchemaId) throw badInput(`teacher ensemble ${ensembleId} predicts another label schema than the dataset's`);
  if (!(Number.isFinite(temperature) && temperature > 0 && temperature <= 20))
    throw badInput(`teacher temperature must be above 0 and at most 20, got ${temperature}`);
  if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1)) throw badInput(`teacher alpha must be from 0 to 1, got ${alpha}`);
  return { ensembleId, temperature, alpha, compareWithoutTeacher };
}
