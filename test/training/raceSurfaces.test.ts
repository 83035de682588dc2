// A race through its surfaces and presets (on SQLite: the queue's part is race.test.ts's, on both
// databases): startTraining with a budget and no backbone, Sweep.race over GraphQL, the compliant preset.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { BUDGET_MAX_EPOCHS } from '../../src/training/hyper.js';
import { RACE_RECIPE } from '../../src/training/race.js';
import { distilStudent } from '../../src/training/raceStudent.js';
import { scoreOf } from '../../src/training/sweepService.js';
import { importSmallSynthetic } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

describe('a race through its surfaces', () => {
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

  it('races from startTraining with a budget and no backbone, and shows every rung and decision on the sweep', async () => {
    const server: RunningServer = await startServer(app);
    try {
      const gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('race trainer', 'trainer')).token);
      const started = await gql(
        `mutation($input: StartTrainingInput!) { startTraining(input: $input) { id backbone status trial { sweep { id strategy } } } }`,
        { input: { datasetId: String(datasetId), budget: { seconds: 1200 }, preset: 'FAST', options: { epochs: 1, threads: 1 } } },
      );
      expect(started.errors).toBeUndefined();
      const runs = started.data!.startTraining as { backbone: string; trial: { sweep: { id: string; strategy: string } } }[];
      expect(runs.map((r) => r.backbone)).toEqual(['compact_s', 'compact_s', 'compact_s']);
      const sweepId = runs[0]!.trial.sweep.id;
      expect(runs[0]!.trial.sweep.strategy).toBe('RACE');
      await app.services.races.waitFor(Number(sweepId));
      const answer = await gql(
        `query($id: ID!) { sweep(id: $id) { strategy race { preset status budgetSeconds candidates { index backbone imageSize }
          rungs { rung secondsPerRun decided entries { candidate { index } run { id status } score kept reason } }
          best { id } bestScore ensemble { id } wallSeconds } } }`,
        { id: sweepId },
      );
      expect(answer.errors).toBeUndefined();
      const race = answer.data!.sweep.race;
      expect(race).toMatchObject({ preset: 'FAST', status: 'SUCCEEDED', budgetSeconds: 1200 });
      const stored = (await app.services.races.get(Number(sweepId))).race;
      expect(race.rungs).toHaveLength(stored.rungs.length);
      for (const [r, rung] of race.rungs.entries()) {
        expect(rung.decided).toBe(true);
        expect(rung.entries.map((e: { run: { id: string } }) => Number(e.run.id))).toEqual(stored.rungs[r]!.entries.map((e) => e.runId));
        for (const entry of rung.entries) expect(entry.reason).toMatch(entry.kept ? /among the best|the best$/ : /below place|the run ended/);
      }
      expect(Number(race.best.id)).toBe(stored.best!.runId);
      expect(Number(race.ensemble.id)).toBe(stored.ensembleId);
      // startSweep does not start races.
      const refused = await gql(`mutation($input: StartSweepInput!) { startSweep(input: $input) { id } }`, {
        input: { datasetId: String(datasetId), backbone: 'compact_s', head: 'feedforward', trials: 2, strategy: 'RACE', space: {} },
      });
      expect(refused.errors?.[0]?.message).toMatch(/a race is started with startRace/);
    } finally {
      await server.close();
    }
  }, 600_000);

  it("leaves each run's epochs to its own time budget unless the request names them, and stops when cancelled", async () => {
    const sweep = await app.services.races.start({ datasetId, budgetSeconds: 600, preset: 'fast', options: { threads: 1 } });
    const runs = await app.services.db.trainingRun.findMany({ where: { sweepId: sweep.id } });
    const { race } = await app.services.races.get(sweep.id);
    for (const run of runs) {
      const config = run.config as { epochs: number; timeBudgetSeconds: number; emaDecay: number; lrSchedule: string };
      expect(config).toMatchObject({
        epochs: BUDGET_MAX_EPOCHS,
        timeBudgetSeconds: race.rungs[0]!.secondsPerRun,
        emaDecay: RACE_RECIPE.emaDecay,
        lrSchedule: 'onecycle',
      });
    }
    const cancelled = await app.services.races.cancel(sweep.id);
    await app.services.races.waitFor(sweep.id);
    expect((cancelled.race as { status: string }).status).toBe('CANCELLED');
    expect((await app.services.races.get(sweep.id)).race.rungs).toHaveLength(1);
    for (const run of await app.services.db.trainingRun.findMany({ where: { sweepId: sweep.id } })) expect(run.status).toBe('CANCELLED');
  }, 120_000);

  it('keeps the compliant preset to its size limit and one model: nothing over it is trained', async () => {
    const sweep = await app.services.races.start({ datasetId, budgetSeconds: 400, preset: 'compliant', sizeLimitMb: 5, options: { epochs: 1, threads: 1 } });
    await app.services.races.waitFor(sweep.id);
    const { race } = await app.services.races.get(sweep.id);
    expect(race.status, race.note).toBe('SUCCEEDED');
    // compact_m (2.8 M parameters, about 12 MB) is over 5 MB; compact_s (0.7 M) and compact_xs (0.31 M) fit.
    expect(race.leftOut.filter((l) => /over the 5 MB limit/.test(l.reason)).map((l) => l.candidate.backbone)).toEqual(['compact_m', 'compact_m']);
    expect(race.candidates.every((c) => ['compact_s', 'compact_xs'].includes(c.backbone))).toBe(true);
    expect(race.ensembleId).toBeNull();
    expect(race.student).toBeNull();
    const best = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: race.best!.artifactId! } });
    expect(best.sizeBytes).toBeLessThanOrEqual(5 * 1e6);
    const runs = await app.services.db.trainingRun.findMany({ where: { sweepId: sweep.id }, include: { artifact: true } });
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) expect(run.artifact!.sizeBytes).toBeLessThanOrEqual(5 * 1e6);
  }, 600_000);

  it('keeps a quarter of a budget for a student when candidates are over the limit, and distils the finalists into it', async () => {
    // The best preset at 5 MB: compact_s @ 32 px (about 3.8 MB) is the first candidate that fits.
    const sweep = await app.services.races.start({ datasetId, budgetSeconds: 1600, preset: 'best', sizeLimitMb: 5, options: { epochs: 1, threads: 1 } });
    const started = (await app.services.races.get(sweep.id)).race;
    expect(started.student).toMatchObject({ backbone: 'compact_s', imageSize: 32 });
    // Planned on 1200 of the 1600 s: 3 candidates, 126 s each, then 2 x 378 s (as planRace(1200, ...) by hand).
    expect(started.plan.rungs.map((r) => [r.runs, r.secondsPerRun])).toEqual([
      [3, 126],
      [2, 378],
    ]);
    await app.services.races.cancel(sweep.id);
    await app.services.races.waitFor(sweep.id);

    // The student itself: two finished runs as finalists, their ensemble as teacher, a compact_xs student.
    const runs = await app.services.training.startTraining({
      datasetId,
      combos: [
        { backbone: 'compact_s', head: 'feedforward' },
        { backbone: 'compact_xs', head: 'feedforward' },
      ],
      options: { ...RACE_RECIPE, imageSize: 32, epochs: 1, threads: 1 },
    });
    await app.services.training.waitFor(runs.map((r) => r.id));
    const done = await Promise.all(runs.map((r) => app.services.training.get(r.id)));
    const finalists = done
      .map((run, candidate) => ({ candidate, runId: run.id, score: scoreOf(run, 'MEAN_TOP1'), kept: candidate === 0, reason: '' }))
      .sort((a, b) => b.score! - a.score!);
    const student = await distilStudent(app.services.db, app.services.training, app.services.fitter, {
      sweepId: sweep.id,
      datasetId,
      metric: 'MEAN_TOP1',
      recipe: { ...RACE_RECIPE, epochs: 1, threads: 1 },
      finalists,
      student: { backbone: 'compact_xs', head: 'feedforward', imageSize: 32 },
      seconds: 60,
    });
    expect(student.status).toBe('SUCCEEDED');
    const run = await app.services.training.get(student.runId);
    expect((run.distillation as { teacherEnsembleId: number }).teacherEnsembleId).toBe(student.teacherEnsembleId);
    expect(student.bestScore).toBe(finalists[0]!.score);
    expect(student.gap).toBeCloseTo(finalists[0]!.score! - student.score!, 12);
    expect(student.score).toBe(scoreOf(run, 'MEAN_TOP1'));
    const teacher = await app.services.db.ensembleMember.findMany({ where: { ensembleId: student.teacherEnsembleId }, include: { artifact: true } });
    for (const member of teacher) expect(runs.map((r) => r.id)).toContain(member.artifact.runId);
  }, 600_000);
});

describe('a race across a restart', () => {
  const scratch = useScratchDir();

  it('is picked up by the next process and ends (never stuck RUNNING), its interrupted runs ranked as such', async () => {
    const dir = path.join(scratch.dir, 'data');
    const first = await openTestApp(dir);
    const datasetId = await importSmallSynthetic(first, scratch.dir, { count: 60, seed: 8, difficulty: 'silhouette' });
    const sweep = await first.services.races.start({ datasetId, budgetSeconds: 300, preset: 'fast', options: { epochs: 2, threads: 1 } });
    // The process stops while rung 0 trains: its running run becomes INTERRUPTED, the queued ones stay QUEUED.
    await first.close();
    expect((await storedRace(dir, sweep.id)).status).toBe('RUNNING');

    const second = await openTestApp(dir);
    try {
      await second.services.training.adoptQueued();
      await second.services.training.startWorker();
      expect(await second.services.races.resumeRunning()).toEqual([sweep.id]);
      await second.services.races.waitFor(sweep.id);
      const { race } = await second.services.races.get(sweep.id);
      expect(['SUCCEEDED', 'FAILED']).toContain(race.status);
      const runs = await second.services.db.trainingRun.findMany({ where: { sweepId: sweep.id } });
      for (const run of runs) expect(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']).toContain(run.status);
      // Each rung-0 entry's decision follows its run's ending: an interrupted run never goes on.
      for (const entry of race.rungs[0]!.entries as { runId: number; kept: boolean; reason: string }[]) {
        const run = runs.find((r) => r.id === entry.runId)!;
        if (run.status !== 'SUCCEEDED') expect(entry).toMatchObject({ kept: false, reason: `the run ended ${run.status}` });
      }
    } finally {
      await second.close();
    }
  }, 600_000);
});

/** The race as stored, read through a short-lived app on `dir`. */
async function storedRace(dir: string, sweepId: number) {
  const app = await openTestApp(dir);
  try {
    return (await app.services.races.get(sweepId)).race;
  } finally {
    await app.close();
  }
}
