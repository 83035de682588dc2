// The rung judge of ASHA sweeps: when a trial finishes a rung epoch, its best validation figure so far
// is compared with those of the sweep's other trials that reached the same epoch (read from their
// epoch records, so trials on any worker host compete), and the decision is stored on the trial with
// the figures it was made from. It runs in the process that executes the trial.
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';
import { mean } from '../numeric.js';
import type { EpochRecord } from './runRecord.js';
import { rungDecision, trialOf } from './sweep.js';

/** A run's best validation figure by `metric` over its epochs up to `epoch`; null when it has not
 *  reached that epoch. */
export function bestUpTo(epochs: unknown, epoch: number, metric: string): number | null {
  const records = (epochs as EpochRecord[] | null) ?? [];
  if (!records.some((e) => e.epoch >= epoch)) return null;
  const key = metric === 'MEAN_ACSA' ? 'acsa' : 'top1';
  return Math.max(...records.filter((e) => e.epoch <= epoch).map((e) => mean(e.validation.map((v) => v[key]))));
}

export class RungJudge {
  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** Whether the trial goes on after `epoch`. A failure to judge lets it go on (and is logged): a sweep
   *  spends a little more rather than stopping a trial on no evidence. */
  async promoted(runId: number, epoch: number): Promise<boolean> {
    try {
      return await this.judge(runId, epoch);
    } catch (error) {
      this.log.warn({ err: error, runId, epoch }, 'could not judge a sweep rung; the trial goes on');
      return true;
    }
  }

  private async judge(runId: number, epoch: number): Promise<boolean> {
    const run = await this.db.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { sweepId: true, trial: true, epochs: true } });
    const trial = trialOf(run);
    if (!run.sweepId || !trial?.rungEpochs.includes(epoch)) return true;
    // A resumed trial that met this rung before keeps its decision.
    const earlier = trial.rungs.find((r) => r.epoch === epoch);
    if (earlier) return earlier.promoted;
    const { metric } = await this.db.sweep.findUniqueOrThrow({ where: { id: run.sweepId }, select: { metric: true } });
    const value = bestUpTo(run.epochs, epoch, metric);
    if (value === null) return true;
    const others = await this.db.trainingRun.findMany({ where: { sweepId: run.sweepId, id: { not: runId } }, select: { epochs: true } });
    const competing = others.map((o) => bestUpTo(o.epochs, epoch, metric)).filter((v): v is number => v !== null);
    const decision = rungDecision(epoch, value, competing, trial.reductionFactor);
    const record = { ...trial, rungs: [...trial.rungs, decision], prunedAtEpoch: decision.promoted ? null : epoch };
    await this.db.trainingRun.update({ where: { id: runId }, data: { trial: record as object } });
    return decision.promoted;
  }
}
