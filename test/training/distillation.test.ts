import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import type { ReportMetrics } from '../../src/reports/evaluate.js';
import type { DistillationRecord } from '../../src/training/distillation.js';
import type { EpochRecord } from '../../src/training/runRecord.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS, TINY_TRAINING } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

// A tiny distillation: a two-member teacher, a student of it and the same student without it, the
// teacher's targets made once, and the stored comparison with the compliance line.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: number;
let teacherId: number;

const START = `mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('distil test', 'trainer')).token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 80, seed: 17, minSide: 64, maxSide: 96 });
  ({ datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.2, testFraction: 0.2 },
    app.services.importContext,
  ));
  const teachers = await importTinyPair(app);
  teacherId = (await app.services.ensembles.create({ name: 'teacher', members: teachers.map((artifactId) => ({ artifactId, weight: 1 })) })).id;
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('distillation', () => {
  it('trains a student and its baseline, stores teacher, student, baseline and compliance on the same items', async () => {
    const { data, errors } = await gql(START, {
      input: {
        datasetId: String(datasetId),
        combos: [{ backbone: 'mobilenet_v3_small', head: 'feedforward' }],
        options: { ...TINY_TRAINING, cutmix: 'OFFLINE', cutmixCopies: 1 },
        teacher: { ensembleId: String(teacherId), temperature: 2, alpha: 0.5 },
      },
    });
    expect(errors).toBeUndefined();
    const [baselineId, studentId] = data!.startTraining.map((r: { id: string }) => Number(r.id));
    await app.services.training.waitFor([baselineId!, studentId!]);
    await app.services.distillation.settled();
    const [baseline, student] = await Promise.all([app.services.training.get(baselineId!), app.services.training.get(studentId!)]);
    expect([baseline.status, student.status], `${baseline.error} ${student.error}`).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(baseline.distillation).toBeNull();

    // Same seed, same batches: only the teacher's term can make the student's losses differ.
    const losses = (run: typeof student) => (run.epochs as unknown as EpochRecord[]).map((e) => e.trainLoss);
    expect(losses(student)).not.toEqual(losses(baseline));

    const record = student.distillation as unknown as DistillationRecord;
    expect(record).toMatchObject({ teacherEnsembleId: teacherId, temperature: 2, alpha: 0.5, baselineRunId: baselineId });
    const comparison = record.comparison!;
    expect(comparison).toMatchObject({ split: 'TEST', itemCount: 16 });
    for (const [scores, owner] of [
      [comparison.student, { artifact: { runId: studentId } }],
      [comparison.teacher, { ensembleId: teacherId }],
      [comparison.baseline!, { artifact: { runId: baselineId } }],
    ] as const) {
      const report = await app.services.db.evaluationReport.findFirstOrThrow({ where: { id: scores.reportId, split: 'TEST', ...owner } });
      const metrics = report.metrics as unknown as ReportMetrics;
      expect([scores.meanTop1, scores.meanAcsa]).toEqual([metrics.meanTop1, metrics.meanAcsa]);
    }
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { runId: studentId } });
    expect(comparison.compliance).toEqual({
      models: 1,
      sizeMB: artifact.sizeBytes / 1e6,
      limitMB: 25,
      cpuLatencyMs: comparison.student.cpuLatencyMs,
      compliant: artifact.sizeBytes / 1e6 <= 25,
    });
    expect(comparison.compliance.compliant).toBe(true); // mobilenet_v3_small is a few MB

    // The student is quantized too: its INT8 child, scored on the same items, from a stored report.
    expect(comparison.studentInt8Error).toBeUndefined();
    const int8 = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: comparison.studentInt8!.artifactId } });
    expect(int8).toMatchObject({ precision: 'int8', parentId: artifact.id });
    const int8Report = await app.services.db.evaluationReport.findFirstOrThrow({
      where: { id: comparison.studentInt8!.reportId, artifactId: int8.id, split: 'TEST' },
    });
    expect(comparison.studentInt8!.meanAcsa).toBe((int8Report.metrics as unknown as ReportMetrics).meanAcsa);
    expect(comparison.studentInt8!.sizeMB).toBeLessThan(comparison.student.sizeMB);

    // The same through GraphQL.
    const shown = await gql(
      `query($id: ID!) { run(id: $id) { distillation { teacher { id } baselineRun { id } comparison { split student { meanAcsa report { id } } studentInt8 { meanAcsa } compliance { compliant sizeMB } } } } }`,
      { id: String(studentId) },
    );
    expect(shown.data!.run.distillation).toMatchObject({
      teacher: { id: String(teacherId) },
      baselineRun: { id: String(baselineId) },
      comparison: {
        split: 'TEST',
        student: { meanAcsa: comparison.student.meanAcsa, report: { id: String(comparison.student.reportId) } },
        studentInt8: { meanAcsa: comparison.studentInt8!.meanAcsa },
      },
    });
  });

  it("computes the teacher's targets once, as classify answers for each item", async () => {
    const file = path.join(app.config.dataDir, 'teachers', `ensemble-${teacherId}-dataset-${datasetId}.json`);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { itemIds: number[]; probabilities: number[][][] };
    const items = await app.services.db.item.findMany({ where: { datasetId, split: { in: ['TRAIN', 'VALIDATION'] } }, orderBy: { id: 'asc' } });
    expect(stored.itemIds).toEqual(items.map((i) => i.id));
    const dataset = await app.services.datasets.get(datasetId);
    for (const index of [0, 17]) {
      const item = items[index]!;
      const image = await readFile(path.join(dataset.imageRoot, item.imagePath));
      const outcome = await app.services.classify.classify({ images: [{ image, bbox: item }], ensembleId: teacherId });
      outcome.results[0]!.forEach((task, t) => {
        task.probabilities.forEach((p, k) => {
          expect(stored.probabilities[t]![index]![k]).toBeCloseTo(p, 6);
        });
      });
    }
    const before = (await stat(file)).mtimeMs;
    const again = await app.services.training.startTraining({
      datasetId,
      combos: [{ backbone: 'mobilenet_v3_small', head: 'residual' }],
      options: TINY_TRAINING,
      teacher: { ensembleId: teacherId, compareWithoutTeacher: false },
    });
    expect(again).toHaveLength(1);
    await app.services.training.waitFor(again.map((r) => r.id));
    await app.services.distillation.settled();
    expect((await stat(file)).mtimeMs).toBe(before);
    const record = (await app.services.training.get(again[0]!.id)).distillation as unknown as DistillationRecord;
    expect(record.baselineRunId).toBeNull();
    expect(record.comparison?.baseline).toBeNull();
  });

  it('compares a student without its baseline when the baseline was cancelled', async () => {
    const [baseline, student] = await app.services.training.startTraining({
      datasetId,
      combos: [{ backbone: 'mobilenet_v3_small', head: 'feedforward' }],
      options: TINY_TRAINING,
      teacher: { ensembleId: teacherId },
    });
    await app.services.training.cancel(baseline!.id);
    await app.services.training.waitFor([baseline!.id, student!.id]);
    await app.services.distillation.settled();
    expect((await app.services.training.get(baseline!.id)).status).toBe('CANCELLED');
    const record = (await app.services.training.get(student!.id)).distillation as unknown as DistillationRecord;
    expect(record.baselineRunId).toBe(baseline!.id);
    expect(record.comparison?.baseline).toBeNull();
    expect(record.comparison?.student.meanAcsa).toEqual(expect.any(Number));
  });

  it('makes one teacher file when two students ask for it at once', async () => {
    const artifacts = await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' }, take: 2 });
    const other = await app.services.ensembles.create({ name: 'second teacher', members: artifacts.map((a, i) => ({ artifactId: a.id, weight: i + 1 })) });
    const files = await Promise.all([
      app.services.distillation.teacherTargets(other.id, datasetId),
      app.services.distillation.teacherTargets(other.id, datasetId),
    ]);
    expect(files[0]).toBe(files[1]);
    const stored = JSON.parse(await readFile(files[0]!, 'utf8')) as { ensembleId: number; itemIds: number[] };
    expect(stored.ensembleId).toBe(other.id);
    expect(stored.itemIds).toHaveLength(64);
  });

  it("sweeps a student's recipe: every trial distils from the teacher and is compared with it, no baselines", async () => {
    const { data, errors } = await gql(`mutation($input: StartSweepInput!) { startSweep(input: $input) { id trials { run { id } } } }`, {
      input: {
        datasetId: String(datasetId),
        backbone: 'mobilenet_v3_small',
        head: 'feedforward',
        space: { learningRate: { min: 1e-4, max: 1e-2, log: true } },
        trials: 2,
        strategy: 'RANDOM',
        options: { ...TINY_TRAINING, cutmix: 'OFF' },
        teacher: { ensembleId: String(teacherId), temperature: 3, alpha: 0.7 },
      },
    });
    expect(errors).toBeUndefined();
    const runIds = data!.startSweep.trials.map((t: { run: { id: string } }) => Number(t.run.id));
    expect(runIds).toHaveLength(2);
    await app.services.training.waitFor(runIds);
    await app.services.distillation.settled();
    const sweepId = Number(data!.startSweep.id);
    // Only the trials: no baseline run was queued beside them.
    expect(await app.services.db.trainingRun.count({ where: { id: { gt: Math.min(...runIds) - 1 }, sweepId: null } })).toBe(0);
    for (const id of runIds) {
      const run = await app.services.training.get(id);
      expect(run.status, run.error ?? '').toBe('SUCCEEDED');
      expect(run.sweepId).toBe(sweepId);
      const record = run.distillation as unknown as DistillationRecord;
      expect(record).toMatchObject({ teacherEnsembleId: teacherId, temperature: 3, alpha: 0.7, baselineRunId: null });
      const report = await app.services.db.evaluationReport.findFirstOrThrow({ where: { id: record.comparison!.teacher.reportId, ensembleId: teacherId } });
      expect(record.comparison!.teacher.meanTop1).toBe((report.metrics as unknown as ReportMetrics).meanTop1);
      expect(record.comparison!.baseline).toBeNull();
    }
  });

  it('refuses a missing teacher or a bad alpha with the reason', async () => {
    const base = {
      datasetId: String(datasetId),
      combos: [{ backbone: 'mobilenet_v3_small', head: 'feedforward' }],
      options: { ...TINY_TRAINING, cutmix: 'OFF' },
    };
    const missing = await gql(START, { input: { ...base, teacher: { ensembleId: '999' } } });
    expect(missing.errors?.[0]).toMatchObject({ message: expect.stringMatching(/ensemble 999/), extensions: { code: 'NOT_FOUND' } });
    const badAlpha = await gql(START, { input: { ...base, teacher: { ensembleId: String(teacherId), alpha: 2 } } });
    expect(badAlpha.errors?.[0]).toMatchObject({ message: 'teacher alpha must be from 0 to 1, got 2', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
