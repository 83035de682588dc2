// Stores evaluation reports: metrics per task plus one confusion matrix per task.
import { readFile } from 'node:fs/promises';
import { confusionOf, fromConfusion } from '../confusion.js';
import type { Db } from '../db/client.js';
import type { Split, TaskSpec } from '../domain.js';
import { argmax, mean } from '../numeric.js';

export interface TaskScore {
  task: number;
  name: string;
  top1: number;
  acsa: number;
}

/** Scores per-item probabilities (task -> item -> class) against the stored labels of those items. */
export async function scorePredictions(db: Db, tasks: TaskSpec[], itemIds: number[], probabilities: number[][][]) {
  const labels = await db.itemLabel.findMany({ where: { itemId: { in: itemIds } }, select: { itemId: true, task: true, classIndex: true } });
  const truthOf = new Map(labels.map((l) => [`${l.itemId}:${l.task}`, l.classIndex]));
  return tasks.map((task, t) => {
    const truth = itemIds.map((id) => {
      const label = truthOf.get(`${id}:${t}`);
      if (label === undefined) throw new Error(`item ${id} has no label for task ${task.name}`);
      return label;
    });
    const rows = confusionOf(truth, probabilities[t]!.map(argmax), task.classes.length);
    const { top1, acsa } = fromConfusion(rows);
    return { score: { task: t, name: task.name, top1, acsa } satisfies TaskScore, rows };
  });
}

/** The validation report a finished run leaves, from the worker's own predictions. */
export async function storeRunValidationReport(
  db: Db,
  target: { datasetId: number; runId: number; artifactId: number },
  tasks: TaskSpec[],
  predictionsPath: string,
) {
  const started = performance.now();
  const { itemIds, probabilities } = JSON.parse(await readFile(predictionsPath, 'utf8')) as { itemIds: number[]; probabilities: number[][][] };
  const scored = await scorePredictions(db, tasks, itemIds, probabilities);
  const scores = scored.map((s) => s.score);
  return db.evaluationReport.create({
    data: {
      ...target,
      split: 'VALIDATION' satisfies Split,
      itemCount: itemIds.length,
      metrics: { source: 'training-worker', tasks: scores, meanTop1: mean(scores.map((s) => s.top1)), meanAcsa: mean(scores.map((s) => s.acsa)) } as object,
      durationMs: Math.round(performance.now() - started),
      confusionMatrices: {
        create: scored.map(({ score, rows }) => ({ task: score.task, taskName: score.name, classes: tasks[score.task]!.classes, rows })),
      },
    },
  });
}
