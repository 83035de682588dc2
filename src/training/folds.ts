// k-fold cross-validation, the training side: which items a fold run trains and validates on, and its
// out-of-fold predictions stored once its artifact is registered. Folds are drawn over the dataset's
// TRAIN and VALIDATION items together (stratified by label tuple, seeded); TEST stays held out.
import { readFile } from 'node:fs/promises';
import { stratifiedFolds } from '../data/split.js';
import type { Db } from '../db/client.js';
import type { Prisma, TrainingRun } from '../db/generated/client.js';
import type { Split } from '../domain.js';
import type { NewRun } from './runRecord.js';

/** Folds a cross-validation may have. */
export const FOLD_LIMITS = { min: 2, max: 20 } as const;

/** The fold of every TRAIN and VALIDATION item of a dataset, by item id, for a cross-validation's k and seed. */
export async function foldsOf(db: Db, datasetId: number, folds: number, seed: number): Promise<Map<number, number>> {
  const items = await db.item.findMany({
    where: { datasetId, split: { in: ['TRAIN', 'VALIDATION'] } },
    include: { labels: { orderBy: { task: 'asc' }, select: { classIndex: true } } },
    orderBy: { id: 'asc' },
  });
  const assignment = stratifiedFolds(
    items.map((item) => item.labels.map((l) => l.classIndex)),
    folds,
    seed,
  );
  return new Map(items.map((item, i) => [item.id, assignment[i]!]));
}

/** The split a fold run gives each item: its own fold validates, the other folds train. */
export async function foldSplits(db: Db, run: { datasetId: number; crossValidationId: number; foldIndex: number }): Promise<Map<number, Split>> {
  const cv = await db.crossValidation.findUniqueOrThrow({ where: { id: run.crossValidationId } });
  const folds = await foldsOf(db, run.datasetId, cv.folds, cv.seed);
  return new Map([...folds].map(([itemId, fold]) => [itemId, fold === run.foldIndex ? 'VALIDATION' : 'TRAIN']));
}

/** Stores a finished fold run's predictions on its own fold (the worker's validation predictions) as
 *  out-of-fold predictions; an item predicted twice in one cross-validation is refused by the database. */
export async function recordFoldPredictions(db: Db, run: { crossValidationId: number; foldIndex: number }, predictionsPath: string): Promise<number> {
  const { itemIds, probabilities } = JSON.parse(await readFile(predictionsPath, 'utf8')) as { itemIds: number[]; probabilities: number[][][] };
  const { count } = await db.foldPrediction.createMany({
    data: itemIds.map((itemId, i) => ({
      crossValidationId: run.crossValidationId,
      itemId,
      foldIndex: run.foldIndex,
      probabilities: probabilities.map((task) => task[i]!),
    })),
  });
  return count;
}

/** A cross-validation of one combo and its k fold runs, created in the caller's transaction. */
export async function createFoldRuns(
  tx: Prisma.TransactionClient,
  createRun: (data: NewRun) => Promise<TrainingRun>,
  data: NewRun & { datasetId: number; backbone: string; head: string },
  folds: number,
  seed: number,
): Promise<TrainingRun[]> {
  const cv = await tx.crossValidation.create({ data: { datasetId: data.datasetId, backbone: data.backbone, head: data.head, folds, seed } });
  const runs: TrainingRun[] = [];
  for (let foldIndex = 0; foldIndex < folds; foldIndex++) runs.push(await createRun({ ...data, crossValidationId: cv.id, foldIndex }));
  return runs;
}
