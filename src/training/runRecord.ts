// Every state change of a training run's record, each one conditional update (the model is
// graphile-worker's sql/ folder: getJob, completeJob, failJob, resetLockedAt). The condition is what
// keeps several processes on several hosts honest: only a QUEUED run is claimed, only the process that
// holds a run (workerId) writes its heartbeat and its final status, and a reaper interrupts a run only
// if its heartbeat is still the stale one it saw.
import type { Db } from '../db/client.js';
import type { Prisma, TrainingRun } from '../db/generated/client.js';
import { diedOnThisHost, isAlive, PROCESS_ID } from '../host.js';
import { type BeatOutcome, FINAL_STATUSES, type RunStatus } from '../jobs/statuses.js';
import type { EpochFacts, ProgressFacts } from '../reports/cardRecords.js';
import type { BudgetPlan, ImageCacheUse, TaskMetric, TrainingSelection, WeightsRecord } from './workerProcess.js';

/** What the worker is doing: waiting for another run's cache build, decoding images into the cache, or training. */
export type RunPhase = 'DOWNLOADING_WEIGHTS' | 'WAITING_FOR_IMAGES' | 'PREPARING_IMAGES' | 'TRAINING';

/** What a run's record holds of its progress (a model card reads part of it: ProgressFacts). */
export interface RunProgress extends ProgressFacts {
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
  /** With a time budget: what the run measured and chose. */
  budget?: BudgetPlan | null;
  /** Once exported: which epoch's weights the artifact holds, and why training stopped. */
  selection?: TrainingSelection;
}

export interface EpochRecord extends EpochFacts {
  epoch: number;
  trainLoss: number;
  seconds: number;
  validation: TaskMetric[];
  /** Whose figures these are: the weights as trained, or their moving average (emaDecay); absent before averages existed. */
  weights?: 'model' | 'ema';
}

/** Whether a run's holder is a process on this host that is gone (a same-host check needs no timeout). */
export function heldByDeadProcessHere(run: Pick<TrainingRun, 'workerId' | 'ownerPid'>): boolean {
  if (run.workerId) return diedOnThisHost(run.workerId);
  // Written by a version without worker ids: its owner ran on this host.
  return !(run.ownerPid && run.ownerPid !== process.pid && isAlive(run.ownerPid));
}

export interface RunFilter {
  status?: RunStatus[];
  datasetId?: number;
  backbone?: string;
  head?: string;
}

/** The storage query of a run filter: every given field must match. */
export function runWhere(filter: RunFilter): Prisma.TrainingRunWhereInput {
  return {
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter.datasetId ? { datasetId: filter.datasetId } : {}),
    ...(filter.backbone ? { backbone: filter.backbone } : {}),
    ...(filter.head ? { head: filter.head } : {}),
  };
}

/** What a new run is made of; its status and owner are RunRecords.create's to set. */
export type NewRun = Omit<Prisma.TrainingRunUncheckedCreateInput, 'status' | 'ownerPid'>;

/** The run records as this process (PROCESS_ID) changes them. */
export class RunRecords {
  constructor(private readonly db: Db) {}

  /** New QUEUED runs, owned by this process until a worker claims them. */
  create(tx: Prisma.TransactionClient, data: NewRun): Promise<TrainingRun> {
    return tx.trainingRun.create({ data: { ...data, status: 'QUEUED', ownerPid: process.pid } });
  }

  /** QUEUED -> RUNNING by this process; false when the run is not QUEUED (cancelled, or a job that
   *  arrived twice), so a run never runs twice at once. */
  async claim(runId: number): Promise<boolean> {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: runId, status: 'QUEUED' },
      data: { status: 'RUNNING', workerId: PROCESS_ID, heartbeatAt: new Date(), ownerPid: process.pid, finishedAt: null, error: null },
    });
    return count === 1;
  }

  /** The worker is about to start: one more attempt, in this folder (epochs kept on a resume). False
   *  when the run stopped being ours while it was prepared. */
  async start(run: Pick<TrainingRun, 'id' | 'startedAt'>, runDir: string, resume: boolean): Promise<boolean> {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: run.id, status: 'RUNNING', workerId: PROCESS_ID },
      data: { startedAt: run.startedAt ?? new Date(), attempts: { increment: 1 }, runDir, ...(resume ? {} : { epochs: [], progress: undefined }) },
    });
    return count === 1;
  }

  /** A heartbeat of a run this process executes. */
  async beat(runId: number): Promise<BeatOutcome> {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: runId, status: 'RUNNING', workerId: PROCESS_ID },
      data: { heartbeatAt: new Date() },
    });
    if (count === 1) return 'ours';
    const run = await this.db.trainingRun.findUnique({ where: { id: runId }, select: { status: true } });
    return run?.status === 'CANCELLED' ? 'cancelled' : 'lost';
  }

  /** The final record of a run this process holds; false (nothing written) when another process took it over. */
  async finish(runId: number, status: RunStatus, error: string | null, stderrTail: string): Promise<boolean> {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: runId, workerId: PROCESS_ID },
      data: { status, error, stderrTail: stderrTail || null, finishedAt: new Date(), workerPid: null, heartbeatAt: null },
    });
    return count === 1;
  }

  /** RUNNING -> QUEUED after a shutdown before the worker started; true when it was ours to give back. */
  async requeue(runId: number): Promise<boolean> {
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: runId, status: 'RUNNING', workerId: PROCESS_ID },
      data: { status: 'QUEUED', workerId: null, heartbeatAt: null },
    });
    return count === 1;
  }

  /** RUNNING runs whose last heartbeat is older than `timeoutMs`. */
  stale(now: Date, timeoutMs: number): Promise<TrainingRun[]> {
    return this.db.trainingRun.findMany({ where: { status: 'RUNNING', heartbeatAt: { lt: new Date(now.getTime() - timeoutMs) } }, orderBy: { id: 'asc' } });
  }

  /** RUNNING -> INTERRUPTED for a run whose heartbeat stopped, unless it beat again since it was read
   *  (or another reaper was first); true when this call interrupted it. */
  async reap(run: TrainingRun, now: Date): Promise<boolean> {
    const seconds = Math.round((now.getTime() - run.heartbeatAt!.getTime()) / 1000);
    const { count } = await this.db.trainingRun.updateMany({
      where: { id: run.id, status: 'RUNNING', workerId: run.workerId, heartbeatAt: run.heartbeatAt },
      data: {
        status: 'INTERRUPTED',
        finishedAt: now,
        workerPid: null,
        error: `its worker ${run.workerId ?? ''} stopped sending heartbeats ${seconds} s ago (host or process gone); resume it with resumeRun`,
      },
    });
    return count === 1;
  }

  /** RUNNING runs held by a process of this host that is gone (runs of other hosts are judged by their heartbeat). */
  async orphans(): Promise<TrainingRun[]> {
    return (await this.db.trainingRun.findMany({ where: { status: 'RUNNING' }, orderBy: { id: 'asc' } })).filter(heldByDeadProcessHere);
  }

  async interruptOrphan(runId: number): Promise<void> {
    await this.db.trainingRun.update({
      where: { id: runId },
      data: {
        status: 'INTERRUPTED',
        finishedAt: new Date(),
        workerPid: null,
        error: 'the process running this job stopped (restart or crash); resume it with resumeRun',
      },
    });
  }

  /** QUEUED runs whose owning process is gone (or is this one): the in-process queue adopts them. */
  async unownedQueued(): Promise<TrainingRun[]> {
    return (await this.db.trainingRun.findMany({ where: { status: 'QUEUED' }, orderBy: { id: 'asc' } })).filter(
      (run) => !(run.ownerPid && isAlive(run.ownerPid)) || run.ownerPid === process.pid,
    );
  }

  async adopt(runId: number): Promise<void> {
    await this.db.trainingRun.update({ where: { id: runId }, data: { ownerPid: process.pid } });
  }

  /** Marks a run another process holds CANCELLED; its holder sees it at its next heartbeat and stops. */
  async cancelHeldElsewhere(runId: number): Promise<void> {
    await this.db.trainingRun.updateMany({ where: { id: runId, status: 'RUNNING' }, data: { status: 'CANCELLED', finishedAt: new Date() } });
  }

  async cancel(runId: number): Promise<void> {
    await this.db.trainingRun.update({ where: { id: runId }, data: { status: 'CANCELLED', finishedAt: new Date(), workerPid: null } });
  }

  /** Back to QUEUED for resumeRun, owned by this process until a worker claims it. */
  resume(runId: number): Promise<TrainingRun> {
    return this.db.trainingRun.update({
      where: { id: runId },
      data: { status: 'QUEUED', error: null, finishedAt: null, ownerPid: process.pid, workerId: null, heartbeatAt: null },
    });
  }

  /** How many of these runs are not final yet. */
  countOpen(ids: number[]): Promise<number> {
    return this.db.trainingRun.count({ where: { id: { in: ids }, status: { notIn: [...FINAL_STATUSES] } } });
  }
}
