import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/api/server.js';
import type { App } from '../src/app.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { type GraphQLResponse, graphqlClient, openTestApp, useScratchDir } from './helpers.js';

// Connections over HTTP against a real server and database: pages of runs while runs are added.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: number;
let seeded: number[];

const PAGE = `query Page($first: Int, $after: String, $order: SortOrder, $filter: RunFilter) {
  runsConnection(first: $first, after: $after, order: $order, filter: $filter) {
    totalCount
    edges { cursor node { id status } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

interface RunPage {
  totalCount: number;
  edges: { cursor: string; node: { id: string; status: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Creates runs straight in the database (no worker), many within the same millisecond. */
async function addRuns(count: number, status = 'CANCELLED'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(
      (await app.services.db.trainingRun.create({ data: { datasetId, backbone: 'resnet18', head: i % 2 ? 'residual' : 'feedforward', status, config: {} } }))
        .id,
    );
  }
  return ids;
}

/** Walks every page; `between` runs after each page (e.g. to add rows). */
async function walk(variables: Record<string, unknown>, between?: () => Promise<unknown>) {
  const seen: number[] = [];
  const pages: RunPage[] = [];
  let after: string | null = null;
  for (;;) {
    const response: GraphQLResponse<{ runsConnection: RunPage }> = await gql(PAGE, { ...variables, after });
    expect(response.errors).toBeUndefined();
    const page: RunPage = response.data!.runsConnection;
    pages.push(page);
    seen.push(...page.edges.map((e) => Number(e.node.id)));
    if (!page.pageInfo.hasNextPage) return { seen, pages };
    after = page.pageInfo.endCursor;
    await between?.();
  }
}

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 8, seed: 3, minSide: 32, maxSide: 48 });
  datasetId = (await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId;
  seeded = await addRuns(250);
});
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('runsConnection', () => {
  it('walks 250 runs in pages of 20, each exactly once and in order', async () => {
    const { seen, pages } = await walk({ first: 20 });
    expect(seen).toEqual(seeded);
    expect(pages).toHaveLength(13);
    expect(pages.map((p) => p.edges.length)).toEqual([...Array(12).fill(20), 10]);
    expect(pages.every((p) => p.totalCount === 250)).toBe(true);
    expect(pages[0]!.pageInfo.hasPreviousPage).toBe(false);
    expect(pages[1]!.pageInfo).toMatchObject({ hasPreviousPage: true, startCursor: pages[1]!.edges[0]!.cursor });
  });

  it('still returns each run exactly once, in order, while new runs are added between pages', async () => {
    const added: number[] = [];
    const { seen } = await walk({ first: 20 }, async () => added.push(...(await addRuns(3))));
    // Oldest first: the new runs come after the old ones, on later pages.
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seeded, ...added].filter((id) => seen.includes(id)));
    expect(seen.slice(0, 250)).toEqual(seeded);
    expect(seen.length).toBeGreaterThan(250);

    // Newest first: the rows added during the walk come before its first page and are not seen.
    const before = (await app.services.db.trainingRun.findMany({ select: { id: true }, orderBy: { id: 'desc' } })).map((r) => r.id);
    const during: number[] = [];
    const newest = await walk({ first: 20, order: 'NEWEST_FIRST' }, async () => during.push(...(await addRuns(2))));
    expect(newest.seen).toEqual(before);
    expect(newest.seen.some((id) => during.includes(id))).toBe(false);
  });

  it('filters, and counts the filtered rows', async () => {
    const queued = await addRuns(7, 'QUEUED');
    const { seen, pages } = await walk({ first: 3, filter: { status: ['QUEUED'] } });
    expect(seen).toEqual(queued);
    expect(pages[0]!.totalCount).toBe(7);
    await app.services.db.trainingRun.updateMany({ where: { id: { in: queued } }, data: { status: 'CANCELLED' } });
  });

  it('refuses a page over MAX_PAGE_SIZE and a cursor it did not give, naming the limit', async () => {
    const tooLarge = await gql(PAGE, { first: 101 });
    expect(tooLarge.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_PAGE_SIZE', max: 100 });
    expect(tooLarge.errors?.[0]?.message).toMatch(/^first must be from 1 to 100 \(MAX_PAGE_SIZE\), got 101/);
    expect((await gql(PAGE, { first: 0 })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forged = await gql(PAGE, { after: 'not-a-cursor' });
    expect(forged.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^after must be a cursor this API gave/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('keeps the old list field working for existing clients', async () => {
    const { data } = await gql<{ runs: { id: string }[] }>('{ runs { id } }');
    const all = await app.services.db.trainingRun.findMany({ select: { id: true }, orderBy: { id: 'asc' } });
    expect(data!.runs.map((r) => Number(r.id))).toEqual(all.map((r) => r.id));
  });
});

describe('the other connections', () => {
  it('page datasets, reports, artifacts and ensembles with the same shape', async () => {
    const { data, errors } = await gql(`{
      datasetsConnection(first: 1) { totalCount edges { node { id } } pageInfo { hasNextPage } }
      reportsConnection(first: 5) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } }
      artifactsConnection(filter: { imported: true }) { totalCount edges { node { id } } }
      ensemblesConnection(filter: { nameContains: "x" }) { totalCount edges { node { id } } }
    }`);
    expect(errors).toBeUndefined();
    expect(data).toEqual({
      datasetsConnection: { totalCount: 1, edges: [{ node: { id: String(datasetId) } }], pageInfo: { hasNextPage: false } },
      reportsConnection: { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
      artifactsConnection: { totalCount: 0, edges: [] },
      ensemblesConnection: { totalCount: 0, edges: [] },
    });
  });
});
