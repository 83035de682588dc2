// Cross-validations as users see them: the fold runs, their out-of-fold predictions (every TRAIN and
// VALIDATION item predicted once, by the one fold model that did not train on it) with the metrics
// they give, and the fold models offered as one equal-weight ensemble once every fold has succeeded.
// Ensemble fitting reads the out-of-fold predictions from here (no item held back from training).

import { decisionScoresOf } from '../confusion.js';
import type { Db } from '../db/client.js';
import type { CrossValidation } from '../db/generated/client.js';
import type { TaskSpec } from '../domain.js';
import { badInput, ensureError, notFound } from '../errors.js';
import type { EnsembleService } from '../inference/ensembles.js';
import type { OutOfFold, OutOfFoldSource } from '../inference/fitEnsemble.js';
import { FINAL_STATUSES } from '../jobs/statuses.js';
import type { Logger } from '../log.js';
import { mean } from '../numeric.js';

export class CrossValidationService implements OutOfFoldSource {
  constructor(
    private readonly db: Db,
    private readonly ensembles: EnsembleService,
    private readonly log: Logger,
  ) {}

  async get(id: number): Promise<CrossValidation> {
    const cv = await this.db.crossValidation.findUnique({ where: { id } });
    if (!cv) throw notFound('cross-validation', id);
    return cv;
  }

  list(datasetId?: number): Promise<CrossValidation[]> {
    return this.db.crossValidation.findMany({ where: datasetId ? { datasetId } : {}, orderBy: { id: 'desc' } });
  }

  runs(id: number) {
    return this.db.trainingRun.findMany({ where: { crossValidationId: id }, orderBy: { foldIndex: 'asc' } });
  }

  async status(id: number): Promise<'RUNNING' | 'FINISHED'> {
    const open = await this.db.trainingRun.count({ where: { crossValidationId: id, status: { notIn: [...FINAL_STATUSES] } } });
    return open > 0 ? 'RUNNING' : 'FINISHED';
  }

  async outOfFold(id: number): Promise<OutOfFold> {
    const cv = await this.get(id);
    const dataset = await this.db.dataset.findUniqueOrThrow({ where: { id: cv.datasetId }, include: { labelSchema: true } });
    const taskCount = (dataset.labelSchema.tasks as unknown as TaskSpec[]).length;
    const rows = await this.db.foldPrediction.findMany({ where: { crossValidationId: id }, orderBy: { itemId: 'asc' } });
    const labels = await this.db.itemLabel.findMany({
      where: { itemId: { in: rows.map((r) => r.itemId) } },
      select: { itemId: true, task: true, classIndex: true },
    });
    const truthOf = new Map<number, number[]>();
    for (const label of labels) {
      const tuple = truthOf.get(label.itemId) ?? new Array(taskCount).fill(0);
      tuple[label.task] = label.classIndex;
      truthOf.set(label.itemId, tuple);
    }
    const probabilities = rows.map((r) => r.probabilities as number[][]);
    return {
      itemIds: rows.map((r) => r.itemId),
      votes: Array.from({ length: taskCount }, (_, t) => probabilities.map((p) => p[t]!)),
      truth: Array.from({ length: taskCount }, (_, t) => rows.map((r) => truthOf.get(r.itemId)![t]!)),
      expectedItems: await this.db.item.count({ where: { datasetId: cv.datasetId, split: { in: ['TRAIN', 'VALIDATION'] } } }),
    };
  }

  /** Top-1 and ACSA per task of the out-of-fold predictions, and their means; null before any fold has finished. */
  async outOfFoldScores(id: number) {
    const oof = await this.outOfFold(id);
    if (oof.itemIds.length === 0) return null;
    const tasks = oof.votes.map((rows, t) => {
      const { top1, acsa } = decisionScoresOf(oof.truth[t]!, rows, rows[0]!.length);
      return { task: t, top1, acsa };
    });
    return {
      itemCount: oof.itemIds.length,
      expectedItems: oof.expectedItems,
      tasks,
      meanTop1: mean(tasks.map((t) => t.top1)),
      meanAcsa: mean(tasks.map((t) => t.acsa)),
    };
  }

  /** The out-of-fold predictions of finished cross-validations that cover the same items, for fitting. */
  async forFitting(ids: number[], datasetId: number): Promise<{ oof: OutOfFold[]; foldArtifacts: number[][] }> {
    const oof: OutOfFold[] = [];
    const foldArtifacts: number[][] = [];
    for (const id of ids) {
      const cv = await this.get(id);
      if (cv.datasetId !== datasetId) throw badInput(`cross-validation ${id} trained on dataset ${cv.datasetId}, not ${datasetId}`);
      const runs = await this.runs(id);
      const artifacts = await this.db.modelArtifact.findMany({ where: { runId: { in: runs.map((r) => r.id) } } });
      if (runs.some((r) => r.status !== 'SUCCEEDED') || artifacts.length !== cv.folds)
        throw badInput(`cross-validation ${id} is not finished: every one of its ${cv.folds} folds must have SUCCEEDED`);
      const predictions = await this.outOfFold(id);
      if (predictions.itemIds.length !== predictions.expectedItems)
        throw badInput(
          `cross-validation ${id} predicts ${predictions.itemIds.length} of the dataset's ${predictions.expectedItems} TRAIN and VALIDATION items`,
        );
      if (oof[0] && predictions.itemIds.join() !== oof[0].itemIds.join()) throw badInput(`cross-validation ${id} covers other items than ${ids[0]}`);
      oof.push(predictions);
      foldArtifacts.push(artifacts.map((a) => a.id));
    }
    return { oof, foldArtifacts };
  }

  /** Once every fold of a run's cross-validation has succeeded: the fold models as one equal-weight
   *  ensemble (made once, whichever host finishes the last fold). Never throws: a failure is logged. */
  async runEnded(runId: number): Promise<void> {
    try {
      const run = await this.db.trainingRun.findUnique({ where: { id: runId }, select: { crossValidationId: true } });
      if (run?.crossValidationId == null) return;
      const cv = await this.get(run.crossValidationId);
      if (cv.ensembleId !== null) return;
      const runs = await this.runs(cv.id);
      if (runs.length !== cv.folds || runs.some((r) => r.status !== 'SUCCEEDED')) return;
      const artifacts = await this.db.modelArtifact.findMany({ where: { runId: { in: runs.map((r) => r.id) } }, orderBy: { id: 'asc' } });
      // The name is the cross-validation's: a second host finishing at the same moment gets a CONFLICT.
      const ensemble = await this.ensembles.create({
        name: `cv-${cv.id} ${cv.backbone}+${cv.head} (${cv.folds} folds)`,
        members: artifacts.map((a) => ({ artifactId: a.id, weight: 1 })),
      });
      await this.db.crossValidation.update({ where: { id: cv.id }, data: { ensembleId: ensemble.id } });
    } catch (error) {
      this.log.warn({ err: ensureError(error), runId }, 'could not make the fold ensemble of a cross-validation');
    }
  }
}
