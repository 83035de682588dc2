// Read side of datasets: listings, split sizes and the class distribution per task (the seed's EDA:
// count and share of every class), computed by the database with one GROUP BY.
import type { Db } from '../db/client.js';
import type { LabelSchemaSpec, Split, TaskSpec } from '../domain.js';
import { notFound } from '../errors.js';

export interface ClassCount {
  index: number;
  name: string;
  count: number;
  /** count / items in the task; 0 for an empty selection. */
  share: number;
}

export interface TaskDistribution {
  task: number;
  name: string;
  total: number;
  classes: ClassCount[];
  /** Largest class count over smallest non-zero class count; null when fewer than two classes occur. */
  imbalanceRatio: number | null;
}

export function tasksOf(schema: { tasks: unknown }): TaskSpec[] {
  return schema.tasks as TaskSpec[];
}

export class DatasetService {
  constructor(private readonly db: Db) {}

  list() {
    return this.db.dataset.findMany({ orderBy: { id: 'asc' } });
  }

  async get(id: number) {
    const dataset = await this.db.dataset.findUnique({ where: { id } });
    if (!dataset) throw notFound('dataset', id);
    return dataset;
  }

  async labelSchema(id: number): Promise<LabelSchemaSpec & { id: number }> {
    const row = await this.db.labelSchema.findUniqueOrThrow({ where: { id } });
    return { id: row.id, name: row.name, tasks: tasksOf(row) };
  }

  async splitCounts(datasetId: number): Promise<{ split: Split; count: number }[]> {
    const groups = await this.db.item.groupBy({ by: ['split'], where: { datasetId }, _count: { _all: true } });
    return groups.map((g) => ({ split: g.split as Split, count: g._count._all })).sort((a, b) => a.split.localeCompare(b.split));
  }

  async distribution(datasetId: number, split?: Split): Promise<TaskDistribution[]> {
    const dataset = await this.get(datasetId);
    const { tasks } = await this.labelSchema(dataset.labelSchemaId);
    const groups = await this.db.itemLabel.groupBy({
      by: ['task', 'classIndex'],
      where: { datasetId, ...(split ? { split } : {}) },
      _count: { _all: true },
    });
    return tasks.map((task, t) => {
      const counts = task.classes.map((_, k) => groups.find((g) => g.task === t && g.classIndex === k)?._count._all ?? 0);
      const total = counts.reduce((a, b) => a + b, 0);
      const present = counts.filter((c) => c > 0);
      return {
        task: t,
        name: task.name,
        total,
        classes: counts.map((count, k) => ({ index: k, name: task.classes[k]!, count, share: total === 0 ? 0 : count / total })),
        imbalanceRatio: present.length >= 2 ? Math.max(...present) / Math.min(...present) : null,
      };
    });
  }

  rejects(datasetId: number, limit: number) {
    return this.db.importReject.findMany({ where: { datasetId }, orderBy: { line: 'asc' }, take: limit });
  }
}
