import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { preprocess } from '../../src/data/image.js';
import type { DriftBody } from '../../src/reports/drift.js';
import type { ReportMetrics } from '../../src/reports/evaluate.js';
import type { QuantizationRecord } from '../../src/training/quantization.js';
import type { EpochRecord } from '../../src/training/runRecord.js';
import { tarArchive } from '../fixtures/archives.js';
import { openTestApp, useScratchDir } from '../helpers.js';
import { buildDashboardFixture } from './fixture.js';

// The built dashboard (web/dist, made by `npm test`'s build) in Debian's Chromium against a real server.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let browser: Browser;
let fixture: Awaited<ReturnType<typeof buildDashboardFixture>>;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Opens a page and collects its console errors and failed requests. */
async function visit(hash: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems: string[] = [];
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${server.url}/#/${hash}`);
  await page.waitForLoadState('networkidle');
  return { page, problems };
}

/** The ids after `prefix` of the elements under `scope` whose test ids start with it, in page order (the tiles' item ids). */
const idsOf = (scope: Locator, prefix: string) =>
  scope
    .locator(`[data-testid^="${prefix}"]`)
    .evaluateAll(
      (elements, p) => elements.map((e) => ((e as unknown as { getAttribute(name: string): string | null }).getAttribute('data-testid') ?? '').slice(p.length)),
      prefix,
    );

/** The leading number of an element's text ("12 items" is 12). */
const leadingNumber = async (locator: Locator) => Number.parseInt(((await locator.textContent()) ?? '').replace(/,/g, ''), 10);

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;

/** expect.poll with room for a query and a render on a busy machine (its default is 1 s). */
const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000 });

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  fixture = await buildDashboardFixture(app, scratch.dir);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await server.close();
  await app.close();
});

describe('dashboard', () => {
  it('loads every page without console errors', async () => {
    const pages = ['datasets', 'runs', `runs/${fixture.runs[0]!.id}`, 'sweeps', `sweeps/${fixture.sweep.id}`, 'reports', `reports/${fixture.report.id}`];
    const item = await app.services.db.item.findFirstOrThrow({ where: { datasetId: fixture.datasetId, split: 'VALIDATION' }, orderBy: { line: 'asc' } });
    const itemPages = [`datasets/${fixture.datasetId}`, `items/${item.id}`, `try?item=${item.id}`, `labels/${fixture.labelScan.id}`];
    for (const hash of [...pages, 'ensembles', 'aliases', 'compare', 'try', ...itemPages]) {
      const { page, problems } = await visit(hash);
      await page.waitForSelector('main h1');
      expect(problems, hash).toEqual([]);
      await page.close();
    }
  });

  it("shows a sweep's trials as stored: each rung's figure and decision, the pruned ones, the best one", async () => {
    const { page, problems } = await visit(`sweeps/${fixture.sweep.id}`);
    const { sweeps } = app.services;
    const trials = await sweeps.trials(fixture.sweep.id);
    const best = await sweeps.best(fixture.sweep);
    expect(best).not.toBeNull();
    for (const { record, run } of trials) {
      const row = page.getByTestId(`trial-${record.index}`);
      await row.waitFor();
      const text = (await row.textContent()) ?? '';
      expect(text).toContain(`#${run.id}`);
      expect(text.includes(`pruned at epoch ${record.prunedAtEpoch}`)).toBe(record.prunedAtEpoch !== null);
      expect(text.includes('★')).toBe(record.index === best!.record.index);
      for (const rung of record.rungs)
        expect(text).toContain(`epoch ${rung.epoch}: ${rung.value.toFixed(3)} ${rung.promoted ? 'goes on' : 'stops'} (${rung.kept}/${rung.competing.length})`);
    }
    // Every trial met the one rung (epoch 1) and the one that came first went on.
    expect(trials.every((t) => t.record.rungs.length >= 1)).toBe(true);
    await page.getByTestId('sweep-curves').locator('svg').waitFor();
    const list = await visit('sweeps');
    await list.page.getByTestId('sweeps-table').waitFor();
    expect(await list.page.getByTestId('sweeps-table').textContent()).toContain(`trial ${best!.record.index}`);
    expect([...problems, ...list.problems]).toEqual([]);
    await page.close();
    await list.page.close();
  });

  it('draws one bar per class in the distribution charts', async () => {
    const { page } = await visit('datasets');
    const counts = [];
    for (const task of [0, 1, 2]) {
      const chart = page.getByTestId(`distribution-${fixture.datasetId}-${task}`);
      await chart.locator('svg').waitFor();
      counts.push(await chart.locator('path[fill="#3b6fd4"], path[fill="#d9534f"]').count());
    }
    expect(counts).toEqual([7, 6, 3]);
    // Rare classes (under 5%) are flagged, in the table and in red in the chart.
    const distribution = await app.services.datasets.distribution(fixture.datasetId);
    const rare = distribution.map((t) => t.classes.filter((c) => c.share < 0.05).length);
    expect(rare.reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // the seed's imbalance guarantees a rare class here
    expect(await page.getByTestId(`dataset-${fixture.datasetId}`).locator('tr.rare').count()).toBe(rare.reduce((a, b) => a + b, 0));
    expect(await page.getByTestId(`distribution-${fixture.datasetId}-0`).locator('path[fill="#d9534f"]').count()).toBe(rare[0]);
    await page.close();
  });

  it('shows a K x K heatmap whose numbers equal the stored confusion matrix, raw and row-normalised', async () => {
    const stored = await app.services.db.confusionMatrix.findFirstOrThrow({ where: { reportId: fixture.report.id, task: 0 } });
    const rows = stored.rows as number[][];
    const { page } = await visit(`reports/${fixture.report.id}`);
    const heatmap = page.getByTestId('heatmap-0');
    await heatmap.locator('svg').waitFor();
    const numbers = async () => (await heatmap.locator('text').allTextContents()).filter((t) => /^\d+(\.\d+)?$/.test(t.trim())).map(Number);
    const raw = await numbers();
    expect(raw).toHaveLength(49);
    expect([...raw].sort((a, b) => a - b)).toEqual(rows.flat().sort((a, b) => a - b));
    await page.getByTestId('normalize').check();
    await page.waitForTimeout(300);
    const normalized = await numbers();
    const expected = rows.flatMap((row) => row.map((c) => Number((row.reduce((a, b) => a + b, 0) ? c / row.reduce((a, b) => a + b, 0) : 0).toFixed(2))));
    expect([...normalized].sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
    // The ensemble's members are listed beside it.
    expect(await page.getByTestId('headline').locator('tbody tr').count()).toBe(3);
    await page.close();
  });

  it("downloads a model card that renders offline, every section, with the stored report's numbers", async () => {
    const { page } = await visit(`reports/${fixture.report.id}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('model-card').click()]);
    expect(download.suggestedFilename()).toBe(`model-card-report-${fixture.report.id}.html`);
    const file = path.join(scratch.dir, download.suggestedFilename());
    await download.saveAs(file);
    await page.close();

    // Opened from disk with every request but the file itself refused: nothing may need the network.
    const card = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requested: string[] = [];
    await card.route('**/*', (route) => {
      if (route.request().url().startsWith('file:')) return route.continue();
      requested.push(route.request().url());
      return route.abort();
    });
    const problems: string[] = [];
    card.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    await card.goto(`file://${file}`);
    expect(requested).toEqual([]);
    expect(problems).toEqual([]);
    expect(await card.locator('script').count()).toBe(0);
    for (const section of ['summary', 'metrics', 'task-0', 'task-1', 'task-2', 'data', 'training', 'cost']) {
      const box = await card.locator(`#${section}`).boundingBox();
      expect(box?.height ?? 0, section).toBeGreaterThan(40);
    }
    const cells = async (selector: string) =>
      Promise.all((await card.locator(selector).all()).map(async (row) => (await row.locator('td').allTextContents()).map((text) => text.trim())));

    const stored = await app.services.db.evaluationReport.findUniqueOrThrow({ where: { id: fixture.report.id } });
    const metrics = stored.metrics as unknown as ReportMetrics;
    const f3 = (v: number) => v.toFixed(3);
    expect(await card.locator('#headline b').allTextContents()).toEqual([
      f3(metrics.meanTop1),
      f3(metrics.meanAcsa),
      String(stored.itemCount),
      f3(metrics.model.sizeMB),
      metrics.model.cpuLatencyMs.toFixed(2),
    ]);
    expect((await cells('#metrics-table tbody tr')).map((row) => row.slice(0, 5))).toEqual(
      metrics.tasks.map((t) => [
        t.name,
        f3(t.top1),
        `[${f3(t.intervals.top1.low)}, ${f3(t.intervals.top1.high)}]`,
        f3(t.acsa),
        `[${f3(t.intervals.acsa.low)}, ${f3(t.intervals.acsa.high)}]`,
      ]),
    );
    const members = await app.services.db.evaluationReport.findMany({ where: { parentReportId: stored.id }, orderBy: { id: 'asc' } });
    expect((await cells('#members-table tbody tr')).map((row) => row.slice(1))).toEqual(
      members.map((m) => [f3((m.metrics as unknown as ReportMetrics).meanTop1), f3((m.metrics as unknown as ReportMetrics).meanAcsa)]),
    );

    const matrices = await app.services.db.confusionMatrix.findMany({ where: { reportId: stored.id }, orderBy: { task: 'asc' } });
    for (const matrix of matrices) {
      const t = matrix.task;
      expect((await card.locator(`#confusion-${t} text.cell`).allTextContents()).map(Number), `confusion ${t}`).toEqual((matrix.rows as number[][]).flat());
      const detail = metrics.tasks[t]!;
      expect(await cells(`#classes-${t} tbody tr`)).toEqual(
        detail.classes.map((c) => [
          (matrix.classes as string[])[c.index]!,
          String(c.support),
          String(c.predicted),
          f3(c.precision),
          f3(c.recall),
          f3(c.f1),
          f3(c.specificity),
        ]),
      );
      const filled = detail.reliability.filter((b) => b.count > 0);
      expect((await cells(`#reliability-${t} tbody tr`)).map((row) => [Number(row[1]), row[2], row[3]])).toEqual(
        filled.map((b) => [b.count, f3(b.accuracy), f3(b.confidence)]),
      );
      expect(await card.locator(`#task-${t} svg rect[data-bin]`).count()).toBe(filled.length);
    }

    // The class distribution, counted here from the items themselves.
    const items = await app.services.db.item.findMany({ where: { datasetId: fixture.datasetId }, include: { labels: true } });
    for (const [t, matrix] of matrices.entries()) {
      const count = (split: string, k: number) => items.filter((i) => i.split === split && i.labels.find((l) => l.task === t)!.classIndex === k).length;
      expect((await cells(`#distribution-${t} tbody tr`)).map((row) => [row[1], row[3]].map((v) => Number(v!.replace(/,/g, ''))))).toEqual(
        (matrix.classes as string[]).map((_, k) => [count('TRAIN', k), count('VALIDATION', k)]),
      );
    }

    // Each member's run: its config and where its weights came from (random init in the fixture).
    for (const run of fixture.runs) {
      const record = await app.services.training.get(run.id);
      const config = Object.fromEntries((await cells(`#config-${run.id} tbody tr`)).map(([k, v]) => [k!, JSON.parse(v!)] as const));
      expect(config).toEqual(record!.config);
      expect(await card.locator(`#run-${run.id}`).textContent()).toContain('random initialisation');
    }
    expect((await cells('#cost-table tbody tr'))[0]).toEqual([
      'what was scored',
      f3(metrics.model.sizeMB),
      metrics.model.parameterCount!.toLocaleString('en-US'),
      metrics.model.cpuLatencyMs.toFixed(2),
    ]);
    // Two members: not the one model the 2024 rules allow.
    expect(await card.locator('#compliance').getAttribute('data-compliant')).toBe('false');
    expect(await card.locator('#compliance').textContent()).toContain(`2 models (one allowed) · ✔ ${f3(metrics.model.sizeMB)} MB (limit 25 MB)`);
    await card.close();
  });

  it('classifies an uploaded image on the Try it page', async () => {
    const { page, problems } = await visit('try');
    const row = fixture.synthetic.rows[0]!;
    await page.getByTestId('upload').setInputFiles(path.join(fixture.synthetic.imageRoot, row.imageName));
    for (const key of ['xmin', 'ymin', 'xmax', 'ymax'] as const) await page.getByTestId(`bbox-${key}`).fill(String(row.bbox[key]));
    const sent = page.waitForRequest((r) => r.url().endsWith('/graphql') && (r.headers()['content-type'] ?? '').startsWith('multipart/form-data'));
    await page.getByRole('button', { name: 'Classify' }).click();
    const prediction = page.getByTestId('prediction');
    await prediction.waitFor();
    // The image went as a binary multipart part (with the CSRF preflight header), not as base64 in JSON
    // (Chromium does not expose a body holding a file, so the request's headers tell).
    const request = await sent;
    expect(request.headers()['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(request.headers()['apollo-require-preflight']).toBe('true');
    const bytes = await readFile(path.join(fixture.synthetic.imageRoot, row.imageName));
    // The headline is the server's own answer for that image and bbox.
    const direct = await app.services.classify.classify({ images: [{ image: bytes, bbox: row.bbox }] });
    const expected = direct.results[0]!.map((t) => {
      const best = t.probabilities.indexOf(Math.max(...t.probabilities));
      return `${t.task}: ${t.classes[best]} (${(t.probabilities[best]! * 100).toFixed(1)}%)`;
    });
    expect((await prediction.locator('h2').allTextContents()).slice(1)).toEqual(expected);
    // The default ensemble's occlusion maps follow: one per task, 8 x 8 cells by default.
    for (const t of [0, 1, 2]) {
      await page.getByTestId(`saliency-${t}`).waitFor({ timeout: 30_000 });
      expect(await page.getByTestId(`saliency-${t}`).locator('rect.saliency-cell').count()).toBe(64);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it("compares runs with their records' values, and ranks models with the Pareto fronts marked", async () => {
    const f3 = (v: number) => v.toFixed(3);
    const { page, problems } = await visit(`compare/${fixture.runs.map((r) => r.id).join(',')}`);
    await page.getByTestId('compare-final').waitFor();
    for (const run of fixture.runs) {
      const stored = (await app.services.training.get(run.id))!;
      const epochs = stored.epochs as unknown as EpochRecord[];
      const last = epochs[epochs.length - 1]!;
      const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const cells = await page.getByTestId(`compare-run-${run.id}`).locator('td').allTextContents();
      expect(cells.slice(2, 9)).toEqual([
        String(epochs.length),
        f3(last.trainLoss),
        f3(average(last.validation.map((v) => v.top1))),
        f3(average(last.validation.map((v) => v.acsa))),
        ...last.validation.map((v) => f3(v.acsa)),
      ]);
      // Each chart overlays one line per run, named in its legend.
      for (const chart of ['compare-loss', 'compare-acsa-0', 'compare-acsa-1', 'compare-acsa-2']) {
        expect(await page.getByTestId(chart).locator('text').allTextContents(), chart).toContain(`#${run.id} ${stored.backbone}+${stored.head}`);
      }
    }

    // The leaderboard: the ensemble and its two members, scored on the same items.
    const reports = [
      await app.services.db.evaluationReport.findUniqueOrThrow({ where: { id: fixture.report.id } }),
      ...(await app.services.db.evaluationReport.findMany({ where: { parentReportId: fixture.report.id } })),
    ];
    const rows = reports.map((r) => ({ key: r.ensembleId ? `e${r.ensembleId}` : `a${r.artifactId}`, metrics: r.metrics as unknown as ReportMetrics }));
    const beaten = (cost: (m: ReportMetrics) => number) => (m: ReportMetrics) =>
      rows.some(
        (o) =>
          o.metrics !== m && o.metrics.meanAcsa >= m.meanAcsa && cost(o.metrics) <= cost(m) && (o.metrics.meanAcsa > m.meanAcsa || cost(o.metrics) < cost(m)),
      );
    const table = page.getByTestId('leaderboard');
    expect(await table.locator('tbody tr').count()).toBe(3);
    for (const { key, metrics } of rows) {
      const cells = await page.getByTestId(`leader-${key}`).locator('td').allTextContents();
      expect(cells.slice(1, 6), key).toEqual([
        f3(metrics.meanAcsa),
        f3(metrics.meanTop1),
        metrics.model.sizeMB.toFixed(2),
        metrics.model.parameterCount!.toLocaleString('en-US'),
        metrics.model.cpuLatencyMs.toFixed(2),
      ]);
      expect(cells.slice(6, 8), key).toEqual([beaten((m) => m.model.sizeMB)(metrics) ? '' : '★', beaten((m) => m.model.cpuLatencyMs)(metrics) ? '' : '★']);
    }
    // Sorted by mean ACSA, best first; one click on size sorts smallest first.
    const shownInOrder = async (value: (m: ReportMetrics) => number) =>
      (await Promise.all((await table.locator('tbody tr').all()).map((tr) => tr.getAttribute('data-testid')))).map((id) =>
        value(rows.find((r) => `leader-${r.key}` === id)!.metrics),
      );
    const acsa = await shownInOrder((m) => m.meanAcsa);
    expect(acsa).toEqual([...acsa].sort((a, b) => b - a));
    await page.getByTestId('sort-size').click();
    expect(await shownInOrder((m) => m.model.sizeMB)).toEqual(rows.map((r) => r.metrics.model.sizeMB).sort((a, b) => a - b));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps the drawn box and the numbers in step, both ways', async () => {
    const { page, problems } = await visit('try');
    const row = fixture.synthetic.rows[1]!;
    await page.getByTestId('upload').setInputFiles(path.join(fixture.synthetic.imageRoot, row.imageName));
    const editor = page.getByTestId('bbox-editor');
    await editor.waitFor();
    const field = async (key: string) => Number(await page.getByTestId(`bbox-${key}`).inputValue());
    const fields = async () => ({ xmin: await field('xmin'), ymin: await field('ymin'), xmax: await field('xmax'), ymax: await field('ymax') });
    const drawn = async () => {
      const [x, y, width, height] = await Promise.all(
        ['x', 'y', 'width', 'height'].map(async (a) => Number(await page.getByTestId('bbox-rect').getAttribute(a))),
      );
      return { xmin: x, ymin: y, xmax: x! + width!, ymax: y! + height! };
    };
    // The box defaults to the whole image: its size is the image's.
    const { xmax: W, ymax: H } = await fields();
    expect(await drawn()).toEqual({ xmin: 0, ymin: 0, xmax: W, ymax: H });

    // Numbers to drawing.
    for (const key of ['xmin', 'ymin', 'xmax', 'ymax'] as const) await page.getByTestId(`bbox-${key}`).fill(String(row.bbox[key]));
    expect(await drawn()).toEqual(row.bbox);

    // Drawing to numbers: a drag outside the box draws a new one, a drag inside moves it.
    const screen = async (x: number, y: number) => {
      const box = (await editor.boundingBox())!;
      return [box.x + (x * box.width) / W, box.y + (y * box.height) / H] as const;
    };
    const dragFrom = async (from: [number, number], to: [number, number]) => {
      await page.mouse.move(...(await screen(...from)));
      await page.mouse.down();
      await page.mouse.move(...(await screen(...to)), { steps: 6 });
      await page.mouse.up();
    };
    for (const [key, value] of Object.entries({ xmin: W - 8, ymin: H - 8, xmax: W, ymax: H })) await page.getByTestId(`bbox-${key}`).fill(String(value));
    const drawnBox = { xmin: 3, ymin: 5, xmax: Math.floor(W / 2), ymax: Math.floor(H / 2) };
    await dragFrom([drawnBox.xmin + 0.2, drawnBox.ymin + 0.2], [drawnBox.xmax + 0.2, drawnBox.ymax + 0.2]);
    expect(await fields()).toEqual(drawnBox);
    expect(await drawn()).toEqual(drawnBox);
    await dragFrom([10.2, 10.2], [17.2, 14.2]);
    const moved = { xmin: drawnBox.xmin + 7, ymin: drawnBox.ymin + 4, xmax: drawnBox.xmax + 7, ymax: drawnBox.ymax + 4 };
    expect(await fields()).toEqual(moved);
    expect(await drawn()).toEqual(moved);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the model's input exactly as preprocessing makes it, and occlusion maps whose values are the server's", async () => {
    const artifact = fixture.artifacts[0]!;
    const row = fixture.synthetic.rows[2]!;
    const bytes = await readFile(path.join(fixture.synthetic.imageRoot, row.imageName));
    const { page, problems } = await visit('try');
    await page.getByTestId('upload').setInputFiles(path.join(fixture.synthetic.imageRoot, row.imageName));
    await page.getByTestId('bbox-editor').waitFor();
    for (const key of ['xmin', 'ymin', 'xmax', 'ymax'] as const) await page.getByTestId(`bbox-${key}`).fill(String(row.bbox[key]));
    await page.getByTestId('model').selectOption(`a:${artifact.id}`);
    const grid = 4;
    await page.getByTestId('grid').fill(String(grid));
    await page.getByRole('button', { name: 'Classify' }).click();
    await page.getByTestId('saliency-2').waitFor({ timeout: 30_000 });

    // The crop: the PNG the page shows, decoded here, is the tensor serving feeds the model, de-normalised.
    const model = await app.services.models.get(artifact.id);
    const { size, padValue, mean, std } = model.info.input;
    const spec = { size, padValue, mean: mean as [number, number, number], std: std as [number, number, number] };
    const { tensor } = await preprocess(bytes, row.bbox, spec, app.config.imageLimits);
    const plane = size * size;
    const expectedPixels = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) expectedPixels[i * 3 + c] = Math.round((tensor[c * plane + i]! * std[c]! + mean[c]!) * 255);
    const src = (await page.getByTestId('crop').getAttribute('src'))!;
    expect(src).toMatch(/^data:image\/png;base64,/);
    const shown = await sharp(Buffer.from(src.split(',')[1]!, 'base64'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([shown.info.width, shown.info.height]).toEqual([size, size]);
    const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
    expect(sha(shown.data)).toBe(sha(expectedPixels));

    // The maps: every cell covered in turn by the mean colour, all copies run here straight through the
    // artifact's ONNX session, and the drop of the predicted class's probability.
    const edge = (i: number) => Math.round((i * size) / grid);
    const copies = [expectedPixels];
    for (let cell = 0; cell < grid * grid; cell++) {
      const copy = expectedPixels.slice();
      const [r, c] = [Math.floor(cell / grid), cell % grid];
      for (let y = edge(r); y < edge(r + 1); y++)
        for (let x = edge(c); x < edge(c + 1); x++) for (let ch = 0; ch < 3; ch++) copy[(y * size + x) * 3 + ch] = Math.round(mean[ch]! * 255);
      copies.push(copy);
    }
    const batch = new Float32Array(copies.length * 3 * plane);
    copies.forEach((pixels, n) => {
      for (let ch = 0; ch < 3; ch++) for (let i = 0; i < plane; i++) batch[n * 3 * plane + ch * plane + i] = (pixels[i * 3 + ch]! / 255 - mean[ch]!) / std[ch]!;
    });
    const outputs = await model.session.run(batch, copies.length, size);
    for (const [t, task] of model.info.tasks.entries()) {
      const K = task.classes.length;
      const probs = outputs[task.output]!;
      const predicted = [...probs.slice(0, K)].indexOf(Math.max(...probs.slice(0, K)));
      const expected = Array.from({ length: grid * grid }, (_, cell) => probs[predicted]! - probs[(cell + 1) * K + predicted]!);
      const cells = page.getByTestId(`saliency-${t}`).locator('rect.saliency-cell');
      const values = await Promise.all((await cells.all()).map(async (rect) => Number(await rect.getAttribute('data-value'))));
      expect(values).toHaveLength(grid * grid);
      values.forEach((v, cell) => {
        expect(v, `task ${t} cell ${cell}`).toBeCloseTo(expected[cell]!, 6);
      });
      expect(await page.getByTestId(`saliency-${t}`).locator('figcaption b').textContent()).toBe(task.name);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it("updates the Runs page from the subscription: a run's new status shows without another HTTP query", async () => {
    const run = await app.services.db.trainingRun.create({
      data: { datasetId: fixture.datasetId, backbone: 'resnet18', head: 'residual', status: 'QUEUED', config: {} },
    });
    const { page, problems } = await visit('runs');
    const status = page.getByTestId(`run-${run.id}`).getByTestId('run-status');
    expect(await status.textContent()).toBe('QUEUED');
    await expect.poll(() => page.getByTestId('runs-live').textContent(), { timeout: 10_000 }).toMatch(/^Live/);
    // The page's own first queries (the list, the start form's choices) are done before counting begins:
    // on a busy machine they can still be in flight when the table first shows.
    await page.waitForLoadState('networkidle');
    const posts: string[] = [];
    page.on('request', (request) => request.url().endsWith('/graphql') && request.method() === 'POST' && posts.push(request.postData() ?? ''));
    await app.services.training.cancel(run.id);
    // The page says "Live" from the start, but its subscription reaches the server a moment later (the
    // socket's handshake, then the subscribe message): on a busy machine the cancel's notice can be
    // published before anyone listens, and the page waits for the next one. So the run's notice is sent
    // again, as its next change would, until the page shows the status: still by push alone (`posts`).
    await expect
      .poll(
        () => {
          app.services.pubsub.publish('runChanged', { runId: run.id });
          return status.textContent();
        },
        { timeout: 10_000, interval: 500 },
      )
      .toBe('CANCELLED');
    // Longer than the 2 s the page used to poll at: still not a single query.
    await page.waitForTimeout(2500);
    expect(posts).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a change made while its WebSocket was opening: the Runs page reads the list again once live', async () => {
    const run = await app.services.db.trainingRun.create({
      data: { datasetId: fixture.datasetId, backbone: 'resnet18', head: 'residual', status: 'QUEUED', config: {} },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The socket is held open-ing (as behind a slow proxy) until the run has changed: its notice is
    // published while nobody listens, so only the page's read once the socket is up can show it.
    let letThrough!: () => void;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    await page.routeWebSocket(/\/graphql$/, async (socket) => {
      await held;
      socket.connectToServer();
    });
    await page.goto(`${server.url}/#/runs`);
    const status = page.getByTestId(`run-${run.id}`).getByTestId('run-status');
    await expect.poll(() => status.textContent()).toBe('QUEUED');
    expect(await page.getByTestId('runs-live').textContent()).toMatch(/^Connecting/);
    await app.services.training.cancel(run.id);
    letThrough();
    await expect.poll(() => page.getByTestId('runs-live').textContent()).toMatch(/^Live/);
    await expect.poll(() => status.textContent()).toBe('CANCELLED');
    await page.close();
  });

  it('polls the Runs page instead when a proxy blocks the WebSocket', async () => {
    const run = await app.services.db.trainingRun.create({
      data: { datasetId: fixture.datasetId, backbone: 'resnet18', head: 'residual', status: 'QUEUED', config: {} },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.routeWebSocket(/\/graphql$/, (socket) => socket.close({ code: 1006 }));
    const posts: string[] = [];
    page.on('request', (request) => request.url().endsWith('/graphql') && request.method() === 'POST' && posts.push(request.postData() ?? ''));
    await page.goto(`${server.url}/#/runs`);
    await expect.poll(() => page.getByTestId('runs-live').textContent(), { timeout: 10_000 }).toMatch(/^Updates every 2 s/);
    await app.services.training.cancel(run.id);
    await expect.poll(() => page.getByTestId(`run-${run.id}`).getByTestId('run-status').textContent(), { timeout: 10_000 }).toBe('CANCELLED');
    expect(posts.filter((body) => body.includes('runsConnection')).length).toBeGreaterThan(1);
    await page.close();
  });

  it('pages through the runs, newest first, 50 at a time', async () => {
    await app.services.db.trainingRun.createMany({
      data: Array.from({ length: 55 }, () => ({ datasetId: fixture.datasetId, backbone: 'resnet18', head: 'feedforward', status: 'CANCELLED', config: {} })),
    });
    const all = (await app.services.db.trainingRun.findMany({ select: { id: true }, orderBy: { id: 'desc' } })).map((r) => `#${r.id}`);
    const { page } = await visit('runs');
    const shown = () => page.getByTestId('runs-table').locator('tbody tr td:first-child').allTextContents();
    await expect.poll(shown).toEqual(all.slice(0, 50));
    expect(await page.getByText(`50 of ${all.length} shown`).count()).toBe(1);
    await page.getByTestId('load-more').click();
    await expect.poll(shown).toEqual(all.slice(0, 100));
    await page.close();
  });

  it('starts a run from the form with a trainer token', async () => {
    const before = await app.services.db.trainingRun.count();
    const { page } = await visit('runs');
    await page.getByLabel('API token').fill(fixture.trainer);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page
      .getByTestId('start-training')
      .getByRole('button', { name: /^Start 1 run/ })
      .click();
    await expect.poll(() => page.getByTestId('start-message').textContent(), { timeout: 20_000 }).toMatch(/^queued run\(s\) \d+$/);
    expect(await app.services.db.trainingRun.count()).toBe(before + 1);
    const created = await app.services.db.trainingRun.findFirstOrThrow({ orderBy: { id: 'desc' } });
    expect(created).toMatchObject({ backbone: 'resnet18', head: 'feedforward' });
    expect(created.config).toMatchObject({ epochs: 3, batchSize: 64, imageSize: 224 });
    await app.services.training.cancel(created.id);
    await page.close();
  });

  it('fits an ensemble from the form and shows how it was fitted', async () => {
    const { page, problems } = await visit('ensembles');
    await page.getByLabel('API token').fill(fixture.trainer);
    await page.getByRole('button', { name: 'Use token' }).click();
    const form = page.getByTestId('fit-ensemble');
    await form.getByLabel('name').fill('fitted in the browser');
    for (const artifact of fixture.artifacts) await form.getByLabel(artifact.name).check();
    await form.getByLabel('logit adjustment').check();
    await form.getByRole('button', { name: 'Fit' }).click();
    await expect.poll(() => form.getByTestId('fit-message').textContent(), { timeout: 60_000 }).toMatch(/^fitted ensemble \d+$/);
    const stored = await app.services.db.ensemble.findFirstOrThrow({ where: { name: 'fitted in the browser' } });
    const fit = stored.fit as { score: number; bestMember: { score: number }; split: string; itemCount: number };
    expect(stored.logitAdjustment).not.toBeNull();
    expect(fit.split).toBe('VALIDATION');
    const shown = await page.getByTestId(`fit-${stored.id}`).textContent();
    expect(shown).toContain(
      `fitted for MEAN_ACSA on synthetic fixture VALIDATION (${fit.itemCount} items): ${fit.score.toFixed(3)}, best member ${fit.bestMember.score.toFixed(3)}`,
    );
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a run preparing its images, and what the pixel cache did for a finished run', async () => {
    // The first fixture run built the cache, the second found every image in it.
    const [first, second] = await Promise.all(fixture.runs.map((r) => app.services.training.get(r.id)));
    const caches = [first!, second!].map((r) => (r.progress as { imageCache: { items: number; built: number; reused: number } }).imageCache);
    expect(caches.map((c) => [c.built, c.reused])).toEqual([
      [caches[0]!.items, 0],
      [0, caches[0]!.items],
    ]);
    const { page } = await visit(`runs/${first!.id}`);
    expect(await page.getByTestId('image-cache').textContent()).toMatch(
      new RegExp(`^images: ${caches[0]!.items} from the pixel cache \\(decoded ${caches[0]!.items} at \\d+ images/s, 0 reused, `),
    );
    // Which process ran it (hostname:pid; this one, the fixture trained here) and how often it started.
    expect(first!.workerId).toBe(`${os.hostname()}:${process.pid}`);
    expect(await page.getByTestId('worker').textContent()).toBe(`last run by ${first!.workerId}, attempt ${first!.attempts}`);
    await page.close();

    const preparing = await app.services.db.trainingRun.create({
      data: {
        datasetId: fixture.datasetId,
        backbone: 'resnet50',
        head: 'residual',
        status: 'RUNNING',
        config: first!.config as object,
        progress: {
          phase: 'PREPARING_IMAGES',
          prepared: 3200,
          toPrepare: 14000,
          epoch: 0,
          step: 0,
          totalSteps: 0,
          loss: null,
          imagesPerSecond: null,
          lr: null,
          updatedAt: new Date().toISOString(),
        },
      },
    });
    try {
      const runs = await visit('runs');
      const row = runs.page.getByTestId('runs-table').locator('tr', { has: runs.page.locator(`a[href="#/runs/${preparing.id}"]`) });
      await expect.poll(() => row.getByTestId('run-progress').textContent()).toBe('preparing images 3,200/14,000');
      await runs.page.close();
    } finally {
      await app.services.db.trainingRun.delete({ where: { id: preparing.id } });
    }
  });

  it("opens a gallery of exactly the items behind a confusion-matrix cell, a class's row, a worst confusion and the errors", async () => {
    const { db } = app.services;
    const reportId = fixture.report.id;
    const task = 0;
    const matrix = await db.confusionMatrix.findFirstOrThrow({ where: { reportId, task } });
    const rows = matrix.rows as number[][];
    const classes = matrix.classes as string[];
    const stored = (where: { trueClass?: number; predictedClass?: number }) => db.reportPrediction.findMany({ where: { reportId, task, ...where } });
    const ids = (predictions: { itemId: number }[]) => predictions.map((p) => String(p.itemId)).sort();
    const { page, problems } = await visit(`reports/${reportId}`);
    const gallery = page.getByTestId('gallery');
    const shown = () => idsOf(gallery, 'gallery-tile-');
    const count = () => leadingNumber(gallery.getByTestId('gallery-count'));

    // A cell: the fullest one off the diagonal (the commonest error), else the fullest one.
    const cells = rows.flatMap((row, t) => row.map((n, p) => ({ t, p, n }))).filter((c) => c.n > 0);
    const cell = [...cells].sort((a, b) => Number(a.t === a.p) - Number(b.t === b.p) || b.n - a.n)[0]!;
    await page.getByTestId(`cell-${task}-${cell.t}-${cell.p}`).click();
    await eventually(count).toBe(rows[cell.t]![cell.p]);
    const inCell = await stored({ trueClass: cell.t, predictedClass: cell.p });
    expect(inCell).toHaveLength(cell.n);
    await eventually(async () => (await shown()).sort()).toEqual(ids(inCell));
    // Most confident first by default; each tile says both classes with their probabilities.
    const byId = new Map(inCell.map((p) => [String(p.itemId), p]));
    const confidences = (await shown()).map((id) => byId.get(id)!.confidence);
    expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
    for (const prediction of inCell) {
      const tile = gallery.getByTestId(`gallery-tile-${prediction.itemId}`);
      expect(await tile.getByTestId('tile-truth').textContent()).toBe(`true ${classes[cell.t]} ${pct(prediction.trueProbability)}`);
      expect(await tile.getByTestId('tile-predicted').textContent()).toBe(`predicted ${classes[cell.p]} ${pct(prediction.confidence)}`);
    }
    // Sorted by loss, the worst first: the true class's probability, lowest first.
    await gallery.getByTestId('gallery-order').selectOption('LOSS_DESC');
    await eventually(async () => (await shown()).map((id) => byId.get(id)!.trueProbability)).toEqual(
      inCell.map((p) => p.trueProbability).sort((a, b) => a - b),
    );

    // Hovering a tile shows the whole photo, the stored bbox drawn over it in the photo's own pixels.
    const first = (await shown())[0]!;
    const item = await db.item.findUniqueOrThrow({ where: { id: Number(first) } });
    await gallery.getByTestId(`gallery-tile-${first}`).hover();
    const popover = gallery.getByTestId('tile-photo');
    const rect = popover.getByTestId('photo-bbox');
    await rect.waitFor();
    expect(await Promise.all(['x', 'y', 'width', 'height'].map(async (a) => Number(await rect.getAttribute(a))))).toEqual([
      item.xmin,
      item.ymin,
      item.xmax - item.xmin,
      item.ymax - item.ymin,
    ]);
    expect(await popover.locator('svg').getAttribute('viewBox')).toBe(`0 0 ${item.imageWidth} ${item.imageHeight}`);
    const natural = () =>
      popover.locator('img').evaluate((img) => {
        const { naturalWidth, naturalHeight } = img as unknown as { naturalWidth: number; naturalHeight: number };
        return [naturalWidth, naturalHeight];
      });
    await eventually(async () => (await natural())[0]).toBeGreaterThan(0);
    const [w, h] = await natural();
    expect(w! / h!).toBeCloseTo(item.imageWidth / item.imageHeight, 1);

    // A class's row: every item of that true class, whatever was predicted.
    await page.getByTestId(`class-${task}-${cell.t}`).click();
    await eventually(count).toBe(rows[cell.t]!.reduce((a, b) => a + b, 0));
    await eventually(async () => (await shown()).sort()).toEqual(ids(await stored({ trueClass: cell.t })));

    // A worst confusion: the items of its cell.
    const worst = page.getByTestId('worst').locator('button').first();
    const worstItem = Number(((await worst.getAttribute('data-testid')) ?? '').replace('worst-', ''));
    const { trueClass, predictedClass } = await db.reportPrediction.findFirstOrThrow({ where: { reportId, task, itemId: worstItem } });
    expect(trueClass).not.toBe(predictedClass);
    await worst.click();
    await eventually(count).toBe(rows[trueClass]![predictedClass]);
    await eventually(async () => (await shown()).sort()).toEqual(ids(await stored({ trueClass, predictedClass })));
    expect(await shown()).toContain(String(worstItem));

    // Every error of the task: off the diagonal.
    await page.getByTestId('gallery-errors').click();
    const errors = (await stored({})).filter((p) => p.trueClass !== p.predictedClass);
    await eventually(count).toBe(rows.flat().reduce((a, b) => a + b, 0) - rows.reduce((sum, row, t) => sum + row[t]!, 0));
    await eventually(async () => (await shown()).sort()).toEqual(ids(errors));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('pages a gallery 24 tiles at a time, and says a run report holds no items', async () => {
    const { db } = app.services;
    // A report on every item (120), so that galleries run past a page; removed afterwards.
    const everything = await app.services.evaluation.evaluate({ ensembleId: fixture.ensemble.id, datasetId: fixture.datasetId, split: 'ALL' });
    try {
      const matrix = await db.confusionMatrix.findFirstOrThrow({ where: { reportId: everything.id, task: 0 } });
      const rows = matrix.rows as number[][];
      const { page, problems } = await visit(`reports/${everything.id}`);
      const gallery = page.getByTestId('gallery');
      const shown = () => idsOf(gallery, 'gallery-tile-');
      const readAll = async (expected: string[]) => {
        await eventually(() => leadingNumber(gallery.getByTestId('gallery-count'))).toBe(expected.length);
        await eventually(async () => (await shown()).length).toBe(Math.min(24, expected.length));
        for (let pages = 1; pages * 24 < expected.length; pages++) {
          expect(await gallery.getByText(`${pages * 24} of ${expected.length} shown`).count()).toBe(1);
          await gallery.getByTestId('load-more').click();
          await eventually(async () => (await shown()).length).toBe(Math.min((pages + 1) * 24, expected.length));
        }
        expect(await gallery.getByTestId('load-more').count()).toBe(0);
        const all = await shown();
        expect(new Set(all).size).toBe(all.length);
        expect([...all].sort()).toEqual([...expected].sort());
      };
      const itemsOf = async (where: object) =>
        (await db.reportPrediction.findMany({ where: { reportId: everything.id, task: 0, ...where } })).map((p) => String(p.itemId));
      await page.getByTestId('gallery-all').click();
      await readAll(await itemsOf({}));
      const [fullest] = rows.flatMap((row, t) => row.map((n, p) => ({ t, p, n }))).sort((a, b) => b.n - a.n);
      await page.getByTestId(`cell-0-${fullest!.t}-${fullest!.p}`).click();
      await readAll(await itemsOf({ trueClass: fullest!.t, predictedClass: fullest!.p }));
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await db.evaluationReport.delete({ where: { id: everything.id } });
    }

    // A run's own validation report keeps counts only: the gallery says so and how to get the items.
    const run = fixture.runs[0]!;
    const own = (await db.evaluationReport.findMany({ where: { runId: run.id } })).find((r) => (r.metrics as { source?: string }).source === 'training-worker');
    expect(own).toBeDefined();
    expect(await db.reportPrediction.count({ where: { reportId: own!.id } })).toBe(0);
    const { page, problems } = await visit(`reports/${own!.id}`);
    await page.getByTestId('cell-0-0-0').click();
    const notice = page.getByTestId('worker-report');
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`fashion-how evaluate --run ${run.id}`);
    expect(await page.getByTestId('gallery').locator('[data-testid^="gallery-tile-"]').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("filters the dataset browser's items as the database holds them, and opens an item with every stored prediction", async () => {
    const { db } = app.services;
    const dataset = await db.dataset.findUniqueOrThrow({ where: { id: fixture.datasetId } });
    const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    const items = await db.item.findMany({ where: { datasetId: dataset.id }, include: { labels: true }, orderBy: { line: 'asc' } });
    const idsIn = (list: { id: number }[]) => list.map((i) => String(i.id));
    const { page, problems } = await visit(`datasets/${dataset.id}`);
    const browse = page.getByTestId('item-browser');
    const shown = () => idsOf(browse, 'item-tile-');
    const count = () => leadingNumber(browse.getByTestId('items-count'));

    // No filter: every item in CSV line order, 40 a page.
    await eventually(count).toBe(items.length);
    await eventually(shown).toEqual(idsIn(items.slice(0, 40)));
    await browse.getByTestId('load-more').click();
    await eventually(shown).toEqual(idsIn(items.slice(0, 80)));

    // A split and a class of task 0: the items the database has with both.
    const validation = items.filter((i) => i.split === 'VALIDATION');
    const k = validation[0]!.labels.find((l) => l.task === 0)!.classIndex;
    await browse.getByTestId('filter-split').selectOption('VALIDATION');
    await browse.getByTestId('filter-task-0').selectOption(String(k));
    const matching = await db.item.findMany({
      where: { datasetId: dataset.id, split: 'VALIDATION', labels: { some: { task: 0, classIndex: k } } },
      orderBy: { line: 'asc' },
    });
    expect(matching.length).toBeGreaterThan(0);
    await eventually(shown).toEqual(idsIn(matching));
    expect(await count()).toBe(matching.length);
    for (const item of matching) {
      const caption = (await browse.getByTestId(`item-tile-${item.id}`).textContent()) ?? '';
      expect(caption).toContain('validation');
      expect(caption).toContain(tasks[0]!.classes[k]!);
    }

    // The bbox's shorter side between two bounds (the middle half of the validation items').
    await browse.getByTestId('filter-task-0').selectOption({ label: 'any' });
    const side = (i: { xmin: number; ymin: number; xmax: number; ymax: number }) => Math.min(i.xmax - i.xmin, i.ymax - i.ymin);
    const sides = validation.map(side).sort((a, b) => a - b);
    const [min, max] = [sides[Math.floor(sides.length / 4)]!, sides[Math.floor((sides.length * 3) / 4)]!];
    await browse.getByTestId('filter-min-side').fill(String(min));
    await browse.getByTestId('filter-max-side').fill(String(max));
    const sized = validation.filter((i) => side(i) >= min && side(i) <= max);
    expect(sized.length).toBeGreaterThan(0);
    expect(sized.length).toBeLessThan(validation.length);
    await eventually(shown).toEqual(idsIn(sized));

    // An item: its photo and box, its labels, and every stored prediction of it (right or wrong).
    const item = sized[0]!;
    await browse.getByTestId(`item-tile-${item.id}`).click();
    await eventually(() => new URL(page.url()).hash).toBe(`#/items/${item.id}`);
    const labels = page.getByTestId('item-labels');
    await labels.waitFor();
    const labelRows = await Promise.all((await labels.locator('tr').all()).map((tr) => tr.locator('td').allTextContents()));
    expect(labelRows).toEqual([...item.labels].sort((a, b) => a.task - b.task).map((l) => [tasks[l.task]!.name, tasks[l.task]!.classes[l.classIndex]!]));
    const rect = page.getByTestId(`photo-${item.id}`).getByTestId('photo-bbox');
    expect(await Promise.all(['x', 'y', 'width', 'height'].map(async (a) => Number(await rect.getAttribute(a))))).toEqual([
      item.xmin,
      item.ymin,
      item.xmax - item.xmin,
      item.ymax - item.ymin,
    ]);
    const predictions = await db.reportPrediction.findMany({ where: { itemId: item.id } });
    expect(predictions.length).toBeGreaterThan(0); // the fixture's report and its members' scored every validation item
    expect(await page.getByTestId('item-predictions').locator('tbody tr').count()).toBe(predictions.length);
    for (const p of predictions) {
      const text = (await page.getByTestId(`prediction-${p.reportId}-${p.task}`).textContent()) ?? '';
      expect(text).toContain(`${tasks[p.task]!.classes[p.predictedClass]!} (${pct(p.confidence)})`);
      expect(text.includes('✔'), `report ${p.reportId} task ${p.task}`).toBe(p.predictedClass === p.trueClass);
    }
    expect(await page.getByTestId('item-right').textContent()).toBe(
      `right in ${predictions.filter((p) => p.predictedClass === p.trueClass).length} of ${predictions.length} stored predictions`,
    );
    expect(await page.getByTestId('try-item').getAttribute('href')).toBe(`#/try?item=${item.id}`);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('classifies a picked item on the Try it page by its id, with its true labels beside the answer', async () => {
    const { db } = app.services;
    const dataset = await db.dataset.findUniqueOrThrow({ where: { id: fixture.datasetId } });
    const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    const validation = await db.item.findMany({ where: { datasetId: dataset.id, split: 'VALIDATION' }, include: { labels: true }, orderBy: { line: 'asc' } });
    const item = validation[1]!;
    const { page, problems } = await visit('try');
    // Unfolded, the picker shows the first dataset's validation items.
    await page.getByTestId('pick-open').click();
    await page.getByTestId(`pick-${item.id}`).click();
    await eventually(() => page.getByTestId('picked-item').textContent()).toContain(`item #${item.id}`);
    const sent = page.waitForRequest((r) => r.url().endsWith('/graphql') && (r.postData() ?? '').includes('classify('));
    await page.getByRole('button', { name: 'Classify' }).click();
    const prediction = page.getByTestId('prediction');
    await prediction.waitFor();
    // The item went by id, its own box left to the server: no image bytes.
    expect(JSON.parse((await sent).postData()!).variables.input.images).toEqual([{ itemId: String(item.id) }]);

    // The server's answer for that photo and box, asked here directly.
    const bytes = await readFile(path.join(dataset.imageRoot, item.imagePath));
    const direct = await app.services.classify.classify({
      images: [{ image: bytes, bbox: { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax } }],
    });
    const best = direct.results[0]!.map((t) => t.probabilities.indexOf(Math.max(...t.probabilities)));
    expect((await prediction.locator('h2').allTextContents()).slice(1)).toEqual(
      direct.results[0]!.map((t, i) => `${t.task}: ${t.classes[best[i]!]} (${pct(t.probabilities[best[i]!]!)})`),
    );
    for (const [t, task] of tasks.entries()) {
      const truth = item.labels.find((l) => l.task === t)!.classIndex;
      const right = direct.results[0]![t]!.classes[best[t]!] === task.classes[truth];
      expect(await page.getByTestId(`truth-${t}`).textContent()).toBe(`true: ${task.classes[truth]} ${right ? '✔ right' : '✘ wrong'}`);
    }

    // A random one of a class of task 0 (another class than the picked item's, so the new pick shows).
    const own = item.labels.find((l) => l.task === 0)!.classIndex;
    const k = validation.map((i) => i.labels.find((l) => l.task === 0)!.classIndex).find((c) => c !== own) ?? own;
    await page.getByTestId('random-task').selectOption('0');
    await page.getByTestId('random-class').selectOption(String(k));
    await page.getByTestId('random-item').click();
    const pickedId = async () => Number(((await page.getByTestId('picked-item').locator('a').getAttribute('href')) ?? '').replace('#/items/', ''));
    const pickedClass = async () => {
      const id = await pickedId();
      return validation.find((i) => i.id === id)?.labels.find((l) => l.task === 0)?.classIndex;
    };
    await eventually(pickedClass).toBe(k);
    // The answer of the other item is gone until this one is classified.
    expect(await page.getByTestId('prediction').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();

    // From the item view's link: #/try?item=ID starts from that item.
    const linked = await visit(`try?item=${item.id}`);
    await eventually(() => linked.page.getByTestId('picked-item').textContent()).toContain(`item #${item.id}`);
    expect(linked.problems).toEqual([]);
    await linked.page.close();
  });

  it('reviews suspect labels with a trainer token and applies them as a new version of the dataset', async () => {
    const { db } = app.services;
    const scanId = fixture.labelScan.id;
    const issues = await db.labelIssue.findMany({ where: { scanId }, orderBy: [{ task: 'asc' }, { rank: 'asc' }] });
    expect(issues.length).toBeGreaterThan(0);
    const task = issues[0]!.task;
    const ofTask = issues.filter((i) => i.task === task);
    const dataset = await db.dataset.findUniqueOrThrow({ where: { id: fixture.datasetId } });
    const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    const { page, problems } = await visit(`labels/${scanId}`);
    await page.getByLabel('API token').fill(fixture.trainer);
    await page.getByRole('button', { name: 'Use token' }).click();
    if (task !== 0) await page.getByRole('button', { name: new RegExp(`^${tasks[task]!.name} \\(`) }).click();
    const table = page.getByTestId('issues');
    await eventually(() => idsOf(table, 'issue-')).toEqual(ofTask.slice(0, 50).map((i) => String(i.id)));
    const first = table.getByTestId(`issue-${ofTask[0]!.id}`);
    expect(await first.textContent()).toContain(`${tasks[task]!.classes[ofTask[0]!.givenClass]} (${pct(ofTask[0]!.selfConfidence)})`);

    // Relabel the first (to a class that is neither given nor suggested, where there is one), exclude the second, keep the third.
    const K = tasks[task]!.classes.length;
    const to = [...Array(K).keys()].find((c) => c !== ofTask[0]!.givenClass && c !== ofTask[0]!.suggestedClass) ?? ofTask[0]!.suggestedClass;
    await first.getByTestId('relabel-to').selectOption(String(to));
    await first.getByTestId('relabel').click();
    await eventually(() => first.getByTestId('decision').textContent()).toBe(`relabelled to ${tasks[task]!.classes[to]}`);
    const decided: Record<string, string> = { [ofTask[0]!.id]: 'RELABEL' };
    if (ofTask[1]) {
      await table.getByTestId(`issue-${ofTask[1].id}`).getByTestId('exclude').click();
      await eventually(() => table.getByTestId(`issue-${ofTask[1]!.id}`).getByTestId('decision').textContent()).toBe('excluded');
      decided[ofTask[1].id] = 'EXCLUDE';
    }
    if (ofTask[2]) {
      await table.getByTestId(`issue-${ofTask[2].id}`).getByTestId('keep').click();
      await eventually(() => table.getByTestId(`issue-${ofTask[2]!.id}`).getByTestId('decision').textContent()).toBe('kept');
      decided[ofTask[2].id] = 'KEEP';
    }
    const stored = await db.labelIssue.findMany({ where: { id: { in: Object.keys(decided).map(Number) } } });
    expect(Object.fromEntries(stored.map((i) => [String(i.id), i.decision]))).toEqual(decided);
    expect(stored.find((i) => i.id === ofTask[0]!.id)!.relabelTo).toBe(to);

    // Apply: a new version, linked, with the relabelled item's new class and without the excluded one.
    await page.getByTestId('apply-review').click();
    const link = page.getByTestId('reviewed-dataset');
    await link.waitFor({ timeout: 30_000 });
    const version = await db.dataset.findFirstOrThrow({ where: { parentId: dataset.id } });
    expect(await link.getAttribute('href')).toBe(`#/datasets/${version.id}`);
    expect(version.version).toBe(dataset.version + 1);
    const excluded = ofTask[1] ? 1 : 0;
    expect(version.itemCount).toBe(dataset.itemCount - excluded);
    const line = async (itemId: number) => (await db.item.findUniqueOrThrow({ where: { id: itemId } })).line;
    const relabelled = await db.item.findFirstOrThrow({ where: { datasetId: version.id, line: await line(ofTask[0]!.itemId) }, include: { labels: true } });
    expect(relabelled.labels.find((l) => l.task === task)!.classIndex).toBe(to);
    if (ofTask[1]) expect(await db.item.count({ where: { datasetId: version.id, line: await line(ofTask[1].itemId) } })).toBe(0);
    // Decided for good: the buttons are off.
    expect(await first.getByTestId('keep').isDisabled()).toBe(true);

    // The new version's page says where it came from; the original lists the scan as applied.
    const versionPage = await visit(`datasets/${version.id}`);
    await versionPage.page.locator('main h1').waitFor();
    expect(await versionPage.page.locator('main').textContent()).toContain(`after ${dataset.name} (a re-import of changed content, or a label review)`);
    await versionPage.page.close();
    const original = await visit(`datasets/${dataset.id}`);
    await original.page.getByTestId('label-scans').waitFor();
    expect(await original.page.getByTestId('label-scans').textContent()).toContain(version.name);
    await original.page.close();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('uploads a dataset archive from the browser with a trainer token, and shows a refusal plainly', async () => {
    const { synthetic } = fixture;
    const rows = synthetic.rows.slice(0, 40);
    const csv = (await readFile(synthetic.csvPath, 'utf8')).trim().split('\n').slice(0, 41).join('\n');
    const entries = [
      { name: 'shop/train.csv', data: Buffer.from(`${csv}\n`) },
      ...(await Promise.all(
        rows.map(async (r) => ({ name: `shop/images/${r.imageName}`, data: await readFile(path.join(synthetic.imageRoot, r.imageName)) })),
      )),
    ];
    const archive = path.join(scratch.dir, 'browser-upload.tar.gz');
    await writeFile(archive, await tarArchive(entries));
    const { page, problems } = await visit('datasets');
    await page.getByLabel('API token').fill(fixture.trainer);
    await page.getByRole('button', { name: 'Use token' }).click();
    const form = page.getByTestId('upload-dataset');
    await form.locator('input[type=file]').setInputFiles(archive);
    await form.getByLabel('name').fill('from the browser');
    await form.getByRole('button', { name: 'Upload' }).click();
    await expect
      .poll(() => form.getByTestId('upload-message').textContent(), { timeout: 30_000 })
      .toMatch(/^imported dataset \d+ "from the browser" version 1: 40 items$/);
    const stored = await app.services.db.dataset.findFirstOrThrow({ where: { name: 'from the browser' } });
    expect(stored).toMatchObject({ itemCount: 40, imageRoot: '', csvPath: 'upload:browser-upload.tar.gz#shop/train.csv' });
    await expect.poll(() => page.getByTestId(`dataset-${stored.id}`).count()).toBe(1);

    const junk = path.join(scratch.dir, 'not-an-archive.zip');
    await writeFile(junk, 'image_name,BBox_xmin\n');
    await form.locator('input[type=file]').setInputFiles(junk);
    await form.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => form.getByTestId('upload-message').textContent(), { timeout: 15_000 }).toMatch(/not a \.zip, \.tar or \.tar\.gz archive/);
    expect(await form.getByTestId('upload-message').getAttribute('class')).toBe('error');
    expect(problems).toEqual([]);
    await page.close();
  });
  // Last: it adds an artifact and reports the tests above do not expect.
  it('shows an INT8 artifact on the leaderboard with its accuracy change against its fp32 parent', async () => {
    const parent = fixture.artifacts[0]!;
    const int8 = await app.services.quantization.quantize({ artifactId: parent.id, calibration: { items: 16 } });
    const change = (int8.quantization as unknown as QuantizationRecord).accuracy.find((a) => a.split === 'VALIDATION')!;
    const { page, problems } = await visit('compare');
    const row = page.getByTestId(`leader-a${int8.id}`);
    await row.waitFor();
    const f3 = (v: number) => v.toFixed(3);
    const signed = (v: number) => `${v >= 0 ? '+' : ''}${f3(v)}`;
    expect(await row.getByTestId('precision').textContent()).toBe(
      ` INT8 (ACSA ${signed(change.meanAcsaChange)}, top-1 ${signed(change.meanTop1Change)} vs fp32)`,
    );
    expect(await page.getByTestId(`leader-a${parent.id}`).getByTestId('precision').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  // After the INT8 one, and last of all: it moves champion, which is what classify answers by default.
  it('shows every alias with its live figures, changes and drift as the server has them, and undoes the last change', async () => {
    const { aliases, router, predictionLog, drift, db } = app.services;
    const [a, b] = fixture.artifacts as [(typeof fixture.artifacts)[number], (typeof fixture.artifacts)[number]];
    const ref = (kind: string, id: number, name: string) => `${kind} ${name} (#${id})`;
    await aliases.set('champion', { target: { kind: 'artifact', id: a.id }, candidate: null, mode: 'NONE', canaryPercent: 0, logRate: 1 }, 'dashboard test');
    await aliases.set(
      'champion',
      { target: { kind: 'artifact', id: b.id }, candidate: { kind: 'artifact', id: a.id }, mode: 'SHADOW', canaryPercent: 0, logRate: 1 },
      'dashboard test',
    );
    await aliases.set(
      'challenger',
      { target: { kind: 'ensemble', id: fixture.ensemble.id }, candidate: { kind: 'artifact', id: a.id }, mode: 'CANARY', canaryPercent: 25, logRate: 0 },
      'dashboard test',
    );
    // Three requests of four images through the serving path, shadowed by a; logged, every one.
    const rows = fixture.synthetic.rows;
    const photo = async (i: number) => ({ image: await readFile(path.join(fixture.synthetic.imageRoot, rows[i]!.imageName)), bbox: rows[i]!.bbox });
    for (const images of [[0, 1], [2], [3]]) await router.serve({ images: await Promise.all(images.map(photo)), model: 'champion', client: 'x' });
    await router.settled();
    await predictionLog.flush();
    const stored = await drift.report('champion', { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 1) });
    expect(stored.count).toBe(4);
    const live = router.comparison('champion');
    // Earlier tests asked champion too (then the default ensemble, before any alias): a side per role and model.
    expect(live.sides.filter((s) => s.model.kind === 'artifact').map((s) => [s.role, s.model.id])).toEqual([
      ['CHAMPION', b.id],
      ['SHADOW', a.id],
    ]);
    expect(live.shadow.scored).toBe(3);

    const { page, problems } = await visit('aliases');
    // Watching drift and undoing need a trainer token: the timeline makes the model score.
    await page.getByLabel('API token').fill(fixture.trainer);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.reload();
    const card = page.getByTestId('alias-champion');
    await card.waitFor();
    const f3 = (v: number) => v.toFixed(3);
    const pValue = (p: number) => (p === 0 ? '0' : p < 0.001 ? p.toExponential(2) : p.toFixed(3));
    const cells = async (table: Locator) => Promise.all((await table.locator('tbody tr').all()).map((tr) => tr.locator('td').allTextContents()));

    // What each alias says, with links to where the dashboard shows its models.
    expect(await card.getByTestId('target-champion').textContent()).toBe(ref('artifact', b.id, b.name));
    expect(await card.getByTestId('target-champion').getAttribute('href')).toBe(`#/runs/${b.runId}`);
    expect(await card.getByTestId('candidate-champion').textContent()).toBe(ref('artifact', a.id, a.name));
    expect(await card.getByTestId('mode-champion').textContent()).toBe('SHADOW');
    expect(await card.getByTestId('log-rate-champion').textContent()).toBe('100.0% of requests logged');
    const challenger = page.getByTestId('alias-challenger');
    expect(await challenger.getByTestId('target-challenger').textContent()).toBe(ref('ensemble', fixture.ensemble.id, fixture.ensemble.name));
    expect(await challenger.getByTestId('target-challenger').getAttribute('href')).toBe('#/ensembles');
    expect(await challenger.getByTestId('mode-challenger').textContent()).toBe('CANARY 25%');
    expect(await challenger.getByTestId('log-rate-challenger').textContent()).toBe('0.0% of requests logged');

    // The live table and the shadow's work are the router's own figures.
    expect(await cells(card.getByTestId('live-champion'))).toEqual(
      live.sides.map((s) => [
        s.role,
        `${s.model.kind} ${s.model.name} (#${s.model.id})`,
        String(s.requests),
        String(s.images),
        s.meanLatencyMs.toFixed(1),
        ...s.confidence.map((c) => f3(c.value)),
      ]),
    );
    expect(await cells(card.getByTestId('shadow-champion'))).toEqual([
      [String(live.shadow.scored), String(live.shadow.skipped), String(live.shadow.failed), ...live.shadow.agreement.map((t) => pct(t.value))],
    ]);

    // The changes, newest first, as stored.
    const alias = await aliases.get('champion');
    const history = await aliases.history(alias.id, 10);
    expect(history.length).toBeGreaterThanOrEqual(2);
    expect(await card.getByTestId('history-champion').locator('tbody tr').count()).toBe(history.length);
    const names = new Map([...fixture.artifacts.map((x) => [`artifact:${x.id}`, x.name] as const), [`ensemble:${fixture.ensemble.id}`, fixture.ensemble.name]]);
    const named = (r: { kind: string; id: number }) => ref(r.kind, r.id, names.get(`${r.kind}:${r.id}`)!);
    for (const change of history) {
      const before = change.before as { target: { kind: string; id: number } } | null;
      const after = change.after as { target: { kind: string; id: number } };
      const text = (await card.getByTestId(`change-${change.id}`).textContent()) ?? '';
      expect(text).toContain(change.actor);
      expect(text).toContain(`${before ? named(before.target) : '(created)'} → ${named(after.target)}`);
    }
    expect(await card.getByTestId(`change-${history[0]!.id}`).textContent()).toContain(`SHADOW ${ref('artifact', a.id, a.name)}`);

    // The newest stored drift report, feature by feature.
    const report = await db.driftReport.findFirstOrThrow({ where: { alias: 'champion' }, orderBy: { id: 'desc' } });
    expect(report.id).toBe(stored.id);
    const body = report.body as unknown as DriftBody;
    expect(await card.getByTestId('drift-summary-champion').textContent()).toContain(
      `Report #${report.id}: ${report.count} predictions of ${ref('artifact', b.id, b.name)}`,
    );
    expect(await cells(card.getByTestId('drift-tasks-champion'))).toEqual(
      body.tasks.map((t) => [t.task, f3(t.psi), pValue(t.pValue), t.drifted ? 'drifted' : 'no']),
    );
    expect(await cells(card.getByTestId('drift-inputs-champion'))).toEqual(
      body.inputs.map((i) => [i.statistic, f3(i.referenceMean), f3(i.windowMean), f3(i.psi), f3(i.ks), pValue(i.pValue), i.drifted ? 'drifted' : 'no']),
    );

    // The timeline: one bar per window asked for (12 by default), each window the server's.
    const [BAR, RED, GREY] = ['#3b6fd4', '#d9534f', '#9aa5b1']; // on the page: judged, drifted, too few to judge
    const bars = (chart: Locator) => chart.locator(`path[fill="${BAR}"], path[fill="${RED}"], path[fill="${GREY}"]`).count();
    const timeline = card.getByTestId('timeline-champion');
    await timeline.locator('svg').waitFor({ timeout: 60_000 });
    expect(await bars(timeline)).toBe(12);
    await card.getByTestId('span-buckets').fill('5');
    await card.getByTestId('span-hours').fill('2');
    await card.getByTestId('span-draw').click();
    await eventually(() => card.getByTestId('timeline-table-champion').locator('tbody tr').count()).toBe(5);
    await eventually(() => bars(timeline)).toBe(5);
    const shown = await card.getByTestId('timeline-table-champion').locator('tbody tr').all();
    const edges = await Promise.all(shown.map(async (tr) => Promise.all([0, 1].map(async (n) => (await tr.locator('td').nth(n).getAttribute('title'))!))));
    const windows = await drift.timeline('champion', { from: new Date(edges[0]![0]!), to: new Date(edges[4]![1]!), buckets: 5 });
    const largest = (w: (typeof windows)[number]) => Math.max(0, ...w.body.tasks.map((t) => t.psi), ...w.body.inputs.map((i) => i.psi));
    expect((await cells(card.getByTestId('timeline-table-champion'))).map((row) => row.slice(2))).toEqual(
      windows.map((w) => [String(w.count), f3(largest(w)), w.body.enough ? 'yes' : 'too few', w.drifted ? 'drifted' : 'no']),
    );
    expect(windows.reduce((sum, w) => sum + w.count, 0)).toBe(4);

    // Undo: champion goes back to a alone, in the database and on the page.
    await card.getByTestId('undo-champion').click();
    await eventually(async () => {
      const now = await aliases.get('champion');
      return [now.targetKind, now.targetId, now.mode, now.candidateId];
    }).toEqual(['artifact', a.id, 'NONE', null]);
    await eventually(() => card.getByTestId('target-champion').textContent()).toBe(ref('artifact', a.id, a.name));
    expect(await card.getByTestId('undo-message-champion').textContent()).toBe(`undone: champion now points at ${ref('artifact', a.id, a.name)}`);
    const undo = (await aliases.history(alias.id, 1))[0]!;
    expect(undo.undoes).toBe(history[0]!.id);
    expect(await card.getByTestId(`change-${undo.id}`).textContent()).toContain(`undoes #${history[0]!.id}`);
    expect(await card.getByTestId(`change-${history[0]!.id}`).textContent()).toContain('undone');
    expect(problems).toEqual([]);
    await page.close();
  });
});
