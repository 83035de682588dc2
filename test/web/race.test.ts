// A race on the dashboard, in Debian's Chromium against a real server: every rung's entries with the
// figures, decisions and reasons stored with the race, and its outcome.
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import type { RankedEntry } from '../../src/training/race.js';
import { importSmallSynthetic } from '../fixtures/training.js';
import { openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let browser: Browser;
let raceId: number;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  const datasetId = await importSmallSynthetic(app, scratch.dir, { count: 80, seed: 5, difficulty: 'silhouette' });
  // 1200 s: three candidates in rung 0 and two finalists (each run capped at one epoch, so it ends in seconds).
  raceId = (await app.services.races.start({ datasetId, budgetSeconds: 1200, preset: 'fast', options: { epochs: 1, threads: 1 } })).id;
  await app.services.races.waitFor(raceId);
  server = await startServer(app);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await app?.close();
});

describe('a race on the dashboard', () => {
  it("shows each rung's entries with their stored figure, decision and reason, and the best model", async () => {
    const { race } = await app.services.races.get(raceId);
    expect(race.status).toBe('SUCCEEDED');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${server.url}/#/sweeps/${raceId}`);
    await page.getByTestId('race').waitFor();
    const last = race.rungs.length - 1;
    for (const rung of race.rungs) {
      await page.getByTestId(`race-rung-${rung.rung}`).waitFor();
      for (const entry of rung.entries as RankedEntry[]) {
        const cells = await page.getByTestId(`race-entry-${entry.runId}`).locator('td').allTextContents();
        const candidate = race.candidates[entry.candidate]!;
        expect(cells[0]).toBe(`${candidate.backbone} @ ${candidate.imageSize} px`);
        expect(cells[2]).toBe(entry.score === null ? '–' : entry.score.toFixed(3));
        expect(cells[3]).toBe(rung.rung === last ? (entry.kept ? 'best' : 'finalist') : entry.kept ? 'goes on' : 'stops');
        expect(cells[4]).toBe(entry.reason);
      }
    }
    const text = (await page.getByTestId('race').textContent()) ?? '';
    expect(text).toContain(`run #${race.best!.runId}`);
    expect(text).toContain(`ensemble race ${raceId} finalists`);
    expect(problems).toEqual([]);
  }, 120_000);
});
