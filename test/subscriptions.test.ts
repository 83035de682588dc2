import path from 'node:path';
import { type Client, createClient, type FormattedExecutionResult } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startServer } from '../src/api/server.js';
import type { App } from '../src/app.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { TINY_TRAINING } from './fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from './helpers.js';

// Subscriptions over a real WebSocket (graphql-ws) against a real server that is reachable by others:
// anonymous reads are off, as they are on any address but loopback.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let datasetId: number;
let tokens: Record<'reader' | 'trainer', string>;
const clients: Client[] = [];

const LIFECYCLE = ['QUEUED', 'RUNNING', 'SUCCEEDED'];

function connect(token?: string, onClose?: (event: { code: number; reason: string }) => void): Client {
  const client = createClient({
    url: server.graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => onClose?.(event as { code: number; reason: string }) },
  });
  clients.push(client);
  return client;
}

/** Every result of one operation until it completes, or the error it ended with. */
async function collect<T>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
  onResult?: (result: FormattedExecutionResult<T, unknown>) => void,
): Promise<FormattedExecutionResult<T, unknown>[]> {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  for await (const result of client.iterate<T>({ query, variables })) {
    results.push(result);
    onResult?.(result);
  }
  return results;
}

async function refusal(client: Client, query: string): Promise<{ message: string; extensions?: Record<string, unknown> }> {
  try {
    const results = await collect(client, query);
    return results[0]!.errors![0] as never;
  } catch (errors) {
    return (errors as { message: string; extensions?: Record<string, unknown> }[])[0]!;
  }
}

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), { anonymousRead: false });
  server = await startServer(app);
  tokens = { reader: (await app.services.tokens.create('reader', 'reader')).token, trainer: (await app.services.tokens.create('trainer', 'TRAINER')).token };
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 40, seed: 9, minSide: 48, maxSide: 64 });
  datasetId = (await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await server.close();
  await app.close();
});

describe('subscriptions over graphql-ws', () => {
  it("delivers a run's progress and its final status in order, then completes", async () => {
    const [run] = await app.services.training.startTraining({
      datasetId,
      backbones: ['mobilenet_v3_small'],
      heads: ['feedforward'],
      options: { ...TINY_TRAINING, maxStepsPerEpoch: 4, epochs: 2 },
    });
    const reported: string[] = [];
    void collect<{ reportAdded: { id: string } }>(
      connect(tokens.reader),
      `subscription { reportAdded(filter: { runId: "${run!.id}" }) { id } }`,
      undefined,
      (r) => reported.push(r.data!.reportAdded.id),
    ).catch(() => undefined);
    const results = await collect<{
      runUpdated: {
        id: string;
        status: string;
        progress: { phase: string; epoch: number; step: number; totalSteps: number } | null;
        epochs: { epoch: number }[];
      };
    }>(connect(tokens.reader), 'subscription($id: ID!) { runUpdated(id: $id) { id status progress { phase epoch step totalSteps } epochs { epoch } } }', {
      id: String(run!.id),
    });
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    const updates = results.map((r) => r.data!.runUpdated);
    const statuses = updates.map((u) => u.status);
    // Statuses only move forward; the last one is final and the stream ended there.
    expect(statuses.map((s) => LIFECYCLE.indexOf(s))).toEqual([...statuses.map((s) => LIFECYCLE.indexOf(s))].sort((a, b) => a - b));
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses.filter((s) => s === 'SUCCEEDED')).toHaveLength(1);
    // Training progress arrived step by step, in order, and matches what was stored.
    const steps = updates.filter((u) => u.progress?.phase === 'TRAINING').map((u) => u.progress!.step);
    expect(new Set(steps).size).toBeGreaterThanOrEqual(3);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(updates.map((u) => u.epochs.length)).toEqual([...updates.map((u) => u.epochs.length)].sort((a, b) => a - b));
    const stored = await app.services.training.get(run!.id);
    const { step, totalSteps } = stored.progress as { step: number; totalSteps: number };
    expect(updates.at(-1)!.progress).toMatchObject({ step, totalSteps });
    expect(step).toBe(totalSteps);
    expect(updates.at(-1)!.epochs).toHaveLength(2);

    // The run's validation report reached the reportAdded subscriber.
    const report = await app.services.db.evaluationReport.findFirstOrThrow({ where: { runId: run!.id } });
    await expect.poll(() => reported).toEqual([String(report.id)]);
  });

  it('refuses an anonymous client on this server exactly as over HTTP, and a bad token at connection', async () => {
    const overHttp = await graphqlClient(server.graphqlUrl)('{ runsConnection { totalCount } }');
    const overWs = await refusal(connect(), 'subscription { runsUpdated { id } }');
    expect(overWs).toMatchObject({ message: overHttp.errors![0]!.message, extensions: { code: 'UNAUTHENTICATED' } });
    expect(overWs.message).toMatch(/needs an API token with role reader or higher/);
    // A reader token may subscribe.
    const [run] = await app.services.db.trainingRun.findMany({ take: 1 });
    const allowed = await collect<{ runUpdated: { id: string } }>(connect(tokens.reader), `subscription { runUpdated(id: "${run!.id}") { id } }`);
    expect(allowed.map((r) => r.data?.runUpdated.id)).toEqual([String(run!.id)]);

    let closed: { code: number; reason: string } | undefined;
    await refusal(
      connect('fh_not-a-token', (event) => (closed = event)),
      'subscription { runsUpdated { id } }',
    ).catch(() => undefined);
    expect(closed).toEqual(expect.objectContaining({ code: 4401, reason: 'this API token is not valid (unknown or revoked)' }));
  });

  it('refuses a reader token on writes, over HTTP and over the WebSocket', async () => {
    const write = `mutation { startTraining(input: { datasetId: "${datasetId}", combos: [{ backbone: "resnet18", head: "feedforward" }] }) { id } }`;
    const overHttp = await graphqlClient(server.graphqlUrl, tokens.reader)(write);
    expect(overHttp.errors?.[0]).toMatchObject({
      message: 'startTraining needs role trainer or higher; this token has role reader',
      extensions: { code: 'FORBIDDEN' },
    });
    const [overWs] = await collect(connect(tokens.reader), write);
    expect(overWs!.errors?.[0]).toMatchObject({ message: overHttp.errors![0]!.message, extensions: { code: 'FORBIDDEN' } });
    const cancel = await graphqlClient(server.graphqlUrl, tokens.reader)('mutation { cancelRun(id: "1") { id } }');
    expect(cancel.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('answers NOT_FOUND for a run that does not exist', async () => {
    const [result] = await collect(connect(tokens.reader), 'subscription { runUpdated(id: "99999") { id } }');
    expect(result!.errors?.[0]).toMatchObject({ message: 'run 99999 does not exist', extensions: { code: 'NOT_FOUND' } });
  });

  it('tells a runsUpdated subscriber of every matching run that changes, and of no other', async () => {
    const seen: Record<string, { id: string; status: string }[]> = { cancelled: [], resnet50: [] };
    for (const [key, filter] of [
      ['cancelled', '{ status: [CANCELLED] }'],
      ['resnet50', '{ backbone: "resnet50" }'],
    ] as const) {
      void collect<{ runsUpdated: { id: string; status: string } }>(
        connect(tokens.reader),
        `subscription { runsUpdated(filter: ${filter}) { id status } }`,
        undefined,
        (r) => seen[key]!.push(r.data!.runsUpdated),
      ).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const queued = await app.services.db.trainingRun.create({ data: { datasetId, backbone: 'resnet18', head: 'feedforward', status: 'QUEUED', config: {} } });
    await app.services.training.cancel(queued.id);
    await expect.poll(() => seen.cancelled).toEqual([{ id: String(queued.id), status: 'CANCELLED' }]);
    expect(seen.resnet50).toEqual([]);
  });
});

describe('roles in capitals', () => {
  it('answers READER, TRAINER, ADMIN and still accepts the old lowercase names as input', async () => {
    const admin = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('admin', 'admin')).token);
    const literal = await admin('mutation { createToken(name: "old literal", role: reader) { role } }');
    const variable = await admin('mutation($role: Role!) { createToken(name: "old variable", role: $role) { role } }', { role: 'trainer' });
    const capital = await admin('mutation { createToken(name: "new", role: ADMIN) { role } }');
    expect([literal, variable, capital].map((r) => r.data?.createToken.role)).toEqual(['READER', 'TRAINER', 'ADMIN']);
    expect((await admin('mutation { createToken(name: "bad", role: Reader) { role } }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const stored = await app.services.db.apiToken.findMany({ where: { name: { in: ['old literal', 'old variable', 'new'] } }, orderBy: { id: 'asc' } });
    expect(stored.map((t) => t.role)).toEqual(['reader', 'trainer', 'admin']);
    const { data } = await admin('{ tokensConnection(first: 100, filter: { role: trainer, revoked: false }) { edges { node { name role } } } }');
    expect(data!.tokensConnection.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { name: 'trainer', role: 'TRAINER' },
      { name: 'old variable', role: 'TRAINER' },
    ]);
  });
});
