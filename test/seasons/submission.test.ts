import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { IMAGENET_PREPROCESS, preprocess } from '../../src/data/image.js';
import type { ModelInfo } from '../../src/inference/registry.js';
import { preprocessSpecOf } from '../../src/inference/registry.js';
import { SubmissionService } from '../../src/seasons/submission.js';
import { testPython } from '../fixtures/python.js';
import { importSmallSynthetic, importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { naiveCsv, openTestApp, useScratchDir } from '../helpers.js';

// A submission written and proven: the table item by item against the server's own answers in the test
// CSV's order, and the packaged predictor run in a separate Python process, its answers against the
// server's. The season here is a user's profile for the tiny pair's 7/6/3 label space that runs the
// model itself (as 2024's harness did), so the package is written and checked.
const scratch = useScratchDir();
let app: App;
let datasetId: number;
let artifactIds: number[];
let submissions: SubmissionService;

const SEASON = {
  id: 'test-cpu',
  name: 'a CPU season of the 7/6/3 label space',
  tasks: [
    { name: 'Daily', column: 'daily', classCount: 7 },
    { name: 'Gender', column: 'gender', classCount: 6 },
    { name: 'Embellishment', column: 'embel', classCount: 3 },
  ],
  sizeLimitMb: 25,
  ensemblesAllowed: false,
  device: 'cpu',
  runsModel: true,
};
const argmax = (p: number[]) => p.reduce((best, v, k) => (v > p[best]! ? k : best), 0);

beforeAll(async () => {
  const seasonsDir = path.join(scratch.dir, 'seasons');
  await mkdir(seasonsDir, { recursive: true });
  await writeFile(path.join(seasonsDir, 'test-cpu.json'), JSON.stringify(SEASON));
  app = await openTestApp(path.join(scratch.dir, 'data'), { seasonsDir });
  datasetId = await importSmallSynthetic(app, scratch.dir, { count: 24, seed: 35 });
  artifactIds = await importTinyPair(app);
  // The season runs on CPU: the model's latency is measured here by an evaluation.
  await app.services.evaluation.evaluate({ artifactId: artifactIds[0]!, datasetId, split: 'VALIDATION' });
  submissions = new SubmissionService({
    db: app.services.db,
    seasons: app.services.seasons,
    classify: app.services.classify,
    photos: app.services.importContext.photos,
    artifactStore: app.services.artifactStore,
    python: async () => (await testPython()).executable,
  });
}, TINY_PAIR_HOOK_TIMEOUT_MS);

afterAll(async () => {
  await app?.close();
});

describe('a season submission', () => {
  it('asks for the season when the dataset declares none', async () => {
    await expect(submissions.write({ datasetId, artifactId: artifactIds[0]!, outDir: path.join(scratch.dir, 'none') })).rejects.toThrow(
      `dataset ${datasetId} declares no season: run \`fashion-how season set --dataset ${datasetId} --profile <id>\``,
    );
  });

  it('refuses an ensemble the season rejects, with the reason, unless forced', async () => {
    await app.services.seasons.setDatasetSeason(datasetId, 'test-cpu');
    const ensemble = await app.services.ensembles.create({ name: 'pair', members: artifactIds.map((artifactId) => ({ artifactId, weight: 1 })) });
    await expect(submissions.write({ datasetId, ensembleId: ensemble.id, outDir: path.join(scratch.dir, 'ensemble') })).rejects.toThrow(
      `ensemble ${ensemble.id} "pair" is rejected by test-cpu: an ensemble of 2 models; test-cpu allows one model, no ensembles; CPU latency not measured on this host (evaluate the model to measure it). --force writes the submission anyway`,
    );
    // Forced, it is still one model short of a package.
    await expect(submissions.write({ datasetId, ensembleId: ensemble.id, outDir: path.join(scratch.dir, 'ensemble'), force: true })).rejects.toThrow(
      'test-cpu runs the model itself, and a package holds one model',
    );
  });

  it("writes the table in the harness's format and the test CSV's order, and proves the package in a separate Python process", async () => {
    const outDir = path.join(scratch.dir, 'submission');
    const result = await submissions.write({ datasetId, artifactId: artifactIds[0]!, outDir, sample: 6 });
    expect(result.verdict.accepted).toBe(true);

    // The table against the server's answers, item by item, in the order of the CSV that was imported.
    const dataset = await app.services.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
    const csvRows = naiveCsv(await readFile(dataset.csvPath, 'utf8'));
    const tableText = await readFile(path.join(outDir, 'predictions.csv'), 'utf8');
    const [header, ...lines] = tableText.trim().split('\n');
    expect(header).toBe('image_name,daily,gender,embel');
    expect(lines).toHaveLength(csvRows.length);
    const photos = app.services.importContext.photos.of(dataset);
    const items = await app.services.db.item.findMany({ where: { datasetId } });
    for (const [i, row] of csvRows.entries()) {
      const item = items.find((it) => it.imagePath === row.image_name)!;
      const { results } = await app.services.classify.score({ images: [{ image: await photos.read(item), bbox: item }], artifactId: artifactIds[0]! });
      expect(lines[i]).toBe([row.image_name, ...results[0]!.map((t) => argmax(t.probabilities))].join(','));
    }

    // The package: the predictor's own answers on its own letterboxed pixels, read back and scored here.
    const check = result.check!;
    expect(check).toMatchObject({ items: 6, backend: 'torch', passed: true });
    const details = (await readFile(path.join(outDir, 'check', 'details.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; probabilities: number[][] });
    const info = (await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactIds[0]! } })).modelInfo as unknown as ModelInfo;
    const spec = preprocessSpecOf(info.input);
    expect(spec.mean).toEqual(IMAGENET_PREPROCESS.mean);
    let maxDiff = 0;
    for (const record of details) {
      const png = await readFile(path.join(outDir, 'check', 'pixels', `${record.index}.png`));
      const { tensor } = await preprocess(png, { xmin: 0, ymin: 0, xmax: spec.size, ymax: spec.size }, spec, app.config.imageLimits);
      const { results } = await app.services.classify.scoreTensors({ artifactId: artifactIds[0]! }, tensor, [1, 3, spec.size, spec.size]);
      results[0]!.forEach((task, t) => {
        expect(argmax(record.probabilities[t]!)).toBe(argmax(task.probabilities));
        task.probabilities.forEach((p, k) => {
          maxDiff = Math.max(maxDiff, Math.abs(p - record.probabilities[t]![k]!));
        });
      });
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(check.graph.maxDiff).toBeCloseTo(maxDiff, 6);
    // The predictor's table (its own CSV writer) agrees with its details.
    const sampleTable = (await readFile(path.join(outDir, 'check', 'predictions.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(sampleTable.map((l) => l.split(',').slice(1).map(Number))).toEqual(details.map((d) => d.probabilities.map(argmax)));
    expect(check.cpuMs.mean).toBeGreaterThan(0);
    // On the original photos each side preprocesses its own way (the package decodes with Pillow and
    // resizes with its port of libvips' resize): the answers must be the server's all the same.
    expect(check.endToEnd.argmaxAgree).toBe(check.items);
    expect(check.endToEnd.disagreements).toEqual([]);
    expect(check.endToEnd.maxDiff).toBeLessThanOrEqual(1e-4);
    console.log(
      `package check: same pixels max |dp| ${check.graph.maxDiff.toExponential(2)}; original photos ${check.endToEnd.argmaxAgree}/${check.items} same argmax, max |dp| ${check.endToEnd.maxDiff.toExponential(2)}; CPU ${check.cpuMs.mean.toFixed(1)} ms per image`,
    );

    // The log: what, when, which model, and the table's hash.
    const logged = await app.services.seasons.submissions(datasetId, 10);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      profileId: 'test-cpu',
      modelKind: 'artifact',
      modelId: artifactIds[0],
      rows: csvRows.length,
      accepted: true,
      forced: false,
      tableSha256: createHash('sha256').update(tableText).digest('hex'),
    });
    for (const file of ['model.onnx', 'model.json', 'season.json', 'predict.py', 'onnx_torch.py', 'requirements.txt', 'README.md']) {
      await expect(readFile(path.join(outDir, 'package', file))).resolves.toBeInstanceOf(Buffer);
    }
  }, 300_000);
  it("takes the table from a finished prediction job, item by item against its stored rows in the CSV's order", async () => {
    const [job] = await app.services.predictions.waitFor([(await app.services.predictions.create({ datasetId, artifactId: artifactIds[0]! })).id]);
    expect(job!.status).toBe('SUCCEEDED');
    const outDir = path.join(scratch.dir, 'from-job');
    const result = await submissions.write({ datasetId, artifactId: artifactIds[0]!, outDir, sample: 2 });
    expect(result.source).toEqual({ predictionJob: job!.id });
    const stored = await app.services.db.predictionJobRow.findMany({ where: { jobId: job!.id }, include: { item: true }, orderBy: { line: 'asc' } });
    const csvRows = naiveCsv(await readFile((await app.services.db.dataset.findUniqueOrThrow({ where: { id: datasetId } })).csvPath, 'utf8'));
    const lines = (await readFile(path.join(outDir, 'predictions.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(lines).toHaveLength(csvRows.length);
    for (const [i, row] of csvRows.entries()) {
      const rowOf = stored.find((s) => s.item.imagePath === row.image_name)!;
      expect(lines[i]).toBe([row.image_name, ...(rowOf.probabilities as number[][]).map(argmax)].join(','));
      expect(lines[i]).toBe([row.image_name, ...(rowOf.predicted as number[])].join(','));
    }
  }, 300_000);
});
