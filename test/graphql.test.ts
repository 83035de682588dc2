import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorFormatter } from '../src/api/errors.js';
import { type RunningServer, startServer } from '../src/api/server.js';
import type { App } from '../src/app.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { AppError, ErrorCode } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { type GraphQLResponse, graphqlClient, naiveCsv, openTestApp, storedRowCounts, tempDir, testConfig } from './helpers.js';

let scratch: Awaited<ReturnType<typeof tempDir>>;
let app: App;
let server: RunningServer;
let synthetic: Awaited<ReturnType<typeof writeSyntheticDataset>>;
let gql: ReturnType<typeof graphqlClient>;

const IMPORT = `mutation Import($input: ImportDatasetInput!) {
  importDataset(input: $input) { created itemCount rejects { line reason } dataset { id name itemCount } }
}`;

beforeAll(async () => {
  scratch = await tempDir();
  // Server paths over the API: an admin's, under the import roots (the hostile side is test/data/upload.test.ts).
  const base = testConfig(path.join(scratch.dir, 'data'));
  app = await openTestApp(path.join(scratch.dir, 'data'), { maxBodyBytes: 64 * 1024, imports: { ...base.imports, roots: [scratch.dir] } });
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('graphql test', 'admin')).token);
  synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 80, seed: 5, minSide: 64, maxSide: 96 });
});
afterAll(async () => {
  await server.close();
  await app.close();
  await scratch.remove();
});

describe('GraphQL API', () => {
  it('reports health', async () => {
    const { data } = await gql('{ health { ok database version } }');
    expect(data?.health).toMatchObject({ ok: true, database: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ ok: true });
  });

  it('imports a dataset and answers its splits and class distribution, equal to a count of the CSV', async () => {
    const imported = await gql(IMPORT, { input: { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, name: 'over graphql' } });
    expect(imported.errors).toBeUndefined();
    expect(imported.data?.importDataset).toMatchObject({ created: true, itemCount: 80, rejects: [], dataset: { name: 'over graphql', itemCount: 80 } });
    const id = imported.data!.importDataset.dataset.id;

    const { data } = await gql(
      `query($id: ID!) { dataset(id: $id) { splits { split count } labelSchema { tasks { index name classes } }
         distribution { task name total imbalanceRatio classes { index name count share } } } }`,
      { id },
    );
    expect(data?.dataset.splits).toEqual([
      { split: 'TRAIN', count: 60 },
      { split: 'VALIDATION', count: 20 },
    ]);
    expect(data?.dataset.labelSchema.tasks.map((t: { classes: string[] }) => t.classes.length)).toEqual([7, 6, 3]);
    const csvRows = naiveCsv(await readFile(synthetic.csvPath, 'utf8'));
    for (const task of data!.dataset.distribution) {
      const counts = task.classes.map((c: { index: number }) => csvRows.filter((r) => Number(r[task.name]) === c.index).length);
      expect(task.classes.map((c: { count: number }) => c.count)).toEqual(counts);
      const present = counts.filter((c: number) => c > 0);
      expect(task.imbalanceRatio).toBeCloseTo(Math.max(...present) / Math.min(...present), 12);
    }

    const again = await gql(IMPORT, { input: { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot } });
    expect(again.data?.importDataset).toMatchObject({ created: false, dataset: { id } });
    const { data: list } = await gql('{ datasets { id name } }');
    expect(list?.datasets).toEqual([{ id, name: 'over graphql' }]);
  });

  it('answers BAD_USER_INPUT with line numbers for bad rows and stores nothing', async () => {
    const csv = path.join(scratch.dir, 'bad.csv');
    const row = synthetic.rows[0]!;
    await writeFile(
      csv,
      `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily,Gender,Embellishment\n${row.imageName},0,0,9999,10,0,0,0\n../x.jpg,0,0,1,1,0,0,0\n`,
    );
    const before = await storedRowCounts(app);
    const { data, errors } = await gql(IMPORT, { input: { csvPath: csv, imageRoot: synthetic.imageRoot } });
    expect(data).toBeNull();
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toMatch(/2 of 2 rows are invalid/);
    expect((errors![0]!.extensions!.rejects as { line: number }[]).map((r) => r.line)).toEqual([2, 3]);
    expect(errors?.[0]?.extensions).not.toHaveProperty('stacktrace');
    expect(await storedRowCounts(app)).toEqual(before);
  });

  it('answers NOT_FOUND for an unknown dataset and BAD_USER_INPUT for a malformed id', async () => {
    const missing = await gql('{ dataset(id: "999") { id } }');
    expect(missing.errors?.[0]).toMatchObject({ message: 'dataset 999 does not exist', extensions: { code: 'NOT_FOUND' } });
    const malformed = await gql('{ dataset(id: "abc") { id } }');
    expect(malformed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a request body over the limit with a clear message', async () => {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ health { ok } } #${'x'.repeat(70 * 1024)}` }),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as GraphQLResponse;
    expect(body.errors?.[0]?.message).toBe('request body is larger than the limit of 65536 bytes (FASHION_HOW_MAX_BODY_BYTES)');
  });

  it('keeps unexpected errors opaque: no message, stack or file path reaches the client', () => {
    const format = errorFormatter(createLogger({ logLevel: 'silent' }));
    const leaky = new Error("ENOENT: no such file or directory, open '/srv/secret/path/model.onnx'");
    const formatted = format(
      { message: leaky.message, path: ['dataset'], extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: leaky.stack?.split('\n') } },
      leaky,
    );
    expect(formatted).toEqual({ message: 'Internal server error', path: ['dataset'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(formatted)).not.toContain('/srv/secret');
    // A known error keeps its message, but not a server path that another library put in it.
    const known = new AppError(ErrorCode.BAD_USER_INPUT, 'the model was refused: outside of the allowed directory: "/srv/data/artifacts/incoming"');
    expect(format({ message: known.message, extensions: { code: 'BAD_USER_INPUT' } }, known).message).toBe(
      'the model was refused: outside of the allowed directory: "<server path>"',
    );
  });
});
