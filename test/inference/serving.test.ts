import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { encodeJpeg, preprocess } from '../../src/data/image.js';
import { importDataset } from '../../src/data/import.js';
import { type SynthRow, writeSyntheticDataset } from '../../src/data/synth.js';
import { openSession } from '../../src/inference/onnx.js';
import { type ModelInfo, preprocessSpecOf } from '../../src/inference/registry.js';
import { tinyModelFile } from '../fixtures/tinyModel.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS, tinyPairFiles } from '../fixtures/training.js';
import { eventually, graphqlClient, multipartClient, openTestApp, pngClaiming, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let trainer: ReturnType<typeof graphqlClient>;
let reader: ReturnType<typeof graphqlClient>;
let anonymous: ReturnType<typeof graphqlClient>;
let trainerUpload: ReturnType<typeof multipartClient>;
let readerUpload: ReturnType<typeof multipartClient>;
let rows: SynthRow[];
let imageRoot: string;
let artifactIds: number[];

const LIMITS = { maxBytes: 200_000, maxPixels: 1_000_000 };
const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { model ensemble { id name } artifact { id }
  results { index tasks { task predicted { index name probability } distribution { index name probability } members { artifactId weight distribution { probability } } } } } }`;

const IMPORT_MODEL = `mutation($input: ImportModelInput!) { importModel(input: $input) { id name outputKind inputSize sizeBytes sha256 run { id } tasks { name classes } } }`;
/** importModel over multipart: the graph's and model.json's bytes as file parts. */
const uploadModel = (name: string, onnx: Uint8Array, modelJson: Uint8Array | object) =>
  trainerUpload(
    IMPORT_MODEL,
    { input: { name, onnx: null, modelJson: null } },
    { 'input.onnx': onnx, 'input.modelJson': modelJson instanceof Uint8Array ? modelJson : Buffer.from(JSON.stringify(modelJson)) },
  );

const b64 = async (row: SynthRow) => (await readFile(path.join(imageRoot, row.imageName))).toString('base64');
const item = async (row: SynthRow) => ({ image: await b64(row), bbox: row.bbox });
type Prediction = {
  task: string;
  distribution: { probability: number }[];
  members?: { artifactId: string; weight: number; distribution: { probability: number }[] }[];
};
const probabilities = (tasks: Prediction[]) => tasks.map((t) => t.distribution.map((d) => d.probability));

/** What onnxruntime-node gives for one image, run directly on the serving preprocessing's tensor. */
async function direct(artifactId: number, row: SynthRow): Promise<number[][]> {
  const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactId } });
  const info = artifact.modelInfo as unknown as ModelInfo;
  const spec = preprocessSpecOf(info.input);
  const { tensor } = await preprocess(path.join(imageRoot, row.imageName), row.bbox, spec, LIMITS);
  const session = await openSession(artifact.onnxPath);
  const outputs = await session.run(tensor, 1, spec.size);
  await session.release();
  return info.tasks.map((t) => Array.from(outputs[t.output]!));
}

function expectClose(actual: number[][], expected: number[][], digits = 5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, t) => {
    row.forEach((value, k) => {
      expect(value).toBeCloseTo(expected[t]![k]!, digits);
    });
  });
}

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name));
}

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    imageLimits: LIMITS,
    serving: { maxClassifyImages: 8, maxBatch: 8, maxWaitMs: 20, maxQueue: 64, intraOpThreads: 1, maxClientConcurrency: 64 },
    maxModelBytes: 16 * 2 ** 20, // the tiny test models are far smaller; a larger upload is refused quickly
  });
  server = await startServer(app);
  const trainerToken = (await app.services.tokens.create('serving test', 'trainer')).token;
  const readerToken = (await app.services.tokens.create('serving reader', 'reader')).token;
  trainer = graphqlClient(server.graphqlUrl, trainerToken);
  reader = graphqlClient(server.graphqlUrl, readerToken);
  trainerUpload = multipartClient(server.graphqlUrl, trainerToken);
  readerUpload = multipartClient(server.graphqlUrl, readerToken);
  anonymous = graphqlClient(server.graphqlUrl);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 6, minSide: 64, maxSide: 96 });
  ({ rows, imageRoot } = synthetic);
  const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot }, app.services.importContext);
  artifactIds = await importTinyPair(app);
  expect(artifactIds).toHaveLength(2);
  // A stored report, as a finished run leaves one, for the model card.
  await app.services.evaluation.evaluate({ artifactId: artifactIds[0]!, datasetId });
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('classify', () => {
  it('answers with distributions that sum to 1 and equal onnxruntime run directly on the same tensor', async () => {
    const { data, errors } = await reader(CLASSIFY, { input: { images: [await item(rows[0]!), await item(rows[1]!)], artifactId: String(artifactIds[0]) } });
    expect(errors).toBeUndefined();
    expect(data?.classify.artifact.id).toBe(String(artifactIds[0]));
    expect(data?.classify.results.map((r: { index: number }) => r.index)).toEqual([0, 1]);
    for (const [i, result] of data!.classify.results.entries()) {
      const got = probabilities(result.tasks);
      for (const task of got) expect(task.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expectClose(got, await direct(artifactIds[0]!, rows[i]!));
      for (const task of result.tasks) {
        const best = Math.max(...task.distribution.map((d: { probability: number }) => d.probability));
        expect(task.predicted.probability).toBe(best);
      }
    }
    expect(data?.classify.results[0].tasks.map((t: { task: string }) => t.task)).toEqual(['Daily', 'Gender', 'Embellishment']);
  });

  it("soft-votes an ensemble: the weighted mean of its members' answers", async () => {
    const created = await trainer(
      `mutation($input: CreateEnsembleInput!) { createEnsemble(input: $input) { id name isDefault members { weight artifact { id } } } }`,
      {
        input: {
          name: 'pair',
          members: [
            { artifactId: String(artifactIds[0]), weight: 1 },
            { artifactId: String(artifactIds[1]), weight: 3 },
          ],
        },
      },
    );
    expect(created.errors).toBeUndefined();
    expect(created.data?.createEnsemble).toMatchObject({ name: 'pair', isDefault: true });
    // No ensemble named: the default one answers.
    const { data } = await reader(CLASSIFY, { input: { images: [await item(rows[2]!)], includeMembers: true } });
    expect(data?.classify).toMatchObject({ model: 'pair', ensemble: { name: 'pair' } });
    const tasks = data!.classify.results[0].tasks as Prediction[];
    const alone = await Promise.all(artifactIds.map((id) => direct(id, rows[2]!)));
    tasks.forEach((task, t) => {
      expect(task.members!.map((m) => [m.artifactId, m.weight])).toEqual([
        [String(artifactIds[0]), 1],
        [String(artifactIds[1]), 3],
      ]);
      task.members!.forEach((m, j) => {
        expectClose([m.distribution.map((d) => d.probability)], [alone[j]![t]!]);
      });
      const expected = alone[0]![t]!.map((p, k) => (1 * p + 3 * alone[1]![t]![k]!) / 4);
      expectClose([task.distribution.map((d) => d.probability)], [expected]);
    });
  });

  it("explains the default ensemble's decision with an occlusion map per task, scored like classify", async () => {
    const SALIENCY = `query($input: SaliencyInput!) { saliency(input: $input) { model crop size grid patchColour letterbox { left top width height } tasks { task predicted { index name probability } drops } } }`;
    const { data, errors } = await reader(SALIENCY, { input: { ...(await item(rows[4]!)), grid: 3 } });
    expect(errors).toBeUndefined();
    const answer = (await reader(CLASSIFY, { input: { images: [await item(rows[4]!)] } })).data!.classify.results[0].tasks as (Prediction & {
      predicted: { index: number; probability: number };
    })[];
    const info = (await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactIds[0]! } })).modelInfo as unknown as ModelInfo;
    expect(data!.saliency).toMatchObject({ model: 'pair', size: info.input.size, grid: 3, patchColour: info.input.mean.map((m) => Math.round(m * 255)) });
    expect(data!.saliency.crop).toMatch(/^data:image\/png;base64,/);
    data!.saliency.tasks.forEach((task: { task: string; predicted: { index: number; probability: number }; drops: number[] }, t: number) => {
      // Unoccluded, the map's answer is classify's.
      expect(task.predicted.index).toBe(answer[t]!.predicted.index);
      expect(task.predicted.probability).toBeCloseTo(answer[t]!.predicted.probability, 6);
      expect(task.drops).toHaveLength(9);
      // A drop can only take away what the class had, or add what the others had.
      for (const drop of task.drops) {
        expect(drop).toBeGreaterThanOrEqual(task.predicted.probability - 1 - 1e-6);
        expect(drop).toBeLessThanOrEqual(task.predicted.probability + 1e-6);
      }
    });
    const bad = async (input: Record<string, unknown>) => (await reader(SALIENCY, { input: { ...(await item(rows[4]!)), ...input } })).errors?.[0];
    expect(await bad({ grid: 17 })).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'grid must be an integer from 2 to 16 (cells per side; grid x grid occluded copies are scored), got 17',
    });
    expect((await bad({ bbox: { xmin: 0, ymin: 0, xmax: 5000, ymax: 10 } }))?.message).toMatch(
      /^image: bbox \(0, 0, 5000, 10\) must lie inside the \d+x\d+ image$/,
    );
    // Its copies count in the query cost (half an image each: no upload, no decoding), aliases included:
    // one map of 16 x 16 passes (1 x 250 + 257 x 125 = 32,375), two do not.
    const maps = (n: number) => `query($input: SaliencyInput!) { ${Array.from({ length: n }, (_, i) => `s${i}: saliency(input: $input) { grid }`).join(' ')} }`;
    const input = { ...(await item(rows[4]!)), grid: 16, artifactId: String(artifactIds[0]) };
    expect((await reader(maps(1), { input })).errors).toBeUndefined();
    expect((await reader(maps(2), { input })).errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: `this request costs 64750 (2 images x 250, FASHION_HOW_CLASSIFY_IMAGE_COST; 514 saliency copies x 125), over the query cost limit of ${app.config.graphql.maxCost} (FASHION_HOW_MAX_QUERY_COST)`,
    });
  });

  it('batches concurrent requests and gives every caller its own row', async () => {
    const model = `model="${artifactIds[1]}"`;
    const runsOf = async (name: string, bucket = '') =>
      Number(
        (await metric(name))
          .find((l) => l.includes(model) && l.includes(bucket))
          ?.split(' ')
          .pop() ?? 0,
      );
    const [runsBefore, singleBefore] = [
      await runsOf('fashion_how_inference_batch_size_count'),
      await runsOf('fashion_how_inference_batch_size_bucket', 'le="1"'),
    ];
    const chosen = rows.slice(10, 34);
    const answers = await Promise.all(
      chosen.map(async (row) => reader(CLASSIFY, { input: { images: [await item(row)], artifactId: String(artifactIds[1]) } })),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.errors).toBeUndefined();
      expectClose(probabilities(answer.data!.classify.results[0].tasks), await direct(artifactIds[1]!, chosen[i]!));
    }
    const runs = (await runsOf('fashion_how_inference_batch_size_count')) - runsBefore;
    const single = (await runsOf('fashion_how_inference_batch_size_bucket', 'le="1"')) - singleBefore;
    // Fewer session runs than requests, and at least one run carried more than one image.
    expect(runs).toBeLessThan(chosen.length);
    expect(runs - single).toBeGreaterThan(0);
  });

  it('counts the images of every classify field and alias of a request against one limit, before any runs', async () => {
    const one = { images: [await item(rows[0]!)], artifactId: String(artifactIds[0]) };
    const aliased = (n: number, fragment = false) =>
      `query($input: ClassifyInput!) { ${Array.from({ length: n }, (_, i) => (fragment && i % 2 ? `...F${i}` : `c${i}: classify(input: $input) { model }`)).join(' ')} }` +
      (fragment ? Array.from({ length: n }, (_, i) => (i % 2 ? ` fragment F${i} on Query { f${i}: classify(input: $input) { model } }` : '')).join('') : '');
    const model = String(artifactIds[0]);
    const runs = async () =>
      Number(
        (await metric('fashion_how_inference_batch_size_count'))
          .find((l) => l.includes(`model="${model}"`))
          ?.split(' ')
          .pop() ?? 0,
      );
    const before = await runs();
    const flood = await anonymous(aliased(500), { input: one });
    expect(flood.data ?? null).toBeNull();
    expect(flood.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'a request may classify at most 8 images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for 500',
    });
    // Fragments count too.
    expect((await anonymous(aliased(9, true), { input: one })).errors?.[0]?.message).toMatch(/this one asks for 9$/);
    expect(await runs()).toBe(before); // nothing reached a model
    const fits = await anonymous(aliased(8, true), { input: one });
    expect(fits.errors).toBeUndefined();
    expect(Object.keys(fits.data!)).toHaveLength(8);
    expect(await runs()).toBeGreaterThan(before); // the counter does count this model's runs
  });

  it('weighs classify by its images in the query cost', async () => {
    const priced = await openTestApp(path.join(scratch.dir, 'data'), {
      imageLimits: LIMITS,
      graphql: { ...app.config.graphql, maxCost: 1000, classifyImageCost: 300 },
    });
    const pricedServer = await startServer(priced);
    try {
      const ask = async (count: number) =>
        graphqlClient(pricedServer.graphqlUrl)(CLASSIFY, {
          input: { images: await Promise.all(rows.slice(0, count).map(item)), artifactId: String(artifactIds[0]) },
        });
      // 4 x 300 = 1200 > 1000, although 4 is within the 8 images a request may hold.
      expect((await ask(4)).errors?.[0]).toMatchObject({
        extensions: { code: 'BAD_USER_INPUT' },
        message: 'this request costs 1200 (4 images x 300, FASHION_HOW_CLASSIFY_IMAGE_COST), over the query cost limit of 1000 (FASHION_HOW_MAX_QUERY_COST)',
      });
      const three = await ask(3);
      expect(three.errors).toBeUndefined();
      expect(three.data?.classify.results).toHaveLength(3);
    } finally {
      await pricedServer.close();
      await priced.close();
    }
  });

  it('answers BAD_USER_INPUT naming each limit', async () => {
    const ask = async (input: Record<string, unknown>) => (await reader(CLASSIFY, { input: { artifactId: String(artifactIds[0]), ...input } })).errors?.[0];
    const many = await ask({ images: await Promise.all(rows.slice(0, 9).map(item)) });
    expect(many).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'a request may classify at most 8 images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for 9',
    });
    const big = Buffer.alloc(300_000, 7).toString('base64');
    expect(await ask({ images: [{ image: big, bbox: rows[0]!.bbox }] })).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('over the limit of 200000 bytes'),
    });
    const wide = await encodeJpeg(new Uint8Array(1200 * 1000 * 3).fill(128), 1200, 1000, 50);
    expect(await ask({ images: [{ image: wide.toString('base64'), bbox: { xmin: 0, ymin: 0, xmax: 10, ymax: 10 } }] })).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'images[0]: image is 1200x1000 = 1200000 pixels, over the limit of 1000000 pixels (FASHION_HOW_MAX_IMAGE_PIXELS)',
    });
    const outside = await ask({ images: [{ image: await b64(rows[0]!), bbox: { xmin: 0, ymin: 0, xmax: 5000, ymax: 10 } }] });
    expect(outside?.message).toMatch(/^images\[0\]: bbox \(0, 0, 5000, 10\) must lie inside the \d+x\d+ image$/);
    expect(await ask({ images: [] })).toMatchObject({ message: 'images must hold at least one image' });
  });

  it('refuses corrupt, truncated and bomb images clearly while serving other requests', async () => {
    const jpeg = await readFile(path.join(imageRoot, rows[3]!.imageName));
    const bomb = pngClaiming(40_000, 40_000);
    const bad = [
      ['corrupt', Buffer.from('GIF89a but not really an image at all'), /^images\[0\]: image data is corrupt or truncated: /],
      ['not an image', Buffer.from('just some text'), /^images\[0\]: image cannot be decoded: not a supported image format/],
      ['truncated', jpeg.subarray(0, jpeg.length >> 1), /corrupt or truncated/],
      ['bomb', bomb, /40000x40000 = 1600000000 pixels, over the limit of 1000000 pixels/],
    ] as const;
    const good = rows.slice(40, 46);
    const [badAnswers, goodAnswers] = await Promise.all([
      Promise.all(
        bad.map(([, bytes]) =>
          reader(CLASSIFY, {
            input: { artifactId: String(artifactIds[0]), images: [{ image: bytes.toString('base64'), bbox: { xmin: 0, ymin: 0, xmax: 8, ymax: 8 } }] },
          }),
        ),
      ),
      Promise.all(good.map(async (row) => reader(CLASSIFY, { input: { artifactId: String(artifactIds[0]), images: [await item(row)] } }))),
    ]);
    bad.forEach(([what, , message], i) => {
      expect(badAnswers[i]!.errors?.[0]?.extensions?.code, what).toBe('BAD_USER_INPUT');
      expect(badAnswers[i]!.errors?.[0]?.message, what).toMatch(message);
    });
    for (const answer of goodAnswers) expect(answer.errors).toBeUndefined();
    expect((await reader('{ health { ok } }')).data?.health.ok).toBe(true);
  });
});

describe('access control', () => {
  it('refuses mutations without a token, with a reader token, and with a bad token', async () => {
    const mutation = `mutation { setDefaultEnsemble(id: "1") { id } }`;
    expect((await anonymous(mutation)).errors?.[0]).toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
      message: expect.stringContaining('setDefaultEnsemble needs an API token with role trainer'),
    });
    expect((await reader(mutation)).errors?.[0]).toMatchObject({
      extensions: { code: 'FORBIDDEN' },
      message: 'setDefaultEnsemble needs role trainer or higher; this token has role reader',
    });
    const forged = await graphqlClient(server.graphqlUrl, 'fh_forged')(mutation);
    expect(forged.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('not valid') });
    expect((await trainer(mutation)).errors).toBeUndefined();
    expect((await trainer(`mutation { createToken(name: "x", role: reader) { token } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses a revoked token at once, although checked tokens are remembered for a few seconds', async () => {
    const admin = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('revoking admin', 'admin')).token);
    const doomed = await app.services.tokens.create('doomed trainer', 'trainer');
    const mutation = `mutation { setDefaultEnsemble(id: "1") { id } }`;
    expect((await graphqlClient(server.graphqlUrl, doomed.token)(mutation)).errors).toBeUndefined(); // checked, remembered
    expect((await admin(`mutation { revokeToken(id: "${doomed.id}") { revokedAt } }`)).errors).toBeUndefined();
    expect((await graphqlClient(server.graphqlUrl, doomed.token)(mutation)).errors?.[0]).toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
      message: expect.stringContaining('this API token is not valid (unknown or revoked)'),
    });
  });

  it('writes a model card for one report at a time, not for every row of a list', async () => {
    const id = (await app.services.db.evaluationReport.findFirstOrThrow()).id;
    const one = await reader(`{ report(id: "${id}") { modelCard } }`);
    expect(one.errors).toBeUndefined();
    expect(one.data?.report.modelCard).toMatch(/^<!DOCTYPE html>/i);
    const many = await reader(`{ reportsConnection(first: 5) { edges { node { modelCard } } } }`);
    expect(many.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'modelCard is available on one report at a time: ask report(id) { modelCard }, not a list of reports',
    });
  });

  it('asks for a reader token on every query when anonymous reads are off', async () => {
    const closed = await startServer({ ...app, config: { ...app.config, anonymousRead: false } });
    try {
      const noToken = await graphqlClient(closed.graphqlUrl)('{ ensembles { id } }');
      expect(noToken.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const token = (await app.services.tokens.create('closed reader', 'reader')).token;
      expect((await graphqlClient(closed.graphqlUrl, token)('{ ensembles { id } }')).errors).toBeUndefined();
    } finally {
      await closed.close();
    }
  });

  it('limits query depth', async () => {
    const nest = (levels: number): string => (levels === 0 ? 'id' : `run { artifact { ${nest(levels - 1)} } }`);
    const answer = await reader(`{ artifacts { ${nest(6)} } }`);
    expect(answer.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(answer.errors?.[0]?.message).toBe('Query depth limit of 12 exceeded, found 14.');
    expect((await reader(`{ artifacts { ${nest(2)} } }`)).errors).toBeUndefined();
  });
});

describe('importModel', () => {
  it('averages each image with its mirror when model.json declares testTimeFlip', async () => {
    const onnx = await readFile(await tinyModelFile(24, 'logits', 4, 2));
    const spec = { size: 24, padValue: 255, mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.25, 0.25, 0.25] as [number, number, number] };
    const doc = (testTimeFlip: boolean) => ({
      input: spec,
      outputKind: 'logits',
      testTimeFlip,
      tasks: [
        { name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'out_0' },
        { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
      ],
    });
    const flipped = await uploadModel('tiny-flip', onnx, doc(true));
    expect(flipped.errors).toBeUndefined();
    const refused = await uploadModel('tiny-flip-bad', onnx, { ...doc(true), testTimeFlip: 'yes' });
    expect(refused.errors?.[0]?.message).toMatch(/testTimeFlip must be true or false/);

    // By hand: the model's softmax on the serving tensor and on that tensor mirrored (x -> 23 - x), averaged.
    const row = rows[9]!;
    const { tensor } = await preprocess(path.join(imageRoot, row.imageName), row.bbox, spec, LIMITS);
    const mirrored = new Float32Array(tensor.length);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) mirrored[(c * 24 + y) * 24 + x] = tensor[(c * 24 + y) * 24 + 23 - x]!;
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(flipped.data!.importModel.id) } });
    const session = await openSession(artifact.onnxPath);
    const [plain, mirror] = [await session.run(tensor, 1, 24), await session.run(mirrored, 1, 24)];
    await session.release();
    const softmax = (v: Float32Array) => {
      const e = Array.from(v).map((x) => Math.exp(x - Math.max(...v)));
      return e.map((x) => x / e.reduce((a, b) => a + b, 0));
    };
    const expected = ['out_0', 'out_1'].map((name) => softmax(plain[name]!).map((p, k) => (p + softmax(mirror[name]!)[k]!) / 2));
    const { data } = await reader(CLASSIFY, { input: { images: [await item(row)], artifactId: flipped.data!.importModel.id } });
    expectClose(probabilities(data!.classify.results[0].tasks), expected);
    // And the flip changes the answer: without it serving gives the plain softmax.
    expect(Math.max(...expected[0]!.map((p, k) => Math.abs(p - softmax(plain.out_0!)[k]!)))).toBeGreaterThan(1e-4);
    const artifactAnswer = await reader(`query($id: ID!) { artifact(id: $id) { testTimeFlip } }`, { id: flipped.data!.importModel.id });
    expect(artifactAnswer.data!.artifact.testTimeFlip).toBe(true);
  });

  it('re-imports a trained artifact from uploaded bytes and serves it like the original', async () => {
    // The files the worker exported for the first artifact.
    const [original] = await tinyPairFiles();
    const onnx = await readFile(original!.onnx);
    const modelJson = await readFile(original!.modelJson);
    const imported = await uploadModel('brought', onnx, modelJson);
    expect(imported.errors).toBeUndefined();
    expect(imported.data?.importModel).toMatchObject({
      name: 'brought',
      outputKind: 'probabilities',
      inputSize: 32,
      run: null,
      sizeBytes: onnx.length,
      sha256: createHash('sha256').update(onnx).digest('hex'),
    });
    const id = imported.data!.importModel.id as string;
    const { data } = await reader(CLASSIFY, { input: { images: [await item(rows[5]!)], artifactId: id } });
    expectClose(probabilities(data!.classify.results[0].tasks), await direct(artifactIds[0]!, rows[5]!));
  });

  it('serves a logits model as probabilities and refuses models that do not match their model.json, naming no server path', async () => {
    const logits = await readFile(await tinyModelFile(24, 'logits', 4, 2));
    const info = (overrides: Record<string, unknown> = {}) => ({
      input: { size: 24, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      outputKind: 'logits',
      tasks: [
        { name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'out_0' },
        { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
      ],
      ...overrides,
    });
    const importWith = (name: string, doc: object, onnx: Uint8Array = logits) => uploadModel(name, onnx, doc);
    const ok = await importWith('tiny-logits', info());
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.importModel.tasks.map((t: { classes: string[] }) => t.classes.length)).toEqual([4, 2]);

    // Serving turns logits into probabilities: softmax of what onnxruntime gives directly.
    const row = rows[7]!;
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(ok.data!.importModel.id) } });
    const { tensor } = await preprocess(
      path.join(imageRoot, row.imageName),
      row.bbox,
      { size: 24, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      LIMITS,
    );
    const session = await openSession(artifact.onnxPath);
    const raw = await session.run(tensor, 1, 24);
    await session.release();
    const softmax = (v: Float32Array) => {
      const e = Array.from(v).map((x) => Math.exp(x - Math.max(...v)));
      return e.map((x) => x / e.reduce((a, b) => a + b, 0));
    };
    const { data } = await reader(CLASSIFY, { input: { images: [await item(row)], artifactId: ok.data!.importModel.id } });
    expectClose(probabilities(data!.classify.results[0].tasks), [softmax(raw.out_0!), softmax(raw.out_1!)]);

    const refusals: [string, object, RegExp][] = [
      [
        'wrong-size',
        info({ input: { size: 32, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } }),
        /the graph's input is \[n, 3, 24, 24\]; model.json declares images of \[batch, 3, 32, 32\]/,
      ],
      [
        'wrong-classes',
        info({
          tasks: [
            { name: 'Style', classes: ['a', 'b', 'c'], output: 'out_0' },
            { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
          ],
        }),
        /output "out_0" has 4 values per image; task Style declares 3 classes/,
      ],
      [
        'wrong-output',
        info({ tasks: [{ name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'probs_0' }] }),
        /maps task Style to output "probs_0", but the graph's outputs are out_0, out_1/,
      ],
      ['not-probabilities', info({ outputKind: 'probabilities' }), /does not look like probabilities .* declare "outputKind": "logits"/],
      ['no-std', info({ input: { size: 24, mean: [0, 0, 0] } }), /model.json is not valid: input.std must be 3 numbers/],
    ];
    refusals.push(
      ['not-onnx', info(), /^the ONNX file cannot be loaded by ONNX Runtime: .*the graph/],
      ['empty', info(), /^the ONNX file cannot be loaded by ONNX Runtime/],
    );
    const storedBefore = await readdir(path.join(app.config.dataDir, 'artifacts'));
    for (const [name, doc, message] of refusals) {
      const answer = await importWith(
        name,
        doc,
        name === 'not-onnx' ? Buffer.from('this is not a protobuf at all '.repeat(40)) : name === 'empty' ? new Uint8Array(0) : logits,
      );
      expect(answer.errors?.[0]?.extensions?.code, name).toBe('BAD_USER_INPUT');
      expect(answer.errors?.[0]?.message, name).toMatch(message);
      expect(answer.errors?.[0]?.message, name).not.toContain(scratch.dir);
      expect(answer.errors?.[0]?.message, name).not.toMatch(/\/(tmp|work|home|root)\//);
    }
    // Refused graphs left nothing in the store, and the stored copy of the same graph (tiny-logits) is intact.
    expect(await readdir(path.join(app.config.dataDir, 'artifacts'))).toEqual(storedBefore);
    expect(await readdir(path.join(app.config.dataDir, 'artifacts', 'incoming'))).toEqual([]);
    expect(
      createHash('sha256')
        .update(await readFile(artifact.onnxPath))
        .digest('hex'),
    ).toBe(artifact.sha256);
    const again = await reader(CLASSIFY, { input: { images: [await item(row)], artifactId: ok.data!.importModel.id } });
    expect(again.errors).toBeUndefined();

    // An ensemble cannot mix label schemas.
    const mixed = await trainer(`mutation($input: CreateEnsembleInput!) { createEnsemble(input: $input) { id } }`, {
      input: { name: 'mixed', members: [{ artifactId: String(artifactIds[0]) }, { artifactId: ok.data!.importModel.id }] },
    });
    expect(mixed.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('must share one label schema') });
  });
});

describe('binary images and uploads', () => {
  const bytesOf = (row: SynthRow) => readFile(path.join(imageRoot, row.imageName));

  it('classifies multipart file parts exactly as base64, also mixed in one request', async () => {
    const picked = rows.slice(10, 13);
    const base64 = await reader(CLASSIFY, { input: { images: await Promise.all(picked.map(item)), artifactId: String(artifactIds[0]) } });
    const images = [
      { file: null, bbox: picked[0]!.bbox },
      { image: await b64(picked[1]!), bbox: picked[1]!.bbox },
      { file: null, bbox: picked[2]!.bbox },
    ];
    const binary = await readerUpload(
      CLASSIFY,
      { input: { images, artifactId: String(artifactIds[0]) } },
      { 'input.images.0.file': await bytesOf(picked[0]!), 'input.images.2.file': await bytesOf(picked[2]!) },
    );
    expect(binary.errors).toBeUndefined();
    expect(binary.data?.classify.results.map((r: { tasks: Prediction[] }) => probabilities(r.tasks))).toEqual(
      base64.data?.classify.results.map((r: { tasks: Prediction[] }) => probabilities(r.tasks)),
    );
  });

  it('keeps CSRF protection and refuses bad uploads with the limit named', async () => {
    const row = rows[14]!;
    const one = (image: Record<string, unknown>) => ({ input: { images: [{ bbox: row.bbox, ...image }], artifactId: String(artifactIds[0]) } });
    // A multipart request without a preflight-forcing header is what a cross-site form could send.
    const bare = multipartClient(server.graphqlUrl, undefined, {});
    const csrf = await bare(CLASSIFY, one({ file: null }), { 'input.images.0.file': await bytesOf(row) });
    expect(csrf.status).toBe(400);
    expect(csrf.errors?.[0]?.message).toMatch(/CSRF/);

    const both = await readerUpload(CLASSIFY, one({ file: null, image: await b64(row) }), { 'input.images.0.file': await bytesOf(row) });
    expect(both.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'images[0]: give image (base64) or file (a multipart upload), exactly one',
    });
    const neither = await reader(CLASSIFY, one({}));
    expect(neither.errors?.[0]?.message).toBe('images[0]: give image (base64) or file (a multipart upload), exactly one');

    const big = await readerUpload(CLASSIFY, one({ file: null }), { 'input.images.0.file': new Uint8Array(LIMITS.maxBytes + 1) });
    expect(big.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: `images[0] is over the limit of ${LIMITS.maxBytes} bytes (FASHION_HOW_MAX_IMAGE_BYTES)`,
    });

    const tooMany = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`input.images.${i}.file`, new Uint8Array(10)]));
    const many = await readerUpload(
      CLASSIFY,
      { input: { images: Array.from({ length: 9 }, () => ({ file: null, bbox: row.bbox })), artifactId: String(artifactIds[0]) } },
      tooMany,
    );
    expect(many.status).toBe(413);
    expect(many.errors?.[0]?.message).toBe('8 max file uploads exceeded.');

    const modelJson = await readFile((await tinyPairFiles())[0]!.modelJson);
    const model = await uploadModel('huge', new Uint8Array(app.config.maxModelBytes + 1), modelJson);
    expect(model.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: `onnx is over the limit of ${app.config.maxModelBytes} bytes (FASHION_HOW_MAX_MODEL_BYTES)`,
    });
    expect(await readdir(path.join(app.config.dataDir, 'artifacts', 'incoming'))).toEqual([]);
    // The server keeps serving after each refusal.
    expect((await readerUpload(CLASSIFY, one({ file: null }), { 'input.images.0.file': await bytesOf(row) })).data?.classify.results).toHaveLength(1);
  });

  it('answers a request refused before its file parts are read, and the connection serves the next one', async () => {
    const row = rows[16]!;
    const big = Buffer.concat([await bytesOf(row), Buffer.alloc(150_000, 1)]); // under the byte limit, over a parser buffer
    const started = performance.now();
    // Refused in the resolver (image and file both given), then over the byte limit while reading: in
    // neither case is the part read to its end by a resolver.
    const both = await readerUpload(
      CLASSIFY,
      { input: { images: [{ bbox: row.bbox, file: null, image: await b64(row) }], artifactId: String(artifactIds[0]) } },
      { 'input.images.0.file': big },
    );
    expect(both.errors?.[0]?.message).toMatch(/exactly one/);
    const over = await readerUpload(
      CLASSIFY,
      { input: { images: [{ bbox: row.bbox, file: null }], artifactId: String(artifactIds[0]) } },
      { 'input.images.0.file': Buffer.alloc(LIMITS.maxBytes + 50_000, 2) },
    );
    expect(over.errors?.[0]?.message).toMatch(/over the limit of 200000 bytes/);
    const next = await readerUpload(
      CLASSIFY,
      { input: { images: [{ bbox: row.bbox, file: null }], artifactId: String(artifactIds[0]) } },
      { 'input.images.0.file': await bytesOf(row) },
    );
    expect(next.data?.classify.results).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('answers UNAVAILABLE for an artifact whose stored graph is corrupt or missing, while the others keep serving', async () => {
    const original = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactIds[1] } });
    const onnx = await readFile(original.onnxPath);
    const modelJson = await readFile((await tinyPairFiles())[1]!.modelJson);
    // The healthy artifact's answer, from its graph before the one stored file is damaged below.
    const expected = await direct(artifactIds[1]!, rows[15]!);
    // Two more artifacts of the same graph (one stored file), not loaded yet: the file is corrupted, then removed.
    const copies = await Promise.all(
      ['doomed-a', 'doomed-b'].map(async (name) => {
        const answer = await uploadModel(name, onnx, modelJson);
        return app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(answer.data!.importModel.id) } });
      }),
    );
    expect(copies[0]!.onnxPath).toBe(copies[1]!.onnxPath); // content-addressed: one stored file
    const half = onnx.subarray(0, onnx.length >> 1);
    await writeFile(copies[0]!.onnxPath, half);
    const corrupt = await reader(CLASSIFY, { input: { images: [await item(rows[15]!)], artifactId: String(copies[0]!.id) } });
    expect(corrupt.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAVAILABLE' },
      message: expect.stringMatching(
        new RegExp(
          `^artifact ${copies[0]!.id} \\("doomed-a"\\) cannot be served: its ONNX file changed since it was registered \\(sha256 ${createHash('sha256').update(half).digest('hex').slice(0, 12)}, registered ${copies[0]!.sha256.slice(0, 12)}\\); other models keep serving$`,
        ),
      ),
    });
    await rm(copies[1]!.onnxPath);
    const missing = await reader(CLASSIFY, { input: { images: [await item(rows[15]!)], artifactId: String(copies[1]!.id) } });
    expect(missing.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAVAILABLE' },
      message: `artifact ${copies[1]!.id} ("doomed-b") cannot be served: its ONNX file is missing from the artifact store; other models keep serving`,
    });
    const healthy = await reader(CLASSIFY, { input: { images: [await item(rows[15]!)], artifactId: String(artifactIds[1]) } });
    expect(healthy.errors).toBeUndefined();
    expectClose(probabilities(healthy.data!.classify.results[0].tasks), expected);
    // Restoring the bytes restores the model (nothing was cached from the failed loads).
    await writeFile(copies[0]!.onnxPath, onnx);
    expect((await reader(CLASSIFY, { input: { images: [await item(rows[15]!)], artifactId: String(copies[1]!.id) } })).errors).toBeUndefined();
  });
});

describe('operations', () => {
  it('reports readiness once the default ensemble is warm, and exposes Prometheus metrics', async () => {
    await app.warmDefaultEnsemble();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, database: true, defaultEnsemble: { name: 'pair', warm: true } });
    const requests = await metric('fashion_how_graphql_requests_total');
    expect(requests.some((l) => /outcome="ok"/.test(l))).toBe(true);
    expect((await metric('fashion_how_errors_total')).some((l) => l.includes('code="BAD_USER_INPUT"'))).toBe(true);
    expect((await metric('fashion_how_inference_seconds_count')).length).toBeGreaterThan(0);
    expect((await metric('fashion_how_inference_queue_length')).length).toBeGreaterThan(0);
  });

  it('fails fast with OVERLOADED when a model queue is full', async () => {
    // Rows wait up to three seconds for company, and at most two may wait: the third is refused at once.
    // "At once" is judged against that wait (under 2.5 s), so a loaded machine's slow first request is
    // not taken for a wait (the bound was 0.9 s against a 1 s wait, and failed at 1.04 s under load).
    const tight = await openTestApp(path.join(scratch.dir, 'data'), {
      imageLimits: LIMITS,
      serving: { maxClassifyImages: 8, maxBatch: 64, maxWaitMs: 3000, maxQueue: 2, intraOpThreads: 1, maxClientConcurrency: 8 },
    });
    const tightServer = await startServer(tight);
    try {
      const images = await Promise.all(rows.slice(50, 54).map(item));
      const ask = (count: number) =>
        graphqlClient(tightServer.graphqlUrl)(CLASSIFY, { input: { images: images.slice(0, count), artifactId: String(artifactIds[0]) } });
      // A request that could never fit is refused whole and at once.
      let started = performance.now();
      const four = await ask(4);
      expect(performance.now() - started).toBeLessThan(2500);
      expect(four.errors?.[0]).toMatchObject({
        extensions: { code: 'OVERLOADED' },
        message: 'the model is overloaded: 0 images are waiting and this request adds 4, the limit is 2 (FASHION_HOW_INFERENCE_QUEUE); retry shortly',
      });
      // Two images wait for company (up to three seconds); one more arriving meanwhile is refused at once.
      const waiting = ask(2);
      await eventually(
        async () => ((await tight.services.metrics.queueLength.get()).values.some((v) => v.value === 2) ? true : undefined),
        'two waiting rows',
        2500,
        10,
      );
      started = performance.now();
      const refused = await ask(1);
      expect(performance.now() - started).toBeLessThan(2500);
      expect(refused.errors?.[0]).toMatchObject({
        extensions: { code: 'OVERLOADED' },
        message: 'the model is overloaded: 2 images are waiting and this request adds 1, the limit is 2 (FASHION_HOW_INFERENCE_QUEUE); retry shortly',
      });
      expect((await waiting).data?.classify.results).toHaveLength(2);
      // Once the waiting rows have gone through, two images fit.
      const two = await ask(2);
      expect(two.errors).toBeUndefined();
      expect(two.data?.classify.results).toHaveLength(2);
    } finally {
      await tightServer.close();
      await tight.close();
    }
  });

  it("sizes the platform's own scoring to the queue and waits for room instead of failing", async () => {
    // A queue of two places: an evaluation's default requests (16 images, four at once) could never fit.
    const small = await openTestApp(path.join(scratch.dir, 'data'), {
      imageLimits: LIMITS,
      serving: { maxClassifyImages: 8, maxBatch: 2, maxWaitMs: 0, maxQueue: 2, intraOpThreads: 1, maxClientConcurrency: 8 },
    });
    try {
      const datasetId = (await small.services.db.dataset.findFirstOrThrow()).id;
      const report = await small.services.evaluation.evaluate({ artifactId: artifactIds[0]!, datasetId });
      expect(report.itemCount).toBe(rows.length);
      const matrices = await small.services.db.confusionMatrix.findMany({ where: { reportId: report.id } });
      expect(matrices.map((m) => (m.rows as number[][]).flat().reduce((a, b) => a + b, 0))).toEqual([rows.length, rows.length, rows.length]);
      // Its predictions are the model's: the first item's matches a direct run.
      const first = await small.services.db.reportPrediction.findMany({
        where: { reportId: report.id },
        orderBy: [{ itemId: 'asc' }, { task: 'asc' }],
        take: 3,
      });
      const direct0 = await direct(artifactIds[0]!, rows[0]!);
      expect(first.map((p) => p.predictedClass)).toEqual(direct0.map((d) => d.indexOf(Math.max(...d))));
    } finally {
      await small.close();
    }
  });

  it('limits the classify requests one client has in flight with RATE_LIMITED, 429 and Retry-After, while other clients are served', async () => {
    const strict = await openTestApp(path.join(scratch.dir, 'data'), {
      imageLimits: LIMITS,
      serving: { maxClassifyImages: 8, maxBatch: 8, maxWaitMs: 20, maxQueue: 64, intraOpThreads: 1, maxClientConcurrency: 2 },
    });
    const strictServer = await startServer(strict);
    try {
      // Aliased classify fields start together: a third field finds the client's two slots taken.
      const query = (fields: number) =>
        `query($input: ClassifyInput!) { ${Array.from({ length: fields }, (_, i) => `c${i}: classify(input: $input) { model }`).join(' ')} }`;
      const input = { images: [await item(rows[3]!)], artifactId: String(artifactIds[0]) };
      const send = async (token: string, fields: number) => {
        const response = await fetch(strictServer.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: query(fields), variables: { input } }),
        });
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          payload: (await response.json()) as {
            data: Record<string, unknown> | null;
            errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
          },
        };
      };
      const busy = (await strict.services.tokens.create('busy client', 'reader')).token;
      const other = (await strict.services.tokens.create('other client', 'reader')).token;
      const refused = await send(busy, 3);
      expect(refused.status).toBe(429);
      expect(refused.retryAfter).toBe('1');
      expect(refused.payload.errors?.[0]).toMatchObject({
        path: ['c2'],
        message: 'this client already has 2 classify requests in flight, the limit is 2 (FASHION_HOW_MAX_CLIENT_CONCURRENCY); retry after 1 s',
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
      });
      // The refused request's first two fields still run; their slots come back when they finish.
      await eventually(async () => ((await send(busy, 1)).status === 200 ? true : undefined), 'the busy client to be served again', 10_000);
      // Two clients at their limit at the same time: each has slots of its own.
      const both = await Promise.all([send(busy, 2), send(other, 2)]);
      for (const answer of both) {
        expect(answer.status).toBe(200);
        expect(answer.payload.errors).toBeUndefined();
      }
    } finally {
      await strictServer.close();
      await strict.close();
    }
  });
});
