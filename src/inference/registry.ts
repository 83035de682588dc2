// The model registry: an artifact is registered only after its ONNX graph has been checked, through
// ONNX Runtime, against the outputs PyTorch gave on the same input tensors.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ImageLimits, ModelCheckLimits } from '../config.js';
import { encodePng, type PreprocessSpec, preprocess } from '../data/image.js';
import { schemaFingerprint } from '../data/labelSchema.js';
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { ownedName } from '../scratch.js';
import { SETTINGS } from '../settings.js';
import { type ArtifactStore, ArtifactStoreError, hashFile } from '../storage/artifactStore.js';
import { CheckTimeLimitError, type ModelSession, openCheckSession } from './onnx.js';

/** The checks' limits when a caller names none (a test, a benchmark): the settings' defaults. */
export const DEFAULT_MODEL_CHECKS: ModelCheckLimits = {
  timeLimitMs: SETTINGS.modelCheckTimeoutMs.read({}, { dataDir: '', host: '' }),
  maxRunMs: SETTINGS.maxModelRunMs.read({}, { dataDir: '', host: '' }),
};

/** A check that ran out of time, as a client may read it: the limit and the setting that holds it. */
function overTime(error: unknown, what: string): unknown {
  if (!(error instanceof CheckTimeLimitError)) return error;
  return badInput(`${what} took longer than the limit of ${error.limitMs} ms (FASHION_HOW_MODEL_CHECK_TIMEOUT_MS) and was stopped`);
}

/** Largest |ONNX Runtime - PyTorch| accepted at registration; float32 graphs agree to ~1e-6. */
export const EXPORT_TOLERANCE = 1e-4;

export interface ModelInfo {
  format: string;
  input: { name: string; layout: 'NCHW'; size: number; padValue: number; mean: number[]; std: number[]; resize: string };
  outputKind: 'probabilities' | 'logits';
  /** Test-time flip averaging: serving scores each image and its mirror and averages the probabilities. */
  testTimeFlip?: boolean;
  tasks: { name: string; classes: string[]; output: string }[];
  backbone?: string;
  head?: string;
  parameterCount?: number;
  pretrained?: boolean;
  sizeBytes?: number;
  sha256?: string;
  /** "int8" for a quantized graph; absent or "fp32" otherwise. */
  precision?: 'fp32' | 'int8';
  /** An INT8 graph's origin and the preprocessing its activation ranges were calibrated under. */
  quantization?: { parentSha256?: string; method?: string; preprocess?: ModelInfo['input'] };
}

/** Whether a model's declared preprocessing is the one its INT8 ranges were calibrated under. */
export function calibratedPreprocessProblem(info: ModelInfo): string | null {
  const calibrated = info.quantization?.preprocess;
  if (info.precision !== 'int8' || !calibrated) return null;
  const keys = ['size', 'padValue', 'mean', 'std', 'resize'] as const;
  const differs = keys.filter((k) => JSON.stringify(info.input[k]) !== JSON.stringify(calibrated[k]));
  return differs.length === 0
    ? null
    : `its INT8 ranges were calibrated under a different preprocessing (${differs.map((k) => `${k} ${JSON.stringify(calibrated[k])}, now ${JSON.stringify(info.input[k])}`).join('; ')}); quantize the fp32 parent again for this preprocessing`;
}

/** The preprocessing a model declares in its model.json, in the form preprocess() takes. */
export function preprocessSpecOf(input: ModelInfo['input']): PreprocessSpec {
  const { size, padValue, mean, std } = input;
  return { size, padValue, mean: mean as [number, number, number], std: std as [number, number, number] };
}

/** Runs the graph on the worker's check inputs (check/inputs.f32) and compares with check/outputs.json,
 *  in a process of its own (the serving threads never run a graph under check), stopped past the limit. */
export async function exportMaxAbsDiff(onnxPath: string, checkDir: string, info: ModelInfo, checks: ModelCheckLimits = DEFAULT_MODEL_CHECKS): Promise<number> {
  const expected = JSON.parse(await readFile(path.join(checkDir, 'outputs.json'), 'utf8')) as { shape: number[]; probabilities: number[][][] };
  const raw = await readFile(path.join(checkDir, 'inputs.f32'));
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const [batch, , size] = expected.shape as [number, number, number, number];
  const session = await openCheckSession(onnxPath, { intraOpThreads: 1, timeLimitMs: checks.timeLimitMs }).catch((error: unknown) => {
    throw overTime(error, 'opening the exported graph');
  });
  try {
    const outputs = await session.run(input, batch, size).catch((error: unknown) => {
      throw overTime(error, "the exported graph's check");
    });
    let worst = 0;
    info.tasks.forEach((task, t) => {
      const got = outputs[task.output];
      if (!got) throw new Error(`the ONNX graph has no output "${task.output}" for task ${task.name}`);
      expected.probabilities[t]!.flat().forEach((value, i) => {
        worst = Math.max(worst, Math.abs(value - got[i]!));
      });
    });
    return worst;
  } finally {
    await session.release();
  }
}

export interface RunArtifactFiles {
  onnxPath: string;
  modelJsonPath: string;
  checkDir: string;
  sha256: string;
}

/** Checks a finished run's export, puts its graph into the artifact store and records it as a
 *  ModelArtifact. `onnxPath` keeps the run folder's copy (beside model.json and the check files): serving
 *  fetches the graph from the store by sha256, on any host. */
export async function registerRunArtifact(
  db: Db,
  store: ArtifactStore,
  run: { id: number; backbone: string; head: string },
  labelSchema: { id: number; tasks: TaskSpec[] },
  files: RunArtifactFiles,
  checks: ModelCheckLimits = DEFAULT_MODEL_CHECKS,
) {
  const info = JSON.parse(await readFile(files.modelJsonPath, 'utf8')) as ModelInfo;
  const declared = info.tasks.map((t) => `${t.name}:${t.classes.length}`).join(',');
  const expected = labelSchema.tasks.map((t) => `${t.name}:${t.classes.length}`).join(',');
  if (declared !== expected) throw new Error(`model.json declares tasks ${declared} but the dataset's schema has ${expected}`);
  const { sha256 } = await hashFile(files.onnxPath);
  if (sha256 !== files.sha256) throw new Error(`model.onnx changed after export: sha256 ${sha256} is not the worker's ${files.sha256}`);
  const diff = await exportMaxAbsDiff(files.onnxPath, files.checkDir, info, checks);
  if (!(diff <= EXPORT_TOLERANCE)) {
    throw new Error(`the exported ONNX graph disagrees with PyTorch by ${diff.toExponential(2)} (tolerance ${EXPORT_TOLERANCE})`);
  }
  const { sha256: stored, bytes: sizeBytes } = await store.put(files.onnxPath, 'onnx');
  if (stored !== sha256) throw new Error(`model.onnx changed while it was stored: sha256 ${stored} is not the checked ${sha256}`);
  return db.modelArtifact.create({
    data: {
      name: `${run.backbone}+${run.head} (run ${run.id})`,
      runId: run.id,
      labelSchemaId: labelSchema.id,
      onnxPath: files.onnxPath,
      sha256,
      sizeBytes,
      parameterCount: info.parameterCount ?? null,
      modelInfo: info as object,
      exportMaxAbsDiff: diff,
    },
  });
}

export interface ImportModelRequest {
  name: string;
  /** The text of its model.json (an upload may still be arriving). */
  modelJson: string | Promise<string>;
  /** Writes the ONNX graph to `file` (a new file) and returns its sha256 and size: from an upload over
   *  GraphQL, from a path only in the CLI. */
  saveOnnx(file: string): Promise<{ sha256: string; bytes: number }>;
}

function parseModelJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badInput(`model.json is not valid JSON: ${(error as Error).message}`);
  }
}

function checkModelInfo(doc: unknown): ModelInfo {
  const info = doc as Partial<ModelInfo>;
  const input = info?.input;
  const problems: string[] = [];
  if (!input || !Number.isInteger(input.size) || input.size < 8 || input.size > 2048) problems.push('input.size must be an integer from 8 to 2048');
  for (const key of ['mean', 'std'] as const) {
    if (!Array.isArray(input?.[key]) || input[key].length !== 3 || !input[key].every((v) => typeof v === 'number' && Number.isFinite(v)))
      problems.push(`input.${key} must be 3 numbers`);
  }
  if (input?.std?.some((v) => v === 0)) problems.push('input.std must not contain 0');
  if (input && input.padValue === undefined) input.padValue = 255;
  if (input && !(Number.isInteger(input.padValue) && input.padValue >= 0 && input.padValue <= 255))
    problems.push('input.padValue must be an integer from 0 to 255');
  if (info.outputKind === undefined) info.outputKind = 'probabilities';
  if (info.outputKind !== 'probabilities' && info.outputKind !== 'logits') problems.push('outputKind must be "probabilities" or "logits"');
  if (info.testTimeFlip !== undefined && typeof info.testTimeFlip !== 'boolean') problems.push('testTimeFlip must be true or false');
  if (!Array.isArray(info.tasks) || info.tasks.length === 0) problems.push('tasks must list { name, classes, output } for every task');
  info.tasks?.forEach((t, i) => {
    if (typeof t?.name !== 'string' || !Array.isArray(t.classes) || t.classes.length < 2 || typeof t.output !== 'string')
      problems.push(`tasks[${i}] must be { name, classes (2 or more), output }`);
  });
  if (info.precision !== undefined && info.precision !== 'fp32' && info.precision !== 'int8') problems.push('precision must be "fp32" or "int8"');
  if (problems.length > 0) throw badInput(`model.json is not valid: ${problems.join('; ')}`);
  const calibration = calibratedPreprocessProblem(info as ModelInfo);
  if (calibration) throw badInput(`model.json is not valid: ${calibration}`);
  return { format: info.format ?? 'external', ...info } as ModelInfo;
}

/** What importModel writes to: the database, the artifact store, and a local data folder for scratch files. */
export interface ImportTarget {
  db: Db;
  artifactStore: ArtifactStore;
  dataDir: string;
}

/** Registers a user's ONNX model after checking its graph against its model.json and running it once,
 *  in a process of its own under the check limits (a slow or hostile graph never reaches a serving thread).
 *  The graph lands in a local scratch file first and is put into the content-addressed artifact store
 *  only once every check passed, so a refused or interrupted import stores nothing and never touches a
 *  stored graph. No message names a server path. */
export async function importModel(
  { db, artifactStore, dataDir }: ImportTarget,
  request: ImportModelRequest,
  limits: ImageLimits,
  checks: ModelCheckLimits = DEFAULT_MODEL_CHECKS,
) {
  // model.json may fail while the folder is made: handled in the race below, not an unhandled rejection.
  Promise.resolve(request.modelJson).catch(() => undefined);
  await mkdir(incomingDir(dataDir), { recursive: true });
  // Named by its process: the start-up sweep (scratch.ts) removes it once that process is gone.
  const scratch = path.join(incomingDir(dataDir), ownedName(`${randomUUID()}.onnx`));
  // The graph is received while model.json is read: uploads arrive in one stream, in the client's order.
  // A graph that fails (e.g. over its size limit) fails the import even while model.json is awaited.
  const saving = request.saveOnnx(scratch);
  saving.catch(() => undefined); // handled below, whichever settles first
  try {
    const modelJson = await Promise.race([request.modelJson, saving.then(() => request.modelJson)]);
    const info = checkModelInfo(parseModelJson(modelJson));
    const { sha256, bytes } = await saving;
    await checkGraph(scratch, info, limits, checks);
    const stored = await artifactStore.put(scratch, 'onnx').catch((error: unknown) => {
      // The store's reason names no path or address; the full message is for the server's operator.
      if (error instanceof ArtifactStoreError)
        throw new AppError(ErrorCode.UNAVAILABLE, `the model passed its checks but the artifact store could not store it (${error.reason}); try again later`);
      throw error;
    });
    if (stored.sha256 !== sha256) throw new Error(`the uploaded graph changed after it was received: sha256 ${stored.sha256}, received as ${sha256}`);
    const tasks = info.tasks.map((t) => ({ name: t.name, column: t.name, classes: t.classes }));
    const fingerprint = schemaFingerprint({ name: request.name, tasks });
    const labelSchema = await db.labelSchema.upsert({ where: { fingerprint }, create: { name: request.name, fingerprint, tasks }, update: {} });
    return await db.modelArtifact.create({
      data: {
        name: request.name,
        labelSchemaId: labelSchema.id,
        onnxPath: artifactStore.locationOf(sha256, 'onnx'),
        sha256,
        sizeBytes: bytes,
        parameterCount: info.parameterCount ?? null,
        modelInfo: { ...info, sha256, sizeBytes: bytes } as object,
        precision: info.precision ?? 'fp32',
      },
    });
  } finally {
    // A graph still arriving (model.json failed first) would otherwise land after the clean-up.
    await saving.catch(() => undefined);
    await rm(scratch, { force: true });
  }
}

// Scratch files stay on this host (and where they always were), whatever the artifact store is.
const incomingDir = (dataDir: string) => path.join(dataDir, 'artifacts', 'incoming');

/** Loads the graph in ONNX Runtime and checks it against model.json: one image input of the declared
 *  size, an output per task with as many values as classes, and sane values on a test image, which one
 *  image must give within maxRunMs (serving would wait that long for each batch). */
async function checkGraph(file: string, info: ModelInfo, limits: ImageLimits, checks: ModelCheckLimits) {
  let session: ModelSession;
  try {
    session = await openCheckSession(file, { intraOpThreads: 1, timeLimitMs: checks.timeLimitMs });
  } catch (error) {
    if (error instanceof CheckTimeLimitError) throw overTime(error, 'opening the ONNX file');
    throw badInput(`the ONNX file cannot be loaded by ONNX Runtime: ${withoutPath((error as Error).message.split('\n')[0]!, file)}`);
  }
  try {
    const size = info.input.size;
    if (session.inputs.length !== 1)
      throw badInput(`the graph must take one input (an image batch); it takes ${session.inputs.length}: ${session.inputNames.join(', ')}`);
    const [, channels, height, width] = session.inputs[0]!.shape; // the batch dimension may be symbolic
    if (session.inputs[0]!.shape.length !== 4 || channels !== 3 || height !== size || width !== size) {
      throw badInput(`the graph's input is [${session.inputs[0]!.shape.join(', ')}]; model.json declares images of [batch, 3, ${size}, ${size}]`);
    }
    for (const task of info.tasks) {
      const output = session.outputs.find((o) => o.name === task.output);
      if (!output)
        throw badInput(`model.json maps task ${task.name} to output "${task.output}", but the graph's outputs are ${session.outputNames.join(', ')}`);
      const classes = output.shape.at(-1);
      if (typeof classes === 'number' && classes !== task.classes.length) {
        throw badInput(`output "${task.output}" has ${classes} values per image; task ${task.name} declares ${task.classes.length} classes`);
      }
    }
    // A test inference on a synthetic image through the serving preprocessing.
    const side = Math.max(size, 32);
    const pixels = new Uint8Array(side * side * 3).map((_, i) => (i * 7) % 256);
    const { tensor } = await preprocess(
      await encodePng(pixels, side, side, 3),
      { xmin: 0, ymin: 0, xmax: side, ymax: side },
      preprocessSpecOf(info.input),
      limits,
    );
    const started = performance.now();
    const outputs = await session.run(tensor, 1, size).catch((error: unknown) => {
      throw overTime(error, 'a test image through the graph');
    });
    const runMs = performance.now() - started;
    if (runMs > checks.maxRunMs) {
      throw badInput(
        `one test image took ${Math.round(runMs)} ms through the graph, over the limit of ${checks.maxRunMs} ms (FASHION_HOW_MAX_MODEL_RUN_MS): serving it would hold a runtime thread that long for every request`,
      );
    }
    for (const task of info.tasks) {
      const values = Array.from(outputs[task.output]!);
      if (values.length !== task.classes.length)
        throw badInput(`output "${task.output}" gave ${values.length} values for one image; task ${task.name} has ${task.classes.length} classes`);
      if (!values.every(Number.isFinite)) throw badInput(`output "${task.output}" gave non-finite values on a test image`);
      const sum = values.reduce((a, b) => a + b, 0);
      if (info.outputKind === 'probabilities' && (values.some((v) => v < -1e-6 || v > 1 + 1e-6) || Math.abs(sum - 1) > 1e-3)) {
        throw badInput(
          `output "${task.output}" does not look like probabilities (values sum to ${sum.toFixed(4)}); if the graph ends in logits, declare "outputKind": "logits"`,
        );
      }
    }
  } finally {
    await session.release();
  }
}

/** ONNX Runtime's messages name the file they loaded; clients must not see server paths. */
const withoutPath = (message: string, file: string) => message.split(file).join('the graph');
