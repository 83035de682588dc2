import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { FashionHowClient } from '../../src/sdk/index.js';
import { openTestApp, useScratchDir } from '../helpers.js';

// The SDK's connection iterators and its waitForRun over the subscription, with the polling fallback.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let token: string;
let datasetId: number;

const queuedRun = () => app.services.db.trainingRun.create({ data: { datasetId, backbone: 'resnet18', head: 'feedforward', status: 'QUEUED', config: {} } });
const cancelSoon = (id: number) => setTimeout(() => void app.services.training.cancel(id), 400);

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), { anonymousRead: false });
  server = await startServer(app);
  token = (await app.services.tokens.create('sdk live', 'admin')).token;
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 8, seed: 4, minSide: 32, maxSide: 48 });
  datasetId = (await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId;
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('the SDK on connections and subscriptions', () => {
  it('iterates every run page by page, in order, asking for a page only when it gets there', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 45; i++) ids.push((await queuedRun()).id);
    await app.services.db.trainingRun.updateMany({ data: { status: 'CANCELLED' } });
    const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
    const fetches = vi.spyOn(globalThis, 'fetch');
    const walked: number[] = [];
    for await (const run of client.iterateRuns({}, { pageSize: 10 })) {
      walked.push(Number(run.id));
      if (walked.length === 10) expect(fetches).toHaveBeenCalledTimes(1);
    }
    expect(walked).toEqual(ids);
    expect(fetches).toHaveBeenCalledTimes(5);
    expect((await client.runs()).map((r) => Number(r.id))).toEqual(ids);
    const newest: number[] = [];
    for await (const run of client.iterateRuns({ status: ['CANCELLED'] }, { pageSize: 7, order: 'NEWEST_FIRST' })) newest.push(Number(run.id));
    expect(newest).toEqual([...ids].reverse());
    const tokens: string[] = [];
    for await (const t of client.iterateTokens()) tokens.push(`${t.name} ${t.role}`);
    expect(tokens).toEqual(['sdk live ADMIN']);
    expect((await client.datasets()).map((d) => Number(d.id))).toEqual([datasetId]);
  });

  it('waits for a run over the subscription without a single HTTP request', async () => {
    const run = await queuedRun();
    const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
    const fetches = vi.spyOn(globalThis, 'fetch');
    const seen: string[] = [];
    cancelSoon(run.id);
    const ended = await client.waitForRun(String(run.id), { pollMs: 50, onProgress: (r) => seen.push(r.status) });
    expect(ended.status).toBe('CANCELLED');
    expect(seen).toEqual(['QUEUED', 'CANCELLED']);
    expect(fetches).not.toHaveBeenCalled();
  });

  it('falls back to polling when the WebSocket cannot connect', async () => {
    const run = await queuedRun();
    const blocked = new FashionHowClient({ endpoint: server.graphqlUrl, token, webSocketEndpoint: 'ws://127.0.0.1:9/graphql' });
    const fetches = vi.spyOn(globalThis, 'fetch');
    cancelSoon(run.id);
    const ended = await blocked.waitForRun(String(run.id), { pollMs: 50 });
    expect(ended.status).toBe('CANCELLED');
    expect(fetches.mock.calls.length).toBeGreaterThan(1);
  });

  it('answers a GraphQL error from the subscription instead of polling', async () => {
    const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
    await expect(client.waitForRun('99999')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'run 99999 does not exist' });
  });
});
