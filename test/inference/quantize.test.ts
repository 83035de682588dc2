// Post-training INT8 end to end on real parts: a ResNet-18 trained by the real worker, its graph
// rewritten by worker/quantize.py, calibrated and served by onnxruntime-node on real (synthetic) photos
// through sharp, scored by the real evaluation path. The figures are checked against fresh evaluations
// and against the fp32 parent's own outputs, not against constants.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { ModelPool } from '../../src/inference/models.js';
import type { ModelInfo } from '../../src/inference/registry.js';
import { saliency } from '../../src/inference/saliency.js';
import { hostKey, type TuningResult } from '../../src/inference/sessionTuning.js';
import type { QuantizationRecord } from '../../src/training/quantization.js';
import { TINY_TRAINING } from '../fixtures/training.js';
import { graphqlClient, multipartClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let datasetId: number;
let parentId: number;
let mobilenetId: number;
let trainer: ReturnType<typeof graphqlClient>;

const QUANTIZE = `mutation($input: QuantizeArtifactInput!) {
  quantizeArtifact(input: $input) {
    id precision sizeBytes parent { id sizeBytes }
    quantization { method split items images tensors datasetVersion accuracy { split itemCount meanTop1Change meanAcsaChange tasks { task parentTop1 top1 parentAcsa acsa } } }
  }
}`;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 240, seed: 41, minSide: 64, maxSide: 96 });
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, testFraction: 0.15 }, app.services.importContext));
  const runs = await app.services.training.startTraining({
    datasetId,
    backbones: ['resnet18', 'mobilenet_v3_small'],
    heads: ['feedforward'],
    options: { ...TINY_TRAINING, imageSize: 64, maxStepsPerEpoch: 6, epochs: 1 },
  });
  await app.services.training.waitFor(runs.map((r) => r.id));
  const artifacts = await app.services.db.modelArtifact.findMany({ where: { runId: { in: runs.map((r) => r.id) } }, include: { run: true } });
  parentId = artifacts.find((a) => a.run?.backbone === 'resnet18')!.id;
  mobilenetId = artifacts.find((a) => a.run?.backbone === 'mobilenet_v3_small')!.id;
  server = await startServer(app);
  trainer = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('quantize trainer', 'trainer')).token);
}, 300_000);
afterAll(async () => {
  await server?.close();
  await app?.close();
});

/** Each item's probabilities per task from one artifact, through the serving path. */
async function probabilities(artifactId: number, items: { id: number }[]) {
  const images = await Promise.all(items.map((item) => app.services.datasets.itemPhoto(item.id)));
  const outcome = await app.services.classify.score({ images, artifactId, client: 'test' });
  return outcome.results.map((tasks) => tasks.map((t) => t.probabilities));
}

describe('post-training INT8', () => {
  it('writes a QDQ artifact a quarter the size whose outputs match its parent on real photos, with the accuracy change stored', async () => {
    const answer = await trainer(QUANTIZE, { input: { artifactId: String(parentId), items: 64 } });
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    const int8 = answer.data!.quantizeArtifact;
    expect(int8).toMatchObject({ precision: 'INT8', parent: { id: String(parentId) } });
    expect(int8.quantization).toMatchObject({ method: 'MINMAX', split: 'TRAIN', items: 64, images: 64, datasetVersion: 1 });
    expect(int8.quantization.tensors).toBeGreaterThan(20); // every conv input and output of a ResNet-18
    // int8 weights: a quarter of the fp32 bytes, plus scales, zero points and the float heads.
    expect(int8.sizeBytes).toBeLessThan(0.4 * int8.parent.sizeBytes);
    const row = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(int8.id) } });
    const graph = await readFile(await app.services.artifactStore.fetch(row.sha256, 'onnx'));
    expect(graph.includes('QuantizeLinear')).toBe(true);
    expect((row.modelInfo as unknown as ModelInfo).precision).toBe('int8');
    expect(int8.quantization.accuracy.map((a: { split: string }) => a.split)).toEqual(['VALIDATION', 'TEST']);

    // Outputs on held-out photos: within 0.05 of the parent's probability, same top class for nearly all.
    const held = await app.services.db.item.findMany({ where: { datasetId, split: 'VALIDATION' }, orderBy: { id: 'asc' }, take: 32 });
    const [fp32, q] = [await probabilities(parentId, held), await probabilities(Number(int8.id), held)];
    let worst = 0;
    let agree = 0;
    let total = 0;
    for (const [i, tasks] of fp32.entries()) {
      for (const [t, p] of tasks.entries()) {
        const r = q[i]![t]!;
        for (const [c, v] of p.entries()) worst = Math.max(worst, Math.abs(v - r[c]!));
        agree += Number(p.indexOf(Math.max(...p)) === r.indexOf(Math.max(...r)));
        total += 1;
      }
    }
    expect(worst).toBeLessThan(0.05);
    expect(worst).toBeGreaterThan(0); // it is another graph, not the parent served twice
    expect(agree / total).toBeGreaterThanOrEqual(0.9);
  }, 300_000);

  it('stores an accuracy change equal to evaluating both again, and gives the same artifact for the same request', async () => {
    const int8 = await app.services.quantization.quantize({ artifactId: parentId, calibration: { items: 64 } });
    expect(await app.services.db.modelArtifact.count({ where: { parentId } })).toBe(1); // the first test's, again
    const record = int8.quantization as unknown as QuantizationRecord;
    for (const stored of record.accuracy) {
      const parent = await app.services.evaluation.evaluate({ artifactId: parentId, datasetId, split: stored.split });
      const child = await app.services.evaluation.evaluate({ artifactId: int8.id, datasetId, split: stored.split });
      type M = { meanTop1: number; meanAcsa: number; tasks: { top1: number; acsa: number }[] };
      const [p, c] = [parent.metrics as M, child.metrics as M];
      expect(stored.itemCount).toBe(child.itemCount);
      expect(stored.meanTop1Change).toBeCloseTo(c.meanTop1 - p.meanTop1, 12);
      expect(stored.meanAcsaChange).toBeCloseTo(c.meanAcsa - p.meanAcsa, 12);
      stored.tasks.forEach((t, i) => {
        expect(t.parentAcsa).toBeCloseTo(p.tasks[i]!.acsa, 12);
        expect(t.acsa).toBeCloseTo(c.tasks[i]!.acsa, 12);
      });
    }
    // A different calibration is a different artifact; quantizing an INT8 artifact is refused.
    const percentile = await app.services.quantization.quantize({ artifactId: parentId, calibration: { items: 64 }, method: 'PERCENTILE' });
    expect(percentile.id).not.toBe(int8.id);
    expect(percentile.sha256).not.toBe(int8.sha256); // other ranges, other graph
    // More items than the split holds: the whole split, and the record says how many.
    const whole = await app.services.quantization.quantize({ artifactId: parentId, calibration: { items: 4096 } });
    const trainItems = await app.services.db.item.count({ where: { datasetId, split: 'TRAIN' } });
    expect(whole.quantization).toMatchObject({ calibration: { items: 4096 }, calibrationImages: trainItems });
    const again = await trainer(QUANTIZE, { input: { artifactId: String(int8.id) } });
    expect(again.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' } });
    expect(again.errors?.[0]?.message).toMatch(new RegExp(`artifact ${int8.id} is already INT8 \\(quantized from artifact ${parentId}\\)`));
    const reader = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('quantize reader', 'reader')).token);
    expect((await reader(QUANTIZE, { input: { artifactId: String(parentId) } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const tooFew = await trainer(QUANTIZE, { input: { artifactId: String(parentId), items: 8 } });
    expect(tooFew.errors?.[0]?.message).toMatch(/calibration.items must be an integer from 16 to 4096, got 8/);
  }, 300_000);

  it('refuses to serve or import an INT8 graph behind a preprocessing other than the one it was calibrated under', async () => {
    const int8 = (await app.services.db.modelArtifact.findFirstOrThrow({ where: { parentId, precision: 'int8' }, orderBy: { id: 'asc' } }))!;
    const info = int8.modelInfo as unknown as ModelInfo;
    const graph = await readFile(await app.services.artifactStore.fetch(int8.sha256, 'onnx'));
    // An import whose model.json moves the mean: the ranges were measured on other numbers.
    const upload = multipartClient(server.graphqlUrl, (await app.services.tokens.create('quantize importer', 'trainer')).token);
    const shifted = { ...info, input: { ...info.input, mean: [0.5, 0.5, 0.5] } };
    const imported = await upload(
      `mutation($input: ImportModelInput!) { importModel(input: $input) { id } }`,
      { input: { name: 'shifted int8', onnx: null, modelJson: null } },
      { 'input.onnx': graph, 'input.modelJson': Buffer.from(JSON.stringify(shifted)) },
    );
    expect(imported.errors?.[0]?.message).toMatch(/calibrated under a different preprocessing \(mean \[0\.485,0\.456,0\.406\], now \[0\.5,0\.5,0\.5\]\)/);
    expect(await app.services.db.modelArtifact.count({ where: { name: 'shifted int8' } })).toBe(0);
    // The same graph imported with its own preprocessing is an INT8 artifact like any other.
    const same = await upload(
      `mutation($input: ImportModelInput!) { importModel(input: $input) { id precision } }`,
      { input: { name: 'same int8', onnx: null, modelJson: null } },
      { 'input.onnx': graph, 'input.modelJson': Buffer.from(JSON.stringify(info)) },
    );
    expect(same.data?.importModel.precision, JSON.stringify(same.errors)).toBe('INT8');
    // A stored row whose preprocessing was changed afterwards is refused at load, and others keep serving.
    const tampered = await app.services.db.modelArtifact.create({
      data: {
        ...int8,
        id: undefined,
        name: 'tampered int8',
        parentId,
        modelInfo: { ...info, input: { ...info.input, size: 96 } } as object,
        quantization: undefined,
        sessionTuning: undefined,
      },
    });
    const item = await app.services.db.item.findFirstOrThrow({ where: { datasetId } });
    await expect(probabilities(tampered.id, [item])).rejects.toThrow(/calibrated under a different preprocessing \(size 64, now 96\)/);
    expect((await probabilities(int8.id, [item]))[0]).toHaveLength(3);
  }, 120_000);

  it("tunes session options for this host, keeps the fastest it timed, serves with them, and lets the operator's settings win", async () => {
    const answer = await trainer(
      `mutation($id: ID!) { tuneArtifact(id: $id) { host intraOpThreads graphOptimization memoryArena imagesPerSecond defaultImagesPerSecond candidates } }`,
      { id: String(parentId) },
    );
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    const shown = answer.data!.tuneArtifact;
    const row = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: parentId } });
    const stored = (row.sessionTuning as unknown as Record<string, TuningResult>)[hostKey()]!;
    expect(shown).toMatchObject({ host: hostKey(), candidates: stored.tried.length });
    expect(shown.imagesPerSecond).toBeCloseTo(stored.imagesPerSecond, 6); // the stored JSON round-trips the last digit
    expect(stored.tried.length).toBeGreaterThanOrEqual(6); // defaults, then each option's alternatives
    // The kept options are ones it timed; nothing it timed beat them by more than the stated margin.
    expect(stored.tried).toContainEqual({ options: stored.options, imagesPerSecond: stored.imagesPerSecond });
    expect(stored.imagesPerSecond).toBeGreaterThanOrEqual(stored.defaultImagesPerSecond);
    for (const t of stored.tried) expect(t.imagesPerSecond).toBeLessThanOrEqual(stored.imagesPerSecond * 1.03);
    expect(app.services.models.sessionOptionsOf(row)).toEqual(stored.options);
    const item = await app.services.db.item.findFirstOrThrow({ where: { datasetId } });
    expect((await probabilities(parentId, [item]))[0]).toHaveLength(3); // the replaced session serves
    // FASHION_HOW_INTRA_OP_THREADS and FASHION_HOW_ORT_* win over the tuning.
    const config = loadConfig({ FASHION_HOW_INTRA_OP_THREADS: '1', FASHION_HOW_ORT_GRAPH_OPTIMIZATION: 'basic', FASHION_HOW_ORT_MEMORY_ARENA: 'off' });
    expect(config.serving.sessionOverrides).toEqual({ graphOptimization: 'basic', memoryArena: false });
    const pool = new ModelPool(app.services.db, config.serving, app.services.metrics, app.services.artifactStore);
    expect(pool.sessionOptionsOf(row)).toEqual({ ...stored.options, intraOpThreads: 1, graphOptimization: 'basic', memoryArena: false });
    // Lanes other than the tuned ones drop the tuned threads per operator (each lane takes its share of
    // the cores instead), unless FASHION_HOW_INTRA_OP_THREADS says.
    const lanes = (stored.options.lanes ?? 1) + 1;
    const laned = loadConfig({ FASHION_HOW_ORT_LANES: String(lanes) });
    expect(laned.serving.sessionOverrides).toEqual({ lanes });
    const { intraOpThreads: _, ...unthreaded } = stored.options;
    expect(new ModelPool(app.services.db, laned.serving, app.services.metrics, app.services.artifactStore).sessionOptionsOf(row)).toEqual({
      ...unthreaded,
      lanes,
    });
    expect(() => loadConfig({ FASHION_HOW_ORT_LANES: '65' })).toThrow('FASHION_HOW_ORT_LANES must be an integer between 0 and 64, got "65"');
    expect(() => loadConfig({ FASHION_HOW_ORT_EXECUTION_MODE: 'fast' })).toThrow(
      /FASHION_HOW_ORT_EXECUTION_MODE must be one of tuned, sequential, parallel, got "fast"/,
    );
  }, 120_000);

  it('votes in an ensemble beside an fp32 member of another backbone, through classify and evaluate, and is explained by saliency', async () => {
    const int8 = await app.services.db.modelArtifact.findFirstOrThrow({ where: { parentId, precision: 'int8' }, orderBy: { id: 'asc' } });
    const ensemble = await app.services.ensembles.create({
      name: 'int8 and fp32',
      members: [
        { artifactId: int8.id, weight: 1 },
        { artifactId: mobilenetId, weight: 1 },
      ],
    });
    const report = await app.services.evaluation.evaluate({ ensembleId: ensemble.id, datasetId, split: 'VALIDATION' });
    const members = await app.services.db.evaluationReport.findMany({ where: { parentReportId: report.id } });
    expect(members.map((m) => m.artifactId).sort()).toEqual([int8.id, mobilenetId].sort());
    expect((report.metrics as { gain?: unknown }).gain).toBeDefined();
    // Saliency explains it like any model: occluding cells moves its answer, and the unoccluded answer is classify's.
    const item = await app.services.db.item.findFirstOrThrow({ where: { datasetId, split: 'VALIDATION' } });
    const photo = await app.services.datasets.itemPhoto(item.id);
    const map = await saliency(app.services.classify, { ...photo, artifactId: int8.id, grid: 4 });
    const [answer] = await probabilities(int8.id, [item]);
    map.tasks.forEach((task, t) => {
      expect(task.drops).toHaveLength(16);
      task.probabilities.forEach((p, c) => {
        expect(p).toBeCloseTo(answer![t]![c]!, 6);
      });
    });
    expect(map.tasks.some((task) => task.drops.some((d) => d !== 0))).toBe(true);
  }, 120_000);
});
