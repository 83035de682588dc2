// A model card: one self-contained HTML file (inline CSS and SVG, no script, no network) that a
// colleague can open offline. Every number comes from the stored report and the records it points to
// (run, artifacts, dataset); the CLI (`report --html`) and the GraphQL field the dashboard downloads
// from both call modelCardHtml, so the two can never disagree.

import type { DatasetService, TaskDistribution } from '../data/datasets.js';
import type { Db } from '../db/client.js';
import type { ConfusionMatrix, EvaluationReport, ModelArtifact, TrainingRun } from '../db/generated/client.js';
import type { Split } from '../domain.js';
import { notFound } from '../errors.js';
import type { ModelInfo } from '../inference/registry.js';
import { mean } from '../numeric.js';
import { BUILT_IN_PROFILES, type SeasonProfile, SeasonProfiles } from '../seasons/profiles.js';
import { judgeModel, type SeasonVerdict } from '../seasons/verdict.js';
import { VERSION } from '../version.js';
import { type GalleryCell, galleryHtml, loadGallery } from './cardGallery.js';
import { confusionSvg, escapeHtml, int, reliabilitySvg, table, textTable } from './cardHtml.js';
import type { EpochFacts, ProgressFacts, QuantizationFacts } from './cardRecords.js';
import type { ReportMetrics } from './evaluate.js';
import { classesTable, decisionsTable, f3, gainSentence, membersTable, metricsTable, percent, type StoredMetrics, signed } from './metricsTable.js';

interface CardModel {
  artifact: ModelArtifact;
  run: TrainingRun | null;
  /** Ensemble weight (1 for a single model). */
  weight: number;
}

export interface ModelCardData {
  report: EvaluationReport;
  metrics: StoredMetrics;
  subject: string;
  datasetName: string;
  /** The dataset's version under its name and its content digest: exactly which data scored the model. */
  datasetVersion: number;
  datasetDigest: string | null;
  confusion: ConfusionMatrix[];
  /** Class counts of the split the model learnt from (TRAIN) and of the split scored. */
  distribution: { train: TaskDistribution[]; scored: TaskDistribution[] };
  models: CardModel[];
  members: { report: EvaluationReport; artifactName: string }[];
  cost: { sizeMB: number; parameterCount: number | null; cpuLatencyMs: number | null };
  /** Judged by the dataset's season profile (the default one when it declares none). */
  compliance: {
    models: number;
    sizeMB: number;
    limitMB: number | null;
    cpuLatencyMs: number | null;
    compliant: boolean;
    profile: Pick<SeasonProfile, 'id' | 'name' | 'ensemblesAllowed'>;
    declared: boolean;
    verdict: SeasonVerdict;
  };
  /** Per task (in `confusion`'s order): the worst confusions with a few crops each. */
  gallery: GalleryCell[][];
}

/** Reads everything a card shows; throws NOT_FOUND for an unknown report. */
export async function loadModelCard(
  services: { db: Db; datasets: DatasetService; seasons?: { profiles: SeasonProfiles } },
  reportId: number,
): Promise<ModelCardData> {
  const { db, datasets } = services;
  const seasons = services.seasons?.profiles ?? new SeasonProfiles(BUILT_IN_PROFILES);
  const report = await db.evaluationReport.findUnique({ where: { id: reportId } });
  if (!report) throw notFound('report', reportId);
  const metrics = report.metrics as unknown as StoredMetrics;
  const dataset = await datasets.get(report.datasetId);
  const confusion = await db.confusionMatrix.findMany({ where: { reportId }, orderBy: { task: 'asc' } });
  const scoredSplit = report.split === 'ALL' ? undefined : (report.split as Split);
  const distribution = { train: await datasets.distribution(dataset.id, 'TRAIN'), scored: await datasets.distribution(dataset.id, scoredSplit) };

  let models: CardModel[];
  let subject: string;
  if (report.ensembleId) {
    const ensemble = await db.ensemble.findUniqueOrThrow({
      where: { id: report.ensembleId },
      include: { members: { include: { artifact: { include: { run: true } } }, orderBy: { artifactId: 'asc' } } },
    });
    models = ensemble.members.map((m) => ({ artifact: m.artifact, run: m.artifact.run, weight: m.weight }));
    subject = `ensemble "${ensemble.name}" (${models.length} member${models.length === 1 ? '' : 's'})`;
  } else {
    const artifact = await db.modelArtifact.findUniqueOrThrow({ where: { id: report.artifactId! }, include: { run: true } });
    models = [{ artifact, run: artifact.run, weight: 1 }];
    subject = artifact.run
      ? `run ${artifact.run.id}: ${artifact.run.backbone} + ${artifact.run.head} (artifact ${artifact.id})`
      : `artifact "${artifact.name}" (${artifact.id})`;
  }
  const memberRows = await db.evaluationReport.findMany({ where: { parentReportId: reportId }, orderBy: { id: 'asc' }, include: { artifact: true } });
  const members = memberRows.map(({ artifact, ...memberReport }) => ({ report: memberReport, artifactName: artifact?.name ?? '' }));

  // An evaluation measured size, parameters and latency; a worker's quick report did not, so size and
  // parameters come from the artifacts and the latency stays unknown.
  const cost =
    metrics.source === 'evaluation'
      ? metrics.model
      : {
          sizeMB: models.reduce((s, m) => s + m.artifact.sizeBytes, 0) / 1e6,
          parameterCount: models.every((m) => m.artifact.parameterCount !== null) ? models.reduce((s, m) => s + m.artifact.parameterCount!, 0) : null,
          cpuLatencyMs: null,
        };
  const { profile, declared } = seasons.of(dataset);
  // A dataset that declares its season is judged on the season's label space too; one that does not
  // has a label space of its own, which is no season's to judge.
  const classCounts = declared ? confusion.map((m) => (m.classes as string[]).length) : undefined;
  const verdict = judgeModel(profile, { models: models.length, sizeMb: cost.sizeMB, cpuLatencyMs: cost.cpuLatencyMs, classCounts });
  const compliance = {
    models: models.length,
    sizeMB: cost.sizeMB,
    limitMB: profile.sizeLimitMb,
    cpuLatencyMs: cost.cpuLatencyMs,
    compliant: verdict.accepted,
    profile: { id: profile.id, name: profile.name, ensemblesAllowed: profile.ensemblesAllowed },
    declared,
    verdict,
  };
  const gallery = await loadGallery(db, datasets, reportId, confusion);
  return {
    report,
    metrics,
    subject,
    datasetName: dataset.name,
    datasetVersion: dataset.version,
    datasetDigest: dataset.contentSha256,
    confusion,
    distribution,
    models,
    members,
    cost,
    compliance,
    gallery,
  };
}

export async function modelCardHtml(services: { db: Db; datasets: DatasetService; seasons?: { profiles: SeasonProfiles } }, reportId: number): Promise<string> {
  return renderModelCard(await loadModelCard(services, reportId));
}

/** A horizontal share bar for a table cell. */
const shareBar = (share: number, rare: boolean) =>
  `<svg width="120" height="12" viewBox="0 0 120 12" aria-hidden="true"><rect width="120" height="12" fill="#eef1f6"/><rect width="${(share * 120).toFixed(1)}" height="12" fill="${rare ? '#d9534f' : '#3b6fd4'}"/></svg>`;

function metricsSection(data: ModelCardData): string {
  const { metrics } = data;
  const scores = textTable(metricsTable(metrics), ' id="metrics-table"');
  if (metrics.source !== 'evaluation') {
    return `<p class="note">This is the quick validation report a run leaves (the worker's own predictions): top-1 and ACSA only. Run <code>fashion-how evaluate --run ${data.report.runId ?? ''}</code> for intervals, per-class rows and calibration.</p>${scores}`;
  }
  const members = data.members.map((m) => ({ name: m.artifactName, metrics: m.report.metrics as unknown as ReportMetrics }));
  return `${scores}<p class="note">Intervals: bootstrap 95% (1,000 resamples of the scored items). ACSA is the mean per-class recall, the challenge's imbalance-aware score.</p>${
    metrics.decisions
      ? `<h3>Decisions side by side (this ensemble answers with the logit-adjusted one)</h3>${textTable(decisionsTable(metrics.decisions))}`
      : ''
  }${
    members.length
      ? `<h3>Members on the same items</h3>${textTable(membersTable(members), ' id="members-table"')}${metrics.gain ? `<p>${escapeHtml(gainSentence(metrics.gain))}</p>` : ''}`
      : ''
  }`;
}

function taskSection(data: ModelCardData, matrix: ConfusionMatrix): string {
  const classes = matrix.classes as string[];
  const detail = data.metrics.source === 'evaluation' ? data.metrics.tasks.find((t) => t.task === matrix.task) : undefined;
  const perClass = detail
    ? textTable(classesTable(detail, classes), ` id="classes-${matrix.task}"`)
    : '<p class="note">Per-class rows come with an evaluation report.</p>';
  const calibration = detail
    ? `<h3>Calibration (ECE ${f3(detail.ece)})</h3>${reliabilitySvg(detail.reliability, matrix.task)}${table(
        ['confidence', 'items', 'accuracy', 'mean confidence'],
        detail.reliability.filter((b) => b.count > 0).map((b) => [`${b.lower.toFixed(2)}–${b.upper.toFixed(2)}`, b.count, f3(b.accuracy), f3(b.confidence)]),
        ` id="reliability-${matrix.task}" class="compact"`,
      )}<p class="note">Bins without items are left out of the table.</p>`
    : '<p class="note">Calibration comes with an evaluation report.</p>';
  return `<section class="task" id="task-${matrix.task}"><h2>${escapeHtml(matrix.taskName)}</h2><div class="columns"><div><h3>Confusion matrix (counts; shade = share of the true class)</h3><div id="confusion-${matrix.task}">${confusionSvg(matrix)}</div>${galleryHtml(data.gallery[data.confusion.indexOf(matrix)] ?? [], classes, matrix.task, escapeHtml)}</div><div><h3>Per class</h3>${perClass}${calibration}</div></div></section>`;
}

function dataSection(data: ModelCardData): string {
  const scoredName = data.report.split === 'ALL' ? 'all items' : data.report.split;
  return data.distribution.scored
    .map((scored, t) => {
      const train = data.distribution.train[t]!;
      return `<h3>${escapeHtml(scored.name)}${scored.imbalanceRatio ? ` <span class="muted">(imbalance ${scored.imbalanceRatio.toFixed(1)}:1 in ${escapeHtml(scoredName)})</span>` : ''}</h3>${table(
        ['class', `TRAIN`, 'share', `${scoredName}`, 'share', ''],
        scored.classes.map((c, k) => [
          escapeHtml(c.name),
          int(train.classes[k]!.count),
          percent(train.classes[k]!.share),
          int(c.count),
          percent(c.share),
          shareBar(c.share, c.share < 0.05),
        ]),
        ` id="distribution-${t}" class="compact"`,
      )}`;
    })
    .join('');
}

/** Where an INT8 artifact came from and what it cost: its parent, calibration, and accuracy change per split. */
function quantizationFacts(q: QuantizationFacts): string[][] {
  const c = q.calibration;
  return [
    ['origin', `quantized from artifact ${q.parent.id} (fp32, sha256 <code>${escapeHtml(q.parent.sha256.slice(0, 16))}…</code>)`],
    ['scheme', escapeHtml(q.scheme)],
    [
      'calibration',
      `${escapeHtml(q.method)} ranges on ${q.calibrationImages} ${escapeHtml(c.split)} images of dataset ${c.datasetId} (version ${c.datasetVersion})`,
    ],
    ...q.accuracy.map((a) => [
      `change on ${escapeHtml(a.split)}`,
      `mean top-1 ${signed(a.meanTop1Change)}, mean ACSA ${signed(a.meanAcsaChange)} (INT8 minus fp32, ${a.itemCount} items)`,
    ]),
  ];
}

function trainingSection(data: ModelCardData): string {
  return data.models
    .map(({ artifact, run, weight }) => {
      const info = artifact.modelInfo as unknown as ModelInfo;
      const title = `<h3>${escapeHtml(artifact.name)}${data.models.length > 1 ? ` <span class="muted">(weight ${weight})</span>` : ''}</h3>`;
      const facts = [
        ['backbone', escapeHtml(info.backbone ?? run?.backbone ?? 'unknown')],
        ['head', escapeHtml(info.head ?? run?.head ?? 'unknown')],
        [
          'input',
          `${info.input.size}×${info.input.size}, pad ${info.input.padValue}, mean [${info.input.mean.join(', ')}], std [${info.input.std.join(', ')}]`,
        ],
        ['ONNX sha256', `<code>${escapeHtml(artifact.sha256)}</code>`],
        ['precision', artifact.precision === 'int8' ? 'INT8' : 'fp32'],
      ];
      const quantization = artifact.quantization as unknown as QuantizationFacts | null;
      if (quantization) return `${title}${table(['', ''], [...facts, ...quantizationFacts(quantization)], ' class="facts"')}`;
      if (!run) {
        return `${title}${table(['', ''], [...facts, ['origin', 'imported model: no training record on this server']], ' class="facts"')}`;
      }
      const progress = run.progress as ProgressFacts | null;
      const weights = progress?.weights;
      const weightsLine = weights
        ? `${escapeHtml(weights.source)} weights <code>${escapeHtml(weights.file)}</code>, sha256 <code>${escapeHtml(weights.sha256.slice(0, 16))}…</code>${weights.downloaded ? ' (downloaded by this run)' : ''}`
        : 'random initialisation (no pretrained weights)';
      const config = run.config as Record<string, unknown>;
      const epochs = (run.epochs as EpochFacts[] | null) ?? [];
      const record = table(
        ['', ''],
        [
          ...facts,
          ['run', `${run.id} (${escapeHtml(run.status)}), device ${escapeHtml(run.device ?? 'unknown')}`],
          ['weights source', weightsLine],
          ...(progress?.warnings ?? []).map((w) => ['warning', escapeHtml(w)]),
        ],
        ` class="facts" id="run-${run.id}"`,
      );
      const epochTable = epochs.length
        ? `<h4>Epochs</h4>${table(
            ['epoch', 'train loss', 'validation mean top-1', 'validation mean ACSA', 'seconds'],
            epochs.map((e) => [
              e.epoch,
              f3(e.trainLoss),
              f3(mean(e.validation.map((v) => v.top1))),
              f3(mean(e.validation.map((v) => v.acsa))),
              e.seconds.toFixed(1),
            ]),
            ' class="compact"',
          )}`
        : '';
      const configTable = table(
        ['setting', 'value'],
        Object.entries(config).map(([k, v]) => [escapeHtml(k), escapeHtml(JSON.stringify(v))]),
        ` class="compact config" id="config-${run.id}"`,
      );
      return `${title}<div class="columns"><div>${record}${epochTable}</div><div><h4>Training config</h4>${configTable}</div></div>`;
    })
    .join('');
}

function costSection(data: ModelCardData): string {
  const { cost } = data;
  const rows: (string | number)[][] = [
    [
      'what was scored',
      f3(cost.sizeMB),
      cost.parameterCount === null ? 'unknown' : int(cost.parameterCount),
      cost.cpuLatencyMs === null ? 'not measured' : cost.cpuLatencyMs.toFixed(2),
    ],
  ];
  if (data.members.length) {
    for (const m of data.members) {
      const model = (m.report.metrics as unknown as ReportMetrics).model;
      rows.push([
        escapeHtml(m.artifactName),
        f3(model.sizeMB),
        model.parameterCount === null ? 'unknown' : int(model.parameterCount),
        model.cpuLatencyMs.toFixed(2),
      ]);
    }
  }
  return `${table(['model', 'ONNX MB', 'parameters', 'CPU ms per image'], rows, ' id="cost-table"')}<p class="note">Size is the ONNX file in MB (10<sup>6</sup> bytes), summed over an ensemble's members; latency is the mean of single-image runs on the evaluating machine's CPU${data.members.length ? ', summed over members' : ''}.</p>`;
}

function complianceLine(data: ModelCardData): string {
  const c = data.compliance;
  const mark = (ok: boolean) => (ok ? '✔' : '✘');
  const season = `${escapeHtml(c.profile.name)} (${escapeHtml(c.profile.id)}${c.declared ? '' : ', the default: the dataset declares no season'})`;
  const failed = (rule: string) => c.verdict.checks.some((k) => k.rule === rule && !k.ok);
  const extra = c.verdict.checks
    .filter((k) => k.rule === 'labels' || k.rule === 'latency')
    .map((k) => ` · ${mark(k.ok)} ${escapeHtml(k.detail)}`)
    .join('');
  return `<p id="compliance" class="${c.compliant ? 'ok' : 'bad'}" data-compliant="${c.compliant}" data-season="${escapeHtml(c.profile.id)}"><b>${season}: ${c.compliant ? 'compliant' : 'not compliant'}.</b> ${mark(!failed('models'))} ${c.models} model${c.models === 1 ? '' : 's'} (${c.profile.ensemblesAllowed ? 'ensembles allowed' : 'one allowed'}) · ${mark(!failed('size'))} ${f3(c.sizeMB)} MB (${c.limitMB === null ? 'no limit' : `limit ${c.limitMB} MB`}) · ${mark(c.cpuLatencyMs !== null)} CPU: ${c.cpuLatencyMs === null ? 'latency not measured (evaluate to measure it)' : `${c.cpuLatencyMs.toFixed(2)} ms per image`}${extra}</p>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:0 0 10px}h3{font-size:15px;margin:16px 0 6px}h4{font-size:13px;margin:12px 0 4px}
section{background:#fff;border:1px solid #dde3ec;border-radius:6px;padding:16px 18px;margin:14px 0}
table{border-collapse:collapse;margin:4px 0 8px}th,td{padding:3px 8px;border-bottom:1px solid #e6eaf0;text-align:left;vertical-align:middle}
th{font-weight:600;background:#f0f3f8}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.compact td,table.compact th{padding:2px 6px;font-size:12.5px}table.facts td{text-align:left}table.facts td:first-child{color:#555;white-space:nowrap}
.columns{display:flex;flex-wrap:wrap;gap:24px}.columns>div{flex:1 1 420px;min-width:0}
.chart{font-size:11px;max-width:100%;height:auto}.chart .axis{fill:#555}
.muted,.note{color:#666}.note{font-size:12.5px}code{font-size:12px;word-break:break-all}
#compliance{padding:8px 12px;border-radius:4px;margin:10px 0 0}#compliance.ok{background:#e7f5ea}#compliance.bad{background:#fbeaea}
.headline{display:flex;gap:28px;margin-top:10px}.headline div{font-size:12px;color:#555}.headline b{display:block;font-size:22px;color:#222}
.crops{display:flex;flex-wrap:wrap;gap:8px}.crop{margin:0;width:96px;font-size:11px;color:#555}.crop img{display:block;border:1px solid #dde3ec}.missing{width:96px;height:96px;background:#eee}
@media print{body{background:#fff}section{break-inside:avoid}}
`;

/** The card as one HTML document. Pure: the same data gives the same bytes. */
export function renderModelCard(data: ModelCardData): string {
  const { report, metrics } = data;
  const split = report.split === 'ALL' ? 'every item' : `the ${report.split} split`;
  const headline = `<div class="headline" id="headline"><div>mean top-1<b>${f3(metrics.meanTop1)}</b></div><div>mean ACSA<b>${f3(metrics.meanAcsa)}</b></div><div>items<b>${int(report.itemCount)}</b></div><div>ONNX MB<b>${f3(data.cost.sizeMB)}</b></div><div>CPU ms / image<b>${data.cost.cpuLatencyMs === null ? '–' : data.cost.cpuLatencyMs.toFixed(2)}</b></div></div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Model card: ${escapeHtml(data.subject)} (report ${report.id})</title>
<style>${STYLE}</style></head>
<body><main>
<section id="summary"><h1>Model card: ${escapeHtml(data.subject)}</h1>
<p class="muted">Report ${report.id} (${escapeHtml(metrics.source)}), scored on ${escapeHtml(split)} of dataset "${escapeHtml(data.datasetName)}" (${report.datasetId}) version ${data.datasetVersion}${data.datasetDigest ? `, digest <code>${escapeHtml(data.datasetDigest)}</code>` : ''}, ${int(report.itemCount)} items, stored ${report.createdAt.toISOString()}; fashion-how ${escapeHtml(VERSION)}.</p>
${headline}${complianceLine(data)}</section>
<section id="metrics"><h2>Metrics</h2>${metricsSection(data)}</section>
${data.confusion.map((m) => taskSection(data, m)).join('\n')}
<section id="data"><h2>Data distribution</h2><p class="note">Items per class in the split the model learnt from (TRAIN) and in the split scored; red bars: classes under 5%.</p>${dataSection(data)}</section>
<section id="training"><h2>Training</h2>${trainingSection(data)}</section>
<section id="cost"><h2>Size and speed</h2>${costSection(data)}</section>
</main></body></html>
`;
}
