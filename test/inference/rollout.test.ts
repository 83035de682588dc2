// Operating models like a registry, against a real server: aliases and their undo, a sticky canary, a
// shadow off the answer path, the sampled prediction log with its bound, drift, feedback with an online
// report equal to evaluate, and the Open Inference Protocol answering what classify answers.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { preprocess } from '../../src/data/image.js';
import { importDataset } from '../../src/data/import.js';
import { type SynthRow, writeSyntheticDataset } from '../../src/data/synth.js';
import { canaryBucket } from '../../src/inference/aliases.js';
import { PredictionLog } from '../../src/inference/predictionLog.js';
import { type ModelInfo, preprocessSpecOf } from '../../src/inference/registry.js';
import { trainTinyPair } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let trainer: ReturnType<typeof graphqlClient>;
let reader: ReturnType<typeof graphqlClient>;
let readerToken: string;
let rows: SynthRow[];
let imageRoot: string;
let datasetId: number;
let artifactA: number;
let artifactB: number;
let ensembleId: number;

const LIMITS = { maxBytes: 200_000, maxPixels: 1_000_000 };
const LOG_QUEUE = 8;
const MAX_IMAGES = 16;

const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { model served { alias role } artifact { id } ensemble { id }
  results { index predictionId tasks { task distribution { probability } } } } }`;
const SET_ALIAS = `mutation($input: SetAliasInput!) { setAlias(input: $input) { name mode canaryPercent logRate target { kind id name } candidate { kind id }
  history { id actor before { target { id } } after { target { id } mode } undoes undoneAt } } }`;
const UNDO = `mutation($name: String!) { undoAliasChange(name: $name) { name target { kind id } candidate { id } mode history { id actor undoes undoneAt } } }`;

const b64 = async (row: SynthRow) => (await readFile(path.join(imageRoot, row.imageName))).toString('base64');
const image = async (row: SynthRow) => ({ image: await b64(row), bbox: row.bbox });
type Result = { predictionId: string | null; tasks: { task: string; distribution: { probability: number }[] }[] };
const probabilitiesOf = (result: Result) => result.tasks.map((t) => t.distribution.map((d) => d.probability));

async function setAlias(input: Record<string, unknown>, client = trainer) {
  const { data, errors } = await client(SET_ALIAS, { input });
  if (errors) throw new Error(errors[0]!.message);
  return data!.setAlias;
}

async function classify(input: Record<string, unknown>, client = reader) {
  const { data, errors } = await client(CLASSIFY, { input });
  if (errors) throw new Error(`${errors[0]!.extensions?.code}: ${errors[0]!.message}`);
  return data!.classify as { model: string; served: { alias: string | null; role: string }; artifact: { id: string } | null; results: Result[] };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    imageLimits: LIMITS,
    anonymousRead: false,
    // One row per session run: ONNX Runtime may round a row differently in batches of other sizes, and a
    // barely trained model's near-ties would then flip a class between classify and evaluate, which the
    // feedback test compares exactly.
    serving: { maxClassifyImages: MAX_IMAGES, maxBatch: 1, maxWaitMs: 0, maxQueue: 256, intraOpThreads: 1, maxClientConcurrency: 64 },
    monitoring: {
      log: { queue: LOG_QUEUE, queueBytes: 64 * 2 ** 20, maxAgeDays: 30, maxRows: 100_000, keepCrops: true },
      directLogRate: 0,
      shadowInFlight: 4,
      // Every other TRAIN item is the drift reference; the rest is a window "drawn from the training split".
      driftReferenceItems: 70,
    },
  });
  server = await startServer(app);
  const trainerToken = (await app.services.tokens.create('rollout trainer', 'trainer')).token;
  readerToken = (await app.services.tokens.create('rollout reader', 'reader')).token;
  trainer = graphqlClient(server.graphqlUrl, trainerToken);
  reader = graphqlClient(server.graphqlUrl, readerToken);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 200, seed: 23, minSide: 64, maxSide: 96 });
  ({ rows, imageRoot } = synthetic);
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot, validationFraction: 0.15, testFraction: 0.15 }, app.services.importContext));
  await trainTinyPair(app, datasetId);
  [artifactA, artifactB] = (await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' } })).map((a) => a.id) as [number, number];
  ensembleId = (await app.services.ensembles.create({ name: 'pair', members: [{ artifactId: artifactA, weight: 1 }] })).id;
}, 300_000);
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('aliases', () => {
  it('answers with the default ensemble as champion until an alias is set; a move is one recorded change and a rollback is one undo', async () => {
    const before = await classify({ images: [await image(rows[0]!)] });
    expect(before.served).toEqual({ alias: 'champion', role: 'CHAMPION' });
    expect(before.model).toBe('pair');

    const created = await setAlias({ name: 'champion', target: { artifactId: String(artifactA) } });
    expect(created.target).toEqual({ kind: 'ARTIFACT', id: String(artifactA), name: expect.any(String) });
    expect(created.history).toHaveLength(1);
    expect(created.history[0]).toMatchObject({ actor: 'rollout trainer', before: null, after: { target: { id: String(artifactA) }, mode: 'NONE' } });
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactA));

    const moved = await setAlias({ name: 'champion', target: { artifactId: String(artifactB) } });
    expect(moved.history.map((h: { before: { target: { id: string } } | null }) => h.before?.target.id ?? null)).toEqual([String(artifactA), null]);
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactB));

    const { data, errors } = await trainer(UNDO, { name: 'champion' });
    expect(errors).toBeUndefined();
    expect(data?.undoAliasChange.target).toEqual({ kind: 'ARTIFACT', id: String(artifactA) });
    const [undo, undone] = data!.undoAliasChange.history;
    expect(undo.undoes).toBe(undone.id);
    expect(undone.undoneAt).not.toBeNull();
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactA));
    // Only the creation is left, and it has nothing before it.
    const again = await trainer(UNDO, { name: 'champion' });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    // setDefaultEnsemble moves champion (deprecated, still recorded), and the ensemble is the default.
    const set = await trainer(`mutation($id: ID!) { setDefaultEnsemble(id: $id) { id isDefault } }`, { id: String(ensembleId) });
    expect(set.data?.setDefaultEnsemble.isDefault).toBe(true);
    const champion = await app.services.aliases.get('champion');
    expect([champion.targetKind, champion.targetId]).toEqual(['ensemble', ensembleId]);
    expect((await classify({ images: [await image(rows[0]!)] })).model).toBe('pair');
    await setAlias({ name: 'champion', target: { artifactId: String(artifactA) } });
    expect((await app.services.ensembles.getDefault())?.id).toBeUndefined();
  });

  it('refuses what it cannot do, naming the limit, and lets only trainers move aliases', async () => {
    const refused = async (input: Record<string, unknown>, client = trainer) => (await client(SET_ALIAS, { input })).errors?.[0];
    expect(await refused({ name: 'challenger', target: { artifactId: String(artifactB) } }, reader)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(
      (
        await refused({
          name: 'c',
          target: { artifactId: String(artifactA) },
          candidate: { artifactId: String(artifactB) },
          mode: 'CANARY',
          canaryPercent: 150,
        })
      )?.message,
    ).toMatch(/canaryPercent must be between 0 and 100/);
    expect((await refused({ name: 'c', target: { artifactId: String(artifactA) }, mode: 'SHADOW' }))?.message).toMatch(/a shadow needs a candidate/);
    expect((await refused({ name: 'c', target: { artifactId: String(artifactA) }, logRate: 2 }))?.message).toMatch(/logRate must be between 0 and 1/);
    expect((await refused({ name: 'Bad Name', target: { artifactId: String(artifactA) } }))?.message).toMatch(/lowercase letters/);
    expect((await refused({ name: 'c', target: { artifactId: '999' } }))?.extensions?.code).toBe('NOT_FOUND');
    const unknown = await reader(CLASSIFY, { input: { images: [await image(rows[0]!)], model: 'nope' } });
    expect(unknown.errors?.[0]).toMatchObject({ message: 'alias "nope" does not exist', extensions: { code: 'NOT_FOUND' } });
    expect(await app.services.db.modelAlias.count({ where: { name: { in: ['c', 'Bad Name'] } } })).toBe(0);
  });
});

describe('canary', () => {
  it('sends 10 % +- 3 % of 2,000 requests from 1,000 tokens to the candidate, every token always to the same side', async () => {
    await setAlias({
      name: 'rollout',
      target: { artifactId: String(artifactA) },
      candidate: { artifactId: String(artifactB) },
      mode: 'CANARY',
      canaryPercent: 10,
    });
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => app.services.tokens.create(`canary client ${i}`, 'reader')));
    const photo = await image(rows[1]!);
    const sides = new Map<string, Set<string>>();
    let candidate = 0;
    const queue = tokens.flatMap((t) => [t, t]);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let next = queue.pop(); next; next = queue.pop()) {
          const answer = await classify({ images: [photo], model: 'rollout' }, graphqlClient(server.graphqlUrl, next.token));
          // The answer says who answered, and it is that model.
          expect(answer.artifact?.id).toBe(String(answer.served.role === 'CANDIDATE' ? artifactB : artifactA));
          if (answer.served.role === 'CANDIDATE') candidate++;
          sides.set(next.token, (sides.get(next.token) ?? new Set()).add(answer.served.role));
        }
      }),
    );
    expect(candidate / 2000).toBeGreaterThanOrEqual(0.07);
    expect(candidate / 2000).toBeLessThanOrEqual(0.13);
    expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
    // The side is the hash of alias and client: a wider canary keeps its clients on the candidate.
    const onCandidate = tokens.filter((t) => sides.get(t.token)!.has('CANDIDATE'));
    for (const t of onCandidate.slice(0, 20)) expect(canaryBucket('rollout', `token ${t.id}`) * 100).toBeLessThan(10);
    await setAlias({
      name: 'rollout',
      target: { artifactId: String(artifactA) },
      candidate: { artifactId: String(artifactB) },
      mode: 'CANARY',
      canaryPercent: 30,
    });
    for (const t of onCandidate.slice(0, 20)) {
      expect((await classify({ images: [photo], model: 'rollout' }, graphqlClient(server.graphqlUrl, t.token))).served.role).toBe('CANDIDATE');
    }
    // Rolling back is one call: the alias is a plain 10 % canary again.
    const { data } = await trainer(UNDO, { name: 'rollout' });
    expect(data?.undoAliasChange.mode).toBe('CANARY');
    expect((await app.services.aliases.get('rollout')).canaryPercent).toBe(10);
    const live = await reader(`{ alias(name: "rollout") { live { sides { role requests images meanLatencyMs confidence { task value } } } } }`);
    const liveSides = live.data!.alias.live.sides as { role: string; requests: number; confidence: { value: number }[] }[];
    expect(liveSides.find((s) => s.role === 'CANDIDATE')!.requests).toBe(candidate + 20);
    expect(liveSides.find((s) => s.role === 'CHAMPION')!.requests).toBe(2000 - candidate);
    for (const side of liveSides) for (const c of side.confidence) expect(c.value).toBeGreaterThan(1 / 7 - 1e-9);
  }, 300_000);
});

describe('shadow', () => {
  it('never changes an answer or its latency while the candidate scores every request', async () => {
    const images = await Promise.all(rows.slice(0, 8).map(image));
    await setAlias({ name: 'unshadowed', target: { artifactId: String(artifactA) } });
    await setAlias({ name: 'shadowed', target: { artifactId: String(artifactA) }, candidate: { artifactId: String(artifactB) }, mode: 'SHADOW' });
    // Latency in process, without HTTP: a shadow on the answer path would double it. The two aliases
    // take turns, so whatever else loads the machine (CI runs test files side by side) lands on both.
    const serve = async (model: string, latencies: number[]) => {
      const started = performance.now();
      const answer = await app.services.router.serve({
        images: images.map((x) => ({ image: Buffer.from(x.image, 'base64'), bbox: x.bbox })),
        model,
        client: 'latency probe',
      });
      latencies.push(performance.now() - started);
      await app.services.router.settled();
      return answer;
    };
    const plain = { answers: [] as Awaited<ReturnType<typeof serve>>[], latencies: [] as number[] };
    const shadowed = { answers: [] as Awaited<ReturnType<typeof serve>>[], latencies: [] as number[] };
    for (let i = 0; i < 25; i++) {
      plain.answers.push(await serve('unshadowed', plain.latencies));
      shadowed.answers.push(await serve('shadowed', shadowed.latencies));
    }
    const withShadow = shadowed.answers.map((a) => a.results.map((r) => r.map((t) => t.probabilities)));
    expect(withShadow).toEqual(plain.answers.map((a) => a.results.map((r) => r.map((t) => t.probabilities))));
    expect(shadowed.answers.every((a) => a.served.role === 'CHAMPION' && a.target.id === artifactA)).toBe(true);
    console.log(`shadow: median latency ${median(shadowed.latencies).toFixed(1)} ms beside ${median(plain.latencies).toFixed(1)} ms without`);
    expect(median(shadowed.latencies)).toBeLessThan(median(plain.latencies) * 1.4 + 2);

    // Over HTTP, back to back: the same answers as without the shadow, and the shadow scored every request.
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await classify({ images, model: 'shadowed' }));
    await app.services.router.settled();
    for (const answer of answers) {
      expect(answer.served.role).toBe('CHAMPION');
      expect(answer.results.map(probabilitiesOf)).toEqual(withShadow[0]);
    }
    const comparison = app.services.router.comparison('shadowed');
    expect(comparison.shadow).toMatchObject({ scored: 45, skipped: 0, failed: 0 });
    expect(comparison.sides.find((s) => s.role === 'SHADOW')!.images).toBe(45 * 8);
    // Agreement, checked by hand: the candidate's own answers against the champion's.
    const candidate = await app.services.classify.score({
      images: images.map((x) => ({ image: Buffer.from(x.image, 'base64'), bbox: x.bbox })),
      artifactId: artifactB,
    });
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    comparison.shadow.agreement.forEach(({ value }, t) => {
      const agree = candidate.results.filter((r, i) => argmax(r[t]!.probabilities) === argmax(withShadow[0]![i]![t]!)).length / 8;
      expect(value).toBeCloseTo(agree, 12);
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/fashion_how_shadow_agreement_total\{alias="shadowed",task="Daily",agree="(true|false)"\}/);
  }, 120_000);
});

describe('prediction log', () => {
  it('keeps the sampled share, with the crop hash and statistics an independent decoder gives', async () => {
    await setAlias({ name: 'logged', target: { artifactId: String(artifactA) }, logRate: 0.25 });
    const ids: string[] = [];
    const droppedBefore = app.services.predictionLog.counts.dropped;
    for (let r = 0; r < 50; r++) {
      const batch = rows.slice((r * 8) % 192, ((r * 8) % 192) + 8);
      const answer = await classify({ images: await Promise.all(batch.map(image)), model: 'logged' });
      ids.push(...answer.results.map((x) => x.predictionId).filter((id): id is string => id !== null));
      // The writer keeps up here (the next test floods it): the share is the sampler's, not the queue's.
      await app.services.predictionLog.flush();
    }
    expect(app.services.predictionLog.counts.dropped).toBe(droppedBefore);
    const logged = await app.services.db.prediction.findMany({ where: { alias: 'logged' } });
    // 400 images at 0.25: 100 expected, 3 standard deviations is 26.
    expect(logged.length).toBeGreaterThanOrEqual(74);
    expect(logged.length).toBeLessThanOrEqual(126);
    expect(new Set(logged.map((l) => l.id))).toEqual(new Set(ids));
    const row = logged[0]!;
    const logged0 = row.bbox as { xmin: number; ymin: number; xmax: number; ymax: number };
    const source = rows.find(
      (r) => r.bbox.xmin === logged0.xmin && r.bbox.ymin === logged0.ymin && r.bbox.xmax === logged0.xmax && r.bbox.ymax === logged0.ymax,
    )!;
    const bbox = source.bbox;
    // By hand: the whole photo decoded, the box's pixels summed here.
    const { data: pixels, info } = await sharp(path.join(imageRoot, source.imageName)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const sums = [0, 0, 0];
    const crop: number[] = [];
    for (let y = bbox.ymin; y < bbox.ymax; y++) {
      for (let x = bbox.xmin; x < bbox.xmax; x++) {
        for (let c = 0; c < 3; c++) {
          const value = pixels[(y * info.width + x) * 3 + c]!;
          sums[c]! += value;
          crop.push(value);
        }
      }
    }
    const means = sums.map((sum) => sum / (crop.length / 3));
    const stats = row.stats as Record<string, number>;
    expect(stats.red).toBeCloseTo(means[0]!, 9);
    expect(stats.green).toBeCloseTo(means[1]!, 9);
    expect(stats.blue).toBeCloseTo(means[2]!, 9);
    expect(stats.brightness).toBeCloseTo(0.299 * means[0]! + 0.587 * means[1]! + 0.114 * means[2]!, 9);
    expect(stats.aspect).toBeCloseTo((bbox.xmax - bbox.xmin) / (bbox.ymax - bbox.ymin), 12);
    expect(row.cropSha256).toBe(createHash('sha256').update(Uint8Array.from(crop)).digest('hex'));
    // Crops are kept (FASHION_HOW_PREDICTION_LOG_CROPS): a JPEG in the artifact store.
    expect((await sharp(await app.services.artifactStore.fetch(row.cropKey!, 'image')).metadata()).format).toBe('jpeg');
    const status = await reader('{ predictionLog { capacity logged dropped rows keepCrops } }');
    expect(status.data?.predictionLog).toMatchObject({ capacity: LOG_QUEUE, keepCrops: true });
    // A reader may not read the log: it names clients.
    expect((await reader(`{ predictions(alias: "logged") { id } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listed = await trainer(`{ predictions(alias: "logged", first: 500) { id role client model { kind id } tasks { task predicted { name } label } } }`);
    expect(listed.data?.predictions).toHaveLength(logged.length);
    expect(listed.data?.predictions[0]).toMatchObject({ role: 'CHAMPION', model: { kind: 'ARTIFACT', id: String(artifactA) } });
  }, 120_000);

  it('drops and counts what is beyond its bound without failing or slowing a request', async () => {
    await setAlias({ name: 'flooded', target: { artifactId: String(artifactA) }, logRate: 1 });
    const droppedBefore = app.services.predictionLog.counts.dropped;
    // One request of 16 images at rate 1 offers 16 records at once to a queue of 8.
    const answer = await classify({ images: await Promise.all(rows.slice(0, MAX_IMAGES).map(image)), model: 'flooded' });
    expect(answer.results).toHaveLength(MAX_IMAGES);
    const kept = answer.results.filter((r) => r.predictionId !== null);
    expect(kept).toHaveLength(LOG_QUEUE);
    await app.services.predictionLog.flush();
    expect(app.services.predictionLog.counts.dropped - droppedBefore).toBe(MAX_IMAGES - LOG_QUEUE);
    expect(await app.services.db.prediction.count({ where: { alias: 'flooded' } })).toBe(LOG_QUEUE);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`fashion_how_prediction_log_records_total{alias="flooded",outcome="dropped"} ${MAX_IMAGES - LOG_QUEUE}`);
    expect(metrics).toContain(`fashion_how_prediction_log_records_total{alias="flooded",outcome="logged"} ${LOG_QUEUE}`);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Classifies stored items through an alias, 8 at a time (the log's queue holds 8), and returns the logged ids. */
async function classifyItems(itemIds: number[], model: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < itemIds.length; i += LOG_QUEUE) {
    const answer = await classify({ images: itemIds.slice(i, i + LOG_QUEUE).map((id) => ({ itemId: String(id) })), model });
    ids.push(...answer.results.map((r) => r.predictionId!));
    await app.services.predictionLog.flush();
  }
  return ids;
}

describe('drift', () => {
  it('flags a window of darkened photos and not a window drawn from the training split', async () => {
    const { db } = app.services;
    await setAlias({ name: 'watched', target: { artifactId: String(artifactA) }, logRate: 1 });
    const train = await db.item.findMany({ where: { datasetId, split: 'TRAIN' }, orderBy: { id: 'asc' } });
    expect(train).toHaveLength(140);
    // The reference is every other TRAIN item (70 of 140); the window is the others.
    const window = train.filter((_, i) => i % 2 === 1);
    const t0 = new Date();
    await sleep(5);
    await classifyItems(
      window.map((item) => item.id),
      'watched',
    );
    await sleep(5);
    const t1 = new Date();
    await sleep(5);
    for (let i = 0; i < window.length; i += LOG_QUEUE) {
      const images = await Promise.all(
        window.slice(i, i + LOG_QUEUE).map(async (item) => ({
          image: (await sharp(path.join(imageRoot, item.imagePath)).linear(0.4, 0).jpeg({ quality: 95 }).toBuffer()).toString('base64'),
          bbox: { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax },
        })),
      );
      await classify({ images, model: 'watched' });
      await app.services.predictionLog.flush();
    }
    await sleep(5);
    const t2 = new Date();
    const CHECK = `mutation($input: CheckDriftInput!) { checkDrift(input: $input) { id count drifted enough referenceItems datasetVersion model { id }
      tasks { task psi pValue drifted reference window } inputs { statistic psi ks pValue drifted referenceMean windowMean } pValueThreshold } }`;
    const same = (await trainer(CHECK, { input: { alias: 'watched', from: t0.toISOString(), to: t1.toISOString() } })).data!.checkDrift;
    expect(same).toMatchObject({ count: 70, enough: true, referenceItems: 70, drifted: false, model: { id: String(artifactA) } });
    expect(same.pValueThreshold).toBeCloseTo(0.01 / 10, 12);
    const dark = (await trainer(CHECK, { input: { alias: 'watched', from: t1.toISOString(), to: t2.toISOString() } })).data!.checkDrift;
    expect(dark).toMatchObject({ count: 70, drifted: true });
    const brightness = dark.inputs.find((i: { statistic: string }) => i.statistic === 'brightness');
    expect(brightness.drifted).toBe(true);
    expect(brightness.windowMean).toBeLessThan(0.5 * brightness.referenceMean);
    // The window's mean is the mean of what the log stored for it.
    const stored = await db.prediction.findMany({ where: { alias: 'watched', createdAt: { gte: t1, lt: t2 } } });
    const meanBrightness = stored.reduce((s, p) => s + (p.stats as { brightness: number }).brightness, 0) / stored.length;
    expect(brightness.windowMean).toBeCloseTo(meanBrightness, 9);
    // The box did not change, so its aspect did not drift.
    expect(dark.inputs.find((i: { statistic: string }) => i.statistic === 'aspect').drifted).toBe(false);

    const listed = await reader(`{ driftReports(alias: "watched") { id drifted } alias(name: "watched") { latestDrift { id } } }`);
    expect(listed.data?.driftReports).toEqual([
      { id: dark.id, drifted: true },
      { id: same.id, drifted: false },
    ]);
    expect(listed.data?.alias.latestDrift.id).toBe(dark.id);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('fashion_how_drift_detected{alias="watched"} 1');
    expect(metrics).toMatch(/fashion_how_drift_psi\{alias="watched",feature="input:brightness"\} [0-9.]+/);
    // A report stored by another process (another replica, a cron job's `fashion-how drift`) is what /metrics shows next.
    const darkRow = await db.driftReport.findUniqueOrThrow({ where: { id: Number(dark.id) } });
    const { id: _darkId, ...copy } = darkRow;
    await db.driftReport.create({ data: { ...copy, drifted: false, body: copy.body as object } });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('fashion_how_drift_detected{alias="watched"} 0');
    // A timeline's window over the same span is the same report, not stored.
    const timeline = await trainer(`query($input: DriftTimelineInput!) { driftTimeline(input: $input) { id count drifted inputs { psi } } }`, {
      input: { alias: 'watched', from: t0.toISOString(), to: t1.toISOString(), buckets: 1 },
    });
    expect(timeline.data?.driftTimeline).toEqual([{ id: null, count: 70, drifted: false, inputs: same.inputs.map((i: { psi: number }) => ({ psi: i.psi })) }]);
  }, 180_000);
});

describe('feedback', () => {
  it('gives an online report equal to evaluate on the same items', async () => {
    const { db } = app.services;
    await setAlias({ name: 'labelled', target: { artifactId: String(artifactA) }, logRate: 1 });
    const items = await db.item.findMany({ where: { datasetId, split: 'TEST' }, include: { labels: { orderBy: { task: 'asc' } } }, orderBy: { id: 'asc' } });
    const dataset = await app.services.datasets.get(datasetId);
    const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    const ids = await classifyItems(
      items.map((item) => item.id),
      'labelled',
    );
    const FEEDBACK = `mutation($id: ID!, $labels: [TaskLabelInput!]!) { submitFeedback(predictionId: $id, labels: $labels) { id labelledAt tasks { task label } } }`;
    const labelsOf = (item: (typeof items)[number]) => tasks.map((task, t) => ({ task: task.name, label: task.classes[item.labels[t]!.classIndex]! }));
    for (const [i, item] of items.entries()) {
      const { data, errors } = await trainer(FEEDBACK, { id: ids[i], labels: labelsOf(item) });
      expect(errors).toBeUndefined();
      expect(data?.submitFeedback.tasks.map((t: { label: string }) => t.label)).toEqual(labelsOf(item).map((l) => l.label));
    }
    const wrong = await trainer(FEEDBACK, { id: ids[0], labels: [{ task: tasks[0]!.name, label: 'nonsense' }] });
    expect(wrong.errors?.[0]?.message).toContain(`"nonsense" is not a class of ${tasks[0]!.name}; its classes are ${tasks[0]!.classes.join(', ')}`);
    expect((await trainer(FEEDBACK, { id: ids[0], labels: labelsOf(items[0]!).slice(1) })).errors?.[0]?.message).toMatch(/a label for every task/);
    expect((await trainer(FEEDBACK, { id: 'no-such-id', labels: labelsOf(items[0]!) })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await reader(FEEDBACK, { id: ids[0], labels: labelsOf(items[0]!) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const report = await app.services.evaluation.evaluate({ artifactId: artifactA, datasetId, split: 'TEST' });
    const FIELDS = 'meanTop1 meanAcsa details { name itemCount top1 acsa macroF1 mcc kappa nll brier ece classes { index support recall precision f1 } }';
    const evaluatedAnswer = await reader(`{ report(id: "${report.id}") { ${FIELDS} } }`);
    expect(evaluatedAnswer.errors).toBeUndefined();
    const evaluated = evaluatedAnswer.data!.report;
    const online = (
      await trainer(`query($input: OnlineReportInput!) { onlineReport(input: $input) { count ${FIELDS} models { role count model { id } meanAcsa } } }`, {
        input: { alias: 'labelled' },
      })
    ).data!.onlineReport;
    expect(online.count).toBe(items.length);
    expect(online.models).toEqual([{ role: 'CHAMPION', count: items.length, model: { id: String(artifactA) }, meanAcsa: online.meanAcsa }]);
    const close = (a: unknown, b: unknown): void => {
      if (typeof a === 'number') expect(a).toBeCloseTo(b as number, 6);
      else if (Array.isArray(a)) for (const [i, x] of a.entries()) close(x, (b as unknown[])[i]);
      else if (a && typeof a === 'object') for (const key of Object.keys(a)) close((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]);
      else expect(a).toEqual(b);
    };
    const { count: _count, models: _models, ...metrics } = online;
    close(metrics, evaluated);
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(evaluated).sort());
    // Bootstrap intervals resample in item order, which a log does not share with a split: they bracket the same estimate.
    const intervals = (
      await trainer(`query($input: OnlineReportInput!) { onlineReport(input: $input) { details { top1 top1Interval { low high } } } }`, {
        input: { alias: 'labelled' },
      })
    ).data!.onlineReport.details;
    for (const d of intervals) {
      expect(d.top1Interval.low).toBeLessThanOrEqual(d.top1);
      expect(d.top1Interval.high).toBeGreaterThanOrEqual(d.top1);
    }
  }, 120_000);
});

describe('Open Inference Protocol', () => {
  const v2 = (route: string, init: RequestInit = {}, token: string | null = readerToken) =>
    fetch(`${server.url}/v2${route}`, { ...init, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const infer = (name: string, body: unknown, token?: string | null) => v2(`/models/${name}/infer`, { method: 'POST', body: JSON.stringify(body) }, token);

  it('answers health, metadata and readiness', async () => {
    await setAlias({ name: 'oip', target: { artifactId: String(artifactA) } });
    expect(await (await v2('/health/live', {}, null)).json()).toEqual({ live: true });
    const ready = await v2('/health/ready', {}, null);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactA } });
    const info = artifact.modelInfo as unknown as ModelInfo;
    const metadata = await (await v2('/models/oip')).json();
    expect(metadata).toEqual({
      name: 'oip',
      versions: [`artifact-${artifactA}`],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [-1] },
        { name: 'bbox', datatype: 'INT32', shape: [-1, 4] },
        { name: 'input', datatype: 'FP32', shape: [-1, 3, info.input.size, info.input.size] },
      ],
      outputs: info.tasks.map((t) => ({ name: t.name, datatype: 'FP32', shape: [-1, t.classes.length] })),
    });
    expect((await v2('/models/pair')).status).toBe(200);
    const modelReady = await v2('/models/oip/ready');
    expect(modelReady.status).toBe(200);
    expect(await modelReady.json()).toEqual({ name: 'oip', ready: true });
    expect((await v2('/models/nothing')).status).toBe(404);
  });

  it('answers the same probabilities as classify, from BYTES images with boxes and from an FP32 tensor', async () => {
    const chosen = rows.slice(10, 13);
    const viaGraphql = await classify({ images: await Promise.all(chosen.map(image)), model: 'oip' });
    const body = {
      id: 'request-1',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [3], data: await Promise.all(chosen.map(b64)) },
        { name: 'bbox', datatype: 'INT32', shape: [3, 4], data: chosen.map((r) => [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax]) },
      ],
    };
    const response = await infer('oip', body);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as any;
    expect(answer).toMatchObject({
      model_name: 'oip',
      model_version: `artifact-${artifactA}`,
      id: 'request-1',
      parameters: { alias: 'oip', role: 'CHAMPION' },
    });
    const tasks = viaGraphql.results[0]!.tasks.map((t) => t.task);
    expect(answer.outputs.map((o: { name: string }) => o.name)).toEqual(tasks);
    for (const [t, output] of answer.outputs.entries()) {
      expect(output.shape).toEqual([3, viaGraphql.results[0]!.tasks[t]!.distribution.length]);
      expect(output.data).toEqual(viaGraphql.results.flatMap((r) => r.tasks[t]!.distribution.map((d) => d.probability)));
    }

    // The client preprocesses (the serving preprocessing, run here) and sends the tensor.
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactA } });
    const spec = preprocessSpecOf((artifact.modelInfo as unknown as ModelInfo).input);
    const tensors = await Promise.all(chosen.map(async (r) => (await preprocess(path.join(imageRoot, r.imageName), r.bbox, spec, LIMITS)).tensor));
    const data = tensors.flatMap((t) => Array.from(t));
    const fromTensor: any = await (
      await infer('oip', { inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 3, spec.size, spec.size], data }], outputs: [{ name: tasks[1] }] })
    ).json();
    expect(fromTensor.outputs).toHaveLength(1);
    expect(fromTensor.outputs[0].name).toBe(tasks[1]);
    fromTensor.outputs[0].data.forEach((p: number, i: number) => {
      expect(p).toBeCloseTo(answer.outputs[1].data[i], 6);
    });
  });

  it("refuses what it cannot answer with the protocol's error shape, the limits named, and the same tokens as GraphQL", async () => {
    const one = { name: 'image', datatype: 'BYTES', shape: [1], data: [await b64(rows[0]!)] };
    const box = { name: 'bbox', datatype: 'INT32', shape: [1, 4], data: [[rows[0]!.bbox.xmin, rows[0]!.bbox.ymin, rows[0]!.bbox.xmax, rows[0]!.bbox.ymax]] };
    const cases: [unknown, number, RegExp][] = [
      [{ inputs: [one] }, 400, /give "image" \(BYTES, base64, shape \[N\]\) and "bbox"/],
      [{ inputs: [{ ...one, shape: [2] }, box] }, 400, /has 1 values; shape \[2\] needs 2/],
      [{ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 8, 8], data: new Array(192).fill(0) }] }, 400, /takes \[N, 3, 32, 32\]/],
      [
        {
          inputs: [
            { ...one, shape: [17], data: new Array(17).fill(one.data[0]) },
            { ...box, shape: [17, 4], data: new Array(17).fill(box.data[0]) },
          ],
        },
        400,
        /at most 16 images \(FASHION_HOW_MAX_CLASSIFY_IMAGES\)/,
      ],
      [{ inputs: [one, { ...box, data: [[0, 0, 10_000, 10]] }] }, 400, /image\[0\]|bbox|outside|inside/],
    ];
    for (const [body, status, message] of cases) {
      const response = await infer('oip', body);
      expect(response.status).toBe(status);
      const answer = (await response.json()) as { error: string };
      expect(answer.error).toMatch(message);
      expect(JSON.stringify(answer)).not.toContain(scratch.dir);
    }
    // A version other than the one the name serves, an output it does not have, a body that is not JSON.
    expect((await v2(`/models/oip/versions/artifact-${artifactB}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [one, box] }) })).status).toBe(404);
    const unknownOutput = await infer('oip', { inputs: [one, box], outputs: [{ name: 'Colour' }] });
    expect(unknownOutput.status).toBe(400);
    expect(((await unknownOutput.json()) as { error: string }).error).toMatch(/unknown output Colour; the outputs are Daily, Gender, Embellishment/);
    const notJson = await v2('/models/oip/infer', { method: 'POST', body: '{"inputs": [' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/must be JSON/);
    const anonymous = await infer('oip', { inputs: [one, box] }, null);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/needs an API token/);
    // The server keeps answering.
    expect((await infer('oip', { inputs: [one, box] })).status).toBe(200);
  });
});

describe('the log queue', () => {
  it('is bounded by the photos it holds as well as by records', async () => {
    const log = new PredictionLog(
      app.services.db,
      app.services.artifactStore,
      { queue: 100, queueBytes: 1500, maxAgeDays: 7, maxRows: 100_000, keepCrops: false },
      {
        imageLimits: LIMITS,
        scratchDir: scratch.dir,
        metrics: app.services.metrics,
        log: app.log,
      },
    );
    const photo = await readFile(path.join(imageRoot, rows[0]!.imageName));
    expect(photo.length).toBeGreaterThan(750);
    const record = (id: string) => ({
      id,
      alias: 'bytes',
      role: 'CHAMPION' as const,
      target: { kind: 'artifact' as const, id: artifactA, name: 'a', labelSchemaId: 1 },
      client: 'test',
      image: photo.subarray(0, 1000),
      bbox: rows[0]!.bbox,
      tasks: [],
      latencyMs: 1,
      at: new Date(),
    });
    expect([log.offer(record('bytes-1')), log.offer(record('bytes-2'))]).toEqual([true, false]);
    expect(log.counts.dropped).toBe(1);
    await log.flush();
    log.close();
  });
});

describe('retention', () => {
  it('applies retention by age and by row count', async () => {
    const { db } = app.services;
    const log = new PredictionLog(
      db,
      app.services.artifactStore,
      { queue: 4, queueBytes: 2 ** 20, maxAgeDays: 7, maxRows: 5, keepCrops: false },
      {
        imageLimits: LIMITS,
        scratchDir: scratch.dir,
        metrics: app.services.metrics,
        log: app.log,
      },
    );
    const base = await db.prediction.findFirstOrThrow({ where: { alias: 'logged' } });
    const { id: _id, ...fields } = base;
    await db.prediction.createMany({
      data: Array.from({ length: 3 }, (_, i) => ({
        ...fields,
        id: `old-${i}`,
        alias: 'retention',
        createdAt: new Date(Date.now() - (8 + i) * 86_400_000),
      })) as never,
    });
    const before = await db.prediction.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    await log.prune();
    expect(await db.prediction.count({ where: { alias: 'retention' } })).toBe(0);
    const after = await db.prediction.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    expect(after.map((a) => a.id)).toEqual(
      before
        .map((b) => b.id)
        .filter((id) => !id.startsWith('old-'))
        .slice(-5),
    );
  });
});
