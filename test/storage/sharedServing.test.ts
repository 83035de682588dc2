// Two apps as two hosts: separate data folders, one database and one S3-compatible artifact store. A model
// imported through the first is served by the second, which only ever got its graph from the store.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { encodePng } from '../../src/data/image.js';
import { type S3TestServer, startS3Server } from '../fixtures/s3.js';
import { tinyModelFile } from '../fixtures/tinyModel.js';
import { graphqlClient, multipartClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let s3: S3TestServer;
let hostA: { app: App; server: RunningServer; dir: string };
let hostB: { app: App; server: RunningServer; dir: string };
let upload: ReturnType<typeof multipartClient>;
let image: string;

const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { results { tasks { task distribution { probability } } } } }`;
const IMPORT_MODEL = `mutation($input: ImportModelInput!) { importModel(input: $input) { id sha256 } }`;
const BBOX = { xmin: 4, ymin: 6, xmax: 60, ymax: 58 };
const MODEL_JSON = (size: number) => ({
  input: { size, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  tasks: [
    { name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'out_0' },
    { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
  ],
});
const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
const holdsBytes = async (dir: string, sha256: string) =>
  (await Promise.all((await filesUnder(dir)).map(async (f) => sha256Of(await readFile(f))))).includes(sha256);

const tinyModel = async (size: number): Promise<Buffer> => readFile(await tinyModelFile(size, 'probabilities', 4, 2));

const classify = (host: typeof hostA, artifactId: string) =>
  graphqlClient(host.server.graphqlUrl)(CLASSIFY, { input: { images: [{ image, bbox: BBOX }], artifactId } });

beforeAll(async () => {
  s3 = await startS3Server();
  const artifactStore = loadConfig(s3.env('e2e')).artifactStore;
  const dirA = path.join(scratch.dir, 'host-a');
  const dirB = path.join(scratch.dir, 'host-b');
  const appA = await openTestApp(dirA, { artifactStore });
  // Host B shares only the database and the store: its own data folder, so its own cache.
  const appB = await openTestApp(dirB, { artifactStore, databaseUrl: appA.config.databaseUrl });
  hostA = { app: appA, server: await startServer(appA), dir: dirA };
  hostB = { app: appB, server: await startServer(appB), dir: dirB };
  const token = (await appA.services.tokens.create('store test', 'trainer')).token;
  upload = multipartClient(hostA.server.graphqlUrl, token);
  const side = 64;
  image = (
    await encodePng(
      new Uint8Array(side * side * 3).map((_, i) => (i * 13) % 251),
      side,
      side,
      3,
    )
  ).toString('base64');
});
afterAll(async () => {
  for (const host of [hostB, hostA]) {
    await host?.server.close();
    await host?.app.close();
  }
  await s3?.stop();
});

const importModel = (name: string, onnx: Uint8Array, modelJson: object) =>
  upload(IMPORT_MODEL, { input: { name, onnx: null, modelJson: null } }, { 'input.onnx': onnx, 'input.modelJson': Buffer.from(JSON.stringify(modelJson)) });

describe('serving from a shared S3-compatible artifact store', () => {
  it('serves a model imported on one host from a second host that fetched it from the store, with identical answers', async () => {
    const onnx = await tinyModel(24);
    const sha256 = sha256Of(onnx);
    const imported = await importModel('shared', onnx, MODEL_JSON(24));
    expect(imported.errors).toBeUndefined();
    expect(imported.data?.importModel.sha256).toBe(sha256);
    const id = imported.data!.importModel.id as string;
    const row = await hostA.app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(id) } });
    expect(row.onnxPath).toBe(`s3://fashion-how/e2e/onnx/${sha256}`);
    expect(await hostB.app.services.artifactStore.has(sha256, 'onnx')).toBe(true);
    expect(await holdsBytes(hostB.dir, sha256)).toBe(false);

    const onA = await classify(hostA, id);
    const onB = await classify(hostB, id);
    expect(onA.errors).toBeUndefined();
    expect(onB.errors).toBeUndefined();
    expect(onB.data).toEqual(onA.data);
    const probabilities = onB.data!.classify.results[0].tasks.map((t: { distribution: { probability: number }[] }) => t.distribution.map((d) => d.probability));
    expect(probabilities.map((p: number[]) => p.length)).toEqual([4, 2]);
    probabilities.forEach((p: number[]) => {
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
    // B's copy is the verified one in its own cache.
    const cached = path.join(hostB.dir, 'cache', 'store', 'onnx', sha256);
    expect(sha256Of(await readFile(cached))).toBe(sha256);
  });

  it('stores nothing for a refused import', async () => {
    const junk = Buffer.from('this is not a protobuf at all '.repeat(40));
    const refused = await importModel('junk', junk, MODEL_JSON(24));
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await hostA.app.services.artifactStore.has(sha256Of(junk), 'onnx')).toBe(false);
  });

  it('answers UNAVAILABLE for a model whose object was changed in the bucket, naming no path or address', async () => {
    const onnx = await tinyModel(20);
    const imported = await importModel('tampered', onnx, MODEL_JSON(20));
    expect(imported.errors).toBeUndefined();
    const sha256 = sha256Of(onnx);
    const other = Buffer.from(onnx).reverse();
    await s3.writeObject(`e2e/onnx/${sha256}`, other);
    const answer = await classify(hostB, imported.data!.importModel.id);
    expect(answer.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAVAILABLE' },
      message: `artifact ${imported.data!.importModel.id} ("tampered") cannot be served: its ONNX file changed since it was registered (sha256 ${sha256Of(other).slice(0, 12)}, registered ${sha256.slice(0, 12)}); other models keep serving`,
    });
    expect(await holdsBytes(hostB.dir, sha256Of(other))).toBe(false);
    expect(
      (await classify(hostB, String((await hostA.app.services.db.modelArtifact.findFirstOrThrow({ where: { name: 'shared' } })).id))).errors,
    ).toBeUndefined();
  });

  it('serves an artifact registered before the store existed from its old file, and puts it in the store for other hosts', async () => {
    const onnx = await tinyModel(28);
    const sha256 = sha256Of(onnx);
    // As importModel left it before the store: data/artifacts/<sha256>.onnx on host A, and a row naming it.
    const oldPath = path.join(hostA.dir, 'artifacts', `${sha256}.onnx`);
    await mkdir(path.dirname(oldPath), { recursive: true });
    await copyFile(await tinyModelFile(28, 'probabilities', 4, 2), oldPath);
    const template = await hostA.app.services.db.modelArtifact.findFirstOrThrow({ where: { name: 'shared' } });
    const legacy = await hostA.app.services.db.modelArtifact.create({
      data: {
        name: 'legacy',
        labelSchemaId: template.labelSchemaId,
        onnxPath: oldPath,
        sha256,
        sizeBytes: onnx.length,
        modelInfo: { ...(template.modelInfo as object), input: MODEL_JSON(28).input },
      },
    });
    expect(await hostA.app.services.artifactStore.has(sha256, 'onnx')).toBe(false);
    const onA = await classify(hostA, String(legacy.id));
    expect(onA.errors).toBeUndefined();
    expect(await hostA.app.services.artifactStore.has(sha256, 'onnx')).toBe(true);
    // Gone from host A's disk (as if on another machine): host B gets it from the store.
    await rm(oldPath);
    const onB = await classify(hostB, String(legacy.id));
    expect(onB.errors).toBeUndefined();
    expect(onB.data).toEqual(onA.data);
  });
});
