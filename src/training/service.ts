// Training runs: startTraining validates a request, makes one run per (backbone, head) combination and
// queues them; this service orchestrates the rest. Where a run executes is its RunQueue's business (in
// this process on SQLite, any worker host on PostgreSQL), how a job runs is the RunExecutor's, and every
// change of a run's state is one conditional update in runRecord.ts. A run whose process died (same
// host: its pid is gone; any host: its heartbeat stopped) becomes INTERRUPTED and can be resumed from its
// last epoch checkpoint, which the artifact store holds for every host.
import { EventEmitter } from 'node:events';
import type { ModelCheckLimits } from '../config.js';
import type { RankingMetric } from '../data/import.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import type { Prisma, TrainingRun } from '../db/generated/client.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { onThisHost, PROCESS_ID } from '../host.js';
import { registerRunArtifact } from '../inference/registry.js';
import { LocalRunQueue } from '../jobs/localRunQueue.js';
import { PostgresRunQueue } from '../jobs/postgresRunQueue.js';
import { type ExecuteRun, type RunQueue, Stop, type WorkerSlots } from '../jobs/runQueue.js';
import { CANCELLABLE_STATUSES, RESUMABLE_STATUSES, type RunStatus } from '../jobs/statuses.js';
import type { Logger } from '../log.js';
import { storeRunValidationReport } from '../reports/store.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import { checkTeacher, type DistillationRecord, type TeacherRequest } from './distillation.js';
import { createFoldRuns, FOLD_LIMITS, recordFoldPredictions } from './folds.js';
import { type Hyperparameters, resolveHyperparameters } from './hyper.js';
import { findPython, type PythonRuntime } from './python.js';
import { RunExecutor } from './runExecutor.js';
import { heldByDeadProcessHere, type NewRun, type RunFilter, RunRecords, runWhere } from './runRecord.js';
import { RungJudge } from './sweepRungs.js';

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
  /** Where the probe of the interpreter is kept between processes (findPython's cacheDir). */
  pythonCacheDir?: string;
  /** Jobs at once; undefined = one per CUDA device, at least one. */
  concurrency?: number;
  /** PostgreSQL's job queue instead of the in-process one (runs may execute on any worker host). */
  jobQueue?: { connectionString: string };
  /** How often a running job writes its heartbeat and looks for a cancel from another host. */
  heartbeatMs: number;
  /** A RUNNING run whose heartbeat is older than this is INTERRUPTED (its host or process is gone). */
  heartbeatTimeoutMs: number;
  /** How long a finished run's export check may take (in a process of its own); default the settings'. */
  modelChecks?: ModelCheckLimits;
}

export interface Combo {
  backbone: string;
  head: string;
}

export interface StartTrainingRequest {
  datasetId: number;
  backbones?: string[];
  heads?: string[];
  combos?: Combo[];
  options?: Partial<Hyperparameters>;
  teacher?: TeacherRequest;
  /** k-fold cross-validation: k runs per combo, each validating on its own fold (TRAIN and VALIDATION pooled). */
  folds?: number;
}

/** Where a student's teacher targets come from (the distillation service). */
export interface TeacherTargets {
  teacherTargets(ensembleId: number, datasetId: number, signal?: AbortSignal): Promise<string>;
}

export class TrainingService {
  /** Emits 'run' with a run id whenever that run is created or its record changes, 'report' with a report
   *  id when a finished run stored its validation report, and 'ended' (id, status) when a job ends. */
  readonly events = new EventEmitter();
  private runtimeProbe?: Promise<PythonRuntime>;
  private readonly queue: RunQueue;
  private readonly records: RunRecords;
  private readonly executor: RunExecutor;
  private reaper?: NodeJS.Timeout;
  private readonly teachers?: TeacherTargets;

  constructor(
    private readonly db: Db,
    private readonly settings: TrainingSettings,
    private readonly log: Logger,
    teachers?: TeacherTargets,
  ) {
    this.queue = settings.jobQueue ? new PostgresRunQueue(settings.jobQueue.connectionString, log) : new LocalRunQueue();
    this.records = new RunRecords(db);
    this.teachers = teachers;
    const judge = new RungJudge(db, log);
    this.executor = new RunExecutor({
      db,
      records: this.records,
      log,
      artifactStore: settings.artifactStore,
      dataDir: settings.dataDir,
      pixelCacheDir: settings.pixelCacheDir,
      weights: settings.weights ?? {},
      heartbeatMs: settings.heartbeatMs,
      storeCheckpoints: this.queue.distributed,
      runtime: () => this.runtime(),
      teacherTargets: teachers && ((ensembleId, datasetId, signal) => teachers.teacherTargets(ensembleId, datasetId, signal)),
      registerArtifact: async (run, tasks, artifact) => {
        const stored = await registerRunArtifact(db, settings.artifactStore, run, { id: run.dataset.labelSchemaId, tasks }, artifact, settings.modelChecks);
        const report = await storeRunValidationReport(db, { datasetId: run.datasetId, runId: run.id, artifactId: stored.id }, tasks, artifact.predictionsPath);
        this.events.emit('report', report.id);
        if (run.crossValidationId !== null)
          await recordFoldPredictions(db, { crossValidationId: run.crossValidationId, foldIndex: run.foldIndex! }, artifact.predictionsPath);
      },
      judgeRung: (runId, epoch) => judge.promoted(runId, epoch),
      changed: (runId) => this.changed(runId),
      ended: (runId, status) => this.events.emit('ended', runId, status),
    });
  }

  /** What either queue runs for a job: the executor, bound once. */
  private readonly execute: ExecuteRun = (runId, signal, gpu) => this.executor.execute(runId, signal, gpu);

  /** Whether runs go through PostgreSQL's job queue (and any worker host may run them). */
  get distributed(): boolean {
    return this.queue.distributed;
  }

  /** Makes this process a worker of PostgreSQL's job queue (serve does, unless --no-worker; so does
   *  `fashion-how worker`). With the in-process queue (SQLite) the process that queues a run runs it. */
  async startWorker(slots?: Partial<WorkerSlots>): Promise<WorkerSlots | null> {
    if (!this.queue.distributed) return null;
    const gpus = slots?.gpus ?? [];
    const concurrency = slots?.concurrency ?? (gpus.length || this.settings.concurrency || 1);
    await this.queue.startWorker({ concurrency, gpus }, this.execute);
    return { concurrency, gpus };
  }

  /** Every few seconds, RUNNING runs whose worker stopped sending heartbeats become INTERRUPTED. Any
   *  process may do this; the update is conditional, so two reapers never clash. */
  startReaper(): void {
    if (this.reaper) return;
    this.reaper = setInterval(
      () => {
        this.interruptStale().catch((error) => this.log.warn({ err: error }, 'could not check training heartbeats'));
      },
      Math.max(500, Math.min(this.settings.heartbeatMs, this.settings.heartbeatTimeoutMs / 2)),
    );
    this.reaper.unref();
  }

  /** RUNNING runs whose last heartbeat is older than the timeout become INTERRUPTED; returns their ids. */
  async interruptStale(now = new Date()): Promise<number[]> {
    const interrupted: number[] = [];
    for (const run of await this.records.stale(now, this.settings.heartbeatTimeoutMs)) {
      // The dead worker's job goes first, so that the run's resume never meets it.
      await this.queue.release(run.id);
      if (await this.records.reap(run, now)) {
        interrupted.push(run.id);
        this.changed(run.id);
      }
    }
    if (interrupted.length > 0) this.log.warn({ runs: interrupted }, 'training runs without a heartbeat marked INTERRUPTED');
    return interrupted;
  }

  /** The Python runtime, probed once; a failed probe is retried next time (the user may install torch). */
  runtime(): Promise<PythonRuntime> {
    this.runtimeProbe ??= findPython(this.settings.python, this.settings.pythonCacheDir).catch((error) => {
      this.runtimeProbe = undefined;
      throw error;
    });
    return this.runtimeProbe;
  }

  /** The in-process queue works in the process that queues: one job per CUDA device unless told. */
  private async enqueue(runId: number): Promise<void> {
    if (!this.queue.distributed && !this.queue.working) {
      const runtime = await this.runtime();
      await this.queue.startWorker({ concurrency: this.settings.concurrency ?? Math.max(1, runtime.cudaDevices), gpus: [] }, this.execute);
    }
    await this.queue.enqueue(runId);
  }

  private changed(runId: number) {
    this.events.emit('run', runId);
  }

  /** Runs left RUNNING by a process of this host that is gone become INTERRUPTED (runs of other hosts
   *  are judged by their heartbeat: interruptStale). Safe in any process, run at start-up. */
  async interruptOrphans(): Promise<number[]> {
    const orphans = await this.records.orphans();
    for (const run of orphans) {
      await this.queue.release(run.id);
      await this.records.interruptOrphan(run.id);
    }
    if (orphans.length > 0) this.log.info({ runs: orphans.map((r) => r.id) }, 'marked orphaned training runs INTERRUPTED');
    return orphans.map((r) => r.id);
  }

  /** Queues, in this process, the QUEUED runs whose owner is gone (the server does this at start-up).
   *  PostgreSQL's queue keeps its jobs by itself: nothing to adopt. */
  async adoptQueued(): Promise<number[]> {
    if (this.queue.distributed) return [];
    const orphans = await this.records.unownedQueued();
    try {
      for (const run of orphans) {
        await this.records.adopt(run.id);
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
    requireLabels(dataset, 'train on');
    // Epochs are ranked by what the dataset is ranked by, unless the request says otherwise.
    const hyper = resolveHyperparameters({ ...request.options, selectionMetric: request.options?.selectionMetric ?? (dataset.rankingMetric as RankingMetric) });
    const combos = [...(request.combos ?? []), ...(request.backbones ?? []).flatMap((backbone) => (request.heads ?? []).map((head) => ({ backbone, head })))];
    if (combos.length === 0) throw badInput('give at least one backbone and one head, or explicit combos');
    if ((request.backbones?.length ?? 0) > 0 !== (request.heads?.length ?? 0) > 0) {
      throw badInput('backbones and heads go together: every backbone is trained with every head');
    }
    await this.checkTrainable(combos, hyper);
    const unique = [...new Map(combos.map((c) => [`${c.backbone}+${c.head}`, c])).values()];
    const teacher = request.teacher ? await this.checkTeacher(request.teacher, dataset.labelSchemaId) : null;
    const folds = request.folds ?? null;
    if (folds !== null && teacher) throw badInput('folds and a teacher do not go together: distil a student from the fold ensemble instead');
    if (folds !== null && !(Number.isInteger(folds) && folds >= FOLD_LIMITS.min && folds <= FOLD_LIMITS.max))
      throw badInput(`folds must be an integer from ${FOLD_LIMITS.min} to ${FOLD_LIMITS.max}, got ${folds}`);
    return this.queueNew(async (createRun, tx) => {
      const created: TrainingRun[] = [];
      for (const combo of unique) {
        const data = { datasetId: dataset.id, ...combo, config: hyper as object };
        if (folds !== null) {
          created.push(...(await createFoldRuns(tx, createRun, data, folds, hyper.seed)));
          continue;
        }
        if (!teacher) {
          created.push(await createRun(data));
          continue;
        }
        // The baseline first: on one queue it finishes before its student, which then compares at once.
        const baseline = teacher.compareWithoutTeacher ? await createRun(data) : null;
        if (baseline) created.push(baseline);
        const distillation: DistillationRecord = {
          teacherEnsembleId: teacher.ensembleId,
          temperature: teacher.temperature,
          alpha: teacher.alpha,
          baselineRunId: baseline?.id ?? null,
        };
        created.push(await createRun({ ...data, distillation: distillation as object }));
      }
      return created;
    });
  }

  /** A teacher request checked against the dataset's label schema, in a process that can distil. */
  checkTeacher(request: TeacherRequest, labelSchemaId: number) {
    if (!this.teachers) throw new AppError(ErrorCode.UNAVAILABLE, 'distillation is not available in this process');
    return checkTeacher(this.db, request, labelSchemaId);
  }

  /** Creates runs in one transaction (with whatever else `create` writes through the same client)
   *  and queues each of them once it is committed. */
  async queueNew<T>(create: (createRun: (data: NewRun) => Promise<TrainingRun>, tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    const runs: TrainingRun[] = [];
    const result = await this.db.$transaction((tx) =>
      create(async (data) => {
        const run = await this.records.create(tx, data);
        runs.push(run);
        return run;
      }, tx),
    );
    for (const run of runs) {
      this.changed(run.id);
      await this.enqueue(run.id);
    }
    return result;
  }

  /** Checks combos and options against this host's worker; a host that only queues (serve --no-worker,
   *  no torch) leaves the check to the worker host. */
  async checkTrainable(combos: Combo[], hyper: Hyperparameters): Promise<PythonRuntime | null> {
    const runtime = await this.runtime().catch((error: unknown) => {
      if (this.queue.distributed) return null;
      throw error;
    });
    if (runtime) this.checkCombos(combos, hyper, runtime);
    return runtime;
  }

  private checkCombos(combos: Combo[], hyper: Hyperparameters, runtime: PythonRuntime) {
    for (const { backbone, head } of combos) {
      if (!runtime.backbones.includes(backbone)) throw badInput(`Unsupported backbone "${backbone}". Choose one of: ${runtime.backbones.join(', ')}`);
      if (!runtime.heads.includes(head)) throw badInput(`Unsupported head "${head}". Choose one of: ${runtime.heads.join(', ')}`);
    }
    // With a job queue the run may go to a GPU host; only the in-process queue knows the device here.
    if (!this.queue.distributed && hyper.device === 'cuda' && runtime.cudaDevices === 0)
      throw badInput('device "cuda" was asked for, but torch sees no CUDA device here');
  }

  async get(id: number): Promise<TrainingRun> {
    const run = await this.db.trainingRun.findUnique({ where: { id } });
    if (!run) throw notFound('run', id);
    return run;
  }

  list(filter: RunFilter = {}): Promise<TrainingRun[]> {
    return this.db.trainingRun.findMany({ where: runWhere(filter), orderBy: { id: 'asc' } });
  }

  /** The run, when it matches the filter; null otherwise. */
  findMatching(id: number, filter: RunFilter): Promise<TrainingRun | null> {
    return this.db.trainingRun.findFirst({ where: { AND: [{ id }, runWhere(filter)] } });
  }

  /** Stops a queued or running run; a running one ends as CANCELLED with its last checkpoint kept for resumeRun. */
  async cancel(id: number): Promise<TrainingRun> {
    const run = await this.get(id);
    const status = run.status as RunStatus;
    if (!CANCELLABLE_STATUSES.has(status)) {
      throw new AppError(ErrorCode.CONFLICT, `run ${id} is ${status}; only QUEUED or RUNNING runs can be cancelled`);
    }
    const stopped = this.queue.stop(id, Stop.Cancel);
    if (stopped === 'aborted') {
      // The job itself writes CANCELLED as it ends.
      await this.waitFor([id]);
      return this.get(id);
    }
    if (status === 'RUNNING' && run.workerId !== PROCESS_ID && !heldByDeadProcessHere(run)) {
      // Held by another process (a CLI, another server, a worker host): mark it; its holder sees the
      // CANCELLED status at its next heartbeat, stops its worker and keeps the status. On this host the
      // worker is also signalled at once.
      await this.records.cancelHeldElsewhere(id);
      if (run.workerPid && run.workerId && onThisHost(run.workerId)) {
        try {
          process.kill(-run.workerPid, 'SIGTERM');
        } catch {
          // The worker already ended.
        }
      }
    } else {
      await this.records.cancel(id);
    }
    // A job dropped from this process's queue wakes its waiters now that its record says CANCELLED.
    if (stopped === 'dropped') await this.queue.release(id);
    this.changed(id);
    return this.get(id);
  }

  /** Queues an INTERRUPTED, CANCELLED or FAILED run again; it continues from its last checkpoint if it has one. */
  async resume(id: number): Promise<TrainingRun> {
    const run = await this.get(id);
    if (!RESUMABLE_STATUSES.has(run.status)) {
      throw new AppError(ErrorCode.CONFLICT, `run ${id} is ${run.status}; only ${[...RESUMABLE_STATUSES].join(', ')} runs can be resumed`);
    }
    if (!this.queue.distributed) await this.runtime();
    const updated = await this.records.resume(id);
    this.changed(id);
    await this.enqueue(id);
    return updated;
  }

  /** Resolves once the given runs (default: every run this process queued) have finished. With
   *  PostgreSQL's queue any host may run them, so the given runs' records are watched instead. */
  async waitFor(ids?: number[]): Promise<void> {
    if (this.queue.distributed && ids) {
      for (;;) {
        // A run this process executes settles its record last: wait for the job itself too.
        if ((await this.records.countOpen(ids)) === 0 && !ids.some((id) => this.queue.isRunning(id))) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    await Promise.all((ids ?? this.queue.held()).map((id) => this.queue.settled(id)));
  }

  /** Stops every job of this process: running runs become INTERRUPTED (resumable), queued ones stay
   *  QUEUED for the next process to adopt (in PostgreSQL's queue, for the next worker). */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    this.reaper = undefined;
    await this.queue.close(Stop.Shutdown);
  }
}
