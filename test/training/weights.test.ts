import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import type { RunProgress } from '../../src/training/runRecord.js';
import { testPython } from '../fixtures/python.js';
import { TINY_TRAINING } from '../fixtures/training.js';
import { openTestApp, useScratchDir } from '../helpers.js';

// Pretrained weights as a run gets them: downloaded from a loopback mirror (standing in for
// torchvision's host, which this machine cannot reach) into the weights cache, hash-checked, recorded.
const scratch = useScratchDir();
let app: App;
let mirror: Server;
let datasetId: number;
let served: { file: string; sha256: string };
const requests: string[] = [];

beforeAll(async () => {
  const folder = path.join(scratch.dir, 'served');
  const file = 'mobilenet_v3_small-local.pth';
  const python = await testPython();
  await promisify(execFile)(python.executable, [
    '-c',
    `import os, torch, torchvision; os.makedirs("${folder}", exist_ok=True); torch.manual_seed(3); torch.save(torchvision.models.mobilenet_v3_small().state_dict(), "${path.join(folder, file)}")`,
  ]);
  served = {
    file,
    sha256: createHash('sha256')
      .update(await readFile(path.join(folder, file)))
      .digest('hex'),
  };
  mirror = createServer((request, response) => {
    requests.push(request.url!);
    const name = path.basename(request.url!);
    readFile(path.join(folder, name)).then(
      (bytes) => response.writeHead(200, { 'content-length': bytes.length }).end(bytes),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  const manifest = path.join(scratch.dir, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ mobilenet_v3_small: served }));
  const address = mirror.address() as { port: number };
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    weights: { dir: path.join(scratch.dir, 'weights'), mirror: `http://127.0.0.1:${address.port}/models`, manifest },
  });
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 40, seed: 2, minSide: 64, maxSide: 96 });
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext));
});
afterAll(async () => {
  await app.close();
  mirror.close();
});

async function train(backbone: string, pretrained: string) {
  const [run] = await app.services.training.startTraining({
    datasetId,
    backbones: [backbone],
    heads: ['feedforward'],
    options: { ...TINY_TRAINING, pretrained },
  });
  await app.services.training.waitFor([run!.id]);
  return app.services.training.get(run!.id);
}

describe('pretrained weights', () => {
  it('downloads them once into the weights cache, checks the hash, and records the source in the run and model.json', async () => {
    const first = await train('mobilenet_v3_small', 'imagenet');
    expect(first.status, first.error ?? '').toBe('SUCCEEDED');
    expect(first.pretrained).toBe(true);
    expect((first.progress as unknown as RunProgress).weights).toEqual({ source: 'imagenet', file: served.file, sha256: served.sha256, downloaded: true });
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { runId: first.id } });
    expect((artifact.modelInfo as { weights: unknown }).weights).toEqual({ source: 'imagenet', file: served.file, sha256: served.sha256, downloaded: true });
    expect(requests).toEqual([`/models/${served.file}`]);

    const second = await train('mobilenet_v3_small', 'auto');
    expect((second.progress as unknown as RunProgress).weights).toMatchObject({ sha256: served.sha256, downloaded: false });
    expect(requests).toHaveLength(1);
  });

  it('keeps the pretrained backbone as it was while it is frozen, and trains the heads', async () => {
    const [run] = await app.services.training.startTraining({
      datasetId,
      backbones: ['mobilenet_v3_small'],
      heads: ['residual'],
      options: { ...TINY_TRAINING, pretrained: 'imagenet', freezeBackboneSteps: 1000 },
    });
    await app.services.training.waitFor([run!.id]);
    const done = await app.services.training.get(run!.id);
    expect(done.status, done.error ?? '').toBe('SUCCEEDED');
    // Every trainable backbone tensor still equals the served file; BatchNorm running statistics may move.
    const python = await testPython();
    const script = `
import sys, torch
served = torch.load(sys.argv[1]); model = torch.load(sys.argv[2])["model"]
changed = [k for k, v in served.items() if "running_" not in k and "num_batches" not in k and "backbone." + k in model and not torch.equal(v, model["backbone." + k])]
checked = [k for k in served if "backbone." + k in model]
print(len(checked), len(changed), sum(1 for k in model if k.startswith("heads.")))`;
    const { stdout } = await promisify(execFile)(python.executable, [
      '-c',
      script,
      path.join(scratch.dir, 'served', served.file),
      path.join(done.runDir!, 'checkpoint.pt'),
    ]);
    const [checked, changed, headTensors] = stdout.trim().split(' ').map(Number);
    expect(checked).toBeGreaterThan(100);
    expect(changed).toBe(0);
    expect(headTensors).toBeGreaterThan(0);
  });

  it('fails a run that asks for imagenet weights nobody serves, naming the file and the setting; auto trains from random init with a warning', async () => {
    const failed = await train('resnet18', 'imagenet');
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(
      /^could not download resnet18-[0-9a-f]+\.pth from http:\/\/127\.0\.0\.1:\d+\/models\/resnet18-[0-9a-f]+\.pth \(.*Not Found\); set FASHION_HOW_WEIGHTS_MIRROR/,
    );
    const fallback = await train('resnet18', 'auto');
    expect(fallback.status, fallback.error ?? '').toBe('SUCCEEDED');
    expect(fallback.pretrained).toBe(false);
    const progress = fallback.progress as unknown as RunProgress;
    expect(progress.weights).toBeNull();
    expect(progress.warnings).toEqual([expect.stringMatching(/could not download resnet18-.* training resnet18 from random init instead$/)]);
  });
});
