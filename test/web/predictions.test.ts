// Prediction jobs and season verdicts on the dashboard, in Debian's Chromium against a real server: a job
// started from a prediction set's page runs to the end on the page without a reload and its tables
// download byte for byte as stored; a season set on a dataset's page is stored, and the report, the
// leaderboard and the models page say whether that season accepts each model and why not; the predict
// form refuses a model the season rejects until told to ignore the verdict, and the job then says so.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import type { SeasonVerdict } from '../../src/seasons/verdict.js';
import { importSmallSynthetic, importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { openTestApp, useScratchDir } from '../helpers.js';

const PREDICTION_SET_ITEMS = 30;
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let browser: Browser;
let trainer: string;
let predictionSetId: number;
let labelledId: number;
let artifactIds: number[];
let ensembleId: number;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  await app.services.predictions.startWorker();
  server = await startServer(app);
  // The organisers' test CSV: image and bbox, no label columns.
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'unlabelled'), count: PREDICTION_SET_ITEMS, seed: 37, minSide: 48, maxSide: 64 });
  const csv = path.join(scratch.dir, 'unlabelled', 'test.csv');
  const lines = synthetic.rows.map((r) => [`"${r.imageName}"`, r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax].join(','));
  await writeFile(csv, `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax\n${lines.join('\n')}\n`);
  ({ datasetId: predictionSetId } = await importDataset({ csvPath: csv, imageRoot: synthetic.imageRoot, name: 'test photos' }, app.services.importContext));
  labelledId = await importSmallSynthetic(app, path.join(scratch.dir, 'labelled'), { count: 40, seed: 38 });
  artifactIds = await importTinyPair(app);
  ({ id: ensembleId } = await app.services.ensembles.create({ name: 'pair', members: artifactIds.map((artifactId) => ({ artifactId, weight: 1 })) }));
  await app.services.evaluation.evaluate({ ensembleId, datasetId: labelledId, split: 'VALIDATION' });
  trainer = (await app.services.tokens.create('dashboard', 'trainer')).token;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await app?.close();
});

/** A page with the trainer token saved (as the token box saves it) and its errors collected. */
async function visit(hash: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${server.url}/#/datasets`);
  await page.getByLabel('API token').fill(trainer);
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.goto(`${server.url}/#/${hash}`);
  return { page, problems };
}

const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 60_000, interval: 250 });

/** The dashboard's words for a verdict, built here from the server's own judgement. */
const expectedText = (v: SeasonVerdict) => {
  const name = app.services.seasons.profiles.get(v.profileId).name;
  return v.accepted ? `✔ accepted by ${name}` : `✘ rejected by ${name}: ${v.reasons.join('; ')}`;
};

describe('prediction jobs and seasons on the dashboard', () => {
  it("starts a job from a prediction set's page, follows it to the end without a reload, and downloads its tables as stored", async () => {
    const { page, problems } = await visit(`datasets/${predictionSetId}`);
    await expect.poll(() => page.getByTestId('prediction-set').textContent()).toBe('prediction set');
    await page.getByTestId('no-prediction-jobs').waitFor();
    await page.getByTestId('predict-model').selectOption(`e:${ensembleId}`);
    await page.getByTestId('predict-start').click();
    await eventually(() => page.getByTestId('predict-message').textContent()).toMatch(/^prediction job #\d+ queued$/);
    const jobId = Number(/#(\d+)/.exec((await page.getByTestId('predict-message').textContent())!)![1]);
    const row = page.getByTestId(`prediction-job-${jobId}`);
    await eventually(() => row.getByTestId('prediction-status').textContent()).toBe('SUCCEEDED');
    const job = await app.services.predictions.get(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', itemsDone: PREDICTION_SET_ITEMS, itemCount: PREDICTION_SET_ITEMS, datasetId: predictionSetId });
    expect(await row.getByTestId('prediction-progress').textContent()).toBe(`${PREDICTION_SET_ITEMS} / ${PREDICTION_SET_ITEMS}`);
    expect(await row.locator('td').nth(1).textContent()).toBe(`ensemble pair (#${ensembleId})`);

    for (const format of ['csv', 'jsonl'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId(`download-${format}-${jobId}`).click()]);
      expect(download.suggestedFilename()).toBe(`predictions-${jobId}.${format}`);
      const stored = await readFile((await app.services.predictions.table(jobId, format)).file);
      expect(await readFile((await download.path())!)).toEqual(stored);
    }
    // The list of every job says the same.
    await page.goto(`${server.url}/#/predictions`);
    await eventually(() => page.getByTestId(`prediction-job-${jobId}`).getByTestId('prediction-status').textContent()).toBe('SUCCEEDED');
    expect(await page.getByTestId(`prediction-job-${jobId}`).locator('td').nth(1).textContent()).toBe('test photos');
    expect(problems).toEqual([]);
  }, 120_000);

  it("sets a dataset's season and shows, per model, whether it is accepted and why not", async () => {
    const { page, problems } = await visit(`datasets/${labelledId}`);
    await expect.poll(() => page.getByTestId('dataset-season').textContent()).toContain('No season declared');
    expect(await page.getByTestId('prediction-set').count()).toBe(0);
    await page.getByTestId('season-select').selectOption('2024-subtask1');
    await page.getByTestId('season-save').click();
    await eventually(() => page.getByTestId('dataset-season').textContent()).toContain('(2024-subtask1)');
    expect((await app.services.db.dataset.findUniqueOrThrow({ where: { id: labelledId } })).seasonProfile).toBe('2024-subtask1');
    expect(await page.getByTestId('season-rules').textContent()).toContain('one model, no ensembles');

    // The ensemble's report: the 2024 season takes one model, and (declared) a 6/5/3 label space.
    const report = await app.services.db.evaluationReport.findFirstOrThrow({ where: { ensembleId, parentReportId: null } });
    const verdict = await app.services.seasons.judgeReport(report);
    expect(verdict.accepted).toBe(false);
    expect(verdict.reasons.join(' ')).toMatch(/ensemble/i);
    await page.goto(`${server.url}/#/reports/${report.id}`);
    await eventually(() => page.getByTestId('report-season').textContent()).toBe(expectedText(verdict));

    // The leaderboard's rows: the ensemble's report and each member's, all judged in one request.
    await page.goto(`${server.url}/#/compare`);
    for (const r of [report, ...(await app.services.db.evaluationReport.findMany({ where: { parentReportId: report.id } }))]) {
      const v = await app.services.seasons.judgeReport(r);
      const cell = page.getByTestId(`leader-${r.ensembleId ? `e${r.ensembleId}` : `a${r.artifactId}`}`).getByTestId('leader-season');
      await eventually(() => cell.textContent()).toBe(v.accepted ? '✔ accepted' : `✘ ${v.reasons.join('; ')}`);
    }

    // An alias, judged by the profile picked on the page: 2024 refuses the ensemble, 2022 takes it.
    await app.services.aliases.set(
      'champion',
      { target: { kind: 'ensemble', id: ensembleId }, candidate: null, mode: 'NONE', canaryPercent: 0, logRate: 0 },
      'test',
    );
    await page.goto(`${server.url}/#/aliases`);
    const byDefault = await app.services.seasons.judge({ kind: 'ensemble', id: ensembleId });
    await eventually(() => page.getByTestId('season-champion').textContent()).toBe(expectedText(byDefault));
    expect(byDefault.accepted).toBe(false);
    await page.getByTestId('aliases-season').selectOption('2022');
    const in2022 = await app.services.seasons.judge({ kind: 'ensemble', id: ensembleId }, app.services.seasons.profiles.get('2022'));
    expect(in2022.accepted).toBe(true);
    await eventually(() => page.getByTestId('season-champion').textContent()).toBe(expectedText(in2022));
    expect(problems).toEqual([]);
  }, 120_000);

  it("refuses a model the dataset's season rejects from the predict form, and marks the job that overrode the verdict", async () => {
    // The season set on the page above: 2024 takes one model, of its own 6/5/3 label space.
    const { page, problems } = await visit(`datasets/${labelledId}`);
    await page.getByTestId('predict-model').selectOption(`e:${ensembleId}`);
    await page.getByTestId('predict-start').click();
    await eventually(() => page.getByTestId('predict-message').textContent()).toContain(
      `dataset ${labelledId} is entered in season 2024-subtask1, which rejects ensemble ${ensembleId} ("pair"): models: an ensemble of 2 models`,
    );
    expect(await app.services.db.predictionJob.count({ where: { datasetId: labelledId } })).toBe(0);

    await page.getByTestId('predict-ignore-season').check();
    await page.getByTestId('predict-start').click();
    await eventually(() => page.getByTestId('predict-message').textContent()).toMatch(/^prediction job #\d+ queued against season 2024-subtask1's rules$/);
    const jobId = Number(/#(\d+)/.exec((await page.getByTestId('predict-message').textContent())!)![1]);
    const verdict = await app.services.seasons.judge({ kind: 'ensemble', id: ensembleId }, app.services.seasons.profiles.get('2024-subtask1'));
    const reasons = verdict.checks.filter((c) => !c.ok).map((c) => `${c.rule}: ${c.detail}`);
    expect(reasons.map((r) => r.split(':')[0])).toEqual(['models', 'labels']);
    expect(await app.services.predictions.get(jobId)).toMatchObject({ seasonProfile: '2024-subtask1', seasonReasons: reasons, seasonOverridden: true });
    await eventually(() => page.getByTestId(`prediction-job-${jobId}`).getByTestId('prediction-season').textContent()).toBe(
      `season 2024-subtask1 rejects it, overridden: ${reasons.join('; ')}`,
    );
    await app.services.predictions.waitFor([jobId]);
    expect(problems).toEqual([]);
  }, 120_000);
});
