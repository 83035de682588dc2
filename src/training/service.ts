// Training runs: startTraining makes one run per (backbone, head) combination and queues them; each
// job spawns the Python worker, streams its events into the run's record, and on success registers
// the checked ONNX artifact and the validation report. On SQLite the queue is in this process; on
// PostgreSQL it is the database's job queue (jobQueue.ts), served by `fashion-how worker` on any host.
// A running job writes a heartbeat; a run whose process died (same host: its pid is gone; any host: its
// heartbeat stopped) becomes INTERRUPTED and can be resumed from its last epoch checkpoint, which the
// artifact store holds for every host.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
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
import { PostgresJobQueue, type WorkerSlots } from './jobQueue.js';
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
  /** Another process declared the run's worker dead (missing heartbeat) and may have resumed it. */
  Lost = 'lost',
}

/** This process as the holder of runs: "hostname:pid" (unique across hosts, readable in listings). */
export const WORKER_ID = `${os.hostname()}:${process.pid}`;

export interface TrainingSettings {
  dataDir: string;
  /** Where finished runs' graphs are put, for serving on any host, and (with worker hosts) every epoch's
   *  checkpoint, so that any host can resume a run. */
  artifactStore: ArtifactStore;
  /** The worker's pixel cache (shared by every run that uses the same preprocessing spec). */
  pixelCacheDir: string;
  /** Where pretrained weights are cached and fetched from (see weights.py). */
  weights?: { dir?: string; mirror?: string; manifest?: string };
  /** Interpreter to use; undefined tries the usual candidates. */
  python?: string;
  /** Jobs at once; undefined = one per CUDA device, at least one. */
  concurrency?: number;
  /** PostgreSQL's job queue instead of the in-process one (runs may execute on any worker host). */
  jobQueue?: { connectionString: string };
  /** How often a running job writes its heartbeat and looks for a cancel from another host. */
  heartbeatMs?: number;
  /** A RUNNING run whose heartbeat is older than this is INTERRUPTED (its host or process is gone). */
  heartbeatTimeoutMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 2000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;

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

/** Whether a run's holder is a process on this host that is gone (a same-host check needs no timeout). */
function deadOnThisHost(workerId: string | null, ownerPid: number | null): boolean {
  if (workerId) {
    const separator = workerId.lastIndexOf(':');
    if (workerId.slice(0, separator) !== os.hostname()) return false;
    const pid = Number(workerId.slice(separator + 1));
    return pid !== process.pid && !isAlive(pid);
  }
  // Written by a version without worker ids: its owner ran on this host.
  return !(ownerPid && ownerPid !== process.pid && isAlive(ownerPid));
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
  private readonly postgresQueue?: PostgresJobQueue;
  private reaper?: NodeJS.Timeout;
  /** Completion of each job this process queued, settled when it ends or is dropped from the queue. */
  private readonly pending = new Map<number, { done: Promise<void>; settle: () => void }>();

  constructor(
    private readonly db: Db,
    private readonly settings: TrainingSettings,
    private readonly log: Logger,
    private readonly teachers?: TeacherTargets,
  ) {
    if (settings.jobQueue) this.postgresQueue = new PostgresJobQueue(settings.jobQueue.connectionString, log);
  }

  private get heartbeatMs() {
    return this.settings.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  /** Whether runs go through PostgreSQL's job queue (and any worker host may run them). */
  get distributed(): boolean {
    return this.postgresQueue !== undefined;
  }

  /** Makes this process a worker of PostgreSQL's job queue (serve does, unless --no-worker; so does
   *  `fashion-how worker`). With the in-process queue (SQLite) the process that queues a run runs it. */
  async startWorker(slots?: Partial<WorkerSlots>): Promise<WorkerSlots | null> {
    if (!this.postgresQueue) return null;
    const gpus = slots?.gpus ?? [];
    const concurrency = slots?.concurrency ?? (gpus.length || this.settings.concurrency || 1);
    await this.postgresQueue.start({ concurrency, gpus }, WORKER_ID, (runId, signal, gpu) => this.execute(runId, signal, gpu));
    return { concurrency, gpus };
  }

  /** Every few seconds, RUNNING runs whose worker stopped sending heartbeats become INTERRUPTED. Any
   *  process may do this; the update is conditional, so two reapers never clash. */
  startReaper(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => {
      this.interruptStale().catch((error) => this.log.warn({ err: error }, 'could not check training heartbeats'));
    }, Math.max(500, Math.min(this.heartbeatMs, (this.settings.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS) / 2)));
    this.reaper.unref();
  }

  /** RUNNING runs whose last heartbeat is older than the timeout become INTERRUPTED; returns their ids. */
  async interruptStale(now = new Date()): Promise<number[]> {
    const timeoutMs = this.settings.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const stale = await this.db.trainingRun.findMany({ where: { status: 'RUNNING', heartbeatAt: { lt: new Date(now.getTime() - timeoutMs) } }, orderBy: { id: 'asc' } });
    const interrupted: number[] = [];
    for (const run of stale) {
      const seconds = Math.round((now.getTime() - run.heartbeatAt!.getTime()) / 1000);
      // The dead worker's job goes first, so that the run's resume never meets it.
      await this.postgresQueue?.releaseJobOf(run.id);
      const { count } = await this.db.trainingRun.updateMany({
        where: { id: run.id, status: 'RUNNING', workerId: run.workerId, heartbeatAt: run.heartbeatAt },
        data: { status: 'INTERRUPTED', finishedAt: now, workerPid: null, error: `its worker ${run.workerId ?? ''} stopped sending heartbeats ${seconds} s ago (host or process gone); resume it with resumeRun` },
      });
      if (count === 1) {
        interrupted.push(run.id);
        this.changed(run.id);
      }
    }
    if (interrupted.length > 0) this.log.warn({ runs: interrupted }, 'training runs without a heartbeat marked INTERRUPTED');
    return interrupted;
  }

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
    if (this.postgresQueue) {
      await this.postgresQueue.enqueue(runId);
      return;
    }
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
    queue.enqueue(runId, (signal) => this.execute(runId, signal, undefined).finally(() => this.pending.get(runId)?.settle()));
  }

  private changed(runId: number) {
    this.events.emit('run', runId);
  }

  /** Runs left RUNNING by a process of this host that is gone become INTERRUPTED (runs of other hosts
   *  are judged by their heartbeat: interruptStale). Safe in any process, run at start-up. */
  async interruptOrphans(): Promise<number[]> {
    const orphans = (await this.db.trainingRun.findMany({ where: { status: 'RUNNING' }, orderBy: { id: 'asc' } })).filter((run) => deadOnThisHost(run.workerId, run.ownerPid));
    for (const run of orphans) {
      await this.postgresQueue?.releaseJobOf(run.id);
      await this.db.trainingRun.update({
        where: { id: run.id },
        data: { status: 'INTERRUPTED', finishedAt: new Date(), workerPid: null, error: 'the process running this job stopped (restart or crash); resume it with resumeRun' },
      });
    }
    if (orphans.length > 0) this.log.info({ runs: orphans.map((r) => r.id) }, 'marked orphaned training runs INTERRUPTED');
    return orphans.map((r) => r.id);
  }

  /** Queues, in this process, the QUEUED runs whose owner is gone (the server does this at start-up).
   *  PostgreSQL's queue keeps its jobs by itself: nothing to adopt. */
  async adoptQueued(): Promise<number[]> {
    if (this.postgresQueue) return [];
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
    const runtime = await this.runtime().catch((error: unknown) => {
      // A host that only queues (serve --no-worker, no torch) leaves the check to the worker host.
      if (this.postgresQueue) return null;
      throw error;
    });
    if (runtime) this.checkCombos(combos, hyper, runtime);
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

  private checkCombos(combos: Combo[], hyper: Hyperparameters, runtime: PythonRuntime) {
    for (const { backbone, head } of combos) {
      if (!runtime.backbones.includes(backbone)) throw badInput(`Unsupported backbone "${backbone}". Choose one of: ${runtime.backbones.join(', ')}`);
      if (!runtime.heads.includes(head)) throw badInput(`Unsupported head "${head}". Choose one of: ${runtime.heads.join(', ')}`);
    }
    // With a job queue the run may go to a GPU host; only the in-process queue knows the device here.
    if (!this.postgresQueue && hyper.device === 'cuda' && runtime.cudaDevices === 0) throw badInput('device "cuda" was asked for, but torch sees no CUDA device here');
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
    const stopped = this.postgresQueue?.stop(id, Stop.Cancel) ?? this.queue?.stop(id, Stop.Cancel) ?? 'unknown';
    if (stopped === 'aborted') {
      if (this.postgresQueue) await this.waitFor([id]);
      else await this.pending.get(id)?.done;
      return this.get(id);
    }
    if (status === 'RUNNING' && run.workerId !== WORKER_ID && !deadOnThisHost(run.workerId, run.ownerPid)) {
      // Held by another process (a CLI, another server, a worker host): mark it; its holder sees the
      // CANCELLED status at its next heartbeat, stops its worker and keeps the status. On this host the
      // worker is also signalled at once.
      await this.db.trainingRun.updateMany({ where: { id, status: 'RUNNING' }, data: { status: 'CANCELLED', finishedAt: new Date() } });
      if (run.workerPid && run.workerId?.startsWith(`${os.hostname()}:`)) {
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
    if (!this.postgresQueue) await this.runtime();
    const updated = await this.db.trainingRun.update({ where: { id }, data: { status: 'QUEUED', error: null, finishedAt: null, ownerPid: process.pid, workerId: null, heartbeatAt: null } });
    this.changed(id);
    await this.enqueue(id);
    return updated;
  }

  /** Resolves once the given runs (default: every run this process queued) have finished. With
   *  PostgreSQL's queue any host may run them, so the given runs' records are watched instead. */
  async waitFor(ids?: number[]): Promise<void> {
    if (this.postgresQueue && ids) {
      for (;;) {
        const open = await this.db.trainingRun.count({ where: { id: { in: ids }, status: { notIn: [...FINAL_STATUSES] } } });
        // A run this process executes settles its record last: wait for the job itself too.
        if (open === 0 && !ids.some((id) => this.postgresQueue!.isRunning(id))) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const waiting = ids ?? [...this.pending.keys()];
    await Promise.all(waiting.map((id) => this.pending.get(id)?.done));
  }

  /** Stops every job of this process: running runs become INTERRUPTED (resumable), queued ones stay
   *  QUEUED for the next process to adopt (in PostgreSQL's queue, for the next worker). */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    this.reaper = undefined;
    if (this.postgresQueue) {
      this.postgresQueue.stopAll(Stop.Shutdown);
      await this.postgresQueue.close();
      return;
    }
    const running = [...this.pending.keys()].filter((id) => this.queue?.isRunning(id));
    this.queue?.stopAll(Stop.Shutdown);
    for (const [id, { settle }] of this.pending) if (!running.includes(id)) settle();
    await this.waitFor(running);
  }

  private async execute(runId: number, signal: AbortSignal, gpu: number | undefined): Promise<void> {
    // The claim: only a QUEUED run is taken, and by one process, so a job for a cancelled run, or one
    // that arrives twice, ends here and a run never runs twice at once.
    const claim = await this.db.trainingRun.updateMany({
      where: { id: runId, status: 'QUEUED' },
      data: { status: 'RUNNING', workerId: WORKER_ID, heartbeatAt: new Date(), ownerPid: process.pid, finishedAt: null, error: null },
    });
    if (claim.count === 0) return;
    this.changed(runId);
    const run = await this.db.trainingRun.findUniqueOrThrow({ where: { id: runId }, include: { dataset: { include: { labelSchema: true } } } });
    const tasks = run.dataset.labelSchema.tasks as unknown as TaskSpec[];
    const hyper = resolveHyperparameters(run.config as Partial<Hyperparameters>);
    const runDir = path.join(this.settings.dataDir, 'runs', String(run.id));
    const checkpoint = path.join(runDir, 'checkpoint.pt');

    // Stops from outside (cancel, shutdown), the time limit, and the heartbeat's findings all end the job.
    const job = new AbortController();
    const forward = () => job.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) forward();
    const heartbeat = setInterval(() => {
      this.beat(runId)
        .then((stop) => stop && job.abort(stop))
        .catch((error) => this.log.warn({ err: error, runId }, 'could not write the heartbeat'));
    }, this.heartbeatMs);
    const stopBeating = () => {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', forward);
    };

    let runtime: PythonRuntime;
    const distillation = run.distillation as DistillationRecord | null;
    let teacherFile: string | undefined;
    let resume = false;
    try {
      runtime = await this.runtime();
      await mkdir(runDir, { recursive: true });
      resume = run.attempts > 0 && (existsSync(checkpoint) || (await this.fetchCheckpoint(run.checkpointSha256, checkpoint)));
      await this.writeItems(run.datasetId, run.dataset.imageRoot, path.join(runDir, 'items.jsonl'));
      if (distillation) teacherFile = await this.teachers!.teacherTargets(distillation.teacherEnsembleId, run.datasetId, job.signal);
      if (job.signal.aborted) throw job.signal.reason;
    } catch (error) {
      stopBeating();
      if (job.signal.aborted) {
        // Stopped while preparing (scoring a teacher can take minutes): it never ran. On shutdown it
        // goes back to QUEUED for the next process or worker to take.
        if (job.signal.reason === Stop.Shutdown) await this.requeue(runId);
        else if (job.signal.reason !== Stop.Lost) await this.finish(runId, 'CANCELLED', 'cancelled before it started', '');
        return;
      }
      await this.finish(runId, 'FAILED', ensureError(error).message, '');
      return;
    }
    const started = await this.db.trainingRun.updateMany({
      where: { id: runId, status: 'RUNNING', workerId: WORKER_ID },
      data: { startedAt: run.startedAt ?? new Date(), attempts: { increment: 1 }, runDir, ...(resume ? {} : { epochs: [], progress: undefined }) },
    });
    if (started.count === 0) {
      // Cancelled (or declared lost) while preparing.
      stopBeating();
      if ((await this.get(runId)).status === 'CANCELLED') await this.finish(runId, 'CANCELLED', 'cancelled before it started', '');
      return;
    }
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

    const timer = setTimeout(() => job.abort(Stop.Timeout), hyper.timeLimitSeconds * 1000);

    const exit = await runWorker({
      python: runtime.executable,
      signal: job.signal,
      // One job per GPU: the slot's device is the only one the worker sees.
      env: gpu === undefined ? {} : { CUDA_VISIBLE_DEVICES: String(gpu) },
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
            // The checkpoint of this epoch is on disk; with worker hosts it goes to the shared store too,
            // so that any host can resume the run.
            if (this.postgresQueue) write(() => this.storeCheckpoint(runId, checkpoint));
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
    stopBeating();
    await writes;
    if (exit.stopReason === Stop.Lost) {
      // Another process declared this worker dead and owns the run's record now: write nothing.
      this.log.warn({ runId }, 'stopped a run that was marked INTERRUPTED for a missing heartbeat');
      return;
    }

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

  /** The final record of a run this process holds (a run another process took over is left alone). */
  private async finish(runId: number, status: RunStatus, error: string | null, stderrTail: string) {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: runId, workerId: WORKER_ID },
      data: { status, error, stderrTail: stderrTail || null, finishedAt: new Date(), workerPid: null, heartbeatAt: null },
    });
    if (count === 0) return;
    this.changed(runId);
    this.events.emit('ended', runId, status);
  }

  /** A heartbeat of a run this process executes; says why to stop when the record is no longer ours
   *  to run (cancelled from another process, or declared dead by a reaper). */
  private async beat(runId: number): Promise<Stop | null> {
    const { count } = await this.db.trainingRun.updateMany({ where: { id: runId, status: 'RUNNING', workerId: WORKER_ID }, data: { heartbeatAt: new Date() } });
    if (count === 1) return null;
    const run = await this.db.trainingRun.findUnique({ where: { id: runId }, select: { status: true } });
    return run?.status === 'CANCELLED' ? Stop.Cancel : Stop.Lost;
  }

  /** Back to QUEUED after a shutdown before the worker started; PostgreSQL's queue gets a new job. */
  private async requeue(runId: number) {
    const { count } = await this.db.trainingRun.updateMany({ where: { id: runId, status: 'RUNNING', workerId: WORKER_ID }, data: { status: 'QUEUED', workerId: null, heartbeatAt: null } });
    if (count === 1 && this.postgresQueue) await this.postgresQueue.enqueue(runId);
    this.changed(runId);
  }

  private async storeCheckpoint(runId: number, checkpoint: string) {
    const { sha256 } = await this.settings.artifactStore.put(checkpoint, 'checkpoint');
    await this.db.trainingRun.update({ where: { id: runId }, data: { checkpointSha256: sha256 } });
  }

  /** Copies the run's last stored checkpoint into its folder (a resume on another host); false if none. */
  private async fetchCheckpoint(sha256: string | null, checkpoint: string): Promise<boolean> {
    if (!sha256) return false;
    await copyFile(await this.settings.artifactStore.fetch(sha256, 'checkpoint'), checkpoint);
    return true;
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
