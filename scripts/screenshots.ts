// `npm run screenshots`: the dashboard's pages at 1280x800, from a fresh fixture database, into
// screenshots/ (for reviewing the look; not a test).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../src/api/server.js';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { modelCardHtml } from '../src/reports/modelCard.js';
import { buildDashboardFixture } from '../test/web/fixture.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-screenshots-'));
const out = path.resolve('screenshots');
await mkdir(out, { recursive: true });
const app = await openApp(loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'data'), PORT: '0', LOG_LEVEL: 'silent' }));
const server = await startServer(app);
const fixture = await buildDashboardFixture(app, dir);
// A fitted ensemble with logit adjustment, and its report with both decisions.
const fitted = await app.services.fitter.fit({
  name: 'fitted pair',
  artifactIds: fixture.artifacts.map((a) => a.id),
  datasetId: fixture.datasetId,
  logitAdjustment: true,
});
const adjustedReport = await app.services.evaluation.evaluate({ ensembleId: fitted.id, datasetId: fixture.datasetId, split: 'VALIDATION' });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const pages: [string, string][] = [
  ['datasets', 'datasets'],
  ['runs', 'runs'],
  [`runs/${fixture.runs[0]!.id}`, 'run'],
  ['reports', 'reports'],
  [`reports/${fixture.report.id}`, 'report'],
  [`reports/${adjustedReport.id}`, 'report-fitted'],
  ['ensembles', 'ensembles'],
  [`compare/${fixture.runs.map((r) => r.id).join(',')}`, 'compare'],
  ['try', 'try-it'],
];
for (const [hash, name] of pages) {
  await page.goto(`${server.url}/#/${hash}`);
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(out, `${name}.png`) });
  console.log(`wrote screenshots/${name}.png`);
  if (name === 'compare') await page.screenshot({ path: path.join(out, 'compare-full.png'), fullPage: true });
}
const row = fixture.synthetic.rows[0]!;
await page.goto(`${server.url}/#/try`);
await page.getByTestId('upload').setInputFiles(path.join(fixture.synthetic.imageRoot, row.imageName));
for (const key of ['xmin', 'ymin', 'xmax', 'ymax'] as const) await page.getByTestId(`bbox-${key}`).fill(String(row.bbox[key]));
await page.getByRole('button', { name: 'Classify' }).click();
await page.getByTestId('saliency-0').waitFor();
await page.waitForTimeout(500);
await page.screenshot({ path: path.join(out, 'try-it-answer.png') });
await page.screenshot({ path: path.join(out, 'try-it-answer-full.png'), fullPage: true });
console.log('wrote screenshots/try-it-answer.png and try-it-answer-full.png');
// The model card as a colleague opens it: from disk, nothing else.
const card = path.join(out, 'model-card.html');
await writeFile(card, await modelCardHtml(app.services, fixture.report.id));
await page.goto(`file://${card}`);
await page.screenshot({ path: path.join(out, 'model-card.png') });
await page.screenshot({ path: path.join(out, 'model-card-full.png'), fullPage: true });
console.log('wrote screenshots/model-card.html, model-card.png and model-card-full.png');
await browser.close();
await server.close();
await app.close();
await rm(dir, { recursive: true, force: true });
