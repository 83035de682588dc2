// Races: a time budget spent on a portfolio of candidates (race.ts) instead of one named backbone. A race
// is a sweep of strategy RACE: its runs are ordinary queued runs (worker hosts share them), each with its
// own time budget; this process drives the rungs (waits for a rung, ranks it, queues the next one), and at
// the end names the best single model and fits an ensemble of the finalists. Every rung, decision and
// reason is kept in Sweep.race, so the CLI, GraphQL and a reader of the database see why a candidate went on.
import type { RankingMetric } from '../data/import.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import type { Sweep, TrainingRun } from '../db/generated/client.js';
import { badInput, ensureError, notFound } from '../errors.js';
import type { EnsembleFitter } from '../inference/fitEnsemble.js';
import type { Logger } from '../log.js';
import { BUILT_IN_PROFILES, DEFAULT_PROFILE_ID, SeasonProfiles } from '../seasons/profiles.js';
import { type Hyperparameters, resolveHyperparameters } from './hyper.js';
import {
  MIN_RUN_SECONDS,
  nextRungSeconds,
  PRESETS,
  planRace,
  RACE_PRESETS,
  RACE_RECIPE,
  type RaceCandidate,
  type RacePlan,
  type RacePreset,
  type RankedEntry,
  raceModelMegabytes,
  rankRung,
  STUDENT_SHARE,
} from './race.js';
import { type DriverLease, RaceLeases } from './raceLease.js';
import { distilStudent, type StudentRecord } from './raceStudent.js';
import type { TrainingService } from './service.js';
import type { TrialRecord } from './sweep.js';
import { scoreOf } from './sweepService.js';

export interface StartRaceRequest {
  datasetId: number;
  budgetSeconds: number;
  preset?: RacePreset;
  /** Options every run takes over the race's recipe (a seed, a device, ...). */
  options?: Partial<Hyperparameters>;
  /** The compliant preset's size limit in MB (default 25, the 2024 season's). */
  sizeLimitMb?: number;
  reductionFactor?: number;
}

export type RaceStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** What Sweep.race holds. */
export interface RaceRecord {
  preset: RacePreset;
  candidates: RaceCandidate[];
  /** Candidates of the preset left out, with why (the size limit, the budget). */
  leftOut: { candidate: RaceCandidate; reason: string }[];
  plan: RacePlan;
  startedAt: string;
  rungs: { rung: number; secondsPerRun: number; entries: RankedEntry[] | { candidate: number; runId: number }[]; decided: boolean }[];
  status: RaceStatus;
  /** compliant: the limit its candidates keep to; the others: the size over which their best gets a student. */
  sizeLimitMb: number;
  singleModel: boolean;
  best?: { candidate: number; runId: number; artifactId: number | null; score: number };
  ensembleId?: number | null;
  /** The first candidate that fits the limit, when others do not: the student-to-be if the best is over it. */
  student?: RaceCandidate | null;
  /** When the best finalist was over the limit: the distilled student and how close it came to it. */
  distilled?: StudentRecord;
  /** Why the race failed, or what it could not do (an ensemble of one finalist). */
  note?: string;
  finishedAt?: string;
  wallSeconds?: number;
}

export class RaceService {
  private readonly driving = new Map<number, Promise<void>>();
  private stopping = false;
  private watching: NodeJS.Timeout | undefined;
  private readonly leases: RaceLeases;

  constructor(
    private readonly db: Db,
    private readonly training: TrainingService,
    private readonly fitter: Pick<EnsembleFitter, 'fit'>,
    private readonly log: Logger,
    private readonly parallel: () => number,
    private readonly seasons: SeasonProfiles = new SeasonProfiles(BUILT_IN_PROFILES),
    private readonly lease: DriverLease = { heartbeatMs: 5_000, timeoutMs: 30_000 },
  ) {
    this.leases = new RaceLeases(db, lease);
  }

  async start(request: StartRaceRequest): Promise<Sweep> {
    const dataset = await this.db.dataset.findUnique({ where: { id: request.datasetId } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    requireLabels(dataset, 'race on');
    const preset = request.preset ?? 'best';
    if (!RACE_PRESETS.includes(preset)) throw badInput(`preset must be one of ${RACE_PRESETS.join(', ')}, got "${preset}"`);
    const spec = PRESETS[preset];
    const metric = dataset.rankingMetric as RankingMetric;
    // What every run starts from, unresolved: a run's own budget decides its epochs (up to
    // BUDGET_MAX_EPOCHS) unless the request names them. Resolved here once to refuse bad options early.
    const recipe: Partial<Hyperparameters> = { ...RACE_RECIPE, ...request.options, selectionMetric: metric };
    const base = resolveHyperparameters({ ...recipe, timeBudgetSeconds: request.budgetSeconds });
    const runtime = await this.training.runtime();
    // The limit is the dataset's season's (the default season's when it declares none, or when its season has no limit).
    const sizeLimitMb = request.sizeLimitMb ?? this.seasons.of(dataset).profile.sizeLimitMb ?? this.seasons.get(DEFAULT_PROFILE_ID).sizeLimitMb!;
    const leftOut: RaceRecord['leftOut'] = [];
    const fitting: RaceCandidate[] = [];
    let student: RaceCandidate | null = null;
    let overLimit = false;
    for (const candidate of spec.candidates) {
      const facts = runtime.registry.find((b) => b.name === candidate.backbone);
      if (!facts) {
        leftOut.push({ candidate, reason: `this worker has no backbone "${candidate.backbone}"` });
        continue;
      }
      const megabytes = raceModelMegabytes(facts.parametersMillions);
      if (megabytes <= sizeLimitMb) student ??= candidate;
      else if (spec.singleModel) {
        // The compliant preset never trains, so never registers, a model over its limit.
        leftOut.push({ candidate, reason: `about ${megabytes.toFixed(0)} MB, over the ${sizeLimitMb} MB limit` });
        continue;
      } else overLimit = true;
      fitting.push(candidate);
    }
    if (spec.singleModel && fitting.length === 0) throw badInput(`no candidate of the ${preset} preset fits ${sizeLimitMb} MB; raise the size limit`);
    // With candidates over the limit, a share of the budget is kept for a student that fits it.
    const studentCandidate = overLimit ? student : null;
    const raceSeconds = studentCandidate ? Math.floor(request.budgetSeconds * (1 - STUDENT_SHARE)) : request.budgetSeconds;
    const plan = planRace(raceSeconds, fitting.length, request.reductionFactor ?? 3, spec.singleModel ? 1 : 2, this.parallel());
    const candidates = fitting.slice(0, plan.candidates);
    for (const candidate of fitting.slice(plan.candidates))
      leftOut.push({ candidate, reason: `the budget gives ${plan.candidates} candidates a first rung of at least ${MIN_RUN_SECONDS} s` });
    await this.training.checkTrainable(candidates, base);
    const record: RaceRecord = {
      preset,
      candidates,
      leftOut,
      plan,
      startedAt: new Date().toISOString(),
      rungs: [],
      status: 'RUNNING',
      sizeLimitMb,
      singleModel: spec.singleModel,
      student: studentCandidate,
    };
    const sweep = await this.training.queueNew(async (createRun, tx) => {
      const sweep = await tx.sweep.create({
        data: {
          datasetId: dataset.id,
          strategy: 'RACE',
          metric,
          space: { preset, candidates } as object,
          baseOptions: recipe as object,
          trialCount: candidates.length,
          seed: base.seed,
          minEpochs: 1,
          reductionFactor: request.reductionFactor ?? 3,
          maxEpochs: base.epochs,
          budgetSeconds: request.budgetSeconds,
          race: record as object,
          ...this.leases.held(),
        },
      });
      const rung = plan.rungs[0]!;
      const entries = [];
      for (const [index, candidate] of candidates.entries()) {
        const run = await createRun(this.runData(sweep, recipe, candidate, index, rung.secondsPerRun));
        entries.push({ candidate: index, runId: run.id });
      }
      record.rungs.push({ rung: 0, secondsPerRun: rung.secondsPerRun, entries, decided: false });
      return tx.sweep.update({ where: { id: sweep.id }, data: { race: record as object } });
    });
    this.drive(sweep.id);
    return sweep;
  }

  /** Drives a race to its end in the background: one driver per race in this process, and, through the
   *  race's lease, one among every server on the database (a race another live server drives is left to it). */
  drive(sweepId: number): Promise<void> {
    const running = this.driving.get(sweepId);
    if (running) return running;
    const driving = (async () => {
      if (!(await this.leases.claim(sweepId))) return;
      const renewing = setInterval(() => void this.leases.renew(sweepId).catch(() => {}), this.lease.heartbeatMs);
      try {
        await this.advance(sweepId);
      } catch (error) {
        // Closing the app ends what the driver waits on; the race stays RUNNING for the next driver.
        if (this.stopping || !(await this.leases.renew(sweepId))) return;
        const message = ensureError(error).message;
        this.log.error({ sweepId, err: error }, 'race failed');
        await this.update(sweepId, (race) => ({ ...race, status: 'FAILED', note: message, finishedAt: new Date().toISOString() }));
      } finally {
        clearInterval(renewing);
        await this.leases.release(sweepId).catch(() => {});
      }
    })().finally(() => this.driving.delete(sweepId));
    this.driving.set(sweepId, driving);
    return driving;
  }

  /** Drives every race still RUNNING whose lease is free or lapsed (after a restart: its current rung's
   *  runs are waited for or, if they ended INTERRUPTED, ranked as not succeeded). The sweep ids taken. */
  async resumeRunning(): Promise<number[]> {
    const sweeps = await this.db.sweep.findMany({ where: { strategy: 'RACE' }, select: { id: true, race: true } });
    const running = sweeps.filter((s) => (s.race as unknown as RaceRecord | null)?.status === 'RUNNING' && !this.driving.has(s.id)).map((s) => s.id);
    const taken: number[] = [];
    for (const id of running) if (await this.leases.claim(id)) taken.push(id);
    for (const id of taken) this.drive(id);
    return taken;
  }

  /** What `serve` runs: every lease timeout, takes over the races whose driver (another server) is gone. */
  watch(): void {
    this.watching ??= setInterval(() => {
      if (!this.stopping) void this.resumeRunning().catch((error: unknown) => this.log.warn({ err: error }, 'looking for races without a driver failed'));
    }, this.lease.timeoutMs);
    this.watching.unref();
  }

  /** Stops driving before the app closes: no later rung starts in this process (the race stays RUNNING,
   *  and the next server's resumeRunning goes on with it). `settled` waits for the drivers to return. */
  stop(): void {
    this.stopping = true;
    clearInterval(this.watching);
  }

  async settled(): Promise<void> {
    await Promise.allSettled(this.driving.values());
  }

  /** Resolves when the race has ended (its driver in this process finished). */
  async waitFor(sweepId: number): Promise<void> {
    await this.driving.get(sweepId);
  }

  async get(sweepId: number): Promise<Sweep & { race: RaceRecord }> {
    const sweep = await this.db.sweep.findUnique({ where: { id: sweepId } });
    if (sweep?.strategy !== 'RACE') throw notFound('race', sweepId);
    return sweep as Sweep & { race: RaceRecord };
  }

  private runData(sweep: Sweep, recipe: Partial<Hyperparameters>, candidate: RaceCandidate, index: number, seconds: number) {
    const config = resolveHyperparameters({
      ...recipe,
      ...candidate.options,
      imageSize: candidate.imageSize,
      budgetImageSizes: [candidate.imageSize],
      timeBudgetSeconds: seconds,
    });
    const trial: TrialRecord = {
      sweepId: sweep.id,
      index,
      parameters: { backbone: candidate.backbone, head: candidate.head, options: { imageSize: candidate.imageSize } },
      rungEpochs: [],
      reductionFactor: sweep.reductionFactor,
      rungs: [],
      prunedAtEpoch: null,
    };
    return {
      datasetId: sweep.datasetId,
      backbone: candidate.backbone,
      head: candidate.head,
      config: config as object,
      sweepId: sweep.id,
      trial: trial as object,
    };
  }

  private async update(sweepId: number, change: (race: RaceRecord) => RaceRecord): Promise<RaceRecord> {
    const sweep = await this.get(sweepId);
    const race = change(sweep.race);
    await this.db.sweep.update({ where: { id: sweepId }, data: { race: race as object } });
    return race;
  }

  private async advance(sweepId: number): Promise<void> {
    const deadline = (race: RaceRecord, budget: number) => Date.parse(race.startedAt) + budget * 1000;
    for (;;) {
      const sweep = await this.get(sweepId);
      const race = sweep.race;
      if (race.status !== 'RUNNING') return;
      const current = race.rungs.at(-1)!;
      const runIds = current.entries.map((e) => e.runId);
      await this.training.waitFor(runIds);
      // Another server took the race over while this one waited (its lease lapsed): the decision is theirs.
      if (this.stopping || !(await this.leases.renew(sweepId))) return;
      const runs = await this.db.trainingRun.findMany({ where: { id: { in: runIds } } });
      const byId = new Map(runs.map((run) => [run.id, run]));
      if (runs.some((run) => run.status === 'CANCELLED') && (await this.get(sweepId)).race.status !== 'RUNNING') return;
      const plannedNext = race.plan.rungs[current.rung + 1];
      const keep = plannedNext ? plannedNext.runs : 1;
      const entries = current.entries.map(({ candidate, runId }) => {
        const run = byId.get(runId);
        return { candidate, runId, score: scoreOfSucceeded(run, sweep.metric), ended: run?.status };
      });
      const ranked = rankRung(entries, keep, sweep.metric, !plannedNext);
      const decided = { ...current, entries: ranked, decided: true };
      const kept = ranked.filter((e) => e.kept);
      if (kept.length === 0) {
        await this.update(sweepId, (r) => ({
          ...r,
          rungs: [...r.rungs.slice(0, -1), decided],
          status: 'FAILED',
          note: `no run of rung ${current.rung} succeeded`,
          finishedAt: new Date().toISOString(),
        }));
        return;
      }
      if (!plannedNext) {
        await this.update(sweepId, (r) => ({ ...r, rungs: [...r.rungs.slice(0, -1), decided] }));
        await this.finish(sweepId, ranked);
        return;
      }
      const waves = Math.ceil(kept.length / this.parallel());
      const left = (deadline(race, sweep.budgetSeconds!) - Date.now()) / 1000 - race.plan.reserveSeconds;
      const registry = race.student ? (await this.training.runtime()).registry : [];
      const overLimit = (c: RaceCandidate) => raceModelMegabytes(registry.find((b) => b.name === c.backbone)?.parametersMillions ?? 0) > race.sizeLimitMb;
      const studentPossible = kept.some((e) => overLimit(race.candidates[e.candidate]!));
      const seconds = nextRungSeconds(plannedNext.secondsPerRun, left, waves, !race.plan.rungs[current.rung + 2], studentPossible);
      const recipe = sweep.baseOptions as Partial<Hyperparameters>;
      const next = await this.training.queueNew(async (createRun) => {
        const started = [];
        for (const entry of kept)
          started.push({
            candidate: entry.candidate,
            runId: (await createRun(this.runData(sweep, recipe, race.candidates[entry.candidate]!, entry.candidate, seconds))).id,
          });
        return started;
      });
      await this.update(sweepId, (r) => ({
        ...r,
        rungs: [...r.rungs.slice(0, -1), decided, { rung: current.rung + 1, secondsPerRun: seconds, entries: next, decided: false }],
      }));
    }
  }

  /** The best finalist is the race's single model; with two or more finalists and ensembles allowed, they
   *  are fitted into one. A compliant race whose best is over the size limit distils a student instead. */
  private async finish(sweepId: number, ranked: RankedEntry[]) {
    const sweep = await this.get(sweepId);
    const { race } = sweep;
    const finalists = ranked.filter((e) => e.score !== null).sort((a, b) => b.score! - a.score! || a.candidate - b.candidate);
    const winner = finalists[0]!;
    const artifact = await this.db.modelArtifact.findUnique({ where: { runId: winner.runId } });
    const best: RaceRecord['best'] = { candidate: winner.candidate, runId: winner.runId, artifactId: artifact?.id ?? null, score: winner.score! };
    let ensembleId: number | null = null;
    let distilled: StudentRecord | undefined;
    let note: string | undefined;
    if (!race.singleModel && finalists.length >= 2) {
      const artifacts = await this.db.modelArtifact.findMany({ where: { runId: { in: finalists.map((f) => f.runId) } } });
      ensembleId = (
        await this.fitter.fit({ name: `race ${sweepId} finalists`, artifactIds: artifacts.map((a) => a.id), datasetId: sweep.datasetId, logitAdjustment: true })
      ).id;
    } else if (!race.singleModel) note = 'one finalist succeeded: no ensemble to fit';
    if (artifact && artifact.sizeBytes / 1e6 > race.sizeLimitMb && race.student) {
      const left = Math.floor((Date.parse(race.startedAt) + sweep.budgetSeconds! * 1000 - Date.now()) / 1000) - 10;
      const recipe = sweep.baseOptions as Partial<Hyperparameters>;
      distilled = await distilStudent(this.db, this.training, this.fitter, {
        sweepId,
        datasetId: sweep.datasetId,
        metric: sweep.metric,
        recipe,
        finalists,
        student: race.student,
        seconds: Math.max(MIN_RUN_SECONDS, left),
      });
      const fits = distilled.sizeMb !== null && distilled.sizeMb <= race.sizeLimitMb;
      note = fits
        ? `the best model (${(artifact.sizeBytes / 1e6).toFixed(1)} MB) is over ${race.sizeLimitMb} MB: the finalists' ensemble was distilled into ${race.student.backbone} @ ${race.student.imageSize} px, ${distilled.sizeMb!.toFixed(1)} MB, ${distilled.gap! >= 0 ? `${distilled.gap!.toFixed(4)} below` : `${(-distilled.gap!).toFixed(4)} above`} the best on VALIDATION`
        : `the best model is over ${race.sizeLimitMb} MB and its student ended ${distilled.status}: the race left no model under the limit`;
    }
    const finishedAt = new Date();
    await this.update(sweepId, (current) => ({
      ...current,
      status: 'SUCCEEDED',
      best,
      ensembleId,
      ...(distilled ? { distilled } : {}),
      ...(note ? { note } : {}),
      finishedAt: finishedAt.toISOString(),
      wallSeconds: (finishedAt.getTime() - Date.parse(current.startedAt)) / 1000,
    }));
  }

  /** Cancels the race's queued and running runs; no later rung starts. */
  async cancel(sweepId: number): Promise<Sweep> {
    await this.update(sweepId, (race) => (race.status === 'RUNNING' ? { ...race, status: 'CANCELLED', finishedAt: new Date().toISOString() } : race));
    const runs = await this.db.trainingRun.findMany({ where: { sweepId, status: { in: ['QUEUED', 'RUNNING'] } } });
    for (const run of runs) await this.training.cancel(run.id);
    return this.get(sweepId);
  }
}

/** A rung entry's figure: its run's exported epoch's score when it SUCCEEDED, else null. */
function scoreOfSucceeded(run: TrainingRun | undefined, metric: string): number | null {
  return run?.status === 'SUCCEEDED' ? scoreOf(run, metric) : null;
}
