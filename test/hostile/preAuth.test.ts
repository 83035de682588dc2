// Hostile clients before (and just after) they authenticate, against a real server on loopback: each
// case asserts the refusal and its message, that nothing grows or stays behind, and that the server
// still answers everyone else (issue 36, items 3 and 6).
import http from 'node:http';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { LocalPubSub, MAX_QUEUED_NOTICES, type Subscription } from '../../src/pubsub/pubsub.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let readerToken: string;

// The refusal gate is off: these cases send hundreds of refused requests on purpose to test what lies
// behind it (refusalGate.test.ts tests the gate).
const GUARDS = { maxClientSockets: 3, maxClientSubscriptions: 4, maxAnonymousBodyBytes: 64 * 1024, clientRefusalsPerSecond: 0 };
const MAX_BODY = 512 * 1024;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), { maxBodyBytes: MAX_BODY });
  app.config.guards = { ...app.config.guards, ...GUARDS };
  server = await startServer(app);
  readerToken = (await app.services.tokens.create('hostile reader', 'reader')).token;
});
afterAll(async () => {
  await server.close();
  await app.close();
});

/** The server still answers an ordinary query. */
async function stillServes() {
  const answer = await graphqlClient(server.graphqlUrl)('{ health { ok } }');
  expect(answer.errors).toBeUndefined();
}

/** Sends headers announcing `announced` bytes and only `sent` of them; resolves with the answer that came
 *  back before the rest of the body (so the server refused without waiting to read it). */
function postUnfinished(url: string, headers: Record<string, string>, announced: number, sent = 1024): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(announced), ...headers } });
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('error', reject);
    request.write(`{"query":"${' '.repeat(Math.max(0, sent - 12))}`);
    setTimeout(() => reject(new Error('no answer before the body was finished')), 10_000).unref();
  });
}

describe('pre-authentication bounds over HTTP', () => {
  it('keeps the operation label of the metrics to known names and "other" under 2,000 made-up operation names (bench/hostile.ts sends 10,000)', async () => {
    const client = graphqlClient(server.graphqlUrl);
    const forged = graphqlClient(server.graphqlUrl, 'fh_forged');
    const before = (await (await fetch(`${server.url}/metrics`)).text()).length;
    const names = Array.from({ length: 2_000 }, (_, i) => `Made${i}`);
    for (let at = 0; at < names.length; at += 50) {
      await Promise.all(
        names.slice(at, at + 50).map(async (name, i) => {
          // Three kinds: valid, refused by validation, and unauthenticated (the issue's 400s and 401s).
          if (i % 3 === 0) await client(`query ${name} { health { ok } }`);
          else if (i % 3 === 1) await client(`query ${name} { noSuchField }`);
          else await forged(`query ${name} { health { ok } }`);
        }),
      );
    }
    await client('query Health { health { ok } }'); // a dashboard operation keeps its own name
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const operations = new Set([...text.matchAll(/fashion_how_graphql_requests_total\{operation="([^"]*)"/g)].map((m) => m[1]));
    console.log(`operation labels after 2,000 names: ${[...operations].join(', ')}`);
    expect([...operations].filter((name) => name!.startsWith('Made'))).toEqual([]);
    expect(operations.has('other')).toBe(true);
    expect(operations.size).toBeLessThanOrEqual(3);
    console.log(`/metrics: ${before} bytes before, ${text.length} after 2,000 operation names; operation labels: ${[...operations].join(', ')}`);
    expect(text.length - before).toBeLessThan(20_000);
  }, 120_000);

  it('limits a body without a token to the anonymous limit, before parsing, and names the setting', async () => {
    const big = JSON.stringify({ query: '{ health { ok } }', variables: { pad: 'x'.repeat(GUARDS.maxAnonymousBodyBytes) } });
    const anonymous = await fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(anonymous.status).toBe(413);
    expect(((await anonymous.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(
      `request body is larger than the limit of ${GUARDS.maxAnonymousBodyBytes} bytes for a request without a token (FASHION_HOW_MAX_ANONYMOUS_BODY_BYTES)`,
    );
    const withToken = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${readerToken}` },
      body: big,
    });
    expect(withToken.status).toBe(200);
    // /v2 the same, in the protocol's shape.
    const v2 = await fetch(`${server.url}/v2/models/champion/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(v2.status).toBe(413);
    expect(await v2.json()).toEqual({
      error: `request body is larger than the limit of ${GUARDS.maxAnonymousBodyBytes} bytes for a request without a token (FASHION_HOW_MAX_ANONYMOUS_BODY_BYTES)`,
    });
    // An announced 32 MiB body is refused on its Content-Length, before it is sent.
    const announced = await postUnfinished(server.graphqlUrl, {}, 32 * 2 ** 20);
    expect(announced.status).toBe(413);
    await stillServes();
  });

  it('refuses a bad token before reading the body, on /graphql and /v2', async () => {
    for (const url of [server.graphqlUrl, `${server.url}/v2/models/champion/infer`]) {
      const answer = await postUnfinished(url, { authorization: 'Bearer fh_forged' }, MAX_BODY - 1);
      expect(answer.status).toBe(401);
      expect(answer.body).toContain('this API token is not valid');
    }
    await stillServes();
  });

  it('refuses /v2 without a token before reading the body where reads need one', async () => {
    const closed = await startServer({ ...app, config: { ...app.config, anonymousRead: false } });
    try {
      const answer = await postUnfinished(`${closed.url}/v2/models/champion/infer`, {}, MAX_BODY - 1);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).error).toContain('the Open Inference Protocol needs an API token with role reader');
      // GraphQL without a token: a body big enough for any query is read (to name the operation refused), no more.
      const big = await fetch(closed.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ health { ok } }`, variables: { pad: 'x'.repeat(70_000) } }),
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { errors: { message: string }[] }).errors[0]!.message).toContain('FASHION_HOW_ANONYMOUS_READ is off');
    } finally {
      await closed.close();
    }
  });

  it('answers requests for a foreign Host with 403 on a loopback bind (DNS rebinding)', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        server.graphqlUrl,
        { method: 'POST', headers: { host: 'rebind.example:4000', 'content-type': 'application/json' } },
        (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject);
      request.end(JSON.stringify({ query: '{ health { ok } }' }));
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('answers only requests for a loopback host');
    expect(answer.body).toContain('rebind.example');
    await stillServes();
  });

  it('prices nested connections by their first, from variables too, and refuses a response over the node cap', async () => {
    const client = graphqlClient(server.graphqlUrl);
    const nested = `query($n: Int) { datasets { items(first: $n) { edges { node { dataset { items(first: $n) { edges { node { id predictions(limit: 100) { correct } } } } } } } } } }`;
    const refused = await client(nested, { n: 100 });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(
      /^this request's response would hold up to \d+ objects and values .*over the limit of 20000 \(FASHION_HOW_MAX_RESPONSE_NODES\): ask for smaller pages$/,
    );
    // The same shape with small pages fits.
    expect((await client(nested, { n: 2 })).errors).toBeUndefined();
    await stillServes();
  });
});

describe('pre-authentication bounds over WebSocket', () => {
  const wsUrl = () => server.graphqlUrl.replace(/^http/, 'ws');

  /** The status of an upgrade the server refused (or 101 for one it took). */
  const upgrade = (headers: Record<string, string>) =>
    new Promise<{ status: number; socket?: WebSocket }>((resolve) => {
      const socket = new WebSocket(wsUrl(), 'graphql-transport-ws', { headers });
      socket.on('open', () => resolve({ status: 101, socket }));
      socket.on('unexpected-response', (_request, response) => resolve({ status: response.statusCode ?? 0 }));
      socket.on('error', () => undefined);
    });

  it('refuses an upgrade from a foreign Origin and takes one from its own origin or none', async () => {
    expect((await upgrade({ origin: 'https://evil.example' })).status).toBe(403);
    const own = await upgrade({ origin: server.url });
    expect(own.status).toBe(101);
    own.socket!.close();
    const program = await upgrade({});
    expect(program.status).toBe(101);
    program.socket!.close();
    expect((await upgrade({ host: 'rebind.example' })).status).toBe(403);
  });

  it('caps the WebSockets one address holds open', async () => {
    const open = await Promise.all(Array.from({ length: GUARDS.maxClientSockets }, () => upgrade({})));
    expect(open.map((o) => o.status)).toEqual(Array(GUARDS.maxClientSockets).fill(101));
    expect((await upgrade({})).status).toBe(429);
    await Promise.all(
      open.map(
        (o) =>
          new Promise((resolve) => {
            o.socket!.once('close', resolve);
            o.socket!.close();
          }),
      ),
    );
    const again = await upgrade({});
    expect(again.status).toBe(101);
    again.socket!.close();
  });

  it('closes a socket whose frame is over the HTTP body limit', async () => {
    const { socket } = await upgrade({});
    const closed = new Promise<number>((resolve) => socket!.once('close', (code) => resolve(code)));
    socket!.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(MAX_BODY + 1) } }));
    expect(await closed).toBe(1009); // Message Too Big
    await stillServes();
  });

  it('caps the subscriptions one client runs, and frees a slot when one ends', async () => {
    const client = createClient({ url: wsUrl(), webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    try {
      const ends: (() => void)[] = [];
      const first = (query: string, variables?: Record<string, unknown>) =>
        new Promise<{ errors?: unknown; started: boolean }>((resolve) => {
          const end = client.subscribe(
            { query, variables },
            { next: () => undefined, error: (errors) => resolve({ errors, started: false }), complete: () => undefined },
          );
          ends.push(end);
          setTimeout(() => resolve({ started: true }), 300);
        });
      const results = [];
      for (let i = 0; i <= GUARDS.maxClientSubscriptions; i++) results.push(await first('subscription { runsUpdated { id } }'));
      expect(results.slice(0, GUARDS.maxClientSubscriptions).every((r) => r.started)).toBe(true);
      const refusal = results.at(-1)!.errors as { message: string; extensions: { code: string } }[];
      expect(refusal[0]).toMatchObject({
        message: `this client already runs ${GUARDS.maxClientSubscriptions} subscriptions and operations over WebSockets, the limit is ${GUARDS.maxClientSubscriptions} (FASHION_HOW_MAX_CLIENT_SUBSCRIPTIONS)`,
        extensions: { code: 'RATE_LIMITED' },
      });
      ends[0]!();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await first('subscription { runsUpdated { id } }')).started).toBe(true);
      // The operation budget applies over the socket as over HTTP.
      const nested = await first(
        'query($n: Int) { datasets { items(first: $n) { edges { node { dataset { items(first: $n) { edges { node { id predictions(limit: 100) { correct } } } } } } } } } }',
        { n: 100 },
      );
      expect(JSON.stringify(nested.errors)).toContain('FASHION_HOW_MAX_RESPONSE_NODES');
    } finally {
      await client.dispose();
    }
    await stillServes();
  });
});

describe('a subscription whose reader is behind', () => {
  it('keeps at most MAX_QUEUED_NOTICES notices, dropping the oldest, and counts what it dropped', async () => {
    const pubsub = new LocalPubSub();
    const notices = pubsub.subscribe('runChanged');
    for (let runId = 1; runId <= MAX_QUEUED_NOTICES + 500; runId++) pubsub.publish('runChanged', { runId });
    expect((notices as Subscription<{ runId: number }>).dropped).toBe(500);
    expect((await notices.next()).value).toEqual({ runId: 501 });
    let last = 0;
    for (let read = 1; read < MAX_QUEUED_NOTICES; read++) last = (await notices.next()).value.runId;
    expect(last).toBe(MAX_QUEUED_NOTICES + 500); // the latest notice is never the one dropped
    pubsub.close();
    expect((await notices.next()).done).toBe(true);
  });
});

describe('the operation budget and the clients this project ships', () => {
  it('fits every operation of the SDK and the dashboard under the node cap at its largest pages', async () => {
    const { parse, Kind } = await import('graphql');
    const { makeExecutableSchema } = await import('@graphql-tools/schema');
    const { readFile: read } = await import('node:fs/promises');
    const { responseSize, fragmentsOf } = await import('../../src/api/plugins/operationBudget.js');
    const schema = makeExecutableSchema({ typeDefs: await read('schema.graphql', 'utf8') });
    const sizes: [string, number][] = [];
    for (const file of ['src/sdk/operations.graphql', 'web/src/operations.graphql']) {
      const document = parse(await read(file, 'utf8'));
      for (const operation of document.definitions) {
        if (operation.kind !== Kind.OPERATION_DEFINITION) continue;
        // Every page at its largest: first 100 (MAX_PAGE_SIZE), limit 500 (the largest any list takes).
        const variables = Object.fromEntries(
          (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.variable.name.value === 'limit' ? 500 : 100]),
        );
        sizes.push([operation.name?.value ?? '?', responseSize(schema, operation, fragmentsOf(document.definitions), variables).nodes]);
      }
    }
    const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 3);
    console.log(`largest responses of the shipped operations: ${largest.map(([name, nodes]) => `${name} ${nodes}`).join(', ')}`);
    expect(sizes.length).toBeGreaterThan(60);
    expect(largest[0]![1]).toBeLessThanOrEqual(app.config.guards.maxResponseNodes);
  });
});

describe('uploaded images held in memory', () => {
  it("bounds a multipart classify's file parts per request, naming the limit, and the server serves the next request", async () => {
    const part = Buffer.alloc(300 * 1024, 7); // two of them are over MAX_BODY (512 KiB) in all
    const form = new FormData();
    const images = [0, 1].map(() => ({ file: null, bbox: { xmin: 0, ymin: 0, xmax: 8, ymax: 8 } }));
    form.set(
      'operations',
      JSON.stringify({ query: 'query($input: ClassifyInput!) { classify(input: $input) { results { index } } }', variables: { input: { images } } }),
    );
    form.set('map', JSON.stringify({ 0: ['variables.input.images.0.file'], 1: ['variables.input.images.1.file'] }));
    form.set('0', new Blob([part]), 'a.jpg');
    form.set('1', new Blob([part]), 'b.jpg');
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${readerToken}` },
      body: form,
    });
    const answer = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(answer.errors[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: `images[1]: this request's uploaded files are over the limit of ${MAX_BODY} bytes in all (FASHION_HOW_MAX_BODY_BYTES)`,
    });
    await stillServes();
  });

  it("bounds the bytes one client's requests hold together, and gives them back when a request ends", async () => {
    const { BufferedUploads } = await import('../../src/api/uploads.js');
    const uploads = new BufferedUploads(1000, 1500);
    const first = uploads.open('token 1');
    const second = uploads.open('token 1');
    const other = uploads.open('token 2');
    expect(first.take(900)).toBeUndefined();
    expect(first.take(200)).toBe("this request's uploaded files are over the limit of 1000 bytes in all (FASHION_HOW_MAX_BODY_BYTES)");
    expect(second.take(700)).toBe(
      "this client's requests in flight hold 900 bytes of uploaded files, the limit is 1500 (FASHION_HOW_MAX_CLIENT_UPLOAD_BYTES); retry when they are answered",
    );
    expect(other.take(1000)).toBeUndefined(); // another client has its own share
    first.close();
    expect(second.take(700)).toBeUndefined();
  });
});
