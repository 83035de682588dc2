// Every backbone added for small data and for users with ImageNet weights goes the whole way on real
// parts: trained by the real worker (with the practitioner's loop: weight average, one-cycle schedule,
// shifts, erasing), exported and checked against PyTorch through onnxruntime-node, quantized to INT8 by
// worker/quantize.py, and served through classify on real photos.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import type { ModelInfo } from '../../src/inference/registry.js';
import type { TrainingSelection } from '../../src/training/workerProcess.js';
import { TINY_TRAINING } from '../fixtures/training.js';
import { openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let datasetId: number;

const NEW_BACKBONES = ['compact_xs', 'compact_s', 'compact_m', 'compact_l', 'convnext_tiny', 'efficientnet_v2_s', 'regnet_y_800mf', 'regnet_y_1_6gf', 'swin_t'];
const PRACTITIONER = { emaDecay: 0.9, lrSchedule: 'onecycle', randomShift: 0.125, randomErasing: 0.25, labelSmoothing: 0.1, epochs: 2 } as const;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 12, minSide: 48, maxSide: 64 });
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext));
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('backbones fitted to the data, and the modern torchvision ones', () => {
  it('lists every registration with its facts', async () => {
    const runtime = await app.services.training.runtime();
    for (const name of [...NEW_BACKBONES, 'resnet18']) expect(runtime.backbones).toContain(name);
    const compact = runtime.registry.find((b) => b.name === 'compact_s');
    expect(compact).toMatchObject({ family: 'compact', stem: 'small', imagenetWeights: false });
    expect(compact!.parametersMillions).toBeCloseTo(0.7, 1);
    expect(runtime.registry.find((b) => b.name === 'swin_t')).toMatchObject({ family: 'swin', stem: 'imagenet', imagenetWeights: true });
  });

  it('trains, exports, quantizes and serves each one (and resnet18 with the small-input stem)', async () => {
    const combos = [...NEW_BACKBONES.map((backbone) => ({ backbone, head: 'feedforward' }))];
    const runs = await app.services.training.startTraining({ datasetId, combos, options: { ...TINY_TRAINING, ...PRACTITIONER } });
    const stem = await app.services.training.startTraining({
      datasetId,
      combos: [{ backbone: 'resnet18', head: 'residual' }],
      options: { ...TINY_TRAINING, ...PRACTITIONER, smallInputStem: true },
    });
    await app.services.training.waitFor([...runs, ...stem].map((r) => r.id));
    const photos = await app.services.db.item.findMany({ where: { datasetId, split: 'VALIDATION' }, orderBy: { id: 'asc' }, take: 3 });
    const images = await Promise.all(photos.map((item) => app.services.datasets.itemPhoto(item.id)));
    for (const run of [...runs, ...stem]) {
      const row = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: run.id }, include: { artifact: true } });
      expect(row.status, `${row.backbone}: ${row.error}`).toBe('SUCCEEDED');
      const info = row.artifact!.modelInfo as unknown as ModelInfo & { exportCheck: { maxAbsDiff: number | null } };
      expect(info.backbone).toBe(row.backbone);
      // The platform's own check: onnxruntime-node on the worker's inputs against PyTorch's outputs.
      expect(row.artifact!.exportMaxAbsDiff, row.backbone).toBeLessThan(1e-4);
      // Both epochs validated the average beside the trained weights; the selection says which it kept.
      const selection = (row.progress as unknown as { selection: TrainingSelection }).selection;
      expect(['model', 'ema']).toContain(selection.weights);
      const epochs = row.epochs as { weights: string }[];
      expect(epochs.map((e) => ['model', 'ema'].includes(e.weights))).toEqual([true, true]);

      const int8 = await app.services.quantization.quantize({ artifactId: row.artifact!.id, calibration: { items: 16 } });
      expect((int8.modelInfo as unknown as ModelInfo).precision, row.backbone).toBe('int8');
      for (const artifactId of [row.artifact!.id, int8.id]) {
        const outcome = await app.services.classify.score({ images, artifactId, client: 'test' });
        expect(outcome.results).toHaveLength(3);
        for (const tasks of outcome.results) {
          expect(tasks.map((t) => t.probabilities.length)).toEqual([7, 6, 3]);
          for (const t of tasks) expect(t.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        }
      }
    }
    const small = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: stem[0]!.id } });
    expect((small.config as { smallInputStem: boolean }).smallInputStem).toBe(true);
  }, 900_000);

  it('refuses the small-input stem on a backbone that is not a ResNet, naming the ones it fits', async () => {
    const [run] = await app.services.training.startTraining({
      datasetId,
      combos: [{ backbone: 'compact_s', head: 'feedforward' }],
      options: { ...TINY_TRAINING, smallInputStem: true },
    });
    await app.services.training.waitFor([run!.id]);
    const row = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: run!.id } });
    expect(row.status).toBe('FAILED');
    expect(row.error).toMatch(/smallInputStem applies to the torchvision ResNets \(resnet18, .*\); "compact_s" has a small stem of its own/);
  }, 120_000);
});
