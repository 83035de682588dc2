// Loaded models: one ONNX Runtime session and one micro-batcher per artifact, created on first use and kept
// while used; at most maxLoadedModels at once, the least recently used unloaded to make room (a client that
// classifies with every artifact by id cannot make the process hold them all).
import type { SessionTuning } from '../config.js';
import type { Db } from '../db/client.js';
import type { ModelArtifact } from '../db/generated/client.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { ArtifactCorruptError, ArtifactMissingError, type ArtifactStore, ArtifactStoreError, hashFile } from '../storage/artifactStore.js';
import { clientShareOf, MicroBatcher } from './batcher.js';
import { type ModelSession, openSession } from './onnx.js';
import { calibratedPreprocessProblem, type ModelInfo } from './registry.js';
import { hostKey, type TuningResult, tuneSession } from './sessionTuning.js';

export interface ServingSettings {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  intraOpThreads: number;
  /** Session options set by the operator: they win over a model's tuning for this host. */
  sessionOverrides?: SessionTuning;
  /** Models loaded at once; unset: DEFAULT_MAX_LOADED_MODELS. */
  maxLoadedModels?: number;
}

export const DEFAULT_MAX_LOADED_MODELS = 8;

/** How long a replaced or unloaded session is kept at most for the batches it may still be running. */
const RETIRE_MS = 60_000;
/** An unloaded session is released once its batcher is idle past this grace (a request that took the
 *  model just before it was unloaded may still be preprocessing its images), else at RETIRE_MS. */
const IDLE_GRACE_MS = 2_000;

export interface LoadedModel {
  artifact: ModelArtifact;
  info: ModelInfo;
  session: ModelSession;
  batcher: MicroBatcher;
}

export function softmaxInPlace(values: Float32Array, width: number): Float32Array {
  for (let row = 0; row < values.length / width; row++) {
    let max = -Infinity;
    for (let k = 0; k < width; k++) max = Math.max(max, values[row * width + k]!);
    let sum = 0;
    for (let k = 0; k < width; k++) sum += values[row * width + k] = Math.exp(values[row * width + k]! - max);
    for (let k = 0; k < width; k++) values[row * width + k]! /= sum;
  }
  return values;
}

/** The batch (rows x 3 x size x size, NCHW) followed by each image mirrored left to right. */
export function withMirrors(batch: Float32Array, rows: number, size: number): Float32Array {
  const doubled = new Float32Array(2 * rows * 3 * size * size);
  doubled.set(batch.subarray(0, rows * 3 * size * size));
  const mirrored = doubled.subarray(rows * 3 * size * size);
  for (let line = 0; line < rows * 3 * size; line++) {
    const start = line * size;
    for (let x = 0; x < size; x++) mirrored[start + x] = batch[start + size - 1 - x]!;
  }
  return doubled;
}

/** Per output, the mean of each image's row and its mirror's row (the second half of the batch). */
export function averageMirrors(outputs: Record<string, Float32Array>, rows: number, widths: Record<string, number>): Record<string, Float32Array> {
  return Object.fromEntries(
    Object.entries(widths).map(([name, width]) => {
      const both = outputs[name]!;
      const mean = new Float32Array(rows * width);
      for (let i = 0; i < rows * width; i++) mean[i] = (both[i]! + both[rows * width + i]!) / 2;
      return [name, mean];
    }),
  );
}

export class ModelPool {
  private readonly loaded = new Map<number, Promise<LoadedModel>>();
  private readonly warmed = new Set<number>();

  constructor(
    private readonly db: Db,
    private readonly settings: ServingSettings,
    private readonly metrics: Metrics,
    private readonly store: ArtifactStore,
  ) {}

  /** The loaded model of an artifact, loading and warming it on first use. */
  get(artifactId: number): Promise<LoadedModel> {
    let model = this.loaded.get(artifactId);
    if (model) {
      // Map keeps insertion order: a model used now moves to the end, so the first is the least recently used.
      this.loaded.delete(artifactId);
      this.loaded.set(artifactId, model);
      return model;
    }
    model = this.load(artifactId);
    this.loaded.set(artifactId, model);
    model.then(
      () => this.warmed.add(artifactId),
      () => {
        if (this.loaded.get(artifactId) === model) this.loaded.delete(artifactId);
      },
    );
    this.unloadBeyondLimit();
    return model;
  }

  /** Unloads the least recently used models past the limit; their sessions finish the batches they hold. */
  private unloadBeyondLimit() {
    const limit = this.settings.maxLoadedModels ?? DEFAULT_MAX_LOADED_MODELS;
    for (const [id, model] of this.loaded) {
      if (this.loaded.size <= limit) break;
      this.unload(id, model);
    }
  }

  private unload(artifactId: number, model: Promise<LoadedModel>) {
    this.loaded.delete(artifactId);
    this.warmed.delete(artifactId);
    model.then(
      (old) => {
        const started = Date.now();
        const release = () => {
          if (!old.batcher.idle && Date.now() - started < RETIRE_MS) setTimeout(release, IDLE_GRACE_MS).unref();
          else void old.session.release().catch(() => undefined);
        };
        setTimeout(release, IDLE_GRACE_MS).unref();
      },
      () => undefined,
    );
  }

  /** Artifacts loaded (or loading) now, least recently used first. */
  loadedIds(): number[] {
    return [...this.loaded.keys()];
  }

  /** Images one client may hold in a model's queue while others wait (see clientShareOf). */
  get clientShare(): number {
    return clientShareOf(this.settings.maxQueue);
  }

  /** Loaded and warmed up: a request for it will not wait for a session to be created. */
  isWarm(artifactId: number): boolean {
    return this.warmed.has(artifactId);
  }

  /** The artifacts loaded and warm in this process, by id. */
  warmIds(): number[] {
    return [...this.warmed].sort((a, b) => a - b);
  }

  private async load(artifactId: number): Promise<LoadedModel> {
    const artifact = await this.db.modelArtifact.findUnique({ where: { id: artifactId } });
    if (!artifact) throw notFound('artifact', artifactId);
    const info = artifact.modelInfo as unknown as ModelInfo;
    // The store is content-addressed and fetch verifies: a graph whose bytes are not the registered ones
    // (truncated, overwritten, missing) is refused here rather than served or crashing the session.
    const unavailable = (why: string) =>
      new AppError(ErrorCode.UNAVAILABLE, `artifact ${artifactId} ("${artifact.name}") cannot be served: ${why}; other models keep serving`);
    const miscalibrated = calibratedPreprocessProblem(info);
    if (miscalibrated) throw unavailable(miscalibrated);
    let file: string;
    try {
      file = await this.localGraph(artifact);
    } catch (error) {
      if (error instanceof ArtifactMissingError) throw unavailable('its ONNX file is missing from the artifact store');
      if (error instanceof ArtifactCorruptError)
        throw unavailable(`its ONNX file changed since it was registered (sha256 ${error.actual.slice(0, 12)}, registered ${artifact.sha256.slice(0, 12)})`);
      // A store's reason names no path or address (e.g. ECONNREFUSED, AccessDenied); anything else is a bug.
      throw unavailable(
        `its ONNX file could not be fetched from the artifact store (${error instanceof ArtifactStoreError ? error.reason : 'unexpected error'})`,
      );
    }
    let session: ModelSession;
    try {
      session = await openSession(file, this.sessionOptionsOf(artifact));
    } catch {
      throw unavailable('ONNX Runtime cannot load its graph');
    }
    const size = info.input.size;
    const label = String(artifactId);
    const widths = Object.fromEntries(info.tasks.map((t) => [t.output, t.classes.length]));
    const batcher = new MicroBatcher({
      maxBatch: this.settings.maxBatch,
      maxWaitMs: this.settings.maxWaitMs,
      maxQueue: this.settings.maxQueue,
      concurrency: session.lanes,
      rowLength: 3 * size * size,
      run: async (batch, rows) => {
        // Test-time flip: the batch and its mirror in one run, then each image's two answers averaged.
        const flip = info.testTimeFlip === true;
        // The batch is the batcher's own, made for this run: it moves to ONNX Runtime's thread uncopied.
        const outputs = await session.run(flip ? withMirrors(batch, rows, size) : batch, flip ? 2 * rows : rows, size, { consume: true });
        if (info.outputKind === 'logits') for (const [name, width] of Object.entries(widths)) softmaxInPlace(outputs[name]!, width);
        return flip ? averageMirrors(outputs, rows, widths) : outputs;
      },
      onBatch: (rows, seconds) => {
        this.metrics.batchSize.observe({ model: label }, rows);
        this.metrics.inferenceSeconds.observe({ model: label }, seconds);
      },
      onQueueLength: (length) => this.metrics.queueLength.set({ model: label }, length),
    });
    // Warm-up: the first run allocates and optimises; do it before any caller waits on it.
    await session.run(new Float32Array(3 * size * size), 1, size);
    return { artifact, info, session, batcher };
  }

  /** This host's verified copy of an artifact's graph. An artifact registered before the shared store
   *  existed has its graph only at `onnxPath` (a run folder, or data/artifacts/<sha256>.onnx): when that
   *  file holds exactly the registered bytes it is put into the store, so upgraded installations keep
   *  serving and other hosts can fetch it from then on. */
  private async localGraph(artifact: ModelArtifact): Promise<string> {
    try {
      return await this.store.fetch(artifact.sha256, 'onnx');
    } catch (error) {
      if (!(error instanceof ArtifactMissingError)) throw error;
      if ((await hashFile(artifact.onnxPath).catch(() => null))?.sha256 !== artifact.sha256) throw error;
      await this.store.put(artifact.onnxPath, 'onnx');
      return this.store.fetch(artifact.sha256, 'onnx');
    }
  }

  /** This host's measured options for the artifact, under the operator's overrides. */
  sessionOptionsOf(artifact: ModelArtifact): SessionTuning {
    const tuned = { ...(artifact.sessionTuning as Record<string, TuningResult> | null)?.[hostKey()]?.options };
    const overrides = this.settings.sessionOverrides ?? {};
    // Tuned threads per operator belong to the tuned lanes: other lanes get their own share of the cores.
    if (overrides.lanes !== undefined && overrides.lanes !== (tuned.lanes ?? 1)) delete tuned.intraOpThreads;
    const threads = this.settings.intraOpThreads > 0 ? { intraOpThreads: this.settings.intraOpThreads } : {};
    return { ...tuned, ...threads, ...overrides };
  }

  /** Measures the fastest session options for an artifact on this host and stores them; a loaded copy is
   *  replaced, so this process serves with them from its next request (the old one finishes its batches). */
  async tune(artifactId: number): Promise<TuningResult> {
    const artifact = await this.db.modelArtifact.findUnique({ where: { id: artifactId } });
    if (!artifact) throw notFound('artifact', artifactId);
    const info = artifact.modelInfo as unknown as ModelInfo;
    const result = await tuneSession(await this.localGraph(artifact), info.input.size, this.settings.maxBatch);
    const current = await this.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactId } });
    const tuning = { ...((current.sessionTuning as Record<string, TuningResult> | null) ?? {}), [result.host]: result };
    await this.db.modelArtifact.update({ where: { id: artifactId }, data: { sessionTuning: tuning as object } });
    const loaded = this.loaded.get(artifactId);
    if (loaded) this.unload(artifactId, loaded);
    return result;
  }

  /** Mean time of one single-image run on this machine, in milliseconds (the report's CPU latency). */
  async latencyMs(artifactId: number, runs = 10): Promise<number> {
    const { session, info } = await this.get(artifactId);
    const size = info.input.size;
    const input = new Float32Array(3 * size * size);
    const started = performance.now();
    for (let r = 0; r < runs; r++) await session.run(input, 1, size);
    return (performance.now() - started) / runs;
  }

  async close(): Promise<void> {
    const models = await Promise.allSettled(this.loaded.values());
    this.loaded.clear();
    this.warmed.clear();
    for (const m of models) if (m.status === 'fulfilled') await m.value.session.release();
  }
}
