// A dataset's season at work outside the submission command: predictDataset refuses a model the season
// rejects, naming the rule and its figure, unless the request overrides the verdict (and the job says it
// did); the dashboard's leaderboard query carries every row's and member's verdict within the query cost
// limit, and the verdicts of a page are read in a fixed number of queries, not a few per row. Expected
// reasons are written out here from the models' stored sizes and the reports' measured latencies.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import type { Db } from '../../src/db/client.js';
import { ReportVerdicts } from '../../src/seasons/reportVerdicts.js';
import { runCli } from '../fixtures/cli.js';
import { importSmallSynthetic, importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { graphqlClient, openTestApp, testDatabaseUrl, useScratchDir } from '../helpers.js';

const LABELS = [
  { name: 'Daily', column: 'daily', classCount: 7 },
  { name: 'Gender', column: 'gender', classCount: 6 },
  { name: 'Embellishment', column: 'embel', classCount: 3 },
];
// 2024's rules on the tiny pair's label space, and a season whose size and time limits no model meets.
const SEASONS = [
  { id: 'test-cpu', tasks: LABELS, sizeLimitMb: 25, ensemblesAllowed: false, device: 'cpu' },
  { id: 'test-strict', tasks: LABELS, sizeLimitMb: 1, latencyLimitMs: 0.001, ensemblesAllowed: true, device: 'any' },
];

const scratch = useScratchDir();
const dataDir = () => path.join(scratch.dir, 'data');
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: number;
let artifactIds: number[];
let ensembleId: number;
/** Model file sizes as stored, in MB (10^6 bytes), by artifact id. */
const sizeMb = new Map<number, number>();

const JOB_FIELDS = 'id modelKind modelId season { profileId accepted reasons overridden }';
const predict = (input: Record<string, unknown>) =>
  gql<{ predictDataset: { id: string; season: Record<string, unknown> | null } }>(
    `mutation ($input: PredictDatasetInput!) { predictDataset(input: $input) { ${JOB_FIELDS} } }`,
    { input: { datasetId: String(datasetId), ...input } },
  );
const setSeason = (profile: string | null) =>
  gql('mutation ($id: ID!, $profile: ID) { setDatasetSeason(datasetId: $id, profile: $profile) { id } }', { id: String(datasetId), profile });

beforeAll(async () => {
  const seasonsDir = path.join(scratch.dir, 'seasons');
  await mkdir(seasonsDir, { recursive: true });
  for (const season of SEASONS) await writeFile(path.join(seasonsDir, `${season.id}.json`), JSON.stringify(season));
  app = await openTestApp(dataDir(), { seasonsDir });
  datasetId = await importSmallSynthetic(app, scratch.dir, { count: 24, seed: 37 });
  artifactIds = await importTinyPair(app);
  for (const a of await app.services.db.modelArtifact.findMany({ where: { id: { in: artifactIds } } })) sizeMb.set(a.id, a.sizeBytes / 1e6);
  ({ id: ensembleId } = await app.services.ensembles.create({ name: 'pair', members: artifactIds.map((artifactId) => ({ artifactId, weight: 1 })) }));
  // A CPU season needs a latency measured here: the first artifact and the ensemble are evaluated, the second artifact is not.
  await app.services.evaluation.evaluate({ artifactId: artifactIds[0]!, datasetId, split: 'VALIDATION' });
  await app.services.evaluation.evaluate({ ensembleId, datasetId, split: 'VALIDATION' });
  server = await startServer(app);
  const { token } = await app.services.tokens.create('season-gate', 'trainer');
  gql = graphqlClient(server.graphqlUrl, token);
}, TINY_PAIR_HOOK_TIMEOUT_MS);

afterAll(async () => {
  await server?.close();
  await app?.close();
});

describe("predictDataset under the dataset's season", () => {
  it('checks nothing for a dataset that declares no season', async () => {
    const { data, errors } = await predict({ ensembleId: String(ensembleId) });
    expect(errors).toBeUndefined();
    expect(data!.predictDataset.season).toBeNull();
  });

  it('refuses a model the season rejects with the rule and the figure, and takes it when told to ignore the season', async () => {
    expect((await setSeason('test-cpu')).errors).toBeUndefined();
    const jobsBefore = await app.services.db.predictionJob.count();
    const ensembleReasons = ['models: an ensemble of 2 models; test-cpu allows one model, no ensembles'];
    const refused = await predict({ ensembleId: String(ensembleId) });
    expect(refused.errors?.[0]).toMatchObject({
      message:
        `dataset ${datasetId} is entered in season test-cpu, which rejects ensemble ${ensembleId} ("pair"): ${ensembleReasons[0]}. ` +
        'Set ignoreSeason (fashion-how predict --ignore-season) to score with it anyway; the job then records the override',
      extensions: { code: 'BAD_USER_INPUT', season: 'test-cpu', reasons: ensembleReasons },
    });
    const unmeasured = await predict({ artifactId: String(artifactIds[1]) });
    expect(unmeasured.errors?.[0]?.extensions?.reasons).toEqual(['device: CPU latency not measured on this host (evaluate the model to measure it)']);
    expect(await app.services.db.predictionJob.count()).toBe(jobsBefore);

    const overridden = await predict({ ensembleId: String(ensembleId), ignoreSeason: true });
    expect(overridden.errors).toBeUndefined();
    expect(overridden.data!.predictDataset.season).toEqual({ profileId: 'test-cpu', accepted: false, reasons: ensembleReasons, overridden: true });
    const accepted = await predict({ artifactId: String(artifactIds[0]) });
    expect(accepted.data!.predictDataset.season).toEqual({ profileId: 'test-cpu', accepted: true, reasons: [], overridden: false });

    // The listing says which job was made against the season's rules.
    const listed = await gql<{ predictionJobs: { id: string; season: { overridden: boolean } | null }[] }>(
      `query ($id: ID) { predictionJobs(datasetId: $id) { ${JOB_FIELDS} } }`,
      { id: String(datasetId) },
    );
    const byId = new Map(listed.data!.predictionJobs.map((j) => [j.id, j]));
    expect(byId.get(overridden.data!.predictDataset.id)!.season!.overridden).toBe(true);
    expect(byId.get(accepted.data!.predictDataset.id)!.season!.overridden).toBe(false);
    // Their scoring is not what this file tests (on PostgreSQL no worker here takes them).
    for (const job of await app.services.predictions.list({ datasetId, status: ['QUEUED', 'RUNNING'] })) {
      // One may finish between the listing and the cancel.
      await app.services.predictions.cancel(job.id).catch((error: Error) => expect(error.message).toMatch(/can be cancelled$/));
    }
  });

  it('names the size and the latency over their limits with the figures', async () => {
    expect((await setSeason('test-strict')).errors).toBeUndefined();
    const report = await app.services.db.evaluationReport.findFirstOrThrow({ where: { artifactId: artifactIds[0]!, parentReportId: null } });
    const latency = (report.metrics as { model: { cpuLatencyMs: number } }).model.cpuLatencyMs;
    const { errors } = await predict({ artifactId: String(artifactIds[0]) });
    expect(errors?.[0]?.extensions?.reasons).toEqual([
      `size: ${sizeMb.get(artifactIds[0]!)!.toFixed(1)} MB over the 1 MB limit`,
      `latency: ${latency.toFixed(2)} ms per image on this host, over the 0.001 ms limit`,
    ]);
  });

  it('refuses and overrides through the CLI too', async () => {
    expect((await setSeason('test-cpu')).errors).toBeUndefined();
    const env = { ...process.env, FASHION_HOW_DATA_DIR: dataDir(), DATABASE_URL: testDatabaseUrl(dataDir()), LOG_LEVEL: 'silent' };
    const args = ['predict', '--dataset', String(datasetId), '--ensemble', String(ensembleId)];
    const refused = await runCli(args, { ...env, FASHION_HOW_SEASONS_DIR: path.join(scratch.dir, 'seasons') });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`which rejects ensemble ${ensembleId} ("pair"): models: an ensemble of 2 models`);
    const forced = await runCli([...args, '--ignore-season'], { ...env, FASHION_HOW_SEASONS_DIR: path.join(scratch.dir, 'seasons') });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('season test-cpu rejects it, overridden: models: an ensemble of 2 models');
    const listed = await runCli(['predictions', 'list', '--dataset', String(datasetId)], env);
    expect(listed.stdout).toContain('test-cpu: OVERRIDDEN (models: an ensemble of 2 models');
  }, 120_000);
});

describe('the leaderboard with season verdicts', () => {
  it("runs the dashboard's query within the cost limit, every row and member judged by the dataset's season", async () => {
    expect((await setSeason('test-strict')).errors).toBeUndefined();
    const operations = await readFile(path.join(import.meta.dirname, '../../web/src/operations.graphql'), 'utf8');
    // The operation and its fragment as the dashboard sends them: each ends at its first closing brace in column one.
    const query = ['query Leaderboard', 'fragment LeaderboardReport']
      .map((start) => `${operations.slice(operations.indexOf(start)).split('\n}\n')[0]}\n}`)
      .join('\n');
    type Row = {
      artifact: { id: string } | null;
      ensemble: { id: string } | null;
      model: { cpuLatencyMs: number };
      season: { accepted: boolean; reasons: string[] };
    };
    const { data, errors } = await gql<{ reports: { edges: { node: Row & { members: Row[] } }[] } }>(query);
    expect(errors).toBeUndefined();
    const rows = data!.reports.edges.flatMap(({ node }) => [node, ...node.members]);
    expect(rows).toHaveLength(4); // the artifact's report, the ensemble's and its two members'
    for (const row of rows) {
      const ids = row.ensemble ? artifactIds : [Number(row.artifact!.id)];
      const size = ids.reduce((sum, id) => sum + sizeMb.get(id)!, 0);
      expect(row.season).toEqual({
        accepted: false,
        reasons: [`${size.toFixed(1)} MB over the 1 MB limit`, `${row.model.cpuLatencyMs.toFixed(2)} ms per image on this host, over the 0.001 ms limit`],
      });
    }
  });

  it('reads the verdicts of many reports in a fixed number of queries, and nothing again for what it read', async () => {
    let queries = 0;
    const counted = app.services.db.$extends({
      query: {
        $allModels: {
          $allOperations({ args, query }) {
            queries += 1;
            return query(args);
          },
        },
      },
    }) as unknown as Db;
    const reports = await app.services.db.evaluationReport.findMany({ where: { datasetId }, orderBy: { id: 'asc' } });
    expect(reports).toHaveLength(4);
    const verdicts = new ReportVerdicts(counted, app.services.seasons.profiles);
    const judged = await Promise.all(reports.map((r) => verdicts.judge(r)));
    // The dataset, and the ensemble's members (whose artifacts are the artifact reports' models).
    expect(queries).toBe(2);
    await Promise.all(reports.map((r) => verdicts.judge(r)));
    expect(queries).toBe(2);
    // Each alone, through a judge of its own, gives the same verdict.
    for (const [i, report] of reports.entries()) expect(await app.services.seasons.judgeReport(report)).toEqual(judged[i]);
  });
});
