// The one module that imports onnxruntime-node. Sessions are created here and run here; callers
// pass plain Float32Arrays and get plain Float32Arrays back.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/** The session options that change how fast a graph runs on a CPU (tuned per model and host, see sessionTuning.ts). */
export interface SessionTuning {
  /** Threads for one operator; 0 lets ONNX Runtime choose. */
  intraOpThreads?: number;
  graphOptimization?: 'all' | 'extended' | 'basic';
  /** Sequential runs one operator at a time; parallel also runs independent branches at once. */
  executionMode?: 'sequential' | 'parallel';
  /** ONNX Runtime's own CPU allocator (its arena) instead of one allocation per tensor. */
  memoryArena?: boolean;
  /** Plans tensor memory from the first run's pattern (shapes that repeat). */
  memoryPattern?: boolean;
}

export interface SessionOptions extends SessionTuning {
  /** Use the CUDA execution provider when this build of onnxruntime-node offers it. */
  preferCuda?: boolean;
}

export interface TensorShape {
  name: string;
  /** Dimensions; a symbolic one (the batch) is a string. */
  shape: readonly (number | string)[];
}

export interface ModelSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputs: TensorShape[];
  outputs: TensorShape[];
  executionProvider: string;
  /** Runs one batch: `input` is NCHW float32 of `batch` images of side `size`. */
  run(input: Float32Array, batch: number, size: number): Promise<Record<string, Float32Array>>;
  /** Runs a graph whose one float32 input has any shape (benchmarks' MatMul graphs). */
  runShaped(input: Float32Array, dims: readonly number[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** listSupportedBackends names CUDA whenever the build has it, even when its provider library was never
 *  installed (the default: the install step that fetches it is skipped). So CUDA is tried only when the
 *  library sits beside the binding, and a failure means CPU from then on. */
let cudaWorks: boolean | undefined;

function cudaInstalled(): boolean {
  try {
    const packageDir = path.dirname(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
    const binding = path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(path.join(binding, 'libonnxruntime_providers_cuda.so')) && ort.listSupportedBackends().some((b) => b.name === 'cuda');
  } catch {
    return false;
  }
}

function create(modelPath: string, executionProvider: 'cuda' | 'cpu', options: SessionTuning) {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: [executionProvider],
    intraOpNumThreads: options.intraOpThreads ?? 0,
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    executionMode: options.executionMode ?? 'sequential',
    enableCpuMemArena: options.memoryArena ?? true,
    enableMemPattern: options.memoryPattern ?? true,
    logSeverityLevel: 3,
    // A server decodes images and answers HTTP on the same cores: ONNX Runtime's threads sleep between
    // runs instead of spinning, or they starve that work (the serving benchmark measures the difference).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}

export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
  let session: ort.InferenceSession | undefined;
  let executionProvider: 'cuda' | 'cpu' = 'cpu';
  if (options.preferCuda !== false && cudaWorks !== false && cudaInstalled()) {
    try {
      session = await create(modelPath, 'cuda', options);
      executionProvider = 'cuda';
      cudaWorks = true;
    } catch {
      cudaWorks = false;
    }
  }
  session ??= await create(modelPath, 'cpu', options);
  const inputName = session.inputNames[0]!;
  const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorShape[] =>
    metadata.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
  const runShaped = async (input: Float32Array, dims: readonly number[]) => {
    const outputs = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
    return Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, value.data as Float32Array]));
  };
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputs: shapes(session.inputMetadata),
    outputs: shapes(session.outputMetadata),
    executionProvider,
    run: (input, batch, size) => runShaped(input, [batch, 3, size, size]),
    runShaped,
    release: () => session.release(),
  };
}
