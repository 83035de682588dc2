// Sweeps: a search space drawn into trials, each trial one training run on the job queue (so worker
// hosts share a sweep), judged at its rungs by the process that runs it (sweepRungs.ts), and the best
// trial named by the sweep's metric on VALIDATION.
import type { RankingMetric } from '../data/import.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import type { Sweep, TrainingRun } from '../db/generated/client.js';
import { badInput, notFound } from '../errors.js';
import { CANCELLABLE_STATUSES, FINAL_STATUSES } from '../jobs/statuses.js';
import type { DistillationRecord, TeacherRequest } from './distillation.js';
import { type Hyperparameters, resolveHyperparameters } from './hyper.js';
import type { TrainingService } from './service.js';
import { checkSpace, drawTrials, MAX_TRIALS, rungEpochs, SWEEP_STRATEGIES, type SweepSpace, type SweepStrategy, type TrialRecord, trialOf } from './sweep.js';
import { bestUpTo } from './sweepRungs.js';
import type { TrainingSelection } from './workerProcess.js';

export interface StartSweepRequest {
  datasetId: number;
  backbone: string;
  head: string;
  space: SweepSpace;
  trials: number;
  strategy?: SweepStrategy;
  minEpochs?: number;
  reductionFactor?: number;
  metric?: RankingMetric;
  seed?: number;
  options?: Partial<Hyperparameters>;
  /** Every trial a student of this teacher (no baseline runs: the trials compare with each other). */
  teacher?: TeacherRequest;
}

/** A sweep's trial: its run and its record. */
export interface SweepTrial {
  run: TrainingRun;
  record: TrialRecord;
}

function wholeNumber(field: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw badInput(`${field} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

export class SweepService {
  constructor(
    private readonly db: Db,
    private readonly training: TrainingService,
  ) {}

  async start(request: StartSweepRequest): Promise<Sweep> {
    const dataset = await this.db.dataset.findUnique({ where: { id: request.datasetId } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    requireLabels(dataset, 'sweep on');
    const strategy = request.strategy ?? 'ASHA';
    if (!SWEEP_STRATEGIES.includes(strategy)) throw badInput(`strategy must be one of ${SWEEP_STRATEGIES.join(', ')}, got "${strategy}"`);
    const trials = wholeNumber('trials', request.trials, 1, MAX_TRIALS);
    const minEpochs = wholeNumber('minEpochs', request.minEpochs ?? 1, 1, 1000);
    const reductionFactor = wholeNumber('reductionFactor', request.reductionFactor ?? 3, 2, 10);
    const seed = wholeNumber('seed', request.seed ?? 1, 0, 2 ** 31 - 1);
    if (request.options?.timeBudgetSeconds != null)
      throw badInput('a sweep takes no time budget: its rungs need each trial to train a fixed number of epochs (options.epochs)');
    const metric = request.metric ?? (dataset.rankingMetric as RankingMetric);
    const base = resolveHyperparameters({ ...request.options, selectionMetric: metric });
    const rungs = strategy === 'ASHA' ? rungEpochs(minEpochs, reductionFactor, base.epochs) : [];
    if (strategy === 'ASHA' && rungs.length === 0)
      throw badInput(`ASHA needs options.epochs (${base.epochs}) above minEpochs (${minEpochs}): with no rung below the last epoch nothing stops early`);
    // A host that only queues (no torch) leaves the backbone and head names to the worker host.
    const runtime = await this.training.checkTrainable([request], base);
    const space = checkSpace(request.space, runtime);
    const draws = drawTrials(space, trials, seed, { backbone: request.backbone, head: request.head }).map((parameters) => ({
      parameters,
      config: resolveHyperparameters({ ...base, ...parameters.options }),
    }));
    for (const { parameters, config } of draws) await this.training.checkTrainable([parameters], config);
    const teacher = request.teacher ? await this.training.checkTeacher({ ...request.teacher, compareWithoutTeacher: false }, dataset.labelSchemaId) : null;
    const distillation: DistillationRecord | null = teacher
      ? { teacherEnsembleId: teacher.ensembleId, temperature: teacher.temperature, alpha: teacher.alpha, baselineRunId: null }
      : null;

    return this.training.queueNew(async (createRun, tx) => {
      const sweep = await tx.sweep.create({
        data: {
          datasetId: dataset.id,
          strategy,
          metric,
          space: space as object,
          baseOptions: base as object,
          trialCount: trials,
          seed,
          minEpochs,
          reductionFactor,
          maxEpochs: base.epochs,
        },
      });
      for (const [index, { parameters, config }] of draws.entries()) {
        const trial: TrialRecord = { sweepId: sweep.id, index, parameters, rungEpochs: rungs, reductionFactor, rungs: [], prunedAtEpoch: null };
        await createRun({
          datasetId: dataset.id,
          backbone: parameters.backbone,
          head: parameters.head,
          config: config as object,
          sweepId: sweep.id,
          trial: trial as object,
          ...(distillation ? { distillation: distillation as object } : {}),
        });
      }
      return sweep;
    });
  }

  async get(id: number): Promise<Sweep> {
    const sweep = await this.db.sweep.findUnique({ where: { id } });
    if (!sweep) throw notFound('sweep', id);
    return sweep;
  }

  list(datasetId?: number): Promise<Sweep[]> {
    return this.db.sweep.findMany({ where: datasetId ? { datasetId } : {}, orderBy: { id: 'desc' } });
  }

  /** The sweep's trials in the order they were drawn. */
  async trials(sweepId: number): Promise<SweepTrial[]> {
    const runs = await this.db.trainingRun.findMany({ where: { sweepId }, orderBy: { id: 'asc' } });
    return runs.map((run) => ({ run, record: trialOf(run)! })).sort((a, b) => a.record.index - b.record.index);
  }

  /** RUNNING while any trial is not final. */
  async status(sweepId: number): Promise<'RUNNING' | 'FINISHED'> {
    const open = await this.db.trainingRun.count({ where: { sweepId, status: { notIn: [...FINAL_STATUSES] } } });
    return open > 0 ? 'RUNNING' : 'FINISHED';
  }

  /** The SUCCEEDED trial with the best figure of its exported epoch (ties: the earlier trial). */
  async best(sweep: Sweep): Promise<SweepTrial | null> {
    let best: { trial: SweepTrial; score: number } | null = null;
    for (const trial of await this.trials(sweep.id)) {
      if (trial.run.status !== 'SUCCEEDED') continue;
      const score = scoreOf(trial.run, sweep.metric);
      if (score !== null && (!best || score > best.score)) best = { trial, score };
    }
    return best?.trial ?? null;
  }

  /** Cancels every trial still QUEUED or RUNNING. */
  async cancel(id: number): Promise<Sweep> {
    const sweep = await this.get(id);
    for (const { run } of await this.trials(id)) if (CANCELLABLE_STATUSES.has(run.status)) await this.training.cancel(run.id);
    return sweep;
  }
}

/** A trial's figure: the score of the epoch its artifact holds, else its best epoch so far. */
export function scoreOf(run: TrainingRun, metric: string): number | null {
  const selection = (run.progress as { selection?: TrainingSelection } | null)?.selection;
  if (selection?.bestScore != null && selection.selectionMetric === metric) return selection.bestScore;
  const epochs = (run.epochs as { epoch: number }[] | null) ?? [];
  return epochs.length ? bestUpTo(run.epochs, Math.max(...epochs.map((e) => e.epoch)), metric) : null;
}
