// A budget raced over a portfolio: the plan and the ranking against hand computations, then a whole race
// through the real queue and worker on each database (tiny runs: each capped at two epochs, so the race
// ends in seconds while its plan is the one its budget gives). raceSurfaces.test.ts: GraphQL and presets.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { nextRungSeconds, planRace, raceModelMegabytes, rankRung } from '../../src/training/race.js';
import { scoreOf } from '../../src/training/sweepService.js';
import { importSmallSynthetic } from '../fixtures/training.js';
import { openTestApp, TEST_DATABASE, useScratchDir } from '../helpers.js';

describe('the race, planned and ranked', () => {
  it('splits a budget into rungs of equal cost, as worked out by hand', () => {
    // 1000 s, 6 candidates, factor 3, 2 finalists: reserve 50 s; rungs of 6 and 2 runs weigh 6 + 2 x 3 = 12
    // units of floor(950 / 12) = 79 s: 6 runs of 79 s, then 2 of 237 s (948 s in all).
    expect(planRace(1000, 6, 3, 2, 1, 30)).toEqual({
      candidates: 6,
      rungs: [
        { rung: 0, runs: 6, secondsPerRun: 79 },
        { rung: 1, runs: 2, secondsPerRun: 237 },
      ],
      reserveSeconds: 50,
    });
    // 300 s: 6, 5 and 4 candidates leave a first rung under 30 s (23, 25, 28); 3 candidates weigh 3 + 6 = 9: 31 s.
    expect(planRace(300, 6, 3, 2, 1, 30)).toMatchObject({
      candidates: 3,
      rungs: [
        { runs: 3, secondsPerRun: 31 },
        { runs: 2, secondsPerRun: 93 },
      ],
    });
    // 27 candidates, factor 3, one finalist: 27, 9, 3, 1 runs of 1, 3, 9, 27 units = 108 units.
    const deep = planRace(10_000, 27, 3, 1, 1, 30);
    expect(deep.rungs.map((r) => r.runs)).toEqual([27, 9, 3, 1]);
    expect(deep.rungs.map((r) => r.secondsPerRun)).toEqual([87, 261, 783, 2349].map((s) => s)); // floor(9500 / 108) = 87
    // Two runs at once halve the waves: 6 -> 3 waves, 2 -> 1 wave; 3 + 3 = 6 units of floor(950 / 6) = 158 s.
    expect(planRace(1000, 6, 3, 2, 2, 30).rungs.map((r) => r.secondsPerRun)).toEqual([158, 474]);
    for (const [budget, n, f, k, parallel] of [
      [1000, 6, 3, 2, 1],
      [1800, 5, 2, 1, 1],
      [600, 4, 3, 2, 2],
      [10_000, 27, 3, 1, 3],
    ] as const) {
      const plan = planRace(budget, n, f, k, parallel, 30);
      const wall = plan.rungs.reduce((sum, r) => sum + Math.ceil(r.runs / parallel) * r.secondsPerRun, 0);
      expect(wall + plan.reserveSeconds).toBeLessThanOrEqual(budget);
    }
    // 600 s with the platform's 120 s least run: 3 candidates weigh 3 + 2 x 3 = 9 units of floor(570 / 9) =
    // 63 s, too short; 2 candidates would fit (285 s each) but both are finalists, so nothing is decided:
    // the first candidate takes all 570 s. With one finalist (compliant), 2 candidates would halve to 1, but
    // weigh 2 + 1 x 3 = 5 units of 114 s, under 120 s: the first candidate alone too.
    expect(planRace(600, 7)).toEqual({ candidates: 1, rungs: [{ rung: 0, runs: 1, secondsPerRun: 570 }], reserveSeconds: 30 });
    expect(planRace(600, 7, 3, 1)).toEqual({ candidates: 1, rungs: [{ rung: 0, runs: 1, secondsPerRun: 570 }], reserveSeconds: 30 });
    // 60 s: 40 s after the reserve is one candidate's single run; 45 s leaves 25 s, under the least a run may have.
    expect(planRace(60, 3, 3, 2, 1, 30)).toMatchObject({ candidates: 1, rungs: [{ runs: 1, secondsPerRun: 40 }] });
    expect(() => planRace(45, 3, 3, 2, 1, 30)).toThrow(/leaves under 30 s for one run/);
    // The platform's least first rung is 120 s: 1200 s give 3 candidates 126 s each (9 units of 1140 s).
    expect(planRace(1200, 6).rungs.map((r) => [r.runs, r.secondsPerRun])).toEqual([
      [3, 126],
      [2, 378],
    ]);
  });

  it("gives the last rung what is left of the budget when no student can be needed, and the plan's time otherwise", () => {
    // The 30-minute race measured: 1,800 s with a student's quarter kept; 4 x 128 s then 2 finalists of
    // 384 s planned. After rung 0 (at 520 s, the reserve 90 s): 1,190 s left, 2 finalists one after another.
    expect(nextRungSeconds(384, 1190, 2, true, false)).toBe(595); // floor(1190 / 2): the student's share spent
    expect(nextRungSeconds(384, 1190, 2, true, true)).toBe(384); // a finalist over the limit: the share is kept
    // Not the last rung: the plan's time, however much is left.
    expect(nextRungSeconds(128, 1190, 4, false, false)).toBe(128);
    // A host slower than planned: what is left, split, in every case (never below 10 s).
    expect(nextRungSeconds(384, 500, 2, true, true)).toBe(250);
    expect(nextRungSeconds(384, 500, 2, false, false)).toBe(250);
    expect(nextRungSeconds(384, 5, 2, true, false)).toBe(10);
    // Which models are over the 25 MB limit: resnet18 (11.2 M parameters: 45.8 MB) is, compact_s (0.7 M) is not.
    expect([raceModelMegabytes(11.2) > 25, raceModelMegabytes(0.7) > 25]).toEqual([true, false]);
  });

  it('keeps the candidates a hand-made ranking says it should, and says why for each', () => {
    const ranked = rankRung(
      [
        { candidate: 0, runId: 10, score: 0.71 },
        { candidate: 1, runId: 11, score: 0.74 },
        { candidate: 2, runId: 12, score: null, ended: 'FAILED' },
        { candidate: 3, runId: 13, score: 0.74 },
        { candidate: 4, runId: 14, score: 0.69 },
      ],
      2,
      'MEAN_TOP1',
    );
    // By hand: 0.74 (candidate 1, earlier of the tie), 0.74 (3), 0.71 (0), 0.69 (4); the failed run never goes on.
    expect(ranked.filter((r) => r.kept).map((r) => r.candidate)).toEqual([1, 3]);
    expect(ranked.find((r) => r.candidate === 2)).toMatchObject({ kept: false, reason: 'the run ended FAILED' });
    expect(ranked.find((r) => r.candidate === 0)!.reason).toBe("MEAN_TOP1 0.7100, place 3 of 4: below place 2's 0.7400");
    expect(ranked.find((r) => r.candidate === 1)!.reason).toBe('MEAN_TOP1 0.7400, place 1 of 4: among the best 2');
    expect(
      rankRung(
        [
          { candidate: 0, runId: 1, score: 0.5 },
          { candidate: 1, runId: 2, score: 0.5 },
        ],
        1,
        'MEAN_ACSA',
      ).filter((r) => r.kept),
    ).toHaveLength(1);
  });
});

describe('a race through the queue', () => {
  const scratch = useScratchDir();
  let app: App;
  let datasetId: number;
  beforeAll(async () => {
    app = await openTestApp(path.join(scratch.dir, 'data'));
    datasetId = await importSmallSynthetic(app, scratch.dir, { count: 90, seed: 21, difficulty: 'silhouette' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it('trains every candidate, promotes the best by its runs own figures, fits the finalists and stays inside its budget', async () => {
    const budget = 1200;
    const sweep = await app.services.races.start({ datasetId, budgetSeconds: budget, preset: 'fast', options: { epochs: 2, threads: 1, seed: 3 } });
    await app.services.races.waitFor(sweep.id);
    const { race } = await app.services.races.get(sweep.id);
    expect(race.status, race.note).toBe('SUCCEEDED');
    expect(race.candidates.map((c) => `${c.backbone}@${c.imageSize}`)).toEqual(['compact_s@32', 'compact_s@48', 'compact_s@64']);
    expect(race.rungs.map((r) => r.entries.length)).toEqual([3, 2]);
    const runs = await app.services.db.trainingRun.findMany({ where: { sweepId: sweep.id }, orderBy: { id: 'asc' } });
    expect(runs).toHaveLength(5);
    // Rung 0's decisions, recomputed from the runs' own stored figures.
    const first = race.rungs[0]!.entries as { candidate: number; runId: number; score: number | null; kept: boolean }[];
    const scores = first.map((e) => ({ ...e, own: scoreOf(runs.find((r) => r.id === e.runId)!, 'MEAN_TOP1') }));
    for (const e of scores) expect(e.score).toBe(e.own);
    const promoted = [...scores].sort((a, b) => b.own! - a.own! || a.candidate - b.candidate).slice(0, 2);
    expect(
      first
        .filter((e) => e.kept)
        .map((e) => e.candidate)
        .sort(),
    ).toEqual(promoted.map((e) => e.candidate).sort());
    // Rung 1 trains exactly the promoted candidates, each with the longer budget of its plan.
    const second = race.rungs[1]!;
    expect(second.entries.map((e) => e.candidate).sort()).toEqual(promoted.map((e) => e.candidate).sort());
    for (const entry of second.entries) {
      const run = runs.find((r) => r.id === entry.runId)!;
      expect((run.config as { timeBudgetSeconds: number }).timeBudgetSeconds).toBe(second.secondsPerRun);
      expect(run.backbone).toBe(race.candidates[entry.candidate]!.backbone);
    }
    // The last rung, none of whose candidates is over the size limit (no student can be needed), takes
    // what was left of the budget when it began: at least the plan's three times rung 0 (these tiny runs
    // end in seconds), and all of it but the reserve, split over its two runs one after the other.
    expect(second.secondsPerRun).toBeGreaterThanOrEqual(3 * race.rungs[0]!.secondsPerRun);
    const secondBegan = Math.min(...second.entries.map((e) => runs.find((r) => r.id === e.runId)!.createdAt.getTime()));
    const leftThen = budget - (secondBegan - Date.parse(race.startedAt)) / 1000 - race.plan.reserveSeconds;
    expect(2 * second.secondsPerRun).toBeLessThanOrEqual(leftThen + 2);
    expect(2 * second.secondsPerRun).toBeGreaterThan(leftThen - 10);
    // The best single model is the finalist with the best figure; the finalists are fitted into one ensemble.
    const finals = second.entries as { runId: number; score: number }[];
    const winner = [...finals].sort((a, b) => b.score - a.score)[0]!;
    expect(race.best).toMatchObject({ runId: winner.runId, score: winner.score });
    // (Greedy selection may give one finalist every pick; both were candidates of the fit.)
    const ensemble = await app.services.db.ensemble.findUniqueOrThrow({
      where: { id: race.ensembleId! },
      include: { members: { include: { artifact: true } } },
    });
    const finalArtifacts = await app.services.db.modelArtifact.findMany({ where: { runId: { in: finals.map((f) => f.runId) } } });
    const fit = ensemble.fit as { candidates: { artifactId: number }[] };
    expect(new Set(fit.candidates.map((c) => c.artifactId))).toEqual(new Set(finalArtifacts.map((a) => a.id)));
    for (const member of ensemble.members) expect(finals.map((f) => f.runId)).toContain(member.artifact.runId);
    // Inside the budget: the plan's rungs and the reserve add up to at most it, and so did the wall time.
    expect(race.plan.rungs.reduce((sum, r) => sum + r.runs * r.secondsPerRun, 0) + race.plan.reserveSeconds).toBeLessThanOrEqual(budget);
    expect(race.wallSeconds!).toBeLessThanOrEqual(budget);
  }, 600_000);
});

// Servers that share a database are hosts on PostgreSQL. (Two apps in one test process on one SQLite file
// cannot stand in for them: better-sqlite3 waits for a lock synchronously, so one app's wait blocks the
// event loop the other needs to finish the transaction it waits for. On SQLite the same conditional
// UPDATE serves two processes on one host.)
describe.skipIf(TEST_DATABASE !== 'postgresql')('one driver per race among the servers on a database', () => {
  const scratch = useScratchDir();

  it('leaves a race to the live server that drives it, and lets exactly one of two servers take it over once that lease lapses', async () => {
    const dir = path.join(scratch.dir, 'data');
    // Two servers on one database (two apps: each its own driver, as two hosts would be).
    const [a, b] = [await openTestApp(dir), await openTestApp(dir)];
    try {
      const datasetId = await importSmallSynthetic(a, scratch.dir, { count: 30, seed: 4 });
      const { db } = a.services;
      // A race whose only run has already failed: whoever drives it decides rung 0 at once (no training).
      const run = await db.trainingRun.create({
        data: { datasetId, backbone: 'compact_s', head: 'feedforward', status: 'FAILED', config: {}, finishedAt: new Date() },
      });
      const race = {
        preset: 'fast',
        candidates: [{ backbone: 'compact_s', head: 'feedforward', imageSize: 32 }],
        leftOut: [],
        plan: { candidates: 1, rungs: [{ rung: 0, runs: 1, secondsPerRun: 30 }], reserveSeconds: 20 },
        startedAt: new Date().toISOString(),
        rungs: [{ rung: 0, secondsPerRun: 30, entries: [{ candidate: 0, runId: run.id }], decided: false }],
        status: 'RUNNING',
        sizeLimitMb: 25,
        singleModel: false,
      };
      const sweep = await db.sweep.create({
        data: {
          datasetId,
          strategy: 'RACE',
          metric: 'MEAN_TOP1',
          space: {},
          baseOptions: {},
          trialCount: 1,
          seed: 1,
          minEpochs: 1,
          reductionFactor: 3,
          maxEpochs: 1,
          budgetSeconds: 60,
          race,
          // Another server drives it and renewed its lease just now.
          raceDriver: 'other-host:1234/live',
          raceDriverAt: new Date(),
        },
      });
      await db.trainingRun.update({ where: { id: run.id }, data: { sweepId: sweep.id } });

      expect(await a.services.races.resumeRunning()).toEqual([]);
      expect(await b.services.races.resumeRunning()).toEqual([]);
      expect((await a.services.races.get(sweep.id)).race.status).toBe('RUNNING');

      // That server stops renewing (killed): after the heartbeat timeout both look at once, one takes it.
      await db.sweep.update({ where: { id: sweep.id }, data: { raceDriverAt: new Date(Date.now() - 10 * 60_000) } });
      const taken = await Promise.all([a.services.races.resumeRunning(), b.services.races.resumeRunning()]);
      expect(taken.map((ids) => ids.length).sort()).toEqual([0, 1]);
      expect(taken.flat()).toEqual([sweep.id]);
      const driver = taken[0]!.length === 1 ? a : b;
      await driver.services.races.waitFor(sweep.id);
      const after = await db.sweep.findUniqueOrThrow({ where: { id: sweep.id } });
      // Driven once: rung 0 decided, the race ended with the reason, and the lease given back.
      expect(after.race).toMatchObject({ status: 'FAILED', note: 'no run of rung 0 succeeded', rungs: [{ decided: true }] });
      expect(after.raceDriver).toBeNull();
      expect(await (driver === a ? b : a).services.races.resumeRunning()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);
});
