// The prediction log: a sampled record of what serving was asked (the crop's hash and statistics, the
// box) and what it answered (model, probabilities, latency, client), for drift reports and, once true
// labels arrive as feedback, online accuracy. It is never on the answer path: a request only pushes
// its record onto a bounded queue (or, when the queue is full, counts a drop); one writer decodes the
// crops, keeps them in the artifact store where enabled, writes rows in batches, and applies retention.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { ImageLimits, PredictionLogSettings } from '../config.js';
import { cropStats } from '../data/image.js';
import { sha256Of } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { Bbox, TaskSpec } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { argmax } from '../numeric.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import type { PendingBatch, PendingObjects } from '../storage/pendingObjects.js';
import type { TaskResult } from './classify.js';

export type ServedRole = 'CHAMPION' | 'CANDIDATE' | 'SHADOW' | 'DIRECT';

export interface LoggedAnswer {
  id: string;
  alias: string | null;
  role: ServedRole;
  target: { kind: 'ensemble' | 'artifact'; id: number; name: string; labelSchemaId: number };
  client: string;
  image: Buffer;
  bbox: Bbox;
  tasks: TaskResult[];
  latencyMs: number;
  at: Date;
}

/** Rows written per insert. */
const BATCH = 64;
/** Retention runs at most this often. */
const PRUNE_EVERY_MS = 60_000;
const CROP_SIDE = 192;
const PRUNE_BATCH = 10_000;
/** Crops decoded at once by the writer. */
const DECODERS = 4;

export class PredictionLog {
  private readonly queue: LoggedAnswer[] = [];
  /** The photos' bytes the queue holds: a record keeps its photo until the writer has measured its crop. */
  private queuedBytes = 0;
  private readonly pruner: NodeJS.Timeout;
  private writing?: Promise<void>;
  private lastPrune = 0;
  /** Since this process started. */
  readonly counts = { logged: 0, dropped: 0, failed: 0 };

  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly settings: PredictionLogSettings,
    private readonly context: { imageLimits: ImageLimits; scratchDir: string; metrics: Metrics; log: Logger; pending?: PendingObjects },
  ) {
    // Retention runs while nothing is logged too; a failure is said and tried again next time.
    this.pruner = setInterval(() => void this.pruneSafely(), PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  /** Stops the retention timer (the app's close). */
  close() {
    clearInterval(this.pruner);
  }

  get queued() {
    return this.queue.length;
  }

  /** Takes a record if there is room (true), else drops and counts it (false); never waits. */
  offer(record: LoggedAnswer): boolean {
    if (this.queue.length >= this.settings.queue || this.queuedBytes + record.image.length > this.settings.queueBytes) {
      this.counts.dropped++;
      this.context.metrics.predictionLog.inc({ alias: record.alias ?? '', outcome: 'dropped' });
      return false;
    }
    this.queue.push(record);
    this.queuedBytes += record.image.length;
    // drain catches what it can; anything else is said here, never left to crash the process.
    this.writing ??= this.drain()
      .catch((error: unknown) => this.context.log.error({ err: error }, 'the prediction log writer stopped; it starts again with the next record'))
      .finally(() => (this.writing = undefined));
    return true;
  }

  /** Resolves when every record taken so far is written (or failed): tests and shutdown wait here. */
  async flush() {
    while (this.writing) await this.writing;
  }

  private async drain() {
    // Let the request that queued the first record answer before any crop is decoded.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      for (const record of batch) this.queuedBytes -= record.image.length;
      // Crops go into the store before their rows are written: named in a journal until then, so what a
      // kill in between leaves is collected (storage/pendingObjects.ts).
      const journal = this.settings.keepCrops ? await this.context.pending?.open('image') : undefined;
      // A few crops at a time: each waits its turn in libuv's pool behind the serving's own work.
      const limit = pLimit(DECODERS);
      const made = await Promise.all(
        batch.map((record) =>
          limit(async () => {
            try {
              return await this.rowOf(record, journal);
            } catch (error) {
              this.failed(record, error);
              return null;
            }
          }),
        ),
      );
      const rows = made.filter((row) => row !== null);
      try {
        if (rows.length > 0) await this.db.prediction.createMany({ data: rows });
        for (const row of rows) this.context.metrics.predictionLog.inc({ alias: row.alias ?? '', outcome: 'logged' });
        this.counts.logged += rows.length;
        await journal?.settle();
      } catch (error) {
        // Only the rows that were made: a record whose crop failed was counted once already.
        for (const row of rows) this.failed({ id: row.id, alias: row.alias }, error);
        await journal?.abandon();
      }
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) await this.pruneSafely();
    }
  }

  private failed(record: Pick<LoggedAnswer, 'id' | 'alias'>, error: unknown) {
    this.counts.failed++;
    this.context.metrics.predictionLog.inc({ alias: record.alias ?? '', outcome: 'failed' });
    this.context.log.warn({ err: error, predictionId: record.id }, 'could not log a prediction');
  }

  private async rowOf(record: LoggedAnswer, journal?: PendingBatch) {
    const { stats, jpeg } = await cropStats(record.image, record.bbox, this.context.imageLimits, this.settings.keepCrops ? CROP_SIDE : undefined);
    let cropKey: string | null = null;
    if (jpeg) {
      const file = path.join(this.context.scratchDir, `crop-${record.id}.jpg`);
      await mkdir(this.context.scratchDir, { recursive: true });
      try {
        await journal?.add([sha256Of(jpeg)]);
        await writeFile(file, jpeg);
        cropKey = (await this.store.put(file, 'image')).sha256;
      } finally {
        await rm(file, { force: true });
      }
    }
    const { sha256, ...inputStats } = stats;
    return {
      id: record.id,
      alias: record.alias,
      role: record.role,
      modelKind: record.target.kind,
      modelId: record.target.id,
      modelName: record.target.name,
      labelSchemaId: record.target.labelSchemaId,
      client: record.client,
      cropSha256: sha256,
      cropKey,
      bbox: record.bbox as object,
      probabilities: record.tasks.map((t) => t.probabilities),
      predicted: record.tasks.map((t) => argmax(t.probabilities)),
      stats: inputStats,
      latencyMs: record.latencyMs,
      createdAt: record.at,
    };
  }

  private async pruneSafely() {
    try {
      await this.prune();
    } catch (error) {
      this.context.log.warn({ err: error }, 'could not apply the prediction log retention; trying again in a minute');
    }
  }

  /** Retention: rows past the age limit, then the oldest beyond the row limit. */
  async prune() {
    this.lastPrune = Date.now();
    const cutoff = new Date(Date.now() - this.settings.maxAgeDays * 86_400_000);
    await this.deleteRows({ createdAt: { lt: cutoff } });
    const excess = (await this.db.prediction.count()) - this.settings.maxRows;
    if (excess <= 0) return;
    // At most PRUNE_BATCH rows a pass (one statement's list of ids); the next pass takes the rest.
    const oldest = await this.db.prediction.findMany({
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: Math.min(excess, PRUNE_BATCH),
      select: { id: true },
    });
    await this.deleteRows({ id: { in: oldest.map((o) => o.id) } });
  }

  /** Deletes rows, and hands their crops to the collection of objects no row names: a crop is stored once
   *  by its content, and another row (or an item's photo) may name the same one, so the collection asks
   *  the database after its grace period rather than deleting here. The journal is written before the
   *  rows go, so a process killed in between leaves the crops named by a journal of a gone owner. */
  private async deleteRows(where: { createdAt: { lt: Date } } | { id: { in: string[] } }) {
    const { pending } = this.context;
    const crops = pending
      ? await this.db.prediction.findMany({ where: { ...where, cropKey: { not: null } }, select: { cropKey: true }, distinct: ['cropKey'] })
      : [];
    const journal = crops.length > 0 ? await pending!.open('image') : undefined;
    await journal?.add(crops.map((c) => c.cropKey!));
    await this.db.prediction.deleteMany({ where });
    await journal?.abandon();
  }

  /** Attaches true labels (a class name per task, every task) to a logged prediction. */
  async feedback(predictionId: string, labels: { task: string; label: string }[]) {
    const prediction = await this.db.prediction.findUnique({ where: { id: predictionId } });
    if (!prediction) throw notFound('logged prediction', `"${predictionId}" (only sampled answers are logged, and old ones are pruned)`);
    const schema = await this.db.labelSchema.findUniqueOrThrow({ where: { id: prediction.labelSchemaId } });
    const tasks = schema.tasks as unknown as TaskSpec[];
    const byTask = new Map(labels.map((l) => [l.task, l.label]));
    if (byTask.size !== labels.length) throw badInput('give each task once');
    const unknown = [...byTask.keys()].filter((name) => !tasks.some((t) => t.name === name));
    if (unknown.length > 0) throw badInput(`unknown task ${unknown.join(', ')}; the tasks are ${tasks.map((t) => t.name).join(', ')}`);
    const truth = tasks.map((task) => {
      const label = byTask.get(task.name);
      if (label === undefined) throw badInput(`feedback needs a label for every task; ${task.name} is missing`);
      const index = task.classes.indexOf(label);
      if (index < 0) throw badInput(`"${label}" is not a class of ${task.name}; its classes are ${task.classes.join(', ')}`);
      return index;
    });
    return this.db.prediction.update({ where: { id: predictionId }, data: { labels: truth, labelledAt: new Date() } });
  }
}
