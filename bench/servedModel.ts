// What the serving benchmarks (serve.ts, soak.ts) share: their command-line options, a model to serve
// (one real training step of a backbone: its weights do not change the speed), a `fashion-how serve`
// process with its own Prometheus metrics, one classify request as a multipart body, and percentiles.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import type { Bbox } from '../src/domain.js';
import { DEFAULT_METHOD } from '../src/training/quantization.js';
import { startCli } from '../test/fixtures/cli.js';

/** `--name value` from the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}

/** Synthesises `count` photo-sized items under `dir`, trains one step of `backbone`+feedforward on
 *  them and makes a reader token per name; the app is closed again, the data stays for a server. */
export async function trainedModel(options: {
  dir: string;
  env: NodeJS.ProcessEnv;
  backbone: string;
  size: number;
  count: number;
  seed: number;
  tokenNames: string[];
  /** Really train on realistic images for this many epochs (held-out accuracy means something), and
   *  quantize the result to INT8; without it: one step on standard images, for speed alone. */
  trainEpochs?: number;
}) {
  const config = loadConfig(options.env);
  const trained = options.trainEpochs !== undefined;
  const synthetic = await writeSyntheticDataset({
    out: path.join(options.dir, 'synth'),
    count: options.count,
    seed: options.seed,
    minSide: 240,
    maxSide: 480,
    ...(trained ? { difficulty: 'realistic' as const } : {}),
  });
  const app = await openApp(config);
  const { datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.15, testFraction: 0.15 },
    app.services.importContext,
  );
  await app.services.training.startWorker(); // on PostgreSQL the run goes through the job queue: train it here
  const [run] = await app.services.training.startTraining({
    datasetId,
    backbones: [options.backbone],
    heads: ['feedforward'],
    options: trained
      ? // Online CutMix: the default (offline, four copies) would train on five times the images per epoch.
        { epochs: options.trainEpochs, imageSize: options.size, batchSize: 32, pretrained: 'none', seed: 1, cutmix: 'online' }
      : { epochs: 1, imageSize: options.size, batchSize: 8, maxStepsPerEpoch: 1, cutmix: 'off', dataLoaderWorkers: 0, bnCalibrationImages: 8 },
  });
  await app.services.training.waitFor([run!.id]);
  const artifact = await app.services.db.modelArtifact.findFirstOrThrow({ where: { runId: run!.id } });
  const quantized = trained ? await app.services.quantization.quantize({ artifactId: artifact.id }) : undefined;
  // Session options measured on this host, for the server and the in-process baseline alike.
  const tuning = trained ? { fp32: await app.services.models.tune(artifact.id), int8: await app.services.models.tune(quantized!.id) } : undefined;
  const int8 = quantized ? await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: quantized.id } }) : undefined;
  // The other calibration method on the same images, for the choice of the default.
  const other = trained
    ? await app.services.quantization.quantize({ artifactId: artifact.id, method: DEFAULT_METHOD === 'MINMAX' ? 'PERCENTILE' : 'MINMAX' })
    : undefined;
  const tokens: string[] = [];
  for (const name of options.tokenNames) tokens.push((await app.services.tokens.create(name, 'reader')).token);
  await app.close();
  const files = await Promise.all(synthetic.rows.map((r) => readFile(path.join(synthetic.imageRoot, r.imageName))));
  return { config, synthetic, artifact, int8, otherMethod: other, tuning, tokens, files };
}

/** A `fashion-how serve` process on a free port; `metric(name)` reads one of its fashion_how_* values. */
export async function startServe(env: NodeJS.ProcessEnv) {
  const serve = startCli(['serve', '--port', '0'], { ...env, LOG_LEVEL: 'error' }, 'the server');
  const server = serve.child;
  const [, url] = (await serve.waitFor(/GraphQL: (\S+)/)) as [string, string];
  const metrics = async () => {
    const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
    return (name: string) => Number(text.match(new RegExp(`^fashion_how_${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.kill('SIGTERM');
    });
  return { url, metrics, stop };
}

export const CLASSIFY_QUERY = `query($input: ClassifyInput!) { classify(input: $input) { results { tasks { predicted { index probability } } } } }`;

/** One image of one artifact as a GraphQL multipart request (the image a binary part). */
export function multipartClassify(artifactId: number, bbox: Bbox, image: Buffer): FormData {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: CLASSIFY_QUERY, variables: { input: { artifactId: String(artifactId), images: [{ file: null, bbox }] } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.images.0.file'] }));
  form.set('0', new Blob([image]), 'image.jpg');
  return form;
}

/** The p-th percentile (nearest rank); NaN without values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
