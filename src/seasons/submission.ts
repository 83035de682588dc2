// `fashion-how submission`: what a season's harness takes, written and proven. The table has the
// season's columns, one row per item in the test CSV's order, each task's class index; for a season
// that runs the model itself, a package (the ONNX file, a Python predictor with the platform's
// preprocessing, its requirements, a README) that is run on CPU in a clean Python process on a sample,
// its answers compared with the server's. Every submission is logged on its dataset.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PhotoSource } from '../data/photos.js';
import type { Db } from '../db/client.js';
import { PACKAGE_ROOT } from '../db/migrate.js';
import { badInput, notFound } from '../errors.js';
import { settingsOf } from '../inference/aliases.js';
import type { ClassifyService, TaskResult } from '../inference/classify.js';
import type { ModelInfo } from '../inference/registry.js';
import { scoreItems } from '../inference/scoring.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import { comparePackage, type PackageCheck, type PredictorRecord } from './packageCheck.js';
import { type SeasonProfile, submissionColumns } from './profiles.js';
import type { ModelTarget, SeasonService } from './service.js';
import { describeVerdict, type SeasonVerdict } from './verdict.js';

/** Where the predictor's files live (copied into every package); beside the worker's, under src/ in every install. */
const PREDICTOR_DIR = path.join(PACKAGE_ROOT, 'src', 'seasons', 'package');
const PREDICTOR_FILES = ['predict.py', 'vips_resample.py', 'onnx_torch.py'];

export interface SubmissionRequest {
  datasetId: number;
  /** An alias (default champion), or an ensemble or artifact by id. */
  alias?: string;
  ensembleId?: number;
  artifactId?: number;
  /** A season profile other than the one the dataset declares. */
  profileId?: string;
  outDir: string;
  /** Write it although the profile rejects the model. */
  force?: boolean;
  /** Items the package check runs (default 16, spread over the table). */
  sample?: number;
}

export interface SubmissionResult {
  id: number;
  profile: SeasonProfile;
  target: ModelTarget & { name: string };
  verdict: SeasonVerdict;
  table: string;
  rows: number;
  packageDir: string | null;
  check: PackageCheck | null;
  /** Where the table's answers came from: a finished prediction job, or scored by this command. */
  source: { predictionJob: number } | 'scored';
}

/** One task's answer as the server gave it. */
export type ServerAnswer = Pick<TaskResult, 'task' | 'probabilities'>;

export interface SubmissionDeps {
  db: Db;
  seasons: SeasonService;
  classify: ClassifyService;
  photos: { of(dataset: { imageRoot: string }): PhotoSource };
  artifactStore: ArtifactStore;
  /** The Python that runs the packaged predictor (it needs numpy, Pillow, and onnxruntime or torch + onnx). */
  python: () => Promise<string>;
}

const csvCell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export class SubmissionService {
  constructor(private readonly deps: SubmissionDeps) {}

  private async target(request: SubmissionRequest): Promise<{ target: ModelTarget; name: string; alias: string | null }> {
    const { db } = this.deps;
    if (request.ensembleId !== undefined || request.artifactId !== undefined) {
      const target: ModelTarget =
        request.ensembleId !== undefined ? { kind: 'ensemble', id: request.ensembleId } : { kind: 'artifact', id: request.artifactId! };
      const row =
        target.kind === 'ensemble'
          ? await db.ensemble.findUnique({ where: { id: target.id } })
          : await db.modelArtifact.findUnique({ where: { id: target.id } });
      if (!row) throw notFound(target.kind, target.id);
      return { target, name: row.name, alias: null };
    }
    const alias = request.alias ?? 'champion';
    const row = await db.modelAlias.findUnique({ where: { name: alias } });
    if (!row) throw notFound('alias', `"${alias}"`);
    const target = settingsOf(row).target;
    const named =
      target.kind === 'ensemble'
        ? await db.ensemble.findUniqueOrThrow({ where: { id: target.id } })
        : await db.modelArtifact.findUniqueOrThrow({ where: { id: target.id } });
    return { target, name: named.name, alias };
  }

  /** Every item's answers: a finished prediction job's stored rows for this model over the whole dataset
   *  when there is one (the newest), else scored now through the serving path. */
  private async predictions(
    dataset: { id: number; imageRoot: string },
    items: { id: number; imageSha256: string | null; imagePath: string; xmin: number; ymin: number; xmax: number; ymax: number }[],
    target: ModelTarget,
  ): Promise<{ scored: ServerAnswer[][]; source: SubmissionResult['source'] }> {
    const { db } = this.deps;
    const job = await db.predictionJob.findFirst({
      where: { datasetId: dataset.id, modelKind: target.kind, modelId: target.id, split: null, status: 'SUCCEEDED', itemCount: items.length },
      orderBy: { id: 'desc' },
    });
    if (job) {
      const rows = await db.predictionJobRow.findMany({ where: { jobId: job.id } });
      const byItem = new Map(rows.map((r) => [r.itemId, r.probabilities as number[][]]));
      if (items.every((item) => byItem.has(item.id))) {
        const model =
          target.kind === 'artifact'
            ? await db.modelArtifact.findUniqueOrThrow({ where: { id: target.id }, include: { labelSchema: true } })
            : await db.ensemble.findUniqueOrThrow({ where: { id: target.id }, include: { labelSchema: true } });
        const tasks = model.labelSchema.tasks as { name: string }[];
        return {
          scored: items.map((item) => byItem.get(item.id)!.map((probabilities, t) => ({ task: tasks[t]!.name, probabilities }))),
          source: { predictionJob: job.id },
        };
      }
    }
    const scored = await scoreItems(
      this.deps.classify,
      this.deps.photos.of(dataset),
      items,
      target.kind === 'artifact' ? { artifactId: target.id } : { ensembleId: target.id },
    );
    return { scored, source: 'scored' };
  }

  async write(request: SubmissionRequest): Promise<SubmissionResult> {
    const { db, seasons } = this.deps;
    const dataset = await db.dataset.findUnique({ where: { id: request.datasetId } });
    if (!dataset) throw notFound('dataset', request.datasetId);
    const profileId = request.profileId ?? dataset.seasonProfile;
    if (!profileId) {
      throw badInput(
        `dataset ${dataset.id} declares no season: run \`fashion-how season set --dataset ${dataset.id} --profile <id>\` (one of ${seasons.profiles
          .list()
          .map((p) => p.id)
          .join(', ')}) or pass --season`,
      );
    }
    const profile = seasons.profiles.get(profileId);
    const { target, name, alias } = await this.target(request);
    const verdict = await seasons.judge(target, profile);
    if (!verdict.accepted && !request.force)
      throw badInput(`${target.kind} ${target.id} "${name}" is ${describeVerdict(verdict)}. --force writes the submission anyway`);
    if (profile.runsModel && target.kind !== 'artifact') {
      throw badInput(`${profile.id} runs the model itself, and a package holds one model: submit an artifact (or distil the ensemble into one)`);
    }

    // The test CSV's order is the order of its lines.
    const items = await db.item.findMany({ where: { datasetId: dataset.id }, orderBy: { line: 'asc' } });
    if (items.length === 0) throw badInput(`dataset ${dataset.id} has no items to predict`);
    const { scored, source } = await this.predictions(dataset, items, target);
    const taskCount = profile.tasks.length;
    if (scored[0]!.length !== taskCount) throw badInput(`the model predicts ${scored[0]!.length} tasks; ${profile.id} has ${taskCount}`);
    const argmax = (p: number[]) => p.reduce((best, v, k) => (v > p[best]! ? k : best), 0);
    const columns = submissionColumns(profile);
    const lines = [
      columns.join(','),
      ...items.map((item, i) => [csvCell(item.imagePath), ...scored[i]!.map((t) => String(argmax(t.probabilities)))].join(',')),
    ];
    const tableText = `${lines.join('\n')}\n`;
    await mkdir(request.outDir, { recursive: true });
    const table = path.join(request.outDir, 'predictions.csv');
    await writeFile(table, tableText);

    let packageDir: string | null = null;
    let check: PackageCheck | null = null;
    let modelSha256: string | null = null;
    if (profile.runsModel) {
      const artifact = await db.modelArtifact.findUniqueOrThrow({ where: { id: target.id } });
      modelSha256 = artifact.sha256;
      packageDir = path.join(request.outDir, 'package');
      await this.writePackage(packageDir, profile, artifact.sha256, artifact.modelInfo as unknown as ModelInfo);
      check = await this.checkPackage(packageDir, dataset, items, scored, target.id, artifact.modelInfo as unknown as ModelInfo, profile, request.sample ?? 16);
    }
    const row = await db.submission.create({
      data: {
        datasetId: dataset.id,
        profileId: profile.id,
        modelKind: target.kind,
        modelId: target.id,
        modelName: name,
        alias,
        rows: items.length,
        tableSha256: sha256(tableText),
        modelSha256,
        accepted: verdict.accepted,
        forced: !verdict.accepted,
        verdict: verdict as object,
        packageCheck: (check ?? undefined) as object | undefined,
      },
    });
    const result: SubmissionResult = { id: row.id, profile, target: { ...target, name }, verdict, table, rows: items.length, packageDir, check, source };
    await writeFile(
      path.join(request.outDir, 'submission.json'),
      `${JSON.stringify({ submission: row.id, dataset: dataset.id, profile: profile.id, model: { ...target, name, alias }, rows: items.length, source, tableSha256: row.tableSha256, modelSha256, verdict, check }, null, 2)}\n`,
    );
    return result;
  }

  private async writePackage(dir: string, profile: SeasonProfile, onnxSha256: string, info: ModelInfo) {
    await mkdir(dir, { recursive: true });
    await copyFile(await this.deps.artifactStore.fetch(onnxSha256, 'onnx'), path.join(dir, 'model.onnx'));
    await writeFile(path.join(dir, 'model.json'), `${JSON.stringify(info, null, 2)}\n`);
    await writeFile(
      path.join(dir, 'season.json'),
      `${JSON.stringify({ profile: profile.id, columns: submissionColumns(profile), tasks: profile.tasks }, null, 2)}\n`,
    );
    for (const file of PREDICTOR_FILES) await copyFile(path.join(PREDICTOR_DIR, file), path.join(dir, file));
    await writeFile(
      path.join(dir, 'requirements.txt'),
      '# numpy and Pillow always; onnxruntime runs the graph, or else torch with onnx (onnx_torch.py)\nnumpy\nPillow\nonnxruntime\n',
    );
    await writeFile(path.join(dir, 'README.md'), packageReadme(profile, info, onnxSha256));
  }

  /** Runs the packaged predictor in a clean Python process on a sample of the items and compares. */
  private async checkPackage(
    dir: string,
    dataset: { imageRoot: string },
    items: { id: number; imagePath: string; xmin: number; ymin: number; xmax: number; ymax: number; imageSha256: string | null }[],
    scored: ServerAnswer[][],
    artifactId: number,
    info: ModelInfo,
    profile: SeasonProfile,
    sampleSize: number,
  ): Promise<PackageCheck> {
    const count = Math.min(items.length, Math.max(1, sampleSize));
    // Spread over the table: first, last and evenly between.
    const picks = [...new Set(Array.from({ length: count }, (_, k) => Math.round((k * (items.length - 1)) / Math.max(1, count - 1))))];
    const checkDir = path.join(dir, '..', 'check');
    const imagesDir = path.join(checkDir, 'images');
    const pixelsDir = path.join(checkDir, 'pixels');
    await mkdir(imagesDir, { recursive: true });
    await mkdir(pixelsDir, { recursive: true });
    const photos = this.deps.photos.of(dataset);
    const rows = ['image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax'];
    for (const [k, index] of picks.entries()) {
      const item = items[index]!;
      const file = `${k}${path.extname(item.imagePath) || '.img'}`;
      await writeFile(path.join(imagesDir, file), await photos.read(item));
      rows.push([file, item.xmin, item.ymin, item.xmax, item.ymax].join(','));
    }
    await writeFile(path.join(checkDir, 'sample.csv'), `${rows.join('\n')}\n`);
    const details = path.join(checkDir, 'details.jsonl');
    const python = await this.deps.python();
    // A clean process: isolated mode (no PYTHON* variables, no user site, no script folder on the path),
    // an environment of PATH alone, run from the package's own folder as a harness would.
    await promisify(execFile)(
      python,
      [
        '-I',
        path.join(dir, 'predict.py'),
        '--csv',
        '../check/sample.csv',
        '--images',
        '../check/images',
        '--out',
        '../check/predictions.csv',
        '--details',
        '../check/details.jsonl',
        '--pixels',
        '../check/pixels',
      ],
      { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
    ).catch((error: { stderr?: string; code?: number }) => {
      const tail = (error.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
      throw badInput(`the packaged predictor failed (exit ${error.code ?? 'unknown'}): ${tail}`);
    });
    const records = (await readFile(details, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as PredictorRecord);
    return comparePackage({
      classify: this.deps.classify,
      artifactId,
      info,
      profile,
      records,
      server: picks.map((index) => scored[index]!),
      pixelsDir,
    });
  }
}

function packageReadme(profile: SeasonProfile, info: ModelInfo, onnxSha256: string): string {
  const { size, padValue, mean, std } = info.input;
  return `# Submission package for ${profile.name} (${profile.id})

Written by fashion-how's \`submission\` command. It holds one model and the code that runs it:

- \`model.onnx\`: the model (sha256 \`${onnxSha256}\`), ${info.backbone ?? 'imported'} ${info.head ?? ''}, ${info.precision ?? 'fp32'}
- \`model.json\`: its input (side ${size} px, pad ${padValue}, mean [${mean.join(', ')}], std [${std.join(', ')}]), tasks and classes
- \`season.json\`: the table's columns: ${submissionColumns(profile).join(', ')}
- \`predict.py\`: the predictor; \`vips_resample.py\`: the server's resize (libvips'), ported to numpy;
  \`onnx_torch.py\`: runs the graph with PyTorch where ONNX Runtime is missing
- \`requirements.txt\`

## Run

    pip install -r requirements.txt      # or: numpy Pillow torch onnx
    python3 predict.py --csv test.csv --images IMAGE_DIR --out predictions.csv

\`test.csv\` has the columns image_name, BBox_xmin, BBox_ymin, BBox_xmax, BBox_ymax (pixels, max exclusive).
\`predictions.csv\` gets one row per test row, in the CSV's order, each task's class index (0-based, as the
training CSV numbers them). Inference runs on CPU, one image at a time${info.testTimeFlip ? ', each with its mirror (test-time flip), averaged' : ''}.

## Preprocessing

EXIF orientation applied, crop to the bbox, long side resized to ${size} px (the other side rounded half
up), centred on a ${size}x${size} square of grey ${padValue}, then (pixel / 255 - mean) / std per channel.
This is the server's preprocessing, and the resize is libvips' own arithmetic (vips_resample.py: box shrink,
linear reduce and bilinear enlarge in libvips' fixed point and order), so on the same photo the package
sees the server's pixels byte for byte and gives its answers (../submission.json: endToEnd, checked on a
sample). JPEG decoding is libjpeg(-turbo) on both sides (same DCT and upsampling: same pixels).
What may still differ by a grey level or so: a photo with an embedded colour profile (the server converts
it to sRGB with lcms; the package does not), a photo with transparency (the server resizes premultiplied
and then composites onto the pad; the package composites first), and CMYK JPEGs.
`;
}
