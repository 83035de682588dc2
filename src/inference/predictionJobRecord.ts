// Every state change of a prediction job's record, each one conditional update, as runRecord.ts does
// for training runs: only a QUEUED job is claimed, only the process holding a job (workerId) writes its
// rows, heartbeat and final status, and a reaper interrupts a job only if its heartbeat is still the
// stale one it saw. A chunk of rows is written in the same transaction as the count that says it is
// done, so a process killed at any point leaves either the whole chunk or none of it.
import type { Db } from '../db/client.js';
import type { PredictionJob, Prisma } from '../db/generated/client.js';
import type { TaskSpec } from '../domain.js';
import { diedOnThisHost, isAlive, PROCESS_ID } from '../host.js';
import type { BeatOutcome, RunStatus } from '../jobs/statuses.js';

export { CANCELLABLE_STATUSES, FINAL_STATUSES, RESUMABLE_STATUSES } from '../jobs/statuses.js';
/** A prediction job goes through the same statuses as a training run. */
export type PredictionJobStatus = RunStatus;

/** One scored item as a job stores it. */
export interface PredictionRow {
  itemId: number;
  line: number;
  /** Per task: the argmax of its probabilities. */
  predicted: number[];
  probabilities: number[][];
}

/** The job stopped being this process's while it wrote (cancelled or declared lost elsewhere). */
export class JobNotOursError extends Error {
  constructor(jobId: number) {
    super(`prediction job ${jobId} is no longer held by this process`);
    this.name = 'JobNotOursError';
  }
}

/** Whether a job's holder is a process of this host that is gone (no heartbeat timeout needed). */
function heldByDeadProcessHere(job: Pick<PredictionJob, 'workerId'>): boolean {
  return job.workerId !== null && diedOnThisHost(job.workerId);
}

export class PredictionJobRecords {
  constructor(private readonly db: Db) {}

  create(data: Omit<Prisma.PredictionJobUncheckedCreateInput, 'status' | 'ownerPid'>): Promise<PredictionJob> {
    return this.db.predictionJob.create({ data: { ...data, status: 'QUEUED', ownerPid: process.pid } });
  }

  /** QUEUED -> RUNNING by this process, one more attempt, itemsDone recounted from the stored rows
   *  (what a killed attempt committed is kept); false when the job is not QUEUED. */
  async claim(jobId: number): Promise<boolean> {
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: {
        status: 'RUNNING',
        workerId: PROCESS_ID,
        heartbeatAt: new Date(),
        ownerPid: process.pid,
        finishedAt: null,
        error: null,
        attempts: { increment: 1 },
      },
    });
    if (count !== 1) return false;
    const done = await this.db.predictionJobRow.count({ where: { jobId } });
    const job = await this.db.predictionJob.findUniqueOrThrow({ where: { id: jobId }, select: { startedAt: true } });
    await this.db.predictionJob.update({ where: { id: jobId }, data: { itemsDone: done, startedAt: job.startedAt ?? new Date() } });
    return true;
  }

  /** Stores a chunk's rows and counts them done, in one transaction, only while the job is ours. */
  async writeRows(jobId: number, rows: PredictionRow[], itemsPerSecond: number | null): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.predictionJob.updateMany({
        where: { id: jobId, status: 'RUNNING', workerId: PROCESS_ID },
        data: { itemsDone: { increment: rows.length }, heartbeatAt: new Date(), ...(itemsPerSecond !== null ? { itemsPerSecond } : {}) },
      });
      if (count !== 1) throw new JobNotOursError(jobId);
      await tx.predictionJobRow.createMany({
        data: rows.map((row) => ({ jobId, itemId: row.itemId, line: row.line, predicted: row.predicted, probabilities: row.probabilities })),
      });
    });
  }

  /** A heartbeat of a job this process runs. */
  async beat(jobId: number): Promise<BeatOutcome> {
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: jobId, status: 'RUNNING', workerId: PROCESS_ID },
      data: { heartbeatAt: new Date() },
    });
    if (count === 1) return 'ours';
    const job = await this.db.predictionJob.findUnique({ where: { id: jobId }, select: { status: true } });
    return job?.status === 'CANCELLED' ? 'cancelled' : 'lost';
  }

  /** The final record of a job this process holds; false when another process took it over. */
  async finish(jobId: number, status: PredictionJobStatus, error: string | null, results?: Prisma.PredictionJobUpdateManyMutationInput): Promise<boolean> {
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: jobId, workerId: PROCESS_ID, status: { in: ['RUNNING', 'CANCELLED'] } },
      data: { ...results, status, error, finishedAt: new Date(), heartbeatAt: null },
    });
    return count === 1;
  }

  /** RUNNING -> QUEUED at a shutdown before any row was written; true when it was ours to give back. */
  async requeue(jobId: number): Promise<boolean> {
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: jobId, status: 'RUNNING', workerId: PROCESS_ID },
      data: { status: 'QUEUED', workerId: null, heartbeatAt: null },
    });
    return count === 1;
  }

  stale(now: Date, timeoutMs: number): Promise<PredictionJob[]> {
    return this.db.predictionJob.findMany({ where: { status: 'RUNNING', heartbeatAt: { lt: new Date(now.getTime() - timeoutMs) } }, orderBy: { id: 'asc' } });
  }

  /** RUNNING -> INTERRUPTED for a job whose heartbeat stopped, unless it beat again since it was read. */
  async reap(job: PredictionJob, now: Date): Promise<boolean> {
    const seconds = Math.round((now.getTime() - job.heartbeatAt!.getTime()) / 1000);
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: job.id, status: 'RUNNING', workerId: job.workerId, heartbeatAt: job.heartbeatAt },
      data: {
        status: 'INTERRUPTED',
        finishedAt: now,
        error: `its worker ${job.workerId ?? ''} stopped sending heartbeats ${seconds} s ago (host or process gone); resume it to score the items left`,
      },
    });
    return count === 1;
  }

  /** RUNNING jobs held by a process of this host that is gone become INTERRUPTED; their ids. */
  async interruptOrphans(): Promise<number[]> {
    const orphans = (await this.db.predictionJob.findMany({ where: { status: 'RUNNING' }, orderBy: { id: 'asc' } })).filter(heldByDeadProcessHere);
    for (const job of orphans) {
      await this.db.predictionJob.updateMany({
        where: { id: job.id, status: 'RUNNING', workerId: job.workerId },
        data: {
          status: 'INTERRUPTED',
          finishedAt: new Date(),
          error: 'the process running this job stopped (restart or crash); resume it to score the items left',
        },
      });
    }
    return orphans.map((job) => job.id);
  }

  /** QUEUED jobs whose owning process is gone (or is this one): the in-process queue adopts them. */
  async unownedQueued(): Promise<PredictionJob[]> {
    const queued = await this.db.predictionJob.findMany({ where: { status: 'QUEUED' }, orderBy: { id: 'asc' } });
    const mine = queued.filter((job) => !(job.ownerPid && isAlive(job.ownerPid)) || job.ownerPid === process.pid);
    for (const job of mine) await this.db.predictionJob.update({ where: { id: job.id }, data: { ownerPid: process.pid } });
    return mine;
  }

  /** QUEUED or RUNNING -> CANCELLED; a holder elsewhere sees it at its next heartbeat or write. */
  async cancel(jobId: number): Promise<boolean> {
    const { count } = await this.db.predictionJob.updateMany({
      where: { id: jobId, status: { in: ['QUEUED', 'RUNNING'] } },
      data: { status: 'CANCELLED', finishedAt: new Date(), error: 'cancelled; resume it to score the items left' },
    });
    return count === 1;
  }

  /** Back to QUEUED for a resume, owned by this process until a worker claims it. */
  resume(jobId: number): Promise<PredictionJob> {
    return this.db.predictionJob.update({
      where: { id: jobId },
      data: { status: 'QUEUED', error: null, finishedAt: null, ownerPid: process.pid, workerId: null, heartbeatAt: null },
    });
  }

  /** The task and class names the job's model answers in. */
  async modelTasks(record: PredictionJob): Promise<TaskSpec[]> {
    const model =
      record.modelKind === 'ensemble'
        ? await this.db.ensemble.findUniqueOrThrow({ where: { id: record.modelId }, include: { labelSchema: true } })
        : await this.db.modelArtifact.findUniqueOrThrow({ where: { id: record.modelId }, include: { labelSchema: true } });
    return model.labelSchema.tasks as unknown as TaskSpec[];
  }
}
