// Drift: does what serving is asked still look like what the model was trained on? A window of logged
// predictions of an alias's model is compared with a reference: evenly spaced items of the model's
// training split, scored by the same model through the same serving path, their crops measured the way
// the log measures them. Per task the predicted-class distribution (population stability index, and a
// chi-square test of the 2 x K table of reference and window counts); per input statistic (brightness,
// colour, crop size, box aspect) the PSI over the reference's deciles and a two-sample Kolmogorov-Smirnov
// test. A feature drifts when its test rejects at 1 % over all features together (Bonferroni: a window
// from the training distribution is flagged at most 1 % of the time) and its PSI shows a shift worth
// acting on (>= 0.1): with large windows a test alone flags shifts too small to matter, and with small
// ones a PSI alone flags noise (its expected value under no drift is about bins / window). The reference is the model's
// predictions on training data, not the training labels: a model that favours some classes does so on
// any data, and that is not drift. The training labels' prior is reported beside it.
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import type { ImageLimits } from '../config.js';
import { type CropStats, cropStats } from '../data/image.js';
import type { Photos } from '../data/photos.js';
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { badInput } from '../errors.js';
import { type AliasService, type ModelRef, refRequest, settingsOf } from '../inference/aliases.js';
import type { ClassifyService } from '../inference/classify.js';
import { scoreItems } from '../inference/scoring.js';
import type { Metrics } from '../metrics.js';
import { argmax, mean } from '../numeric.js';

/** The thresholds a report applies (stored with it): the family-wise p-value over all features, the PSI
 *  (0.1 to 0.25 is the usual "moderate shift"), the fewest predictions a window needs. */
export const DRIFT_THRESHOLDS = { pValue: 0.01, psi: 0.1, minimumCount: 30 };

export const INPUT_STATISTICS = ['brightness', 'red', 'green', 'blue', 'width', 'height', 'aspect'] as const;
type InputStatistic = (typeof INPUT_STATISTICS)[number];

export interface PredictionDrift {
  task: string;
  classes: string[];
  /** Shares of each predicted class: the reference (the model on training items), the window, and the training labels' prior. */
  reference: number[];
  window: number[];
  trainingPrior: number[];
  psi: number;
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  drifted: boolean;
}

export interface InputDrift {
  statistic: InputStatistic;
  referenceMean: number;
  windowMean: number;
  /** The two-sample Kolmogorov-Smirnov statistic (largest gap between the two empirical CDFs) and its p-value. */
  ks: number;
  pValue: number;
  /** Upper edges of the reference's decile bins (the last bin is open). */
  edges: number[];
  reference: number[];
  window: number[];
  psi: number;
  drifted: boolean;
}

export interface DriftBody {
  model: ModelRef & { name: string };
  dataset: { id: number; version: number; referenceItems: number };
  thresholds: typeof DRIFT_THRESHOLDS;
  /** Whether the window held enough predictions to judge (fewer: nothing is flagged). */
  enough: boolean;
  tasks: PredictionDrift[];
  inputs: InputDrift[];
}

interface Reference {
  tasks: TaskSpec[];
  predicted: number[][];
  prior: number[][];
  stats: Omit<CropStats, 'sha256'>[];
  dataset: DriftBody['dataset'];
}

const FLOOR = 1e-4;
const shares = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
};
const countsOf = (values: number[], classCount: number) => {
  const counts = new Array<number>(classCount).fill(0);
  for (const v of values) counts[v]!++;
  return counts;
};

/** Population stability index of two distributions over the same bins; empty bins count as 1e-4. */
export function psi(reference: number[], window: number[]): number {
  return reference.reduce((sum, p, k) => {
    const a = Math.max(p, FLOOR);
    const b = Math.max(window[k]!, FLOOR);
    return sum + (b - a) * Math.log(b / a);
  }, 0);
}

/** Pearson's chi-square test of homogeneity on a 2 x K table (classes no row has are dropped). */
export function chiSquareTest(a: number[], b: number[]): { chiSquare: number; degreesOfFreedom: number; pValue: number } {
  const columns = a.map((x, k) => [x, b[k]!] as const).filter(([x, y]) => x + y > 0);
  const rowA = columns.reduce((s, [x]) => s + x, 0);
  const rowB = columns.reduce((s, [, y]) => s + y, 0);
  const total = rowA + rowB;
  if (columns.length < 2 || rowA === 0 || rowB === 0) return { chiSquare: 0, degreesOfFreedom: 0, pValue: 1 };
  let chiSquare = 0;
  for (const [x, y] of columns) {
    const expectedA = (rowA * (x + y)) / total;
    const expectedB = (rowB * (x + y)) / total;
    chiSquare += (x - expectedA) ** 2 / expectedA + (y - expectedB) ** 2 / expectedB;
  }
  const degreesOfFreedom = columns.length - 1;
  return { chiSquare, degreesOfFreedom, pValue: 1 - chisquareCdf(chiSquare, degreesOfFreedom) };
}

/** Kolmogorov's limiting distribution, P(K > lambda) (the series converges fast for lambda > 0.2). */
function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = (k % 2 === 1 ? 2 : -2) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/** Two-sample Kolmogorov-Smirnov test: the statistic and its asymptotic p-value, with Stephens' small-sample correction. */
export function ksTest(a: number[], b: number[]): { ks: number; pValue: number } {
  if (a.length === 0 || b.length === 0) return { ks: 0, pValue: 1 };
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let ks = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= value) i++;
    while (j < y.length && y[j]! <= value) j++;
    ks = Math.max(ks, Math.abs(i / x.length - j / y.length));
  }
  const n = (x.length * y.length) / (x.length + y.length);
  const root = Math.sqrt(n);
  return { ks, pValue: kolmogorovSurvival((root + 0.12 + 0.11 / root) * ks) };
}

/** Upper edges of the deciles of `values` (duplicates removed), and the share of values in each bin. */
function binsOf(values: number[], edges?: number[]) {
  const sorted = [...values].sort((x, y) => x - y);
  const upper = edges ?? [...new Set(Array.from({ length: 9 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / 10)]!))];
  const counts = new Array<number>(upper.length + 1).fill(0);
  for (const v of values) {
    const bin = upper.findIndex((edge) => v < edge);
    counts[bin === -1 ? upper.length : bin]!++;
  }
  return { edges: upper, shares: shares(counts) };
}

export class DriftService {
  private readonly references = new Map<string, Promise<Reference>>();

  constructor(
    private readonly db: Db,
    private readonly classify: ClassifyService,
    private readonly aliases: AliasService,
    private readonly photos: Photos,
    private readonly metrics: Metrics,
    private readonly settings: { referenceItems: number; imageLimits: ImageLimits },
  ) {}

  /** A drift report of the alias's current model over logged predictions in [from, to); stored when `store`. */
  async report(alias: string, window: { from: Date; to: Date; datasetId?: number }, store = true) {
    const settings = settingsOf(await this.aliases.get(alias));
    const ref = settings.target;
    const { name } = (await this.classify.members(refRequest(ref))).target;
    const datasetId = window.datasetId ?? (await this.trainingDatasetOf(ref));
    const reference = await this.referenceOf(ref, datasetId);
    const rows = await this.db.prediction.findMany({
      where: { alias, modelKind: ref.kind, modelId: ref.id, role: { not: 'SHADOW' }, createdAt: { gte: window.from, lt: window.to } },
      select: { predicted: true, stats: true },
    });
    const enough = rows.length >= DRIFT_THRESHOLDS.minimumCount;
    const perTest = DRIFT_THRESHOLDS.pValue / (reference.tasks.length + INPUT_STATISTICS.length);
    const drifts = (pValue: number, value: number) => enough && pValue < perTest && value >= DRIFT_THRESHOLDS.psi;
    const tasks: PredictionDrift[] = reference.tasks.map((task, t) => {
      const referenceCounts = countsOf(reference.predicted[t]!, task.classes.length);
      const windowCounts = countsOf(
        rows.map((r) => (r.predicted as number[])[t]!),
        task.classes.length,
      );
      const test = chiSquareTest(referenceCounts, windowCounts);
      // An empty window has no distribution to compare: PSI 0, not the floor's large value.
      const value = rows.length === 0 ? 0 : psi(shares(referenceCounts), shares(windowCounts));
      return {
        task: task.name,
        classes: task.classes,
        reference: shares(referenceCounts),
        window: shares(windowCounts),
        trainingPrior: reference.prior[t]!,
        psi: value,
        ...test,
        drifted: drifts(test.pValue, value),
      };
    });
    const inputs: InputDrift[] = INPUT_STATISTICS.map((statistic) => {
      const referenceValues = reference.stats.map((s) => s[statistic]);
      const windowValues = rows.map((r) => (r.stats as unknown as CropStats)[statistic]);
      const bins = binsOf(referenceValues);
      const windowShares = binsOf(windowValues, bins.edges).shares;
      const value = rows.length === 0 ? 0 : psi(bins.shares, windowShares);
      const test = ksTest(referenceValues, windowValues);
      return {
        statistic,
        referenceMean: mean(referenceValues),
        windowMean: mean(windowValues),
        ...test,
        edges: bins.edges,
        reference: bins.shares,
        window: windowShares,
        psi: value,
        drifted: drifts(test.pValue, value),
      };
    });
    const body: DriftBody = { model: { ...ref, name }, dataset: reference.dataset, thresholds: DRIFT_THRESHOLDS, enough, tasks, inputs };
    const drifted = tasks.some((t) => t.drifted) || inputs.some((i) => i.drifted);
    const report = { alias, from: window.from, to: window.to, count: rows.length, drifted, body };
    if (!store) return { id: null, createdAt: new Date(), ...report };
    const stored = await this.db.driftReport.create({ data: { ...report, body: body as object } });
    this.gauge(alias, drifted, body);
    return { ...stored, body };
  }

  private gauge(alias: string, drifted: boolean, body: DriftBody) {
    for (const t of body.tasks) this.metrics.driftPsi.set({ alias, feature: `prediction:${t.task}` }, t.psi);
    for (const i of body.inputs) this.metrics.driftPsi.set({ alias, feature: `input:${i.statistic}` }, i.psi);
    this.metrics.driftDetected.set({ alias }, drifted ? 1 : 0);
  }

  /** Sets the drift gauges from each alias's newest stored report, whoever computed it (another replica,
   *  `fashion-how drift` from a cron job): /metrics calls this before it answers. */
  async refreshGauges() {
    for (const { name } of await this.db.modelAlias.findMany({ select: { name: true } })) {
      const latest = await this.db.driftReport.findFirst({ where: { alias: name }, orderBy: { id: 'desc' } });
      if (latest) this.gauge(name, latest.drifted, latest.body as unknown as DriftBody);
    }
  }

  /** The same report over `buckets` consecutive windows from `from` to `to` (not stored): the timeline. */
  async timeline(alias: string, window: { from: Date; to: Date; buckets: number; datasetId?: number }) {
    if (!(window.buckets >= 1 && window.buckets <= 100)) throw badInput(`buckets must be between 1 and 100, got ${window.buckets}`);
    if (!(window.to > window.from)) throw badInput('to must be after from');
    const width = (window.to.getTime() - window.from.getTime()) / window.buckets;
    const reports = [];
    for (let b = 0; b < window.buckets; b++) {
      const from = new Date(window.from.getTime() + b * width);
      const to = new Date(window.from.getTime() + (b + 1) * width);
      reports.push(await this.report(alias, { from, to, datasetId: window.datasetId }, false));
    }
    return reports;
  }

  private async trainingDatasetOf(ref: ModelRef): Promise<number> {
    const artifactIds =
      ref.kind === 'artifact'
        ? [ref.id]
        : (await this.db.ensembleMember.findMany({ where: { ensembleId: ref.id }, orderBy: { artifactId: 'asc' } })).map((m) => m.artifactId);
    for (const id of artifactIds) {
      let artifact = await this.db.modelArtifact.findUniqueOrThrow({ where: { id }, include: { run: true } });
      // An INT8 artifact was trained as its fp32 parent was.
      while (!artifact.run && artifact.parentId !== null)
        artifact = await this.db.modelArtifact.findUniqueOrThrow({ where: { id: artifact.parentId }, include: { run: true } });
      if (artifact.run) return artifact.run.datasetId;
    }
    throw badInput(`${ref.kind} ${ref.id} was not trained here, so its training split is unknown: give datasetId`);
  }

  /** The reference of one model on one dataset, computed once per process. */
  private referenceOf(ref: ModelRef, datasetId: number): Promise<Reference> {
    const key = `${ref.kind}:${ref.id}:${datasetId}`;
    let reference = this.references.get(key);
    if (!reference) {
      reference = this.computeReference(ref, datasetId);
      reference.catch(() => this.references.delete(key));
      this.references.set(key, reference);
    }
    return reference;
  }

  private async computeReference(ref: ModelRef, datasetId: number): Promise<Reference> {
    const dataset = await this.db.dataset.findUnique({ where: { id: datasetId }, include: { labelSchema: true } });
    if (!dataset) throw badInput(`dataset ${datasetId} does not exist`);
    const tasks = dataset.labelSchema.tasks as unknown as TaskSpec[];
    const all = await this.db.item.findMany({
      where: { datasetId, split: 'TRAIN' },
      include: { labels: { orderBy: { task: 'asc' } } },
      orderBy: { id: 'asc' },
    });
    if (all.length === 0) throw badInput(`dataset ${datasetId} has no TRAIN items to compare with`);
    const step = Math.max(1, all.length / this.settings.referenceItems);
    const items = Array.from({ length: Math.min(all.length, this.settings.referenceItems) }, (_, i) => all[Math.floor(i * step)]!);
    const photos = this.photos.of(dataset);
    const results = await scoreItems(this.classify, photos, items, refRequest(ref));
    const stats = [];
    for (const item of items) {
      const { sha256: _hash, ...rest } = (await cropStats(await photos.read(item), item, this.settings.imageLimits)).stats;
      stats.push(rest);
    }
    return {
      tasks,
      predicted: tasks.map((_, t) => results.map((r) => argmax(r[t]!.probabilities))),
      prior: tasks.map((task, t) =>
        shares(
          countsOf(
            all.map((item) => item.labels[t]!.classIndex),
            task.classes.length,
          ),
        ),
      ),
      stats,
      dataset: { id: dataset.id, version: dataset.version, referenceItems: items.length },
    };
  }
}
