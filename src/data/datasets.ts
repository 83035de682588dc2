// Read side of datasets: listings, split sizes and the class distribution per task (the seed's EDA:
// count and share of every class), computed by the database with one GROUP BY; the items themselves,
// filtered for the dataset browser; and a reviewed version of a dataset (new labels, items left out).
import type { ImageLimits } from '../config.js';
import type { Db } from '../db/client.js';
import type { Prisma } from '../db/generated/client.js';
import type { Bbox, LabelSchemaSpec, Split, TaskSpec } from '../domain.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { cropPreview } from './image.js';
import { contentDigest, type Photos } from './photos.js';

/** Which items to list; absent fields match every item. A bbox's side is its shorter one. */
/** A dataset's items in the order of its CSV. */
const ITEM_ORDER = [{ line: 'asc' as const }, { id: 'asc' as const }];

export interface ItemFilter {
  split?: Split;
  labels?: { task: number; classIndex: number }[];
  minBboxSide?: number;
  maxBboxSide?: number;
}

/** What a reviewed version changes: per item, new classes by task; items left out. */
export interface VersionChanges {
  name?: string;
  relabel: Map<number, Map<number, number>>;
  exclude: Set<number>;
}

const ROWS_PER_INSERT = 1000;

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
  constructor(
    private readonly db: Db,
    private readonly imageLimits: ImageLimits,
    /** Every item's photo, from the artifact store (the same source scoring and the worker read). */
    readonly photos: Photos,
  ) {}

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

  /** The ids of the items that match, in line order (the bbox sides are filtered here: a difference of
   *  columns is no Prisma filter, and a dataset's boxes are a few numbers per item). */
  async itemIds(datasetId: number, filter: ItemFilter = {}): Promise<number[]> {
    const rows = await this.db.item.findMany({
      where: await this.itemWhere(datasetId, filter),
      select: { id: true, xmin: true, ymin: true, xmax: true, ymax: true },
      orderBy: ITEM_ORDER,
    });
    const { minBboxSide: min, maxBboxSide: max } = filter;
    return rows
      .filter((r) => {
        const side = Math.min(r.xmax - r.xmin, r.ymax - r.ymin);
        return (min == null || side >= min) && (max == null || side <= max);
      })
      .map((r) => r.id);
  }

  /** The rows a filter's split and labels select (checked against the dataset's label schema). */
  private async itemWhere(datasetId: number, filter: ItemFilter) {
    const dataset = await this.get(datasetId);
    const { tasks } = await this.labelSchema(dataset.labelSchemaId);
    for (const { task, classIndex } of filter.labels ?? []) {
      const spec = tasks[task];
      if (!spec) throw badInput(`label task must be a task index from 0 to ${tasks.length - 1}, got ${task}`);
      if (!(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < spec.classes.length))
        throw badInput(`label classIndex for ${spec.name} must be from 0 to ${spec.classes.length - 1}, got ${classIndex}`);
    }
    return {
      datasetId,
      ...(filter.split ? { split: filter.split } : {}),
      AND: (filter.labels ?? []).map((l) => ({ labels: { some: { task: l.task, classIndex: l.classIndex } } })),
    };
  }

  /** One page of the items that match, in line order, and how to count them all. Paged in SQL (a page
   *  reads its rows, not every id of the dataset), except with a bbox side filter, which itemIds applies. */
  async itemPage(
    datasetId: number,
    filter: ItemFilter,
    skip: number,
    take: number,
  ): Promise<{ rows: Awaited<ReturnType<DatasetService['items']>>; count: () => Promise<number> }> {
    if (filter.minBboxSide != null || filter.maxBboxSide != null) {
      const ids = await this.itemIds(datasetId, filter);
      return { rows: await this.items(ids.slice(skip, skip + take)), count: async () => ids.length };
    }
    const where = await this.itemWhere(datasetId, filter);
    const rows = await this.db.item.findMany({ where, include: { labels: { orderBy: { task: 'asc' } } }, orderBy: ITEM_ORDER, skip, take });
    return { rows, count: () => this.db.item.count({ where }) };
  }

  /** Items by id, with their labels, in the order of `ids`. */
  async items(ids: number[]) {
    const rows = await this.db.item.findMany({ where: { id: { in: ids } }, include: { labels: { orderBy: { task: 'asc' } } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)!);
  }

  async item(id: number) {
    const item = await this.db.item.findUnique({ where: { id }, include: { labels: { orderBy: { task: 'asc' } } } });
    if (!item) throw notFound('item', id);
    return item;
  }

  /** An item's photo bytes and box, to classify it. A photo that cannot be read says so without its path. */
  async itemPhoto(id: number): Promise<{ image: Buffer; bbox: Bbox }> {
    const item = await this.db.item.findUnique({ where: { id }, include: { dataset: true } });
    if (!item) throw notFound('item', id);
    try {
      return { image: await this.photos.read(item, item.dataset.imageRoot), bbox: item };
    } catch {
      throw new AppError(
        ErrorCode.UNAVAILABLE,
        `the photo of item ${id} cannot be read on this server (it is missing from the artifact store or the dataset's image folder)`,
      );
    }
  }

  /** The crop the models see of an item, as a JPEG fitting in side x side (dashboards, model cards). */
  async itemCrop(id: number, side: number): Promise<Buffer> {
    const { image, bbox } = await this.itemPhoto(id);
    return cropPreview(image, bbox, side, this.imageLimits);
  }

  /** One matching item drawn at random. */
  async randomItem(datasetId: number, filter: ItemFilter) {
    const ids = await this.itemIds(datasetId, filter);
    if (ids.length === 0) throw notFound('item matching the filter in dataset', datasetId);
    return this.item(ids[Math.floor(Math.random() * ids.length)]!);
  }

  /** A new version of `parentId` in one transaction: the same items, photos and splits, relabelled and
   *  with items left out as `changes` says. Returns the new dataset. */
  async createVersion(tx: Prisma.TransactionClient, parentId: number, changes: VersionChanges) {
    const started = performance.now();
    const parent = await tx.dataset.findUniqueOrThrow({ where: { id: parentId }, include: { labelSchema: true } });
    const items = await tx.item.findMany({ where: { datasetId: parentId }, include: { labels: { orderBy: { task: 'asc' } } }, orderBy: { id: 'asc' } });
    const kept = items.filter((i) => !changes.exclude.has(i.id));
    const labelsOf = (item: (typeof kept)[number]) => item.labels.map((label) => changes.relabel.get(item.id)?.get(label.task) ?? label.classIndex);
    const contentSha256 = contentDigest(
      parent.labelSchema.fingerprint,
      kept.map((item) => ({ ...item, bbox: [item.xmin, item.ymin, item.xmax, item.ymax], labels: labelsOf(item) })),
    );
    const version = parent.version + 1;
    const dataset = await tx.dataset.create({
      data: {
        name: changes.name?.trim() || `${parent.name.replace(/ v\d+$/, '')} v${version}`,
        csvPath: parent.csvPath,
        imageRoot: parent.imageRoot,
        csvSha256: parent.csvSha256,
        contentSha256,
        labelSchemaId: parent.labelSchemaId,
        splitSeed: parent.splitSeed,
        validationFraction: parent.validationFraction,
        testFraction: parent.testFraction,
        rankingMetric: parent.rankingMetric,
        itemCount: kept.length,
        rejectCount: 0,
        importMs: 0,
        version,
        parentId,
      },
    });
    for (let start = 0; start < kept.length; start += ROWS_PER_INSERT) {
      const chunk = kept.slice(start, start + ROWS_PER_INSERT);
      const created = await tx.item.createManyAndReturn({
        data: chunk.map(({ id: _id, labels: _labels, datasetId: _dataset, ...item }) => ({ ...item, datasetId: dataset.id })),
        select: { id: true, line: true },
      });
      // By line (one item per CSV line), not by position: RETURNING's order is no promise.
      const idByLine = new Map(created.map((c) => [c.line, c.id]));
      await tx.itemLabel.createMany({
        data: chunk.flatMap((item) =>
          item.labels.map((label) => ({
            itemId: idByLine.get(item.line)!,
            datasetId: dataset.id,
            split: item.split,
            task: label.task,
            classIndex: changes.relabel.get(item.id)?.get(label.task) ?? label.classIndex,
          })),
        ),
      });
    }
    return tx.dataset.update({ where: { id: dataset.id }, data: { importMs: Math.round(performance.now() - started) } });
  }

  /** A page of the rows refused at import, in line order: those after line `afterLine`. */
  rejects(datasetId: number, limit: number, afterLine = 0) {
    return this.db.importReject.findMany({ where: { datasetId, line: { gt: afterLine } }, orderBy: { line: 'asc' }, take: limit });
  }
}
