// The roofline every throughput figure is a share of: this CPU's peak multiply-accumulate rate from its
// instruction set and its clock (bench/peak.c, compiled here for this CPU), cross-checked by the
// operators ONNX Runtime runs (3x3 convolution chains at each ResNet stage's shape and a 1024^3 MatMul,
// fp32 and int8, from bench/roofline.py). A measured rate above the peak means a wrong measurement (a
// miscounted MAC, a clock that moved), so it is reported as such, never as a share above 100 %.
//   npm run bench:peak
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSession } from '../src/inference/onnx.js';
import { findPython } from '../src/training/python.js';

export type Precision = 'fp32' | 'int8';

export interface Peak {
  cores: number;
  /** The clock each core held while all of them ran (dependent multiplies, 3 cycles each). */
  clockHz: number;
  isa: { fp32: string; int8: string | null };
  /** MACs per cycle per core: vector lanes x MACs per lane x the issue ports the kernel found. */
  macsPerCycle: Record<Precision, number>;
  /** cores x clock x macsPerCycle. */
  macsPerSecond: Record<Precision, number>;
  /** What the FMA / VNNI kernel itself reached (at most the peak, within the clock's noise). */
  kernelMacsPerSecond: Record<Precision, number>;
}

interface KernelOutput {
  threads: number;
  clockHz: number;
  fp32Lanes: number;
  fp32MacsPerSecond: number;
  vnni: string | null;
  int8MacsPerSecond: number;
}

/** Compiles bench/peak.c for this CPU (gcc, -march=native) and derives the peak from what it measures. */
export async function measurePeak(): Promise<Peak> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-peak-'));
  try {
    const binary = path.join(dir, 'peak');
    try {
      execFileSync('gcc', ['-O2', '-march=native', '-fopenmp', new URL('./peak.c', import.meta.url).pathname, '-o', binary], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`the peak needs gcc with OpenMP to build bench/peak.c for this CPU (apt install gcc): ${(error as Error).message}`);
    }
    const out = JSON.parse(execFileSync(binary, { encoding: 'utf8' }).trim()) as KernelOutput;
    const cores = out.threads;
    // The ports are whole numbers: what the kernel reached over (cores x clock x lanes x MACs per lane),
    // rounded up (a kernel that reached 1.4 ports' worth has two, running below the scalar clock: heavy
    // AVX-512 work lowers it). The peak is cores x clock x MACs per cycle, and never below what the kernel
    // itself reached, so no measured rate exceeds it by construction.
    const perPort = { fp32: out.fp32Lanes, int8: out.vnni ? (out.vnni === 'avx512_vnni' ? 16 : 8) * 4 : 0 };
    const ports = (precision: Precision, rate: number) =>
      perPort[precision] === 0 ? 0 : Math.max(1, Math.ceil(rate / (cores * out.clockHz * perPort[precision]) - 0.1));
    const macsPerCycle = {
      fp32: perPort.fp32 * ports('fp32', out.fp32MacsPerSecond),
      int8: perPort.int8 * ports('int8', out.int8MacsPerSecond),
    };
    return {
      cores,
      clockHz: out.clockHz,
      isa: { fp32: out.fp32Lanes === 16 ? 'avx512f FMA' : 'avx2 FMA', int8: out.vnni },
      macsPerCycle,
      macsPerSecond: {
        fp32: Math.max(cores * out.clockHz * macsPerCycle.fp32, out.fp32MacsPerSecond),
        int8: Math.max(cores * out.clockHz * macsPerCycle.int8, out.int8MacsPerSecond),
      },
      kernelMacsPerSecond: { fp32: out.fp32MacsPerSecond, int8: out.int8MacsPerSecond },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface OperatorRate {
  name: string;
  precision: Precision;
  macsPerSecond: number;
}

/** The best rate onnxruntime-node reaches on each of bench/roofline.py's operators (3 rounds of 0.7 s). */
export async function operatorRates(dir: string, python: string): Promise<OperatorRate[]> {
  await mkdir(dir, { recursive: true });
  const script = new URL('./roofline.py', import.meta.url).pathname;
  const lines = execFileSync(python, [script, 'graphs', dir], { encoding: 'utf8' }).trim().split('\n');
  const operators = JSON.parse(lines.at(-1)!) as { name: string; precision: Precision; file: string; dims: number[]; macs: number }[];
  const rates: OperatorRate[] = [];
  for (const op of operators) {
    const session = await openSession(op.file, { preferCuda: false });
    const input = new Float32Array(op.dims.reduce((a, b) => a * b, 1)).map(() => Math.random() * 2 - 1);
    await session.runShaped(input, op.dims);
    let best = 0;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      let done = 0;
      while (performance.now() - started < 700) {
        await session.runShaped(input, op.dims);
        done++;
      }
      best = Math.max(best, (done * op.macs) / ((performance.now() - started) / 1000));
    }
    await session.release();
    rates.push({ name: op.name, precision: op.precision, macsPerSecond: best });
  }
  return rates;
}

/** A rate as a share of the peak; above the peak (beyond 3 % of clock noise) it is a measurement error. */
export function shareOfPeak(macsPerSecond: number, precision: Precision, peak: Peak): string {
  const share = macsPerSecond / peak.macsPerSecond[precision];
  if (share > 1.03) return `${(share * 100).toFixed(0)}% (above the peak: a wrong measurement)`;
  return `${(share * 100).toFixed(0)}%`;
}

export function describePeak(peak: Peak): string {
  const g = (rate: number) => (rate / 1e9).toFixed(0);
  return [
    `peak: ${peak.cores} cores at ${(peak.clockHz / 1e9).toFixed(2)} GHz (all busy)`,
    `fp32 ${peak.isa.fp32}, ${peak.macsPerCycle.fp32} MAC/cycle/core = ${g(peak.macsPerSecond.fp32)} GMAC/s (kernel reached ${g(peak.kernelMacsPerSecond.fp32)})`,
    peak.isa.int8
      ? `int8 ${peak.isa.int8}, ${peak.macsPerCycle.int8} MAC/cycle/core = ${g(peak.macsPerSecond.int8)} GMAC/s (kernel reached ${g(peak.kernelMacsPerSecond.int8)})`
      : 'int8: no VNNI on this CPU',
  ].join('; ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const peak = await measurePeak();
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}`);
  console.log(describePeak(peak));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-roofline-'));
  try {
    const python = await findPython(process.env.FASHION_HOW_PYTHON);
    const rates = await operatorRates(dir, python.executable);
    console.log('\n| operator (onnxruntime-node) | precision | GMAC/s | share of peak |');
    console.log('|---|---|---:|---:|');
    for (const r of rates)
      console.log(`| ${r.name} | ${r.precision} | ${(r.macsPerSecond / 1e9).toFixed(0)} | ${shareOfPeak(r.macsPerSecond, r.precision, peak)} |`);
    // The clock can move between the kernel and the operators: measured again, both ends bracket it.
    const after = await measurePeak();
    console.log(`\nclock after the operators: ${(after.clockHz / 1e9).toFixed(2)} GHz (before ${(peak.clockHz / 1e9).toFixed(2)})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
