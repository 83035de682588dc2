// The server the rollout tests share: aliases, canaries, shadows and the Open Inference Protocol in
// rollout.test.ts (one database), the prediction log, drift, feedback and retention in
// predictionLog.test.ts (both databases: those write and query the log's rows). A 200-photo dataset
// split 70:15:15 and tiny trained models behind a server whose log queue holds 8 records. The bindings
// below are set by useRolloutServer's beforeAll.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { type SynthRow, writeSyntheticDataset } from '../../src/data/synth.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS, TINY_TRAINING } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

export let scratch: { readonly dir: string };
export let app: App;
export let server: RunningServer;
export let trainer: ReturnType<typeof graphqlClient>;
export let reader: ReturnType<typeof graphqlClient>;
export let readerToken: string;
export let rows: SynthRow[];
export let imageRoot: string;
export let datasetId: number;
export let artifactA: number;
export let artifactB: number;
export let ensembleId: number;

export const LIMITS = { maxBytes: 200_000, maxPixels: 1_000_000 };
export const LOG_QUEUE = 8;
export const MAX_IMAGES = 16;

export const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { model served { alias role } artifact { id } ensemble { id }
  results { index predictionId tasks { task distribution { probability } } } } }`;
export const SET_ALIAS = `mutation($input: SetAliasInput!) { setAlias(input: $input) { name mode canaryPercent logRate target { kind id name } candidate { kind id }
  history { id actor before { target { id } } after { target { id } mode } undoes undoneAt } } }`;
export const UNDO = `mutation($name: String!) { undoAliasChange(name: $name) { name target { kind id } candidate { id } mode history { id actor undoes undoneAt } } }`;

export const b64 = async (row: SynthRow) => (await readFile(path.join(imageRoot, row.imageName))).toString('base64');
export const image = async (row: SynthRow) => ({ image: await b64(row), bbox: row.bbox });
type Result = { predictionId: string | null; tasks: { task: string; distribution: { probability: number }[] }[] };
export const probabilitiesOf = (result: Result) => result.tasks.map((t) => t.distribution.map((d) => d.probability));

export async function setAlias(input: Record<string, unknown>, client = trainer) {
  const { data, errors } = await client(SET_ALIAS, { input });
  if (errors) throw new Error(errors[0]!.message);
  return data!.setAlias;
}

export async function classify(input: Record<string, unknown>, client = reader) {
  const { data, errors } = await client(CLASSIFY, { input });
  if (errors) throw new Error(`${errors[0]!.extensions?.code}: ${errors[0]!.message}`);
  return data!.classify as { model: string; served: { alias: string | null; role: string }; artifact: { id: string } | null; results: Result[] };
}

/** Opens the server before the calling file's tests and closes it after them. Its models: 'shared' imports
 *  the tiny pair trained once per test run (artifacts A and B); 'trained here' trains artifact A, the
 *  pair's feedforward half, on this file's dataset, for drift, whose reference is the model's own
 *  training split (found through its run). */
export function useRolloutServer(models: 'shared' | 'trained here'): void {
  scratch = useScratchDir();
  beforeAll(async () => {
    app = await openTestApp(path.join(scratch.dir, 'data'), {
      imageLimits: LIMITS,
      anonymousRead: false,
      // One row per session run: ONNX Runtime may round a row differently in batches of other sizes, and a
      // barely trained model's near-ties would then flip a class between classify and evaluate, which the
      // feedback test compares exactly.
      serving: { maxClassifyImages: MAX_IMAGES, maxBatch: 1, maxWaitMs: 0, maxQueue: 256, intraOpThreads: 1, maxClientConcurrency: 64 },
      monitoring: {
        log: { queue: LOG_QUEUE, queueBytes: 64 * 2 ** 20, maxAgeDays: 30, maxRows: 100_000, keepCrops: true },
        directLogRate: 0,
        shadowInFlight: 4,
        // Every other TRAIN item is the drift reference; the rest is a window "drawn from the training split".
        driftReferenceItems: 70,
      },
    });
    server = await startServer(app);
    const trainerToken = (await app.services.tokens.create('rollout trainer', 'trainer')).token;
    readerToken = (await app.services.tokens.create('rollout reader', 'reader')).token;
    trainer = graphqlClient(server.graphqlUrl, trainerToken);
    reader = graphqlClient(server.graphqlUrl, readerToken);
    const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 200, seed: 23, minSide: 64, maxSide: 96 });
    ({ rows, imageRoot } = synthetic);
    ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot, validationFraction: 0.15, testFraction: 0.15 }, app.services.importContext));
    if (models === 'shared') [artifactA, artifactB] = (await importTinyPair(app)) as [number, number];
    else {
      const [run] = await app.services.training.startTraining({
        datasetId,
        backbones: ['mobilenet_v3_small'],
        heads: ['feedforward'],
        options: TINY_TRAINING,
      });
      await app.services.training.waitFor([run!.id]);
      artifactA = (await app.services.db.modelArtifact.findFirstOrThrow({ where: { runId: run!.id } })).id;
    }
    ensembleId = (await app.services.ensembles.create({ name: 'pair', members: [{ artifactId: artifactA, weight: 1 }] })).id;
  }, TINY_PAIR_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await server.close();
    await app.close();
  });
}
