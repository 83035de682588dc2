// Heavy reads pay their way (issue 36, items 1 and 6): model cards and item photos and crops go through
// the per-client limit and the fair queue, count in the operation's budget under aliases and fragments,
// are cached by content; and under a flood of them another client's classify p50 stays within 2x of its
// unloaded p50, measured on a real server with a real model.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteBoundedCache, ClientRate, HeavyReads } from '../../src/api/heavyReads.js';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { type SynthRow, writeSyntheticDataset } from '../../src/data/synth.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let rows: SynthRow[];
let imageRoot: string;
let artifactId: string;
let reportId: number;
let itemIds: number[];

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    serving: { maxClassifyImages: 16, maxBatch: 16, maxWaitMs: 0, maxQueue: 256, intraOpThreads: 1, maxClientConcurrency: 8 },
  });
  // Photos of 700-1000 px: a preview or a card's crop decodes a whole one.
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 48, seed: 11, minSide: 700, maxSide: 1000 });
  ({ rows, imageRoot } = synthetic);
  const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot }, app.services.importContext);
  itemIds = (await app.services.db.item.findMany({ where: { datasetId }, select: { id: true }, orderBy: { id: 'asc' } })).map((i) => i.id);
  const ids = await importTinyPair(app);
  artifactId = String(ids[0]);
  reportId = (await app.services.evaluation.evaluate({ artifactId: ids[0]!, datasetId })).id;
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await server?.close();
  await app.close();
});

/** A server over the shared app with these guards (each has its own heavy-read queue and cache). */
async function serverWith(guards: Partial<App['config']['guards']>): Promise<RunningServer> {
  return startServer({ ...app, config: { ...app.config, guards: { ...app.config.guards, ...guards } } });
}

describe('HeavyReads', () => {
  it('keeps the least recently used entries within its bytes', () => {
    const cache = new ByteBoundedCache<Buffer>(10);
    cache.set('a', Buffer.alloc(4));
    cache.set('b', Buffer.alloc(4));
    expect(cache.get('a')?.length).toBe(4); // a is now the most recently used
    cache.set('c', Buffer.alloc(4));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.size).toBe(8);
    cache.set('huge', Buffer.alloc(11)); // larger than the whole cache: not kept, nothing evicted for it
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.count).toBe(2);
  });

  it('lets a client make a burst of reads, then its rate, cached or not', () => {
    const rate = new ClientRate(10, 64);
    for (let i = 0; i < 64; i++) rate.take('A', 0);
    expect(() => rate.take('A', 0)).toThrow(
      'this client asks for more than 10 model cards or item images per second (FASHION_HOW_HEAVY_READS_PER_SECOND, 64 at once); retry after 1 s',
    );
    rate.take('B', 0); // another client has its own bucket
    rate.take('A', 100); // 100 ms later: one more read (10 per second)
    expect(() => rate.take('A', 100)).toThrow(/per second/);
    for (let i = 0; i < 10; i++) rate.take('A', 1100 + i * 0.001);
    expect(() => rate.take('A', 1100)).toThrow(/per second/);
  });

  it("refuses a client's reads past its limit, runs one at a time round-robin, and makes a result asked twice once", async () => {
    const reads = new HeavyReads({ maxClientHeavyReads: 3, heavyReadConcurrency: 1, previewCacheBytes: 1000, heavyReadsPerSecond: 1000 });
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const make = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(name);
      await new Promise((resolve) => setTimeout(resolve, 10));
      running--;
      return name;
    };
    const a = ['a1', 'a2', 'a3'].map((name) => reads.read('A', name, make(name)));
    await expect(reads.read('A', 'a4', make('a4'))).rejects.toThrow(
      'this client already has 3 model cards or item images in flight, the limit is 3 (FASHION_HOW_MAX_CLIENT_HEAVY_READS); retry after 1 s',
    );
    const b = [reads.read('B', 'b1', make('b1')), reads.read('C', 'a2', make('never made: a2 is being made'))];
    expect(await Promise.all([...a, ...b])).toEqual(['a1', 'a2', 'a3', 'b1', 'a2']);
    expect(most).toBe(1);
    // a1 ran at once and A's line came first; from then on the clients alternate, so B's read went
    // before A's third (first come, first served would have run a3 before b1).
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect(await reads.read('D', 'b1', make('cached, not made'))).toBe('b1');
  });
});

describe('heavy reads over the API', () => {
  it('counts model cards in the query cost under aliases and fragments, and caches a card by its report', async () => {
    server = await serverWith({ previewCacheBytes: 64 * 2 ** 20 });
    const client = graphqlClient(server.graphqlUrl);
    const aliased = await client(
      `{ a: report(id: "${reportId}") { modelCard } b: report(id: "${reportId}") { modelCard } c: report(id: "${reportId}") { modelCard } }`,
    );
    expect(aliased.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'this request costs 60000 (3 model cards x 20000, FASHION_HOW_MODEL_CARD_COST), over the query cost limit of 50000 (FASHION_HOW_MAX_QUERY_COST)',
    });
    const fragments = await client(
      `query($id: ID!) { a: report(id: $id) { ...Card } b: report(id: $id) { ...Card } c: report(id: $id) { ...Card } } fragment Card on EvaluationReport { modelCard }`,
      { id: String(reportId) },
    );
    expect(fragments.errors?.[0]?.message).toContain('3 model cards x 20000');
    const started = performance.now();
    const first = await client(`{ report(id: "${reportId}") { modelCard } }`);
    const firstMs = performance.now() - started;
    expect(first.errors).toBeUndefined();
    const again = performance.now();
    const second = await client(`{ report(id: "${reportId}") { modelCard } }`);
    const secondMs = performance.now() - again;
    expect(second.data?.report.modelCard).toBe(first.data?.report.modelCard);
    console.log(`model card: ${firstMs.toFixed(0)} ms made, ${secondMs.toFixed(0)} ms cached`);
    expect(secondMs).toBeLessThan(firstMs);
    await server.close();
  });

  it("refuses a client's item images past its limit with 429 and Retry-After, while another client is served", async () => {
    server = await serverWith({ previewCacheBytes: 0, maxClientHeavyReads: 2 });
    const answers = await Promise.all(itemIds.slice(0, 8).map((id) => fetch(`${server.url}/items/${id}/photo.jpg`)));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    expect(((await refused[0]!.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(
      'this client already has 2 model cards or item images in flight, the limit is 2 (FASHION_HOW_MAX_CLIENT_HEAVY_READS); retry after 1 s',
    );
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(2);
    const token = (await app.services.tokens.create('other image client', 'reader')).token;
    const other = await fetch(`${server.url}/items/${itemIds[0]}/crop.jpg`, { headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(200);
    expect(other.headers.get('content-type')).toBe('image/jpeg');
    await server.close();
  });

  it("keeps another client's classify p50 within 2x of its unloaded p50 under floods of model cards and of item images", async () => {
    // No cache: every card and preview is made again, the worst case for the queue.
    server = await serverWith({ previewCacheBytes: 0 });
    const tokens = await Promise.all(['measured', 'flood 1', 'flood 2'].map(async (name) => (await app.services.tokens.create(name, 'reader')).token));
    const measured = graphqlClient(server.graphqlUrl, tokens[0]);
    const images = await Promise.all(
      rows.slice(0, 8).map(async (r) => ({ image: (await readFile(path.join(imageRoot, r.imageName))).toString('base64'), bbox: r.bbox })),
    );
    const query = `query($input: ClassifyInput!) { classify(input: $input) { results { index } } }`;
    const classifyOnce = async (i: number) => {
      const started = performance.now();
      const answer = await measured(query, { input: { artifactId, images: [images[i % images.length]] } });
      expect(answer.errors).toBeUndefined();
      return performance.now() - started;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const sample = async (count: number, into: number[]) => {
      for (let i = 0; i < count; i++) into.push(await classifyOnce(i));
    };
    for (let i = 0; i < 20; i++) await classifyOnce(i); // warm-up

    const floods: Record<string, (token: string, n: number) => Promise<unknown>> = {
      'model cards': (token) =>
        fetch(server.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: `{ report(id: "${reportId}") { modelCard } }` }),
        }).then((r) => r.text()),
      'item photos and crops': (token, n) =>
        fetch(`${server.url}/items/${itemIds[n % itemIds.length]}/${n % 2 ? 'crop' : 'photo'}.jpg`, { headers: { authorization: `Bearer ${token}` } }).then(
          (r) => r.arrayBuffer(),
        ),
    };
    // Windows with and without the flood alternate, so that the machine's other load (two cores shared with
    // other test files) weighs on both alike; each side's p50 is over all its windows. Eight rounds: with
    // four, one clean-clone run in two on a loaded 2-core host read 1.53x and the other 2.18x, the spread of
    // 48 samples taken while other files' load came and went; 96 a side narrow it.
    const results: string[] = [];
    for (const [name, send] of Object.entries(floods)) {
      const unloaded: number[] = [];
      const loaded: number[] = [];
      let sent = 0;
      for (let round = 0; round < 8; round++) {
        await sample(12, unloaded);
        let flooding = true;
        const flooders = tokens.slice(1).map(async (token) => {
          for (let n = round * 1000; flooding; n++, sent++) await send(token, n);
        });
        await new Promise((resolve) => setTimeout(resolve, 200)); // the flood is under way
        await sample(12, loaded);
        flooding = false;
        await Promise.all(flooders);
      }
      const [quiet, busy] = [median(unloaded), median(loaded)];
      results.push(
        `${name}: classify p50 ${quiet.toFixed(1)} ms unloaded, ${busy.toFixed(1)} ms under the flood (${sent} flood requests, ${loaded.length} samples each)`,
      );
      expect.soft(busy, results.at(-1)).toBeLessThanOrEqual(2 * quiet);
    }
    console.log(results.join('\n'));
    await server.close();
  });
});
