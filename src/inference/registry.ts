// The model registry: an artifact is registered only after its ONNX graph has been checked, through
// ONNX Runtime, against the outputs PyTorch gave on the same input tensors.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { openSession } from './onnx.js';

/** Largest |ONNX Runtime - PyTorch| accepted at registration; float32 graphs agree to ~1e-6. */
export const EXPORT_TOLERANCE = 1e-4;

export interface ModelInfo {
  format: string;
  input: { name: string; layout: 'NCHW'; size: number; padValue: number; mean: number[]; std: number[]; resize: string };
  outputKind: 'probabilities' | 'logits';
  tasks: { name: string; classes: string[]; output: string }[];
  backbone?: string;
  head?: string;
  parameterCount?: number;
  pretrained?: boolean;
  sizeBytes?: number;
  sha256?: string;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs the graph on the worker's check inputs (check/inputs.f32) and compares with check/outputs.json. */
export async function exportMaxAbsDiff(onnxPath: string, checkDir: string, info: ModelInfo): Promise<number> {
  const expected = JSON.parse(await readFile(path.join(checkDir, 'outputs.json'), 'utf8')) as { shape: number[]; probabilities: number[][][] };
  const raw = await readFile(path.join(checkDir, 'inputs.f32'));
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const [batch, , size] = expected.shape as [number, number, number, number];
  const session = await openSession(onnxPath, { intraOpThreads: 1 });
  try {
    const outputs = await session.run(input, batch, size);
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

/** Checks a finished run's export and stores it as a ModelArtifact. */
export async function registerRunArtifact(
  db: Db,
  run: { id: number; backbone: string; head: string },
  labelSchema: { id: number; tasks: TaskSpec[] },
  files: RunArtifactFiles,
) {
  const info = JSON.parse(await readFile(files.modelJsonPath, 'utf8')) as ModelInfo;
  const declared = info.tasks.map((t) => `${t.name}:${t.classes.length}`).join(',');
  const expected = labelSchema.tasks.map((t) => `${t.name}:${t.classes.length}`).join(',');
  if (declared !== expected) throw new Error(`model.json declares tasks ${declared} but the dataset's schema has ${expected}`);
  const sha256 = await sha256File(files.onnxPath);
  if (sha256 !== files.sha256) throw new Error(`model.onnx changed after export: sha256 ${sha256} is not the worker's ${files.sha256}`);
  const diff = await exportMaxAbsDiff(files.onnxPath, files.checkDir, info);
  if (!(diff <= EXPORT_TOLERANCE)) {
    throw new Error(`the exported ONNX graph disagrees with PyTorch by ${diff.toExponential(2)} (tolerance ${EXPORT_TOLERANCE})`);
  }
  const { size: sizeBytes } = await stat(files.onnxPath);
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
