import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { openTestApp, useScratchDir } from '../helpers.js';
import { buildDashboardFixture } from './fixture.js';

// The built dashboard (web/dist, made by `npm test`'s build) in Debian's Chromium against a real server.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let browser: Browser;
let fixture: Awaited<ReturnType<typeof buildDashboardFixture>>;

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

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
    for (const hash of ['datasets', 'runs', `runs/${fixture.runs[0]!.id}`, 'reports', `reports/${fixture.report.id}`, 'ensembles', 'try']) {
      const { page, problems } = await visit(hash);
      await page.waitForSelector('main h1');
      expect(problems, hash).toEqual([]);
      await page.close();
    }
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
    expect(problems).toEqual([]);
    await page.close();
  });

  it("updates the Runs page from the subscription: a run's new status shows without another HTTP query", async () => {
    const run = await app.services.db.trainingRun.create({ data: { datasetId: fixture.datasetId, backbone: 'resnet18', head: 'residual', status: 'QUEUED', config: {} } });
    const { page, problems } = await visit('runs');
    const posts: string[] = [];
    page.on('request', (request) => request.url().endsWith('/graphql') && request.method() === 'POST' && posts.push(request.postData() ?? ''));
    const status = page.getByTestId(`run-${run.id}`).getByTestId('run-status');
    expect(await status.textContent()).toBe('QUEUED');
    await expect.poll(() => page.getByTestId('runs-live').textContent()).toMatch(/^Live/);
    await app.services.training.cancel(run.id);
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('CANCELLED');
    // Longer than the 2 s the page used to poll at: still not a single query.
    await page.waitForTimeout(2500);
    expect(posts).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('polls the Runs page instead when a proxy blocks the WebSocket', async () => {
    const run = await app.services.db.trainingRun.create({ data: { datasetId: fixture.datasetId, backbone: 'resnet18', head: 'residual', status: 'QUEUED', config: {} } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.routeWebSocket(/\/graphql$/, (socket) => socket.close({ code: 1006 }));
    const posts: string[] = [];
    page.on('request', (request) => request.url().endsWith('/graphql') && request.method() === 'POST' && posts.push(request.postData() ?? ''));
    await page.goto(`${server.url}/#/runs`);
    await expect.poll(() => page.getByTestId('runs-live').textContent()).toMatch(/^Updates every 2 s/);
    await app.services.training.cancel(run.id);
    await expect.poll(() => page.getByTestId(`run-${run.id}`).getByTestId('run-status').textContent(), { timeout: 10_000 }).toBe('CANCELLED');
    expect(posts.filter((body) => body.includes('runsConnection')).length).toBeGreaterThan(1);
    await page.close();
  });

  it('pages through the runs, newest first, 50 at a time', async () => {
    await app.services.db.trainingRun.createMany({ data: Array.from({ length: 55 }, () => ({ datasetId: fixture.datasetId, backbone: 'resnet18', head: 'feedforward', status: 'CANCELLED', config: {} })) });
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
    await page.getByTestId('start-training').getByRole('button', { name: /^Start 1 run/ }).click();
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
    expect(shown).toContain(`fitted for MEAN_ACSA on synthetic fixture VALIDATION (${fit.itemCount} items): ${fit.score.toFixed(3)}, best member ${fit.bestMember.score.toFixed(3)}`);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a run preparing its images, and what the pixel cache did for a finished run', async () => {
    // The first fixture run built the cache, the second found every image in it.
    const [first, second] = await Promise.all(fixture.runs.map((r) => app.services.training.get(r.id)));
    const caches = [first!, second!].map((r) => (r.progress as { imageCache: { items: number; built: number; reused: number } }).imageCache);
    expect(caches.map((c) => [c.built, c.reused])).toEqual([[caches[0]!.items, 0], [0, caches[0]!.items]]);
    const { page } = await visit(`runs/${first!.id}`);
    expect(await page.getByTestId('image-cache').textContent()).toMatch(new RegExp(`^images: ${caches[0]!.items} from the pixel cache \\(decoded ${caches[0]!.items} at \\d+ images/s, 0 reused, `));
    await page.close();

    const preparing = await app.services.db.trainingRun.create({
      data: { datasetId: fixture.datasetId, backbone: 'resnet50', head: 'residual', status: 'RUNNING', config: first!.config as object,
              progress: { phase: 'PREPARING_IMAGES', prepared: 3200, toPrepare: 14000, epoch: 0, step: 0, totalSteps: 0, loss: null, imagesPerSecond: null, lr: null, updatedAt: new Date().toISOString() } },
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
});
