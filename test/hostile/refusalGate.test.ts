// A client that keeps collecting refusals is held back before its requests are read (issue 36: the
// floods of cheap refused requests). The bucket's arithmetic is checked against a hand computation, and
// a real server on loopback is flooded with refused queries by one client while another is served.
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusalGate } from '../../src/api/refusalGate.js';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

describe("a refusal bucket's arithmetic", () => {
  it('holds a client back once it has collected its burst, for as long as one refusal takes to refill, and forgets nothing early', () => {
    const gate = new RefusalGate({ perSecond: 4, burst: 3, maxHeld: 2 });
    expect(gate.holdMs('a', 0)).toBe(0); // a client never refused
    for (const at of [0, 10, 20]) gate.refused('a', at);
    // 3 - 3 + 4 tokens/s x 0.02 s = 0.08 tokens at 20 ms: a whole token is (1 - 0.08) / 4 s = 230 ms away.
    expect(gate.holdMs('a', 20)).toBe(230);
    // At 100 ms: 0.08 + 4 x 0.08 = 0.4 tokens, 150 ms to go.
    expect(gate.holdMs('a', 100)).toBe(150);
    // Another client is not held because of a's refusals.
    expect(gate.holdMs('b', 100)).toBe(0);
    // At 250 ms a's bucket has a token again (1.0): served.
    expect(gate.holdMs('a', 250)).toBe(0);
    // The bucket never goes below empty: ten more refusals at once leave one refill's wait, not ten.
    for (let i = 0; i < 10; i++) gate.refused('a', 300);
    expect(gate.holdMs('a', 300)).toBe(250);
    // Never held longer than a second, however slow the rate.
    const slow = new RefusalGate({ perSecond: 0.1, burst: 1, maxHeld: 1 });
    slow.refused('c', 0);
    expect(slow.holdMs('c', 0)).toBe(1000);
  });
});

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let flooder: string;
let other: string;
let heldBack: string;
// Two refusals a second: a held request waits up to half a second, long enough to tell apart from one
// answered at once on a busy machine.
const PER_SECOND = 2;
const BURST = 50; // REFUSAL_BURST

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  app.config.guards = { ...app.config.guards, clientRefusalsPerSecond: PER_SECOND };
  server = await startServer(app);
  flooder = (await app.services.tokens.create('flooder', 'reader')).token;
  other = (await app.services.tokens.create('other', 'reader')).token;
  heldBack = (await app.services.tokens.create('held back', 'reader')).token;
});
afterAll(async () => {
  await server.close();
  await app.close();
});

const post = (token: string, query: string) =>
  fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });

describe('the refusal gate on a real server', () => {
  it("answers a client that floods refused queries mostly from the gate, unread, while another client's queries are served", async () => {
    const started = performance.now();
    const outcomes: Record<string, number> = {};
    let gateMessage = '';
    let retryAfter: string | null = null;
    const otherAnswers: string[] = [];
    let flooding = true;
    const flood = (async () => {
      // Until the gate has answered five times (on a busy machine the burst alone can take seconds).
      while ((outcomes['429 RATE_LIMITED'] ?? 0) < 5 && performance.now() - started < 40_000) {
        const response = await post(flooder, '{ noSuchField }');
        const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
        const code = `${response.status} ${body.errors[0]!.extensions.code}`;
        outcomes[code] = (outcomes[code] ?? 0) + 1;
        if (response.status === 429) {
          gateMessage = body.errors[0]!.message;
          retryAfter = response.headers.get('retry-after');
        }
      }
      flooding = false;
    })();
    // Another client, asking while the flood runs: never held back.
    while (flooding) {
      const answer = await graphqlClient(server.graphqlUrl, other)('{ health { ok } }');
      otherAnswers.push(answer.errors ? String(answer.errors[0]!.extensions?.code) : 'ok');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await flood;
    const elapsed = (performance.now() - started) / 1000;
    console.log(`the flood in ${elapsed.toFixed(1)} s: ${JSON.stringify(outcomes)}; the other client: ${otherAnswers.length} answers`);
    // What reached GraphQL is bounded by the bucket: its burst, plus its rate for the time the flood
    // ran, plus the one request each refill lets through (counted in the rate).
    const reached = outcomes['400 GRAPHQL_VALIDATION_FAILED'] ?? 0;
    expect(reached).toBeGreaterThanOrEqual(BURST);
    expect(reached).toBeLessThanOrEqual(BURST + Math.ceil(PER_SECOND * elapsed) + 1);
    expect(outcomes['429 RATE_LIMITED']).toBeGreaterThan(0);
    expect(Object.keys(outcomes).sort()).toEqual(['400 GRAPHQL_VALIDATION_FAILED', '429 RATE_LIMITED']);
    expect(gateMessage).toMatch(/refused more than 2 times a second \(50 at once; FASHION_HOW_CLIENT_REFUSALS_PER_SECOND\).*retry after 1 s/);
    expect(retryAfter).toBe('1');
    expect(otherAnswers.length).toBeGreaterThan(3);
    expect(otherAnswers.every((answer) => answer === 'ok')).toBe(true);

    // The flooder, once it has waited a refill, is served again.
    await new Promise((resolve) => setTimeout(resolve, 1000 / PER_SECOND + 50));
    const again = await graphqlClient(server.graphqlUrl, flooder)('{ health { ok } }');
    expect(again.errors).toBeUndefined();
  }, 60_000);

  it('answers a held-back request before its body is sent, and at most 8 of its requests wait at once', async () => {
    // A fresh client spends its burst: its first 50 refused queries reach GraphQL and are refused there;
    // the bucket refills as they go, so more may, until one is held back.
    let reached = 0;
    while ((await post(heldBack, '{ noSuchField }')).status === 400 && reached < 500) reached++;
    expect(reached).toBeGreaterThanOrEqual(BURST);
    // That one was held until the bucket had room for one refusal: the next empties it again.
    expect((await post(heldBack, '{ noSuchField }')).status).toBe(400);
    // Headers announcing 10 MB and only 1 KiB of body: the answer comes without the rest.
    const unread = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(10_000_000), authorization: `Bearer ${heldBack}` },
      });
      request.on('response', (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.write(`{"query":"${' '.repeat(1000)}`);
      setTimeout(() => reject(new Error('no answer before the body was sent')), 10_000).unref();
    });
    expect(unread.status).toBe(429);
    expect(unread.body).toMatch(/held back and not read/);

    // It was held until the bucket had a refusal's room again: the next refused query reaches GraphQL and
    // empties it, and then 20 requests at once: 8 are held for the refill (half a second), the other 12
    // are answered as they come, so all of those arrive before the first held one.
    expect((await post(heldBack, '{ noSuchField }')).status).toBe(400);
    const sent = performance.now();
    const arrivals = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const response = await post(heldBack, '{ health { ok } }');
        await response.arrayBuffer();
        return { status: response.status, at: performance.now() - sent };
      }),
    );
    expect(arrivals.every((a) => a.status === 429)).toBe(true);
    const times = arrivals.map((a) => a.at).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // The widest gap between two arrivals splits them into those answered at once and those held.
    const split = gaps.indexOf(Math.max(...gaps)) + 1;
    console.log(`20 requests of a held-back client: answered at ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    expect(split).toBe(12);
  }, 60_000);
});
