// `fashion-how train`: starts runs in this process and follows them until they finish, with a bar
// per run on a terminal and plain lines otherwise. Ctrl-C cancels the runs (checkpoints are kept).
import cliProgress from 'cli-progress';
import type { App } from '../app.js';
import type { TrainingRun } from '../db/generated/client.js';
import type { Hyperparameters } from '../training/hyper.js';
import { type EpochRecord, FINAL_STATUSES, type RunProgress } from '../training/service.js';
import { table } from './format.js';

const count = (n: number) => n.toLocaleString('en-US');

export function describeProgress(run: TrainingRun): string {
  const progress = run.progress as RunProgress | null;
  const hyper = run.config as unknown as Hyperparameters;
  if (!progress) return run.status.toLowerCase();
  if (progress.phase === 'WAITING_FOR_IMAGES') return 'waiting for another run to finish preparing the images';
  if (progress.phase === 'PREPARING_IMAGES') return progress.toPrepare ? `preparing images ${count(progress.prepared ?? 0)}/${count(progress.toPrepare)}` : 'preparing (every image already cached)';
  const parts = [`epoch ${Math.max(progress.epoch, 1)}/${hyper.epochs}`, `step ${progress.step}/${progress.totalSteps}`];
  if (progress.loss !== null) parts.push(`loss ${progress.loss.toFixed(3)}`);
  if (progress.imagesPerSecond !== null) parts.push(`${progress.imagesPerSecond.toFixed(0)} img/s`);
  return parts.join(', ');
}

export function bestAcsa(run: TrainingRun): number | null {
  const epochs = (run.epochs as EpochRecord[] | null) ?? [];
  const scores = epochs.map((e) => e.validation.reduce((sum, v) => sum + v.acsa, 0) / Math.max(e.validation.length, 1));
  return scores.length ? Math.max(...scores) : null;
}

export function runsTable(runs: TrainingRun[]): string {
  return table(
    ['id', 'backbone', 'head', 'status', 'progress', 'best ACSA', 'error'],
    runs.map((r) => [r.id, r.backbone, r.head, r.status, FINAL_STATUSES.has(r.status) ? '' : describeProgress(r), bestAcsa(r)?.toFixed(3) ?? '', r.error ?? '']),
  );
}

export async function followRuns(app: App, runs: TrainingRun[], stream: NodeJS.WriteStream = process.stderr): Promise<TrainingRun[]> {
  const { training } = app.services;
  const ids = runs.map((r) => r.id);
  const label = (r: TrainingRun) => `run ${r.id} ${r.backbone}+${r.head}`;
  const multi = stream.isTTY ? new cliProgress.MultiBar({ stream, format: '{name} [{bar}] {value}/{total} {info}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic) : null;
  const bars = new Map<number, cliProgress.SingleBar>();
  const lastLine = new Map<number, string>();

  const show = async (id: number) => {
    if (!ids.includes(id)) return;
    const run = await training.get(id);
    const progress = run.progress as RunProgress | null;
    const info = FINAL_STATUSES.has(run.status) ? run.status + (run.error ? `: ${run.error}` : '') : describeProgress(run);
    const preparing = progress?.phase === 'PREPARING_IMAGES';
    if (multi) {
      // The bar counts images while the cache is built, then steps.
      const total = (preparing ? progress.toPrepare : progress?.totalSteps) || 1;
      const bar = bars.get(id) ?? multi.create(total, 0, { name: label(run), info });
      bars.set(id, bar);
      bar.setTotal(total);
      bar.update((preparing ? progress.prepared : progress?.step) ?? 0, { info });
    } else {
      // One line per epoch, per phase and per status change keeps logs short.
      const tenth = preparing ? Math.floor((10 * (progress.prepared ?? 0)) / (progress.toPrepare || 1)) : 0;
      const key = `${run.status} ${progress?.phase} ${tenth} ${progress?.epoch ?? 0}`;
      if (lastLine.get(id) !== key) {
        lastLine.set(id, key);
        stream.write(`${label(run)}: ${info}\n`);
      }
    }
  };
  const onRun = (id: number) => void show(id).catch(() => undefined);
  training.events.on('run', onRun);
  const onInterrupt = () => {
    stream.write('\ncancelling the runs (their checkpoints are kept; resume them later)...\n');
    for (const id of ids) void training.cancel(id).catch(() => undefined);
  };
  process.once('SIGINT', onInterrupt);
  try {
    for (const id of ids) await show(id);
    await training.waitFor(ids);
    for (const id of ids) await show(id);
  } finally {
    training.events.off('run', onRun);
    process.off('SIGINT', onInterrupt);
    multi?.stop();
  }
  return Promise.all(ids.map((id) => training.get(id)));
}
