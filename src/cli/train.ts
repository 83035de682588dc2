// `fashion-how train`: starts runs in this process and follows them until they finish, with a bar
// per run on a terminal and plain lines otherwise. Ctrl-C cancels the runs (checkpoints are kept).
import cliProgress from 'cli-progress';
import type { App } from '../app.js';
import type { TrainingRun } from '../db/generated/client.js';
import { FINAL_STATUSES } from '../jobs/statuses.js';
import { f3 } from '../reports/metricsTable.js';
import type { DistillationRecord, DistillationScores } from '../training/distillation.js';
import type { Hyperparameters } from '../training/hyper.js';
import type { EpochRecord, RunProgress } from '../training/runRecord.js';
import { table } from './format.js';

const count = (n: number) => n.toLocaleString('en-US');

export function describeProgress(run: TrainingRun): string {
  const progress = run.progress as RunProgress | null;
  const hyper = run.config as unknown as Hyperparameters;
  if (!progress) return run.status.toLowerCase();
  if (progress.phase === 'DOWNLOADING_WEIGHTS')
    return `downloading ${progress.weightsFile} ${((progress.downloadedBytes ?? 0) / 1e6).toFixed(1)}${progress.downloadBytes ? `/${(progress.downloadBytes / 1e6).toFixed(1)}` : ''} MB`;
  if (progress.phase === 'WAITING_FOR_IMAGES') return 'waiting for another run to finish preparing the images';
  if (progress.phase === 'PREPARING_IMAGES')
    return progress.toPrepare ? `preparing images ${count(progress.prepared ?? 0)}/${count(progress.toPrepare)}` : 'preparing (every image already cached)';
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

/** A distilled student against its teacher and baseline, with the compliance line; null for other runs. */
export function describeDistillation(run: TrainingRun): string | null {
  const record = run.distillation as DistillationRecord | null;
  if (!record) return null;
  const head = `run ${run.id} ${run.backbone}+${run.head}, distilled from ensemble ${record.teacherEnsembleId} (T ${record.temperature}, alpha ${record.alpha})`;
  const comparison = record.comparison;
  if (!comparison) return `${head}: ${record.comparisonError ? `no comparison: ${record.comparisonError}` : 'no comparison yet'}`;
  const row = (label: string, s: DistillationScores) => [label, f3(s.meanTop1), f3(s.meanAcsa), s.sizeMB.toFixed(1), s.cpuLatencyMs.toFixed(1)];
  const rows = [row('student', comparison.student), row('teacher', comparison.teacher)];
  if (comparison.baseline) rows.push(row(`same student without the teacher (run ${record.baselineRunId})`, comparison.baseline));
  const { compliance } = comparison;
  return [
    `${head}, on ${comparison.split} (${comparison.itemCount} items):`,
    table(['model', 'mean top-1', 'mean ACSA', 'MB', 'CPU ms/image'], rows),
    `compliance (one model, <= ${compliance.limitMB} MB, CPU): ${compliance.compliant ? 'yes' : 'NO'}: 1 model, ${compliance.sizeMB.toFixed(1)} MB, ${compliance.cpuLatencyMs.toFixed(1)} ms per image on this CPU`,
  ].join('\n');
}

/** A cross-validation's out-of-fold figures and its fold ensemble. */
export async function describeCrossValidation(app: App, id: number): Promise<string> {
  const { crossValidations } = app.services;
  const cv = await crossValidations.get(id);
  const scores = await crossValidations.outOfFoldScores(id);
  const head = `cross-validation ${cv.id} of ${cv.backbone}+${cv.head}, ${cv.folds} folds`;
  if (!scores) return `${head}: no fold has finished`;
  return [
    `${head}: out-of-fold predictions for ${scores.itemCount} of ${scores.expectedItems} TRAIN and VALIDATION items, mean top-1 ${f3(scores.meanTop1)}, mean ACSA ${f3(scores.meanAcsa)}`,
    table(
      ['task', 'top-1', 'ACSA'],
      scores.tasks.map((t) => [t.task, f3(t.top1), f3(t.acsa)]),
    ),
    cv.ensembleId !== null ? `the fold models are ensemble ${cv.ensembleId}` : 'no fold ensemble (a fold did not succeed)',
  ].join('\n');
}

export function runsTable(runs: TrainingRun[]): string {
  return table(
    ['id', 'backbone', 'head', 'status', 'progress', 'best ACSA', 'error'],
    runs.map((r) => [
      r.id,
      r.backbone,
      r.head,
      r.status,
      FINAL_STATUSES.has(r.status) ? '' : describeProgress(r),
      bestAcsa(r)?.toFixed(3) ?? '',
      r.error ?? '',
    ]),
  );
}

export async function followRuns(app: App, runs: TrainingRun[], stream: NodeJS.WriteStream = process.stderr): Promise<TrainingRun[]> {
  const { training } = app.services;
  const ids = runs.map((r) => r.id);
  const label = (r: TrainingRun) => `run ${r.id} ${r.backbone}+${r.head}`;
  const multi = stream.isTTY
    ? new cliProgress.MultiBar(
        { stream, format: '{name} [{bar}] {value}/{total} {info}', hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      )
    : null;
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
  // What a run did differently from what was asked (e.g. random init: no weights could be had).
  for (const id of ids) {
    const run = await training.get(id);
    for (const warning of (run.progress as RunProgress | null)?.warnings ?? []) stream.write(`${label(run)}: warning: ${warning}\n`);
  }
  return Promise.all(ids.map((id) => training.get(id)));
}
