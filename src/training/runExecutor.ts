// The run executor: runs one claimed job from start to end. It prepares the run's folder (a checkpoint
// to resume from, the items file, a teacher's targets), spawns the Python worker, maps its events into
// the run's record as they arrive, and writes the final status from how the worker ended. What a
// finished run leaves (its artifact and report) is registered by the function it is handed.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Photos } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { TrainingRun } from '../db/generated/client.js';
import type { TaskSpec } from '../domain.js';
import { ensureError } from '../errors.js';
import { Stop } from '../jobs/runQueue.js';
import type { RunStatus } from '../jobs/statuses.js';
import type { Logger } from '../log.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import type { DistillationRecord } from './distillation.js';
import { foldSplits } from './folds.js';
import { type Hyperparameters, preprocessFor, resolveHyperparameters } from './hyper.js';
import type { PythonRuntime } from './python.js';
import type { EpochRecord, RunProgress, RunRecords } from './runRecord.js';
import { trialOf } from './sweep.js';
import { runWorker, type WorkerEvent } from './workerProcess.js';

export type ArtifactEvent = Extract<WorkerEvent, { event: 'artifact' }>;
type RunWithSchema = TrainingRun & { dataset: { imageRoot: string; labelSchemaId: number; labelSchema: { tasks: unknown } } };

export interface ExecutorDependencies {
  db: Db;
  records: RunRecords;
  log: Logger;
  artifactStore: ArtifactStore;
  dataDir: string;
  pixelCacheDir: string;
  weights: { dir?: string; mirror?: string; manifest?: string };
  heartbeatMs: number;
  /** With worker hosts every epoch's checkpoint goes to the artifact store, so that any host can resume. */
  storeCheckpoints: boolean;
  runtime(): Promise<PythonRuntime>;
  /** The file of a student's teacher targets (the distillation service). */
  teacherTargets?(ensembleId: number, datasetId: number, signal?: AbortSignal): Promise<string>;
  /** A sweep's trial finished a rung epoch: whether it goes on (ASHA); never throws. */
  judgeRung(runId: number, epoch: number): Promise<boolean>;
  /** Registers what a finished run left (its checked artifact and validation report); a throw fails the run. */
  registerArtifact(run: RunWithSchema, tasks: TaskSpec[], artifact: ArtifactEvent): Promise<void>;
  /** The run's record changed. */
  changed(runId: number): void;
  /** The run's job ended with this final status. */
  ended(runId: number, status: RunStatus): void;
}

export class RunExecutor {
  constructor(private readonly deps: ExecutorDependencies) {}

  /** Runs a QUEUED run in this process: claims it (a job for a run that is not QUEUED ends here),
   *  runs the worker, and finishes the record. */
  async execute(runId: number, signal: AbortSignal, gpu: number | undefined): Promise<void> {
    const { db, records } = this.deps;
    if (!(await records.claim(runId))) return;
    this.deps.changed(runId);
    const run = await db.trainingRun.findUniqueOrThrow({ where: { id: runId }, include: { dataset: { include: { labelSchema: true } } } });
    const tasks = run.dataset.labelSchema.tasks as unknown as TaskSpec[];
    const hyper = resolveHyperparameters(run.config as Partial<Hyperparameters>);
    const runDir = path.join(this.deps.dataDir, 'runs', String(run.id));
    const checkpoint = path.join(runDir, 'checkpoint.pt');

    // Stops from outside (cancel, shutdown), the time limit, and the heartbeat's findings all end the job.
    const job = new AbortController();
    const forward = () => job.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) forward();
    const heartbeat = setInterval(() => {
      records
        .beat(runId)
        .then((outcome) => outcome !== 'ours' && job.abort(outcome === 'cancelled' ? Stop.Cancel : Stop.Lost))
        .catch((error) => this.deps.log.warn({ err: error, runId }, 'could not write the heartbeat'));
    }, this.deps.heartbeatMs);
    const stopBeating = () => {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', forward);
    };

    const prepared = await this.prepare(run, runDir, checkpoint, job.signal).catch(async (error: unknown) => {
      stopBeating();
      if (job.signal.aborted) {
        // Stopped while preparing (scoring a teacher can take minutes): it never ran. On shutdown it
        // goes back to QUEUED for the next process or worker to take.
        if (job.signal.reason === Stop.Shutdown) await this.requeue(runId);
        else if (job.signal.reason !== Stop.Lost) await this.finish(runId, 'CANCELLED', 'cancelled before it started', '');
      } else await this.finish(runId, 'FAILED', ensureError(error).message, '');
      return null;
    });
    if (!prepared) return;
    if (!(await records.start(run, runDir, prepared.resume))) {
      // Cancelled (or declared lost) while preparing.
      stopBeating();
      if ((await db.trainingRun.findUnique({ where: { id: runId }, select: { status: true } }))?.status === 'CANCELLED')
        await this.finish(runId, 'CANCELLED', 'cancelled before it started', '');
      return;
    }
    this.deps.changed(runId);

    const events = this.eventRecorder(run, prepared.resume, checkpoint);
    const timer = setTimeout(() => job.abort(Stop.Timeout), hyper.timeLimitSeconds * 1000);
    const { runtime, teacherFile } = prepared;
    const distillation = run.distillation as DistillationRecord | null;
    const exit = await runWorker({
      python: runtime.executable,
      signal: job.signal,
      // One job per GPU: the slot's device is the only one the worker sees.
      env: gpu === undefined ? {} : { CUDA_VISIBLE_DEVICES: String(gpu) },
      config: {
        runDir,
        itemsFile: path.join(runDir, 'items.jsonl'),
        cacheDir: this.deps.pixelCacheDir,
        weights: this.deps.weights,
        teacher: distillation && teacherFile ? { file: teacherFile, temperature: distillation.temperature, alpha: distillation.alpha } : null,
        tasks: tasks.map(({ name, classes }) => ({ name, classes })),
        backbone: run.backbone,
        head: run.head,
        preprocess: preprocessFor(hyper),
        hyper,
        resume: prepared.resume,
        checkItems: 8,
        rungEpochs: trialOf(run)?.rungEpochs ?? [],
      },
      onSpawn: (pid) => events.write(() => db.trainingRun.update({ where: { id: runId }, data: { workerPid: pid } })),
      onEvent: (event) => events.record(event),
    }).catch((error: unknown) => ({
      code: null,
      signal: null,
      stopReason: undefined,
      stderrTail: `could not start ${runtime.executable}: ${ensureError(error).message}`,
    }));
    clearTimeout(timer);
    stopBeating();
    await events.flushed();
    if (exit.stopReason === Stop.Lost) {
      // Another process declared this worker dead and owns the run's record now: write nothing.
      this.deps.log.warn({ runId }, 'stopped a run that was marked INTERRUPTED for a missing heartbeat');
      return;
    }

    const current = await db.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true } });
    if (exit.stopReason === Stop.Cancel || current.status === 'CANCELLED') {
      if (!existsSync(checkpoint)) await rm(runDir, { recursive: true, force: true });
      await this.finish(
        runId,
        'CANCELLED',
        existsSync(checkpoint) ? 'cancelled; the last epoch checkpoint is kept for resumeRun' : 'cancelled before the first checkpoint',
        exit.stderrTail,
      );
    } else if (exit.stopReason === Stop.Shutdown) {
      await this.finish(runId, 'INTERRUPTED', 'the server shut down during the run; resume it with resumeRun', exit.stderrTail);
    } else if (exit.stopReason === Stop.Timeout) {
      await this.finish(runId, 'FAILED', `the run exceeded its time limit of ${hyper.timeLimitSeconds} s`, exit.stderrTail);
    } else if (exit.code === 0 && events.done && events.artifact) {
      try {
        await this.deps.registerArtifact(run, tasks, events.artifact);
        await this.finish(runId, 'SUCCEEDED', null, exit.stderrTail);
      } catch (error) {
        await this.finish(runId, 'FAILED', `the run trained but its artifact was refused: ${ensureError(error).message}`, exit.stderrTail);
      }
    } else {
      const how = exit.signal ? `the worker was killed by ${exit.signal}` : `the worker exited with code ${exit.code}`;
      await this.finish(runId, 'FAILED', events.error ? `${events.error} (${how})` : how, exit.stderrTail);
    }
  }

  /** The run's folder before the worker starts: a checkpoint to resume from (fetched from the store
   *  when it was written on another host), the items file, and a student's teacher targets. */
  private async prepare(run: RunWithSchema, runDir: string, checkpoint: string, signal: AbortSignal) {
    const runtime = await this.deps.runtime();
    await mkdir(runDir, { recursive: true });
    const resume = run.attempts > 0 && (existsSync(checkpoint) || (await this.fetchCheckpoint(run.checkpointSha256, checkpoint)));
    await this.writeItems(run, path.join(runDir, 'items.jsonl'));
    const distillation = run.distillation as DistillationRecord | null;
    const teacherFile = distillation ? await this.deps.teacherTargets!(distillation.teacherEnsembleId, run.datasetId, signal) : undefined;
    if (signal.aborted) throw signal.reason;
    return { runtime, resume, teacherFile };
  }

  /** Writes the worker's events into the run's record in event order (a slow write never reorders
   *  progress and epochs), and keeps what decides the final status. */
  private eventRecorder(run: RunWithSchema, resume: boolean, checkpoint: string) {
    const { db, log } = this.deps;
    const runId = run.id;
    let writes: Promise<unknown> = Promise.resolve();
    const write = (update: () => Promise<unknown>) => {
      writes = writes
        .then(update)
        .then(() => this.deps.changed(runId))
        .catch((error) => log.error({ err: error, runId }, 'could not record a worker event'));
    };
    // Every stored progress has the fields RunProgress requires, whichever event comes first (a run
    // whose images are all cached reports the cache before anything else).
    const mergeProgress = async (patch: Partial<RunProgress> & Record<string, unknown>) => {
      const current = (await db.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { progress: true } })).progress as Record<string, unknown> | null;
      const start = { phase: 'PREPARING_IMAGES', epoch: 0, step: 0, totalSteps: 0, loss: null, imagesPerSecond: null, lr: null };
      await db.trainingRun.update({
        where: { id: runId },
        data: { progress: { ...start, ...current, ...patch, updatedAt: new Date().toISOString() } as object },
      });
    };
    const epochs: EpochRecord[] = resume ? ((run.epochs as unknown as EpochRecord[] | null) ?? []) : [];
    const state = {
      write,
      flushed: () => writes,
      artifact: undefined as ArtifactEvent | undefined,
      error: undefined as string | undefined,
      done: false,
      record: (event: WorkerEvent) => {
        switch (event.event) {
          case 'preparing':
            write(() => mergeProgress({ phase: event.waiting ? 'WAITING_FOR_IMAGES' : 'PREPARING_IMAGES', prepared: event.done, toPrepare: event.total }));
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
              await db.trainingRun.update({ where: { id: runId }, data: { device: event.device, pretrained: event.pretrained } });
              await mergeProgress({
                phase: 'TRAINING',
                prepared: null,
                toPrepare: null,
                epoch: event.resumedFromEpoch ?? 0,
                step: 0,
                totalSteps: event.totalSteps,
                loss: null,
                imagesPerSecond: null,
                lr: null,
                resumedFromEpoch: event.resumedFromEpoch,
                parameterCount: event.parameterCount,
                mixedPrecision: event.mixedPrecision,
                trainExamples: event.trainExamples,
                dataLoaderWorkers: event.dataLoaderWorkers,
                compiled: event.compiled,
                weights: event.weightsSource,
                warnings: event.warnings,
                budget: event.budget,
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
            write(() => db.trainingRun.update({ where: { id: runId }, data: { epochs: snapshot as object[] } }));
            // The checkpoint of this epoch is on disk; with worker hosts it goes to the shared store too,
            // so that any host can resume the run.
            if (this.deps.storeCheckpoints) write(() => this.storeCheckpoint(runId, checkpoint));
            // A sweep's rung: the trial waits for the verdict, judged once this epoch is on record.
            if (trialOf(run)?.rungEpochs.includes(record.epoch)) write(() => this.deliverVerdict(runId, record.epoch, path.dirname(checkpoint)));
            break;
          }
          case 'artifact':
            state.artifact = event;
            if (event.training) write(() => mergeProgress({ selection: event.training }));
            break;
          case 'done':
            state.done = true;
            break;
          case 'error':
            state.error = event.message;
            break;
          default: {
            const unexpected: never = event;
            log.warn({ event: unexpected, runId }, 'unknown worker event');
          }
        }
      },
    };
    return state;
  }

  private async deliverVerdict(runId: number, epoch: number, runDir: string) {
    const promoted = await this.deps.judgeRung(runId, epoch);
    // Written whole, then renamed: the worker never reads half a verdict.
    const file = path.join(runDir, `rung-${epoch}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify({ promoted }));
    await rename(`${file}.tmp`, file);
  }

  private async finish(runId: number, status: RunStatus, error: string | null, stderrTail: string) {
    if (!(await this.deps.records.finish(runId, status, error, stderrTail))) return;
    this.deps.changed(runId);
    this.deps.ended(runId, status);
  }

  private async requeue(runId: number) {
    await this.deps.records.requeue(runId);
    this.deps.changed(runId);
  }

  private async storeCheckpoint(runId: number, checkpoint: string) {
    const { sha256 } = await this.deps.artifactStore.put(checkpoint, 'checkpoint');
    await this.deps.db.trainingRun.update({ where: { id: runId }, data: { checkpointSha256: sha256 } });
  }

  /** Copies the run's last stored checkpoint into its folder (a resume on another host); false if none. */
  private async fetchCheckpoint(sha256: string | null, checkpoint: string): Promise<boolean> {
    if (!sha256) return false;
    await copyFile(await this.deps.artifactStore.fetch(sha256, 'checkpoint'), checkpoint);
    return true;
  }

  /** The worker reads items from a file: a local path of the photo, bbox, labels in task order, split. */
  private async writeItems(run: RunWithSchema, file: string) {
    const { datasetId } = run;
    const imageRoot = run.dataset.imageRoot;
    // A fold of a cross-validation trains on the other folds and validates on its own.
    const folds =
      run.crossValidationId !== null
        ? await foldSplits(this.deps.db, { datasetId, crossValidationId: run.crossValidationId, foldIndex: run.foldIndex! })
        : null;
    const items = await this.deps.db.item.findMany({
      where: { datasetId, split: { in: ['TRAIN', 'VALIDATION'] } },
      include: { labels: { orderBy: { task: 'asc' }, select: { classIndex: true } } },
      orderBy: { id: 'asc' },
    });
    // Each photo from the artifact store into this host's verified cache: a worker host needs no access
    // to the folder (or upload) the dataset came from.
    const files = await new Photos(this.deps.artifactStore).files(items, imageRoot);
    const lines = items.map((item, i) =>
      JSON.stringify({
        id: item.id,
        path: files[i],
        bbox: [item.xmin, item.ymin, item.xmax, item.ymax],
        labels: item.labels.map((l) => l.classIndex),
        split: folds?.get(item.id) ?? item.split,
      }),
    );
    await writeFile(file, `${lines.join('\n')}\n`);
  }
}
