// Batch predictions: one model (an artifact, an ensemble, or what an alias points at when the job is
// made) scores every item of a dataset, a prediction set or a labelled one, as a job on the queue that
// runs training: in this process on SQLite, on any `fashion-how worker` host on PostgreSQL. Items go
// through scoreItems, the serving path classify uses (the same preprocessing, micro-batchers, INT8
// graphs and test-time flips as each model declares), and each scored chunk is stored with the count
// that says it is done, so a job killed at any point resumes with exactly the items it has not stored.
// The finished table goes to the artifact store as CSV and JSON lines, in the CSV's line order.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Photos } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { PredictionJob } from '../db/generated/client.js';
import { SPLITS, type Split } from '../domain.js';
import { AppError, badInput, ErrorCode, ensureError, maskServerPaths, notFound } from '../errors.js';
import { LocalRunQueue } from '../jobs/localRunQueue.js';
import { PostgresRunQueue, type QueueKind } from '../jobs/postgresRunQueue.js';
import { type RunQueue, Stop } from '../jobs/runQueue.js';
import type { Logger } from '../log.js';
import { argmax } from '../numeric.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import { type ModelRef, refRequest } from './aliases.js';
import type { ClassifyService } from './classify.js';
import {
  CANCELLABLE_STATUSES,
  JobNotOursError,
  PredictionJobRecords,
  type PredictionJobStatus,
  type PredictionRow,
  RESUMABLE_STATUSES,
} from './predictionJobRecord.js';
import { writeTable } from './predictionTable.js';
import { fixTarget, type ModelDirectory, type PredictionModelRequest, type SeasonJudge } from './predictionTarget.js';
import { scoreItems } from './scoring.js';

export const PREDICTION_JOBS: QueueKind = { task: 'predict', keyPrefix: 'prediction', noun: 'prediction' };
export const TABLE_FORMATS = ['csv', 'jsonl'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

export interface PredictionJobSettings {
  dataDir: string;
  /** PostgreSQL's job queue instead of the in-process one (any worker host may run the job). */
  jobQueue?: { connectionString: string };
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
}

export interface PredictDatasetRequest extends PredictionModelRequest {
  datasetId: number;
  /** Only this split's items; absent: every item. */
  split?: Split;
}

export interface PredictionJobFilter {
  datasetId?: number;
  status?: PredictionJobStatus[];
}

export class PredictionJobService<Profile extends { id: string } = { id: string }> {
  /** Emits 'job' with a job id whenever that job's record changes. */
  readonly events = new EventEmitter();
  private readonly queue: RunQueue;
  private readonly records: PredictionJobRecords;
  private reaper?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly classify: ClassifyService,
    private readonly photos: Photos,
    private readonly artifactStore: ArtifactStore,
    private readonly directory: ModelDirectory,
    private readonly seasons: SeasonJudge<Profile>,
    private readonly settings: PredictionJobSettings,
    private readonly log: Logger,
  ) {
    this.queue = settings.jobQueue ? new PostgresRunQueue(settings.jobQueue.connectionString, log, PREDICTION_JOBS) : new LocalRunQueue();
    this.records = new PredictionJobRecords(db);
  }

  private changed(jobId: number) {
    this.events.emit('job', jobId);
  }

  /** Makes this process a worker of PostgreSQL's queue for prediction jobs (serve and `fashion-how worker` do). */
  async startWorker(concurrency = 1): Promise<void> {
    if (this.queue.distributed) await this.queue.startWorker({ concurrency, gpus: [] }, (id, signal) => this.execute(id, signal));
  }

  private async enqueue(jobId: number) {
    if (!this.queue.distributed && !this.queue.working) await this.queue.startWorker({ concurrency: 1, gpus: [] }, (id, signal) => this.execute(id, signal));
    await this.queue.enqueue(jobId);
  }

  /** Checks the request, fixes its model and queues the job. */
  async create(request: PredictDatasetRequest): Promise<PredictionJob> {
    const dataset = await this.db.dataset.findUnique({ where: { id: request.datasetId }, include: { labelSchema: true } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    if (request.split !== undefined && !SPLITS.includes(request.split)) throw badInput(`split must be one of ${SPLITS.join(', ')}, got "${request.split}"`);
    const { alias, ref, modelName, season } = await fixTarget(this.db, this.directory, this.seasons, dataset, request);
    const itemCount = await this.db.item.count({ where: { datasetId: dataset.id, ...(request.split ? { split: request.split } : {}) } });
    if (itemCount === 0) throw badInput(`dataset ${dataset.id} has no ${request.split ? `${request.split} ` : ''}items to predict`);
    const job = await this.records.create({
      datasetId: dataset.id,
      alias,
      modelKind: ref.kind,
      modelId: ref.id,
      modelName,
      split: request.split ?? null,
      itemCount,
      seasonProfile: season?.profile ?? null,
      seasonReasons: season?.reasons,
      seasonOverridden: season?.overridden ?? false,
    });
    this.changed(job.id);
    await this.enqueue(job.id);
    return job;
  }

  async get(id: number): Promise<PredictionJob> {
    const job = await this.db.predictionJob.findUnique({ where: { id } });
    if (!job) throw notFound('prediction job', id);
    return job;
  }

  list(filter: PredictionJobFilter = {}): Promise<PredictionJob[]> {
    return this.db.predictionJob.findMany({
      where: { ...(filter.datasetId ? { datasetId: filter.datasetId } : {}), ...(filter.status?.length ? { status: { in: filter.status } } : {}) },
      orderBy: { id: 'desc' },
    });
  }

  /** Stops a queued or running job; what it stored is kept, and a resume scores the rest. */
  async cancel(id: number): Promise<PredictionJob> {
    const job = await this.get(id);
    if (!CANCELLABLE_STATUSES.has(job.status))
      throw new AppError(ErrorCode.CONFLICT, `prediction job ${id} is ${job.status}; only QUEUED or RUNNING jobs can be cancelled`);
    // Held elsewhere: its holder sees CANCELLED at its next heartbeat or write. Here: the job ends at once.
    await this.records.cancel(id);
    if (this.queue.stop(id, Stop.Cancel) === 'dropped') await this.queue.release(id);
    await this.queue.settled(id);
    this.changed(id);
    return this.get(id);
  }

  /** Queues an INTERRUPTED, CANCELLED or FAILED job again: it scores only the items it has not stored. */
  async resume(id: number): Promise<PredictionJob> {
    const job = await this.get(id);
    if (!RESUMABLE_STATUSES.has(job.status)) {
      throw new AppError(ErrorCode.CONFLICT, `prediction job ${id} is ${job.status}; only ${[...RESUMABLE_STATUSES].join(', ')} jobs can be resumed`);
    }
    const resumed = await this.records.resume(id);
    this.changed(id);
    await this.enqueue(id);
    return resumed;
  }

  /** Resolves once the given jobs are final (watched through their records: any host may run them). */
  async waitFor(ids: number[], pollMs = 200): Promise<PredictionJob[]> {
    for (;;) {
      const jobs = await this.db.predictionJob.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } });
      if (jobs.every((job) => !CANCELLABLE_STATUSES.has(job.status)) && !ids.some((id) => this.queue.isRunning(id))) return jobs;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** A finished job's table as a local, verified file, and the name to offer it under. */
  async table(id: number, format: TableFormat): Promise<{ file: string; fileName: string; bytes: number; contentType: string }> {
    if (!TABLE_FORMATS.includes(format)) throw badInput(`format must be one of ${TABLE_FORMATS.join(', ')}, got "${format}"`);
    const job = await this.get(id);
    const sha256 = format === 'csv' ? job.csvSha256 : job.jsonlSha256;
    if (job.status !== 'SUCCEEDED' || !sha256)
      throw new AppError(ErrorCode.CONFLICT, `prediction job ${id} is ${job.status}; its table exists once it has SUCCEEDED`);
    const file = await this.artifactStore.fetch(sha256, 'predictions');
    return {
      file,
      fileName: `predictions-${id}.${format}`,
      bytes: (await stat(file)).size,
      contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    };
  }

  /** Jobs left RUNNING by a process of this host that is gone become INTERRUPTED (start-up). */
  async interruptOrphans(): Promise<number[]> {
    const ids = await this.records.interruptOrphans();
    for (const id of ids) {
      await this.queue.release(id);
      this.changed(id);
    }
    if (ids.length > 0) this.log.info({ jobs: ids }, 'marked orphaned prediction jobs INTERRUPTED');
    return ids;
  }

  /** Queues, in this process, the QUEUED jobs whose owner is gone (the server does this at start-up). */
  async adoptQueued(): Promise<number[]> {
    if (this.queue.distributed) return [];
    const jobs = await this.records.unownedQueued();
    for (const job of jobs) await this.enqueue(job.id);
    return jobs.map((job) => job.id);
  }

  /** RUNNING jobs whose heartbeat is older than the timeout become INTERRUPTED; any process may check. */
  async interruptStale(now = new Date()): Promise<number[]> {
    const interrupted: number[] = [];
    for (const job of await this.records.stale(now, this.settings.heartbeatTimeoutMs)) {
      await this.queue.release(job.id);
      if (await this.records.reap(job, now)) {
        interrupted.push(job.id);
        this.changed(job.id);
      }
    }
    if (interrupted.length > 0) this.log.warn({ jobs: interrupted }, 'prediction jobs without a heartbeat marked INTERRUPTED');
    return interrupted;
  }

  startReaper(): void {
    if (this.reaper) return;
    const every = Math.max(500, Math.min(this.settings.heartbeatMs, this.settings.heartbeatTimeoutMs / 2));
    this.reaper = setInterval(() => this.interruptStale().catch((error) => this.log.warn({ err: error }, 'could not check prediction job heartbeats')), every);
    this.reaper.unref();
  }

  /** Stops every job of this process: running ones become INTERRUPTED (resumable), queued ones stay QUEUED. */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    this.reaper = undefined;
    await this.queue.close(Stop.Shutdown);
  }

  /** Runs a QUEUED job in this process: claims it, scores the items it has not stored, writes the table. */
  private async execute(jobId: number, signal: AbortSignal): Promise<void> {
    if (!(await this.records.claim(jobId))) return;
    this.changed(jobId);
    const job = new AbortController();
    const forward = () => job.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) forward();
    const heartbeat = setInterval(() => {
      this.records
        .beat(jobId)
        .then((outcome) => outcome !== 'ours' && job.abort(outcome === 'cancelled' ? Stop.Cancel : Stop.Lost))
        .catch((error) => this.log.warn({ err: error, jobId }, 'could not write a prediction job heartbeat'));
    }, this.settings.heartbeatMs);
    try {
      await this.score(jobId, job.signal);
      job.signal.throwIfAborted();
      await this.finishTable(jobId);
    } catch (error) {
      await this.ended(jobId, job.signal, error);
    } finally {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', forward);
      this.changed(jobId);
    }
  }

  /** Scores the job's items not yet stored, writing each chunk as it is scored. */
  private async score(jobId: number, signal: AbortSignal): Promise<void> {
    const record = await this.get(jobId);
    const dataset = await this.db.dataset.findUniqueOrThrow({ where: { id: record.datasetId } });
    const items = await this.db.item.findMany({
      where: { datasetId: record.datasetId, ...(record.split ? { split: record.split } : {}), predictions: { none: { jobId } } },
      orderBy: { line: 'asc' },
    });
    const target = refRequest({ kind: record.modelKind as ModelRef['kind'], id: record.modelId });
    const started = performance.now();
    let scored = 0;
    // Scoring never waits for the database: scored rows queue, and one write at a time takes all that
    // queued since the last (one transaction each). A failed write stops the job at the next chunk.
    const queued: PredictionRow[] = [];
    let writing: Promise<void> | null = null;
    let failure: unknown;
    const drain = (): Promise<void> => {
      writing ??= (async () => {
        while (queued.length > 0 && failure === undefined) {
          const rows = queued.splice(0, queued.length);
          scored += rows.length;
          await this.records.writeRows(jobId, rows, scored / ((performance.now() - started) / 1000)).catch((error: unknown) => {
            failure = error;
          });
          this.changed(jobId);
        }
        writing = null;
      })();
      return writing;
    };
    const scoring = scoreItems(
      this.classify,
      this.photos.of(dataset),
      items,
      { ...target, client: `prediction job ${jobId}` },
      signal,
      async (first, results) => {
        if (failure !== undefined) throw failure;
        signal.throwIfAborted();
        for (const [i, tasks] of results.entries()) {
          queued.push({
            itemId: items[first + i]!.id,
            line: items[first + i]!.line,
            predicted: tasks.map((task) => argmax(task.probabilities)),
            probabilities: tasks.map((task) => task.probabilities),
          });
        }
        void drain();
      },
    );
    // Rows scored before a stop are written (or refused, once the job is no longer ours) before the final record.
    await scoring.finally(async () => {
      if (!signal.aborted) while (queued.length > 0 || writing) await drain();
      else await writing;
    });
    if (failure !== undefined) throw failure;
  }

  /** The stored rows as the job's table in the artifact store, then SUCCEEDED. */
  private async finishTable(jobId: number): Promise<void> {
    const record = await this.get(jobId);
    const rows = await this.db.predictionJobRow.findMany({ where: { jobId }, include: { item: true }, orderBy: [{ line: 'asc' }, { itemId: 'asc' }] });
    if (rows.length !== record.itemCount) throw new Error(`prediction job ${jobId} stored ${rows.length} of its ${record.itemCount} items`);
    const tasks = await this.records.modelTasks(record);
    const scratch = path.join(this.settings.dataDir, 'scratch', `predictions-${jobId}-${randomUUID()}`);
    await mkdir(scratch, { recursive: true });
    try {
      const files = { csv: path.join(scratch, 'predictions.csv'), jsonl: path.join(scratch, 'predictions.jsonl') };
      await writeTable(
        rows.map((row) => ({
          line: row.line,
          imagePath: row.item.imagePath,
          bbox: { xmin: row.item.xmin, ymin: row.item.ymin, xmax: row.item.xmax, ymax: row.item.ymax },
          predicted: row.predicted as number[],
          probabilities: row.probabilities as number[][],
        })),
        tasks,
        files,
      );
      const csv = await this.artifactStore.put(files.csv, 'predictions');
      const jsonl = await this.artifactStore.put(files.jsonl, 'predictions');
      await this.records.finish(jobId, 'SUCCEEDED', null, { csvSha256: csv.sha256, csvBytes: csv.bytes, jsonlSha256: jsonl.sha256, jsonlBytes: jsonl.bytes });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** The final record of a job that stopped before its table: why, from how it stopped. */
  private async ended(jobId: number, signal: AbortSignal, error: unknown): Promise<void> {
    const reason = signal.aborted ? signal.reason : undefined;
    if (reason === Stop.Lost || (error instanceof JobNotOursError && reason === undefined && (await this.get(jobId)).status !== 'CANCELLED')) {
      this.log.warn({ jobId }, 'stopped a prediction job that another process took over');
      return;
    }
    const current = await this.get(jobId);
    if (reason === Stop.Cancel || current.status === 'CANCELLED') {
      await this.records.finish(jobId, 'CANCELLED', `cancelled after ${current.itemsDone} of ${current.itemCount} items; resume it to score the rest`);
    } else if (reason === Stop.Shutdown) {
      await this.records.finish(
        jobId,
        'INTERRUPTED',
        `the process shut down after ${current.itemsDone} of ${current.itemCount} items; resume it to score the rest`,
      );
    } else {
      this.log.error({ err: error, jobId }, 'prediction job failed');
      const message = maskServerPaths(ensureError(error).message);
      await this.records.finish(jobId, 'FAILED', `${message} (after ${current.itemsDone} of ${current.itemCount} items; resume it to score the rest)`);
    }
  }
}
