// Maintenance never shares the serving thread (issue 36, item 4): an imported graph is opened and run in
// a process of its own with a time limit, so a graph that is slow to run neither holds the runtime
// threads that serve every client nor outlives its limit. Replayed as the issue found it: a graph of a
// few KB that takes many seconds to run, imported by a trainer while another client classifies.
import { execFile, execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { testPython } from '../fixtures/python.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { graphqlClient, multipartClient, openTestApp, testConfig, useScratchDir } from '../helpers.js';
import { classifyLatencies, p50 } from './latency.js';

const SIZE = 32;
const IMPORT_MODEL = `mutation($input: ImportModelInput!) { importModel(input: $input) { id name } }`;
const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { results { index } } }`;
const MODEL_JSON = JSON.stringify({
  input: { name: 'pixels', layout: 'NCHW', size: SIZE, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' },
  outputKind: 'probabilities',
  tasks: [{ name: 'daily', classes: ['a', 'b', 'c'], output: 'out_0' }],
});
/** The check's limits on this server: short, so the test is; the settings' defaults are 60 s and 3 s. */
const CHECKS = { timeLimitMs: 8000, maxRunMs: 150 };

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let trainer: ReturnType<typeof multipartClient>;
let reader: ReturnType<typeof graphqlClient>;
let classifyInput: Record<string, unknown>;
const graphs: Record<'endless' | 'slow' | 'quick', Buffer> = {} as never;

/** A graph of slowGraph.py: `layers` MatMuls of side `side` per run. */
async function slowGraph(name: string, side: number, layers: number): Promise<Buffer> {
  const file = path.join(scratch.dir, `${name}.onnx`);
  const script = new URL('./slowGraph.py', import.meta.url).pathname;
  await promisify(execFile)((await testPython()).executable, [script, file, String(SIZE), String(side), String(layers), '3']);
  return readFile(file);
}

/** This process's children (the check processes it started), by pid. */
const children = () =>
  execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)])
    .toString()
    .split('\n')
    .filter((line) => line.includes('--onnx-runtime-child'));

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    modelChecks: CHECKS,
    serving: { ...testConfig(scratch.dir).serving, intraOpThreads: 1 },
  });
  server = await startServer(app);
  const [artifactId] = await importTinyPair(app);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 2, seed: 3, minSide: 64, maxSide: 96 });
  const row = synthetic.rows[0]!;
  classifyInput = {
    images: [{ image: (await readFile(path.join(synthetic.imageRoot, row.imageName))).toString('base64'), bbox: row.bbox }],
    artifactId: String(artifactId),
  };
  trainer = multipartClient(server.graphqlUrl, (await app.services.tokens.create('trainer', 'trainer')).token);
  reader = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('reader', 'reader')).token);
  // 17 GFLOP a layer, 400 layers: minutes on one core. 26 GFLOP: about a second, over 150 ms but
  // within 8 s. A few KFLOP: a graph that passes.
  graphs.endless = await slowGraph('endless', 2048, 400);
  graphs.slow = await slowGraph('slow', 1024, 12);
  graphs.quick = await slowGraph('quick', 8, 1);
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await server?.close();
  await app?.close();
});

const importGraph = (name: string, onnx: Buffer) =>
  trainer(IMPORT_MODEL, { input: { name, onnx: null, modelJson: null } }, { 'input.onnx': onnx, 'input.modelJson': Buffer.from(MODEL_JSON) });

describe('checks of imported graphs', () => {
  it('refuses a graph that runs past the time limit, kills its check, leaves nothing, and keeps serving the others', async () => {
    // Alone is sampled before and after the check, so that the load of the other test files on the two
    // cores, which comes and goes, weighs on the baseline as on the samples during the check (once, alone
    // before it read 6.4 ms and during it 21.3 ms in a run whose check was in its own process as always).
    const before = await classifyLatencies(reader, classifyInput, null, 30);
    const artifactsBefore = await app.services.db.modelArtifact.count();
    const started = performance.now();
    const importing = importGraph('endless', graphs.endless);
    const during = await classifyLatencies(reader, classifyInput, importing, 10);
    const { errors } = await importing;
    const tookMs = performance.now() - started;
    const alone = p50([...before, ...(await classifyLatencies(reader, classifyInput, null, 30))]);
    console.log(
      `classify p50 alone ${alone.toFixed(1)} ms; during the endless graph's check ${p50(during).toFixed(1)} ms (${during.length} requests, max ${Math.max(...during).toFixed(0)} ms); refused after ${tookMs.toFixed(0)} ms`,
    );
    expect(errors?.[0]?.message).toMatch(/longer than the limit of 8000 ms \(FASHION_HOW_MODEL_CHECK_TIMEOUT_MS\) and was stopped/);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).not.toContain(scratch.dir);
    // Stopped at its limit, not when the graph finished (minutes).
    expect(tookMs).toBeLessThan(CHECKS.timeLimitMs + 5000);
    // The other client was served throughout, at about its own pace: the check ran in another process.
    expect(p50(during)).toBeLessThan(2 * alone + 5);
    expect(await app.services.db.modelArtifact.count()).toBe(artifactsBefore);
    expect(await readdir(path.join(app.config.dataDir, 'artifacts', 'incoming'))).toEqual([]);
    expect(children()).toEqual([]);
  }, 60_000);

  it('refuses a graph whose one test image takes longer than FASHION_HOW_MAX_MODEL_RUN_MS, naming the time and the limit', async () => {
    const { errors } = await importGraph('slow', graphs.slow);
    expect(errors?.[0]?.message).toMatch(/one test image took \d+ ms through the graph, over the limit of 150 ms \(FASHION_HOW_MAX_MODEL_RUN_MS\)/);
    expect(children()).toEqual([]);
  }, 60_000);

  it('imports a graph that runs within the limits, and serves it', async () => {
    const { data, errors } = await importGraph('quick', graphs.quick);
    expect(errors).toBeUndefined();
    const answer = await reader(CLASSIFY, { input: { ...classifyInput, artifactId: data!.importModel.id } });
    expect(answer.errors).toBeUndefined();
    expect(children()).toEqual([]);
  }, 60_000);
});
