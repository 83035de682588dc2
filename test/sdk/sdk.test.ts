import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { modelCardHtml } from '../../src/reports/modelCard.js';
import { FashionHowClient, FashionHowError } from '../../src/sdk/index.js';
import { openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let client: FashionHowClient;
let synthetic: Awaited<ReturnType<typeof writeSyntheticDataset>>;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    serving: { maxClassifyImages: 4, maxBatch: 8, maxWaitMs: 5, maxQueue: 64, intraOpThreads: 1, maxClientConcurrency: 8 },
  });
  server = await startServer(app);
  client = new FashionHowClient({ endpoint: server.graphqlUrl, token: (await app.services.tokens.create('sdk test', 'trainer')).token });
  synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 21, minSide: 64, maxSide: 96 });
});
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('the SDK against a real server', () => {
  it('imports, trains two combos, builds and evaluates an ensemble, and classifies a large batch in order', async () => {
    // The dataset's folder, packed by the SDK and uploaded: the server reads nothing of this machine's disk.
    const imported = await client.uploadDataset(path.dirname(synthetic.csvPath), { name: 'sdk' });
    expect(imported).toMatchObject({ created: true, itemCount: 60 });
    const runs = await client.startTraining({
      datasetId: imported.dataset.id,
      backbones: ['mobilenet_v3_small'],
      heads: ['feedforward', 'residual'],
      options: {
        imageSize: 32,
        epochs: 1,
        batchSize: 16,
        maxStepsPerEpoch: 2,
        hiddenSize: 16,
        cutmix: 'OFF',
        dataLoaderWorkers: 0,
        threads: 1,
        pretrained: 'none',
      },
    });
    expect(runs.map((r) => r.status)).toEqual(['QUEUED', 'QUEUED']);
    const seen: string[] = [];
    const finished = await Promise.all(runs.map((r) => client.waitForRun(r.id, { pollMs: 200, onProgress: (run) => seen.push(run.status) })));
    expect(finished.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(seen).toContain('SUCCEEDED');

    const ensemble = await client.createEnsemble({ name: 'sdk pair', members: finished.map((r) => ({ artifactId: r.artifact!.id, weight: 1 })) });
    expect(ensemble.isDefault).toBe(true);
    const report = await client.evaluate({ ensembleId: ensemble.id, datasetId: imported.dataset.id, split: 'VALIDATION' });
    expect(report.members).toHaveLength(2);
    expect(report.confusionMatrices.every((m) => m.rows.flat().reduce((a, b) => a + b, 0) === 15)).toBe(true);
    expect((await client.report(report.id)).id).toBe(report.id);
    // The model card through the SDK is the CLI's file, byte for byte (one renderer).
    expect(await client.modelCard(report.id)).toBe(await modelCardHtml(app.services, Number(report.id)));
    // ... and it names the exact data that scored the model: the uploaded dataset's version and digest.
    expect(imported.dataset.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await client.modelCard(report.id)).toContain(`version 1, digest <code>${imported.dataset.digest}</code>`);

    const fitted = await client.fitEnsemble({
      name: 'sdk fitted',
      artifactIds: finished.map((r) => r.artifact!.id),
      datasetId: imported.dataset.id,
      rounds: 4,
    });
    expect(fitted.fit!.score).toBeGreaterThanOrEqual(fitted.fit!.bestMemberScore);
    expect(fitted.members.reduce((picks, m) => picks + m.weight, 0)).toBe(fitted.fit!.bestStep);
    expect(fitted.isDefault).toBe(false);

    // Ten images with a server limit of four per request: three requests, answers in input order.
    const rows = synthetic.rows.slice(0, 10);
    const images = rows.map((r) => ({ image: path.join(synthetic.imageRoot, r.imageName), bbox: r.bbox }));
    const answers = await client.classify(images, { members: true });
    expect(answers.map((a) => a.index)).toEqual([...Array(10).keys()]);
    for (const [i, row] of rows.entries()) {
      const [alone] = await client.classify([{ image: path.join(synthetic.imageRoot, row.imageName), bbox: row.bbox }]);
      expect(answers[i]!.tasks.map((t) => t.distribution.map((d) => d.probability))).toEqual(alone!.tasks.map((t) => t.distribution.map((d) => d.probability)));
      expect(answers[i]!.tasks[0]!.members).toHaveLength(2);
    }
    // The client sends images as multipart file parts (a Blob that missed the multipart path would reach
    // the server as {} and be refused); as base64 JSON, for proxies that refuse multipart, the answers agree.
    const viaJson = await new FashionHowClient({ endpoint: server.graphqlUrl, imageEncoding: 'base64' }).classify(images, { members: true });
    expect(viaJson).toEqual(answers);

    // Saliency: as multipart or base64 the same maps; unoccluded, the answer is classify's.
    const explained = await client.saliency(images[0]!, { grid: 2 });
    expect(explained.tasks.map((t) => t.drops.length)).toEqual([4, 4, 4]);
    expect(explained.tasks.map((t) => t.predicted.probability)).toEqual(answers[0]!.tasks.map((t) => t.predicted.probability));
    expect(await new FashionHowClient({ endpoint: server.graphqlUrl, imageEncoding: 'base64' }).saliency(images[0]!, { grid: 2 })).toEqual(explained);

    // A model uploaded through the SDK is the same bytes and serves like the artifact it copies.
    const source = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(finished[0]!.artifact!.id) } });
    const uploaded = await client.importModel('sdk upload', source.onnxPath, path.join(path.dirname(source.onnxPath), 'model.json'));
    expect(uploaded).toMatchObject({ name: 'sdk upload', sha256: source.sha256, sizeBytes: source.sizeBytes });
    const [mine, theirs] = await Promise.all([uploaded.id, finished[0]!.artifact!.id].map((artifactId) => client.classify(images.slice(0, 2), { artifactId })));
    expect(mine).toEqual(theirs);
  });

  it('rolls out behind an alias, takes feedback on logged answers and rolls back', async () => {
    const [first, second] = (await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' }, take: 2 })).map((a) => String(a.id));
    const set = await client.setAlias({ name: 'sdk', target: { artifactId: first }, logRate: 1 });
    expect(set).toMatchObject({ name: 'sdk', mode: 'NONE', target: { kind: 'ARTIFACT', id: first } });
    const moved = await client.setAlias({ name: 'sdk', target: { artifactId: second }, logRate: 1 });
    expect(moved.history.map((h) => h.after.target.id)).toEqual([second, first]);
    const item = await app.services.db.item.findFirstOrThrow({ include: { labels: { orderBy: { task: 'asc' } } }, orderBy: { id: 'asc' } });
    const { image } = await app.services.datasets.itemPhoto(item.id);
    const bbox = { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax };
    const [answer] = await client.classify([{ image, bbox }], { model: 'sdk' });
    expect(answer!.predictionId).toMatch(/^[0-9a-f-]{36}$/);
    await app.services.predictionLog.flush();
    const { tasks } = await app.services.datasets.labelSchema((await app.services.datasets.get(item.datasetId)).labelSchemaId);
    const labels = tasks.map((task, t) => ({ task: task.name, label: task.classes[item.labels[t]!.classIndex]! }));
    const labelled = await client.submitFeedback(answer!.predictionId!, labels);
    expect(labelled.tasks.map((t) => t.label)).toEqual(labels.map((l) => l.label));
    const online = await client.onlineReport({ alias: 'sdk' });
    expect(online.count).toBe(1);
    // One item: top-1 per task is 1 where the answer was right.
    expect(online.details.map((d) => d.top1)).toEqual(answer!.tasks.map((t, i) => (t.predicted.name === labels[i]!.label ? 1 : 0)));
    expect(online.models).toEqual([expect.objectContaining({ role: 'CHAMPION', count: 1, model: expect.objectContaining({ id: second }) })]);
    const back = await client.undoAliasChange('sdk');
    expect(back.target.id).toBe(first);
    expect((await client.aliases()).find((a) => a.name === 'sdk')!.target.id).toBe(first);
    await expect(client.classify([{ image, bbox }], { model: 'no such alias' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('throws typed errors carrying the server code, and does not retry bad input', async () => {
    const row = synthetic.rows[0]!;
    const started = performance.now();
    const error = await client
      .classify([{ image: path.join(synthetic.imageRoot, row.imageName), bbox: { xmin: 0, ymin: 0, xmax: 9999, ymax: 5 } }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FashionHowError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/^images\[0\]: bbox \(0, 0, 9999, 5\) must lie inside/) });
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(
      new FashionHowClient({ endpoint: server.graphqlUrl }).startTraining({ datasetId: '1', backbones: ['resnet18'], heads: ['feedforward'] }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('retries OVERLOADED with backoff until the model has room', async () => {
    const tight = await openTestApp(path.join(scratch.dir, 'data'), {
      serving: { maxClassifyImages: 8, maxBatch: 64, maxWaitMs: 300, maxQueue: 2, intraOpThreads: 1, maxClientConcurrency: 8 },
    });
    const tightServer = await startServer(tight);
    // Loaded first (fetched from the artifact store and warmed): the timing below is about the queue.
    await tight.warmDefaultEnsemble();
    try {
      const pair = (offset: number) =>
        synthetic.rows.slice(offset, offset + 2).map((r) => ({ image: path.join(synthetic.imageRoot, r.imageName), bbox: r.bbox }));
      // Two images fill the queue for 300 ms (maxWaitMs); a second pair arriving meanwhile is refused.
      const first = new FashionHowClient({ endpoint: tightServer.graphqlUrl }).classify(pair(0));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(new FashionHowClient({ endpoint: tightServer.graphqlUrl, retries: 0 }).classify(pair(2))).rejects.toMatchObject({ code: 'OVERLOADED' });
      expect(await first).toHaveLength(2);
      const again = new FashionHowClient({ endpoint: tightServer.graphqlUrl }).classify(pair(0));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = performance.now();
      const patient = await new FashionHowClient({ endpoint: tightServer.graphqlUrl, retries: 10, backoffMs: 50 }).classify(pair(2));
      expect(patient).toHaveLength(2);
      // It was refused at first and got through once the first pair had been served.
      expect(performance.now() - started).toBeGreaterThan(250);
      expect(await again).toHaveLength(2);
    } finally {
      await tightServer.close();
      await tight.close();
    }
  });
});
