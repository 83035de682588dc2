// Post-training static INT8: an fp32 artifact's graph is calibrated on training images through the
// serving preprocessing, rewritten as a QDQ graph (worker/quantize.py, an ONNX graph pass) and
// registered as a new artifact with its parent and calibration recorded. It is then evaluated beside
// its parent through the serving path on VALIDATION and TEST, and the accuracy change per task is
// stored on it: the INT8 artifact is never served on trust.
//
// Why an ONNX graph pass and not PyTorch's quantization: it quantizes any registered graph (imported
// models included, which have no checkpoint), the ranges are measured by the same ONNX Runtime and
// preprocessing that will serve it, and ONNX Runtime's CPU provider fuses QDQ pairs into its own integer
// kernels (QLinearConv with VNNI/AMX), which a PyTorch-exported quantized graph does not reach.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type ImageLimits, workerEnvironment } from '../config.js';
import { preprocess } from '../data/image.js';
import type { Photos } from '../data/photos.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import type { Dataset, ModelArtifact } from '../db/generated/client.js';
import type { Split } from '../domain.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { type CalibrationMethod, calibrate, PERCENTILE } from '../inference/calibration.js';
import { type ModelInfo, preprocessSpecOf } from '../inference/registry.js';
import type { Logger } from '../log.js';
import type { QuantizationFacts } from '../reports/cardRecords.js';
import type { EvaluationService } from '../reports/evaluate.js';
import { processScratchDir } from '../scratch.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import { type PythonRuntime, WORKER_DIR } from './python.js';

export const CALIBRATION_ITEMS = { default: 256, min: 16, max: 4096 };
/** Chosen by measurement (bench:serve, docs/benchmarks.md#serving): on a ResNet-18 trained on realistic images,
 *  min-max moved mean ACSA by -0.001 (VALIDATION) and +0.003 (TEST), percentile by -0.009 and +0.003. */
export const DEFAULT_METHOD: CalibrationMethod = 'MINMAX';
const HELD_OUT: Split[] = ['VALIDATION', 'TEST'];

export interface QuantizeRequest {
  artifactId: number;
  calibration?: { datasetId?: number; split?: Split; items?: number };
  method?: CalibrationMethod;
}

export interface AccuracyChange {
  split: Split;
  itemCount: number;
  parentReportId: number;
  reportId: number;
  meanTop1Change: number;
  meanAcsaChange: number;
  tasks: { task: string; parentTop1: number; top1: number; parentAcsa: number; acsa: number }[];
}

/** What is stored in ModelArtifact.quantization (a model card reads part of it: QuantizationFacts). */
export interface QuantizationRecord extends QuantizationFacts {
  parent: { id: number; sha256: string };
  scheme: string;
  method: CalibrationMethod;
  percentile?: number;
  calibration: { datasetId: number; datasetVersion: number; datasetDigest: string | null; split: Split; items: number };
  /** Images the ranges were measured on: `calibration.items`, or the whole split when it has fewer. */
  calibrationImages: number;
  /** The preprocessing the ranges were measured under: the graph is valid only behind it. */
  preprocess: ModelInfo['input'];
  tensors: number;
  nodes: Record<string, number>;
  durationMs: number;
  accuracy: AccuracyChange[];
}

export interface QuantizationSettings {
  dataDir: string;
  imageLimits: ImageLimits;
  runtime: () => Promise<PythonRuntime>;
}

export class QuantizationService {
  /** Quantizations in progress by parent and calibration: a second identical request waits for the first. */
  private readonly running = new Map<string, Promise<ModelArtifact>>();

  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly photos: Photos,
    private readonly evaluation: EvaluationService,
    private readonly settings: QuantizationSettings,
    private readonly log: Logger,
  ) {}

  /** The INT8 artifact of `artifactId` calibrated as asked: made once, then the same one again. */
  async quantize(request: QuantizeRequest): Promise<ModelArtifact> {
    const parent = await this.db.modelArtifact.findUnique({ where: { id: request.artifactId }, include: { run: true } });
    if (!parent) throw notFound('artifact', request.artifactId);
    if (parent.precision !== 'fp32') {
      throw new AppError(
        ErrorCode.CONFLICT,
        `artifact ${parent.id} is already ${parent.precision.toUpperCase()} (quantized from artifact ${parent.parentId ?? 'unknown'}); quantize its fp32 parent instead`,
      );
    }
    const datasetId = request.calibration?.datasetId ?? parent.run?.datasetId;
    if (datasetId === undefined) throw badInput(`artifact ${parent.id} was not trained here: give the calibration dataset (calibration.datasetId)`);
    const dataset = await this.db.dataset.findUnique({ where: { id: datasetId } });
    if (!dataset) throw notFound('dataset', datasetId);
    requireLabels(dataset, 'calibrate and check an INT8 model on');
    const split = request.calibration?.split ?? 'TRAIN';
    const items = request.calibration?.items ?? CALIBRATION_ITEMS.default;
    if (!Number.isInteger(items) || items < CALIBRATION_ITEMS.min || items > CALIBRATION_ITEMS.max)
      throw badInput(`calibration.items must be an integer from ${CALIBRATION_ITEMS.min} to ${CALIBRATION_ITEMS.max}, got ${items}`);
    const method = request.method ?? DEFAULT_METHOD;
    const calibration: QuantizationRecord['calibration'] = {
      datasetId,
      datasetVersion: dataset.version,
      datasetDigest: dataset.contentSha256,
      split,
      items,
    };
    // Field by field: PostgreSQL's JSONB keeps a stored object's keys in its own order, not ours.
    const sameRequest = (record: QuantizationRecord | null) =>
      record?.method === method && (Object.keys(calibration) as (keyof typeof calibration)[]).every((k) => record.calibration[k] === calibration[k]);
    const existing = (await this.db.modelArtifact.findMany({ where: { parentId: parent.id } })).find((a) =>
      sameRequest(a.quantization as unknown as QuantizationRecord | null),
    );
    if (existing) return existing;
    const key = JSON.stringify({ parent: parent.id, calibration, method });
    let running = this.running.get(key);
    if (!running) {
      running = this.make(parent, dataset, calibration, method).finally(() => this.running.delete(key));
      this.running.set(key, running);
    }
    return running;
  }

  private async make(
    parent: ModelArtifact,
    dataset: Dataset,
    calibration: QuantizationRecord['calibration'],
    method: CalibrationMethod,
  ): Promise<ModelArtifact> {
    const started = performance.now();
    const info = parent.modelInfo as unknown as ModelInfo;
    const all = await this.db.item.findMany({ where: { datasetId: dataset.id, split: calibration.split }, orderBy: { id: 'asc' } });
    if (all.length < CALIBRATION_ITEMS.min)
      throw badInput(`dataset ${dataset.id} has ${all.length} ${calibration.split} items; calibration needs at least ${CALIBRATION_ITEMS.min}`);
    // Evenly spaced over the split: deterministic, and it covers the whole split rather than its first rows.
    const count = Math.min(calibration.items, all.length);
    const chosen = Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!);
    const spec = preprocessSpecOf(info.input);
    const source = this.photos.of(dataset);
    const images = [];
    for (const item of chosen) images.push((await preprocess(await source.read(item), item, spec, this.settings.imageLimits)).tensor);

    const scratch = path.join(processScratchDir(this.settings.dataDir), `quantize-${randomUUID()}`);
    await mkdir(scratch, { recursive: true });
    try {
      const fp32 = await this.store.fetch(parent.sha256, 'onnx');
      const plan = await this.worker<{ tensors: string[] }>(parent, ['plan', '--model', fp32, '--out', path.join(scratch, 'calibrate.onnx')]);
      const ranges = await calibrate({ graph: path.join(scratch, 'calibrate.onnx'), tensors: plan.tensors, size: info.input.size, images, method });
      await writeFile(path.join(scratch, 'ranges.json'), JSON.stringify(ranges));
      const int8 = path.join(scratch, 'model.int8.onnx');
      const written = await this.worker<{ nodes: Record<string, number> }>(parent, [
        'apply',
        '--model',
        fp32,
        '--ranges',
        path.join(scratch, 'ranges.json'),
        '--out',
        int8,
      ]);
      const stored = await this.store.put(int8, 'onnx');
      const record: QuantizationRecord = {
        parent: { id: parent.id, sha256: parent.sha256 },
        scheme: 'QDQ: uint8 asymmetric activations per tensor, int8 symmetric weights per output channel, int32 biases',
        method,
        ...(method === 'PERCENTILE' ? { percentile: PERCENTILE } : {}),
        calibration,
        calibrationImages: images.length,
        preprocess: info.input,
        tensors: plan.tensors.length,
        nodes: written.nodes,
        durationMs: 0,
        accuracy: [],
      };
      const child = await this.db.modelArtifact.create({
        data: {
          name: `${parent.name}-int8`,
          labelSchemaId: parent.labelSchemaId,
          onnxPath: this.store.locationOf(stored.sha256, 'onnx'),
          sha256: stored.sha256,
          sizeBytes: stored.bytes,
          parameterCount: parent.parameterCount,
          modelInfo: {
            ...info,
            precision: 'int8',
            sha256: stored.sha256,
            sizeBytes: stored.bytes,
            quantization: { parentSha256: parent.sha256, method, preprocess: info.input },
          } as object,
          precision: 'int8',
          parentId: parent.id,
          quantization: record as object,
        },
      });
      try {
        record.accuracy = await this.accuracyChange(parent.id, child.id, dataset.id);
        record.durationMs = Math.round(performance.now() - started);
        const done = await this.db.modelArtifact.update({ where: { id: child.id }, data: { quantization: record as object } });
        this.log.info({ artifactId: child.id, parentId: parent.id, accuracy: record.accuracy.map((a) => [a.split, a.meanAcsaChange]) }, 'artifact quantized');
        return done;
      } catch (error) {
        // Unscored INT8 is never left behind: its reports and its row go, the stored graph is content-addressed and harmless.
        await this.db.evaluationReport.deleteMany({ where: { artifactId: child.id } });
        await this.db.modelArtifact.delete({ where: { id: child.id } });
        throw error;
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Parent and child evaluated on the same held-out items through the serving path. */
  private async accuracyChange(parentId: number, childId: number, datasetId: number): Promise<AccuracyChange[]> {
    const changes: AccuracyChange[] = [];
    for (const split of HELD_OUT) {
      if ((await this.db.item.count({ where: { datasetId, split } })) === 0) continue;
      const before = await this.evaluation.evaluate({ artifactId: parentId, datasetId, split });
      const after = await this.evaluation.evaluate({ artifactId: childId, datasetId, split });
      const b = before.metrics as { meanTop1: number; meanAcsa: number; tasks: { name: string; top1: number; acsa: number }[] };
      const a = after.metrics as typeof b;
      changes.push({
        split,
        itemCount: after.itemCount,
        parentReportId: before.id,
        reportId: after.id,
        meanTop1Change: a.meanTop1 - b.meanTop1,
        meanAcsaChange: a.meanAcsa - b.meanAcsa,
        tasks: a.tasks.map((t, i) => ({ task: t.name, parentTop1: b.tasks[i]!.top1, top1: t.top1, parentAcsa: b.tasks[i]!.acsa, acsa: t.acsa })),
      });
    }
    return changes;
  }

  /** One step of worker/quantize.py; a graph it cannot quantize is the caller's error, named. */
  private async worker<T>(parent: ModelArtifact, args: string[]): Promise<T> {
    const runtime = await this.settings.runtime();
    if (!runtime.onnx) throw new AppError(ErrorCode.UNAVAILABLE, 'quantization needs the Python onnx package (python3-onnx) beside torch');
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(runtime.executable, [path.join(WORKER_DIR, 'quantize.py'), ...args], {
        cwd: WORKER_DIR,
        env: { ...workerEnvironment(), PYTHONDONTWRITEBYTECODE: '1' },
        maxBuffer: 16 * 1024 * 1024,
      }));
    } catch (error) {
      const last = ((error as { stdout?: string }).stdout ?? '').trim().split('\n').pop() ?? '';
      const refused = last.startsWith('{') ? (JSON.parse(last) as { error?: string }).error : undefined;
      if (refused) throw badInput(`artifact ${parent.id} cannot be quantized: ${refused}`);
      throw error;
    }
    return JSON.parse(stdout.trim().split('\n').pop()!) as T;
  }
}
