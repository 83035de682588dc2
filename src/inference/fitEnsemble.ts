// fitEnsemble: builds an ensemble that is fitted to win on a fitting split instead of voting with equal
// weights: scores every candidate artifact there through the serving path, fits a temperature per
// member and task (optional), picks weights by greedy selection with replacement, fits the logit
// adjustment of the resulting vote (optional), and stores the ensemble with the record of the fit.

import type { Photos } from '../data/photos.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import { SPLITS, type Split, type TaskSpec } from '../domain.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import type { ClassifyService } from './classify.js';
import {
  FIT_METRICS,
  type FitMetric,
  fitTau,
  fitTemperature,
  greedySelection,
  logPriorOf,
  softVote,
  TAU_GRID,
  type Votes,
  withTemperature,
} from './ensembleFit.js';
import type { EnsembleService, LogitAdjustment } from './ensembles.js';
import { labelledItems, scoreItems } from './scoring.js';

export interface FitEnsembleRequest {
  name: string;
  artifactIds: number[];
  datasetId: number;
  /** The fitting split (default VALIDATION); report on another one. */
  split?: Split;
  metric?: FitMetric;
  temperatureScaling?: boolean;
  logitAdjustment?: boolean;
  /** Instead of artifacts on a split: these finished cross-validations, fitted on their out-of-fold
   *  predictions (every TRAIN and VALIDATION item once); a chosen one joins with all its fold models. */
  crossValidationIds?: number[];
  /** Selection steps (default 25): the most picks the ensemble can hold. */
  rounds?: number;
  makeDefault?: boolean;
}

/** A cross-validation's out-of-fold predictions, in item id order. */
export interface OutOfFold {
  itemIds: number[];
  /** Per task, per item: the probabilities. */
  votes: number[][][];
  /** Per task, per item: the true class. */
  truth: number[][];
  /** TRAIN and VALIDATION items of the dataset: what full coverage is. */
  expectedItems: number;
}

/** Where fitting reads finished cross-validations from (training/crossValidation.ts's service): declared
 *  here, so that inference need not import training, which stands above it. */
export interface OutOfFoldSource {
  /** The out-of-fold predictions of finished cross-validations that cover the same items, and each one's fold models. */
  forFitting(ids: number[], datasetId: number): Promise<{ oof: OutOfFold[]; foldArtifacts: number[][] }>;
}

/** What is stored in Ensemble.fit. */
export interface FitRecord {
  method: 'greedy selection with replacement (Caruana et al., 2004)';
  metric: FitMetric;
  datasetId: number;
  split: Split;
  itemCount: number;
  rounds: number;
  temperatureScaling: boolean;
  /** Fitted on cross-validations' out-of-fold predictions (split then names VALIDATION, where each fold validated). */
  outOfFold?: boolean;
  crossValidationIds?: number[];
  /** A cross-validation candidate is listed once per fold model, each with the cross-validation's figures. */
  candidates: { artifactId: number; crossValidationId?: number; score: number; picks: number; temperatures: number[] | null }[];
  steps: { artifactId: number; score: number }[];
  bestStep: number;
  score: number;
  bestMember: { artifactId: number; score: number };
  seconds: number;
}

export class EnsembleFitter {
  constructor(
    private readonly db: Db,
    private readonly classify: ClassifyService,
    private readonly ensembles: EnsembleService,
    private readonly crossValidations: OutOfFoldSource,
    private readonly photos: Photos,
  ) {}

  async fit(request: FitEnsembleRequest) {
    const started = performance.now();
    const dataset = await this.db.dataset.findUnique({ where: { id: request.datasetId }, include: { labelSchema: true } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    requireLabels(dataset, 'fit an ensemble on');
    // What the dataset is ranked by, unless the request says otherwise.
    const metric = request.metric ?? (dataset.rankingMetric as FitMetric);
    const split = request.split ?? 'VALIDATION';
    const rounds = request.rounds ?? 25;
    const ids = [...new Set(request.artifactIds)];
    if (!FIT_METRICS.includes(metric)) throw badInput(`metric must be one of ${FIT_METRICS.join(', ')}, got "${metric}"`);
    if (!SPLITS.includes(split)) throw badInput(`split must be one of ${SPLITS.join(', ')}, got "${split}"`);
    if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100)) throw badInput(`rounds must be an integer from 1 to 100, got ${rounds}`);
    const cvIds = [...new Set(request.crossValidationIds ?? [])];
    if (cvIds.length > 0 && ids.length > 0) throw badInput('fit either artifacts on a split or cross-validations on their out-of-fold predictions, not both');
    if (ids.length === 0 && cvIds.length === 0) throw badInput('give at least one candidate artifact (or cross-validation)');
    if (ids.length + cvIds.length > 64) throw badInput(`at most 64 candidates, got ${ids.length + cvIds.length}`);
    // Before the scoring pass, which takes a while: a name clash would only surface at the end.
    if (await this.db.ensemble.findUnique({ where: { name: request.name.trim() } }))
      throw new AppError(ErrorCode.CONFLICT, `an ensemble named "${request.name.trim()}" already exists`);

    const tasks = dataset.labelSchema.tasks as unknown as TaskSpec[];
    const { raw, truth, itemCount, models } =
      cvIds.length > 0 ? await this.outOfFoldCandidates(cvIds, dataset.id) : await this.splitCandidates(ids, dataset, split, tasks);
    const temperatures = raw.map((votes) => (request.temperatureScaling === false ? null : votes.map((rows, t) => fitTemperature(rows, truth[t]!))));
    const pool = raw.map((votes, m) => (temperatures[m] ? votes.map((rows, t) => rows.map((row) => withTemperature(row, temperatures[m]![t]!))) : votes));
    const selection = greedySelection(pool, truth, metric, rounds);
    const chosen = models.map((artifacts, m) => ({ artifacts, m })).filter(({ m }) => selection.counts[m]! > 0);

    let logitAdjustment: LogitAdjustment | undefined;
    if (request.logitAdjustment) {
      const vote = softVote(
        chosen.map(({ m }) => pool[m]!),
        chosen.map(({ m }) => selection.counts[m]!),
      );
      const trainLabels = await this.db.itemLabel.findMany({ where: { datasetId: dataset.id, split: 'TRAIN' }, select: { task: true, classIndex: true } });
      // The adjustment optimises the fit's metric (ACSA for NLL, whose decisions it does not change).
      const optimised = metric === 'MEAN_TOP1' ? 'MEAN_TOP1' : 'MEAN_ACSA';
      logitAdjustment = {
        optimised,
        tasks: tasks.map((task, t) => {
          const logPrior = logPriorOf(
            trainLabels.filter((l) => l.task === t).map((l) => l.classIndex),
            task.classes.length,
          );
          const fitted = fitTau(vote[t]!, truth[t]!, logPrior, TAU_GRID, optimised === 'MEAN_TOP1' ? 'top1' : 'acsa');
          return {
            task: task.name,
            tau: fitted.tau,
            logPrior,
            plainAcsa: fitted.plainAcsa,
            adjustedAcsa: fitted.acsa,
            plainTop1: fitted.plainTop1,
            adjustedTop1: fitted.top1,
          };
        }),
      };
    }

    const best = selection.memberScores.reduce((b, s, m) => (s > selection.memberScores[b]! ? m : b), 0);
    const fit: FitRecord = {
      method: 'greedy selection with replacement (Caruana et al., 2004)',
      metric,
      datasetId: dataset.id,
      split,
      itemCount,
      ...(cvIds.length > 0 ? { outOfFold: true, crossValidationIds: cvIds } : {}),
      rounds,
      temperatureScaling: request.temperatureScaling !== false,
      candidates: models.flatMap((artifacts, m) =>
        artifacts.map((artifactId) => ({
          artifactId,
          ...(cvIds.length > 0 ? { crossValidationId: cvIds[m]! } : {}),
          score: selection.memberScores[m]!,
          picks: selection.counts[m]!,
          temperatures: temperatures[m] ?? null,
        })),
      ),
      steps: selection.steps.map((s) => ({ artifactId: models[s.member]![0]!, score: s.score })),
      bestStep: selection.bestStep,
      score: selection.score,
      bestMember: { artifactId: models[best]![0]!, score: selection.memberScores[best]! },
      seconds: (performance.now() - started) / 1000,
    };
    return this.ensembles.create({
      name: request.name,
      makeDefault: request.makeDefault,
      // A cross-validation's picks are shared by its fold models: together they vote as much as one pick.
      members: chosen.flatMap(({ artifacts, m }) =>
        artifacts.map((artifactId) => ({
          artifactId,
          weight: selection.counts[m]! / artifacts.length,
          ...(temperatures[m] ? { temperatures: temperatures[m]! } : {}),
        })),
      ),
      fit: fit as unknown as object,
      logitAdjustment,
    });
  }

  /** Each artifact's own probabilities on the fitting split, through the same path classify uses. */
  private async splitCandidates(ids: number[], dataset: { id: number; labelSchemaId: number; imageRoot: string }, split: Split, tasks: TaskSpec[]) {
    const artifacts = await this.db.modelArtifact.findMany({ where: { id: { in: ids } } });
    const missing = ids.filter((id) => !artifacts.some((a) => a.id === id));
    if (missing.length > 0) throw notFound('artifact', missing.join(', '));
    const foreign = artifacts.filter((a) => a.labelSchemaId !== dataset.labelSchemaId);
    if (foreign.length > 0) throw badInput(`artifacts ${foreign.map((a) => a.id).join(', ')} predict another label schema than dataset ${dataset.id}'s`);
    const { items, truth } = await labelledItems(this.db, dataset.id, split, tasks.length);
    if (items.length === 0) throw badInput(`dataset ${dataset.id} has no ${split} items to fit on (import with testFraction to hold out a TEST split as well)`);
    const raw: Votes[] = [];
    for (const id of ids) {
      const results = await scoreItems(this.classify, this.photos.of(dataset), items, { artifactId: id });
      raw.push(tasks.map((_, t) => results.map((r) => r[t]!.probabilities)));
    }
    return { raw, truth, itemCount: items.length, models: ids.map((id) => [id]) };
  }

  /** Each cross-validation's out-of-fold probabilities: no item is held back from training. */
  private async outOfFoldCandidates(ids: number[], datasetId: number) {
    const { oof, foldArtifacts } = await this.crossValidations.forFitting(ids, datasetId);
    return { raw: oof.map((o) => o.votes), truth: oof[0]!.truth, itemCount: oof[0]!.itemIds.length, models: foldArtifacts };
  }
}
