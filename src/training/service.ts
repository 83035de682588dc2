// Training runs: startTraining makes one run per (backbone, head) combination and queues them; each
// job spawns the Python worker, streams its events into the run's record, and on success registers
// the checked ONNX artifact and the validation report. Runs left RUNNING by a process that died are
// marked INTERRUPTED at start-up and can be resumed from their last epoch checkpoint.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/client.js';
import type { Prisma, TrainingRun } from '../db/generated/client.js';
import type { TaskSpec } from '../domain.js';
import { AppError, badInput, ErrorCode, ensureError, notFound } from '../errors.js';
import { registerRunArtifact } from '../inference/registry.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import type { Logger } from '../log.js';
import { type PageRequest, paginate } from '../pagination.js';
import { storeRunValidationReport } from '../reports/store.js';
import { type Hyperparameters, preprocessFor, resolveHyperparameters } from './hyper.js';
import type { DistillationRecord } from './distillation.js';
import { findPython, type PythonRuntime } from './python.js';
import { JobQueue } from './queue.js';
import { type ImageCacheUse, runWorker, type TaskMetric, type WeightsRecord, type WorkerEvent } from './workerProcess.js';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
const RESUMABLE: RunStatus[] = ['INTERRUPTED', 'CANCELLED', 'FAILED'];
/** Statuses a run does not leave by itself. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']);

/** Why a job was stopped from outside; passed as the AbortSignal's reason. */
const enum Stop {
  Cancel = 'cancel',
  Shutdown = 'shutdown',
  Timeout = 'timeout',
}

export interface TrainingSettings {
  dataDir: string;
  /** Where finished runs' graphs are put, for serving on any host (and, later, checkpoints for resuming). */
  artifactStore: ArtifactStore;
  /** The worker's pixel cache (shared by every run that uses the same preprocessing spec). */
  pixelCacheDir: string;
  /** Where pretrained weights are cached and fetched from (see weights.py). */
  weights?: { dir?: string; mirror?: string; manifest?: string };
  /** Interpreter to use; undefined tries the usual candidates. */
  python?: string;
  /** Jobs at once; undefined = one per CUDA device, at least one. */
  concurrency?: number;
}

export interface Combo {
  backbone: string;
  head: string;
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

export interface StartTrainingRequest {
  datasetId: number;
  backbones?: string[];
  heads?: string[];
  combos?: Combo[];
  options?: Partial<Hyperparameters>;
  teacher?: TeacherRequest;
}

/** Where a student's teacher targets come from (the distillation service). */
export interface TeacherTargets {
  teacherTargets(ensembleId: number, datasetId: number, signal?: AbortSignal): Promise<string>;
}

export interface RunFilter {
  status?: RunStatus[];
  datasetId?: number;
  backbone?: string;
  head?: string;
}

/** What the worker is doing: waiting for another run's cache build, decoding images into the cache, or training. */
export type RunPhase = 'DOWNLOADING_WEIGHTS' | 'WAITING_FOR_IMAGES' | 'PREPARING_IMAGES' | 'TRAINING';

export interface RunProgress {
  phase?: RunPhase;
  /** Images prepared so far, and to prepare, while phase is "preparing images". */
  prepared?: number | null;
  toPrepare?: number | null;
  imageCache?: ImageCacheUse;
  /** While phase is DOWNLOADING_WEIGHTS: the file and its bytes so far / in all (null when unknown). */
  weightsFile?: string | null;
  downloadedBytes?: number | null;
  downloadBytes?: number | null;
  /** Where the backbone's starting weights came from; null for random init. */
  weights?: WeightsRecord | null;
  /** What the run did differently from what was asked (e.g. random init because weights could not be had). */
  warnings?: string[];
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number | null;
  imagesPerSecond: number | null;
  lr: number | null;
  updatedAt: string;
  resumedFromEpoch?: number | null;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  seconds: number;
  validation: TaskMetric[];
}

/** The storage query of a run filter: every given field must match. */
function runWhere(filter: RunFilter): Prisma.TrainingRunWhereInput {
  return {
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter.datasetId ? { datasetId: filter.datasetId } : {}),
    ...(filter.backbone ? { backbone: filter.backbone } : {}),
    ...(filter.head ? { head: filter.head } : {}),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class TrainingService {
  /** Emits 'run' with a run id whenever that run is created or its record changes, 'report' with a report
   *  id when a finished run stored its validation report, and 'ended' (id, status) when a job ends. */
  readonly events = new EventEmitter();
  private runtimeProbe?: Promise<PythonRuntime>;
  private queue?: JobQueue;
  /** Completion of each job this process queued, settled when it ends or is dropped from the queue. */
  private readonly pending = new Map<number, { done: Promise<void>; settle: () => void }>();

  constructor(
    private readonly db: Db,
    private readonly settings: TrainingSettings,
    private readonly log: Logger,
    private readonly teachers?: TeacherTargets,
  ) {}

  /** The Python runtime, probed once; a failed probe is retried next time (the user may install torch). */
  runtime(): Promise<PythonRuntime> {
    this.runtimeProbe ??= findPython(this.settings.python).catch((error) => {
      this.runtimeProbe = undefined;
      throw error;
    });
    return this.runtimeProbe;
  }

  private async jobs(): Promise<JobQueue> {
    if (!this.queue) {
      const runtime = await this.runtime();
      this.queue ??= new JobQueue(this.settings.concurrency ?? Math.max(1, runtime.cudaDevices));
    }
    return this.queue;
  }

  private async enqueue(runId: number): Promise<void> {
    const queue = await this.jobs();
    if (this.pending.has(runId)) return;
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.pending.set(runId, {
      done,
      settle: () => {
        this.pending.delete(runId);
        settle();
      },
    });
    queue.enqueue(runId, (signal) => this.execute(runId, signal).finally(() => this.pending.get(runId)?.settle()));
  }

  private changed(runId: number) {
    this.events.emit('run', runId);
  }

  /** Runs left RUNNING by a process that is gone become INTERRUPTED. Safe in any process, run at start-up. */
  async interruptOrphans(): Promise<number[]> {
    const orphans = (await this.db.trainingRun.findMany({ where: { status: 'RUNNING' }, orderBy: { id: 'asc' } })).filter(
      (run) => !(run.ownerPid && run.ownerPid !== process.pid && isAlive(run.ownerPid)),
    );
    for (const run of orphans) {
      await this.db.trainingRun.update({
        where: { id: run.id },
        data: { status: 'INTERRUPTED', finishedAt: new Date(), workerPid: null, error: 'the process running this job stopped (restart or crash); resume it with resumeRun' },
      });
    }
    if (orphans.length > 0) this.log.info({ runs: orphans.map((r) => r.id) }, 'marked orphaned training runs INTERRUPTED');
    return orphans.map((r) => r.id);
  }

  /** Queues, in this process, the QUEUED runs whose owner is gone (the server does this at start-up). */
  async adoptQueued(): Promise<number[]> {
    const orphans = (await this.db.trainingRun.findMany({ where: { status: 'QUEUED' }, orderBy: { id: 'asc' } })).filter(
      (run) => !(run.ownerPid && isAlive(run.ownerPid)) || run.ownerPid === process.pid,
    );
    try {
      for (const run of orphans) {
        await this.db.trainingRun.update({ where: { id: run.id }, data: { ownerPid: process.pid } });
        await this.enqueue(run.id);
      }
    } catch (error) {
      this.log.warn({ err: error, runs: orphans.map((r) => r.id) }, 'queued training runs wait: no Python runtime for training');
    }
    return orphans.map((r) => r.id);
  }

  async startTraining(request: StartTrainingRequest): Promise<TrainingRun[]> {
    const dataset = await this.db.dataset.findUnique({ where: { id: request.datasetId } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    const hyper = resolveHyperparameters(request.options);
    const combos = [
      ...(request.combos ?? []),
      ...(request.backbones ?? []).flatMap((backbone) => (request.heads ?? []).map((head) => ({ backbone, head }))),
    ];
    if (combos.length === 0) throw badInput('give at least one backbone and one head, or explicit combos');
    if ((request.backbones?.length ?? 0) > 0 !== (request.heads?.length ?? 0) > 0) {
      throw badInput('backbones and heads go together: every backbone is trained with every head');
    }
    const runtime = await this.runtime();
    for (const { backbone, head } of combos) {
      if (!runtime.backbones.includes(backbone)) throw badInput(`Unsupported backbone "${backbone}". Choose one of: ${runtime.backbones.join(', ')}`);
      if (!runtime.heads.includes(head)) throw badInput(`Unsupported head "${head}". Choose one of: ${runtime.heads.join(', ')}`);
    }
    if (hyper.device === 'cuda' && runtime.cudaDevices === 0) throw badInput('device "cuda" was asked for, but torch sees no CUDA device here');
    const unique = [...new Map(combos.map((c) => [`${c.backbone}+${c.head}`, c])).values()];
    const teacher = request.teacher ? await this.checkTeacher(request.teacher, dataset.labelSchemaId) : null;
    const runs = await this.db.$transaction(async (tx) => {
      const created: TrainingRun[] = [];
      for (const combo of unique) {
        const data = { datasetId: dataset.id, ...combo, status: 'QUEUED', config: hyper as object, ownerPid: process.pid };
        if (!teacher) {
          created.push(await tx.trainingRun.create({ data }));
          continue;
        }
        // The baseline first: on one queue it finishes before its student, which then compares at once.
        const baseline = teacher.compareWithoutTeacher ? await tx.trainingRun.create({ data }) : null;
        if (baseline) created.push(baseline);
        const distillation: DistillationRecord = { teacherEnsembleId: teacher.ensembleId, temperature: teacher.temperature, alpha: teacher.alpha, baselineRunId: baseline?.id ?? null };
        created.push(await tx.trainingRun.create({ data: { ...data, distillation: distillation as object } }));
      }
      return created;
    });
    for (const run of runs) {
      this.changed(run.id);
      await this.enqueue(run.id);
    }
    return runs;
  }

  private async checkTeacher(request: TeacherRequest, labelSchemaId: number) {
    const { ensembleId, temperature = 2, alpha = 0.5, compareWithoutTeacher = true } = request;
    if (!this.teachers) throw new AppError(ErrorCode.UNAVAILABLE, 'distillation is not available in this process');
    const ensemble = await this.db.ensemble.findUnique({ where: { id: ensembleId } });
    if (!ensemble) throw notFound('ensemble', ensembleId);
    if (ensemble.labelSchemaId !== labelSchemaId) throw badInput(`teacher ensemble ${ensembleId} predicts another label schema than the dataset's`);
    if (!(Number.isFinite(temperature) && temperature > 0 && temperature <= 20)) throw badInput(`teacher temperature must be above 0 and at most 20, got ${temperature}`);
    if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1)) throw badInput(`teacher alpha must be from 0 to 1, got ${alpha}`);
    return { ensembleId, temperature, alpha, compareWithoutTeacher };
  }

  async get(id: number): Promise<TrainingRun> {
    const run = await this.db.trainingRun.findUnique({ where: { id } });
    if (!run) throw notFound('run', id);
    return run;
  }

  list(filter: RunFilter = {}): Promise<TrainingRun[]> {
    return this.db.trainingRun.findMany({ where: runWhere(filter), orderBy: { id: 'asc' } });
  }

  /** One page of the runs that match the filter (see pagination.ts). */
  page(filter: RunFilter, request: PageRequest) {
    const where = runWhere(filter);
    return paginate(request, (page) => this.db.trainingRun.findMany({ ...page, where: { AND: [where, page.where] } }), () => this.db.trainingRun.count({ where }));
  }

  /** The run, when it matches the filter; null otherwise. */
  findMatching(id: number, filter: RunFilter): Promise<TrainingRun | null> {
    return this.db.trainingRun.findFirst({ where: { AND: [{ id }, runWhere(filter)] } });
  }

  /** Stops a queued or running run; a running one ends as CANCELLED with its last checkpoint kept for resumeRun. */
  async cancel(id: number): Promise<TrainingRun> {
    const run = await this.get(id);
    const status = run.status as RunStatus;
    if (status !== 'QUEUED' && status !== 'RUNNING') {
      throw new AppError(ErrorCode.CONFLICT, `run ${id} is ${status}; only QUEUED or RUNNING runs can be cancelled`);
    }
    const stopped = this.queue?.stop(id, Stop.Cancel) ?? 'unknown';
    if (stopped === 'aborted') {
      await this.pending.get(id)?.done;
      return this.get(id);
    }
    if (status === 'RUNNING' && run.ownerPid && run.ownerPid !== process.pid && isAlive(run.ownerPid)) {
      // Owned by another process (a CLI, another server): mark it, then stop its worker; the owner
      // sees the CANCELLED status when the worker exits and keeps it.
      await this.db.trainingRun.update({ where: { id }, data: { status: 'CANCELLED', finishedAt: new Date() } });
      if (run.workerPid) {
        try {
          process.kill(-run.workerPid, 'SIGTERM');
        } catch {
          // The worker already ended.
        }
      }
    } else {
      await this.db.trainingRun.update({ where: { id }, data: { status: 'CANCELLED', finishedAt: new Date(), workerPid: null } });
    }
    this.pending.get(id)?.settle();
    this.changed(id);
    return this.get(id);
  }

  /** Queues an INTERRUPTED, CANCELLED or FAILED run again; it continues from its last checkpoint if it has one. */
  async resume(id: number): Promise<TrainingRun> {
    const run = await this.get(id);
    if (!RESUMABLE.includes(run.status as RunStatus)) {
      throw new AppError(ErrorCode.CONFLICT, `run ${id} is ${run.status}; only ${RESUMABLE.join(', ')} runs can be resumed`);
    }
    await this.runtime();
    const updated = await this.db.trainingRun.update({ where: { id }, data: { status: 'QUEUED', error: null, finishedAt: null, ownerPid: process.pid } });
    this.changed(id);
    await this.enqueue(id);
    return updated;
  }

  /** Resolves once the given runs (default: every run this process queued) have finished. */
  async waitFor(ids?: number[]): Promise<void> {
    const waiting = ids ?? [...this.pending.keys()];
    await Promise.all(waiting.map((id) => this.pending.get(id)?.done));
  }

  /** Stops every job of this process: running runs become INTERRUPTED (resumable), queued ones stay
   *  QUEUED for the next process to adopt. */
  async close(): Promise<void> {
    const running = [...this.pending.keys()].filter((id) => this.queue?.isRunning(id));
    this.queue?.stopAll(Stop.Shutdown);
    for (const [id, { settle }] of this.pending) if (!running.includes(id)) settle();
    await this.waitFor(running);
  }

  private async execute(runId: number, signal: AbortSignal): Promise<void> {
    const run = await this.db.trainingRun.findUnique({ where: { id: runId }, include: { dataset: { include: { labelSchema: true } } } });
    if (!run || run.status !== 'QUEUED') return;
    const tasks = run.dataset.labelSchema.tasks as unknown as TaskSpec[];
    const hyper = resolveHyperparameters(run.config as Partial<Hyperparameters>);
    const runDir = path.join(this.settings.dataDir, 'runs', String(run.id));
    const checkpoint = path.join(runDir, 'checkpoint.pt');
    const resume = run.attempts > 0 && existsSync(checkpoint);

    let runtime: PythonRuntime;
    const distillation = run.distillation as DistillationRecord | null;
    let teacherFile: string | undefined;
    try {
      runtime = await this.runtime();
      await mkdir(runDir, { recursive: true });
      await this.writeItems(run.datasetId, run.dataset.imageRoot, path.join(runDir, 'items.jsonl'));
      if (distillation) teacherFile = await this.teachers!.teacherTargets(distillation.teacherEnsembleId, run.datasetId, signal);
    } catch (error) {
      if (signal.aborted) {
        // Stopped while preparing (scoring a teacher can take minutes): it never ran. On shutdown it
        // stays QUEUED for the next process to adopt.
        if (signal.reason !== Stop.Shutdown) await this.finish(runId, 'CANCELLED', 'cancelled before it started', '');
        return;
      }
      await this.finish(runId, 'FAILED', ensureError(error).message, '');
      return;
    }
    await this.db.trainingRun.update({
      where: { id: runId },
      data: { status: 'RUNNING', startedAt: run.startedAt ?? new Date(), finishedAt: null, attempts: { increment: 1 }, runDir, ownerPid: process.pid, error: null, ...(resume ? {} : { epochs: [], progress: undefined }) },
    });
    this.changed(runId);

    // Writes happen in event order; a slow write never reorders progress and epochs.
    let writes: Promise<unknown> = Promise.resolve();
    const write = (update: () => Promise<unknown>) => {
      writes = writes.then(update).then(() => this.changed(runId)).catch((error) => this.log.error({ err: error, runId }, 'could not record a worker event'));
    };
    // Every stored progress has the fields RunProgress requires, whichever event comes first (a run
    // whose images are all cached reports the cache before anything else).
    const mergeProgress = async (patch: Partial<RunProgress> & Record<string, unknown>) => {
      const current = (await this.db.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { progress: true } })).progress as Record<string, unknown> | null;
      const start = { phase: 'PREPARING_IMAGES', epoch: 0, step: 0, totalSteps: 0, loss: null, imagesPerSecond: null, lr: null };
      await this.db.trainingRun.update({ where: { id: runId }, data: { progress: { ...start, ...current, ...patch, updatedAt: new Date().toISOString() } as object } });
    };
    const epochs: EpochRecord[] = resume ? ((run.epochs as unknown as EpochRecord[] | null) ?? []) : [];
    let artifact: Extract<WorkerEvent, { event: 'artifact' }> | undefined;
    let workerError: string | undefined;
    let done = false;

    const job = new AbortController();
    const forward = () => job.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) forward(); // stopped while preparing: the listener above would never fire
    const timer = setTimeout(() => job.abort(Stop.Timeout), hyper.timeLimitSeconds * 1000);

    const exit = await runWorker({
      python: runtime.executable,
      signal: job.signal,
      config: {
        runDir,
        itemsFile: path.join(runDir, 'items.jsonl'),
        cacheDir: this.settings.pixelCacheDir,
        weights: this.settings.weights ?? {},
        teacher: distillation && teacherFile ? { file: teacherFile, temperature: distillation.temperature, alpha: distillation.alpha } : null,
        tasks: tasks.map(({ name, classes }) => ({ name, classes })),
        backbone: run.backbone,
        head: run.head,
        preprocess: preprocessFor(hyper),
        hyper,
        resume,
        checkItems: 8,
      },
      onSpawn: (pid) => write(() => this.db.trainingRun.update({ where: { id: runId }, data: { workerPid: pid } })),
      onEvent: (event) => {
        switch (event.event) {
          case 'preparing':
            write(() =>
              mergeProgress({
                phase: event.waiting ? 'WAITING_FOR_IMAGES' : 'PREPARING_IMAGES',
                prepared: event.done,
                toPrepare: event.total,
              }),
            );
            break;
          case 'downloading':
            write(() => mergeProgress({ phase: 'DOWNLOADING_WEIGHTS', weightsFile: event.file, downloadedBytes: event.done, downloadBytes: event.total }));
            break;
          case 'cache': {
            const { event: _, ...imageCache } = event;
            write(() => mergeProgress({ imageCache }));
            break;
          }
          case 'started':
            write(async () => {
              await this.db.trainingRun.update({ where: { id: runId }, data: { device: event.device, pretrained: event.pretrained } });
              await mergeProgress({
                phase: 'TRAINING', prepared: null, toPrepare: null,
                epoch: event.resumedFromEpoch ?? 0, step: 0, totalSteps: event.totalSteps, loss: null, imagesPerSecond: null, lr: null,
                resumedFromEpoch: event.resumedFromEpoch, parameterCount: event.parameterCount, mixedPrecision: event.mixedPrecision,
                trainExamples: event.trainExamples, dataLoaderWorkers: event.dataLoaderWorkers, compiled: event.compiled,
                weights: event.weightsSource, warnings: event.warnings,
              });
            });
            break;
          case 'progress': {
            const { event: _, ...progress } = event;
            write(() => mergeProgress(progress));
            break;
          }
          case 'epoch': {
            const { event: _, ...record } = event;
            epochs.push(record);
            const snapshot = [...epochs];
            write(() => this.db.trainingRun.update({ where: { id: runId }, data: { epochs: snapshot as object[] } }));
            break;
          }
          case 'artifact':
            artifact = event;
            break;
          case 'done':
            done = true;
            break;
          case 'error':
            workerError = event.message;
            break;
          default: {
            const unexpected: never = event;
            this.log.warn({ event: unexpected, runId }, 'unknown worker event');
          }
        }
      },
    }).catch((error: unknown) => ({ code: null, signal: null, stopReason: undefined, stderrTail: `could not start ${runtime.executable}: ${ensureError(error).message}` }));
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
    await writes;

    const current = await this.db.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true } });
    if (exit.stopReason === Stop.Cancel || current.status === 'CANCELLED') {
      if (!existsSync(checkpoint)) await rm(runDir, { recursive: true, force: true });
      await this.finish(runId, 'CANCELLED', existsSync(checkpoint) ? 'cancelled; the last epoch checkpoint is kept for resumeRun' : 'cancelled before the first checkpoint', exit.stderrTail);
    } else if (exit.stopReason === Stop.Shutdown) {
      await this.finish(runId, 'INTERRUPTED', 'the server shut down during the run; resume it with resumeRun', exit.stderrTail);
    } else if (exit.stopReason === Stop.Timeout) {
      await this.finish(runId, 'FAILED', `the run exceeded its time limit of ${hyper.timeLimitSeconds} s`, exit.stderrTail);
    } else if (exit.code === 0 && done && artifact) {
      try {
        const stored = await registerRunArtifact(this.db, this.settings.artifactStore, run, { id: run.dataset.labelSchemaId, tasks }, artifact);
        const report = await storeRunValidationReport(this.db, { datasetId: run.datasetId, runId, artifactId: stored.id }, tasks, artifact.predictionsPath);
        this.events.emit('report', report.id);
        await this.finish(runId, 'SUCCEEDED', null, exit.stderrTail);
      } catch (error) {
        await this.finish(runId, 'FAILED', `the run trained but its artifact was refused: ${ensureError(error).message}`, exit.stderrTail);
      }
    } else {
      const how = exit.signal ? `the worker was killed by ${exit.signal}` : `the worker exited with code ${exit.code}`;
      await this.finish(runId, 'FAILED', workerError ? `${workerError} (${how})` : how, exit.stderrTail);
    }
  }

  private async finish(runId: number, status: RunStatus, error: string | null, stderrTail: string) {
    await this.db.trainingRun.update({ where: { id: runId }, data: { status, error, stderrTail: stderrTail || null, finishedAt: new Date(), workerPid: null } });
    this.changed(runId);
    this.events.emit('ended', runId, status);
  }

  /** The worker reads items from a file: absolute image path, bbox, labels in task order, split. */
  private async writeItems(datasetId: number, imageRoot: string, file: string) {
    const items = await this.db.item.findMany({
      where: { datasetId, split: { in: ['TRAIN', 'VALIDATION'] } },
      include: { labels: { orderBy: { task: 'asc' }, select: { classIndex: true } } },
      orderBy: { id: 'asc' },
    });
    const lines = items.map((item) =>
      JSON.stringify({ id: item.id, path: path.join(imageRoot, item.imagePath), bbox: [item.xmin, item.ymin, item.xmax, item.ymax], labels: item.labels.map((l) => l.classIndex), split: item.split }),
    );
    await writeFile(file, lines.join('\n') + '\n');
  }
}
