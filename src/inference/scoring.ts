// Scoring a split through the serving path (the same preprocessing, sessions and soft vote as classify):
// one module below everything that needs it, reports (evaluate), ensemble fitting and distillation.
import pLimit from 'p-limit';
import type { PhotoRef, PhotoSource } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { Split } from '../domain.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import type { ClassifyService, TaskResult } from './classify.js';

const CHUNK = 16;
const PARALLEL_CHUNKS = 4;

/** Scores items through the serving path, a few chunks at a time: enough to keep every model's batcher full.
 *  Returns each item's per-task results, in item order. `onScored` (a batch job's writer) gets each chunk's
 *  first index and results as it is scored; its chunk's slot waits for it, so the others keep scoring. */
export async function scoreItems(
  classify: ClassifyService,
  photos: PhotoSource,
  items: (PhotoRef & { xmin: number; ymin: number; xmax: number; ymax: number })[],
  target: { artifactId?: number; ensembleId?: number; includeMembers?: boolean; client?: string },
  signal?: AbortSignal,
  onScored?: (first: number, results: TaskResult[][]) => Promise<void>,
): Promise<TaskResult[][]> {
  const results: TaskResult[][] = new Array(items.length);
  const limit = pLimit(PARALLEL_CHUNKS);
  // All chunks in flight together fit in what one client may hold of a model's queue while others wait.
  const size = Math.max(1, Math.min(CHUNK, Math.floor(classify.clientShare / PARALLEL_CHUNKS)));
  await Promise.all(
    Array.from({ length: Math.ceil(items.length / size) }, (_, c) =>
      limit(async () => {
        signal?.throwIfAborted();
        const chunk = items.slice(c * size, (c + 1) * size);
        const images = await Promise.all(chunk.map(async (item) => ({ image: await photos.read(item), bbox: item })));
        const outcome = await scoreWhenThereIsRoom(() => classify.score({ images, client: 'platform evaluation', ...target }), signal);
        outcome.results.forEach((r, i) => {
          results[c * size + i] = r;
        });
        await onScored?.(c * size, outcome.results);
      }),
    ),
  );
  return results;
}

/** The platform's own scoring shares the models with clients: a full queue (OVERLOADED) means wait a
 *  little and try again, not fail an evaluation that has scored half a dataset. */
async function scoreWhenThereIsRoom<T>(score: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await score();
    } catch (error) {
      if (!(error instanceof AppError && error.code === ErrorCode.OVERLOADED) || attempt >= 600) throw error;
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 50));
    }
  }
}

/** A split's items (every item for ALL) in id order, and their true class per task: truth[task][item]. */
export async function labelledItems(db: Db, datasetId: number, split: Split | 'ALL', taskCount: number) {
  const items = await db.item.findMany({
    where: { datasetId, ...(split === 'ALL' ? {} : { split }) },
    include: { labels: { orderBy: { task: 'asc' } } },
    orderBy: { id: 'asc' },
  });
  const unlabelled = items.find((item) => item.labels.length < taskCount);
  if (unlabelled) throw badInput(`item ${unlabelled.id} of dataset ${datasetId} has no labels (a prediction set): nothing to score it against`);
  const truth = Array.from({ length: taskCount }, (_, t) => items.map((item) => item.labels[t]!.classIndex));
  return { items, truth };
}
