import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_PROFILES, DEFAULT_PROFILE_ID, SeasonProfiles, submissionColumns, validateProfile } from '../../src/seasons/profiles.js';
import { judgeModel } from '../../src/seasons/verdict.js';
import { useScratchDir } from '../helpers.js';

// Season profiles against hand cases: what the 2024 sub-task 1 rules accept and refuse, with the reason.
const scratch = useScratchDir();
const seasons = new SeasonProfiles(BUILT_IN_PROFILES);
const season2024 = seasons.get('2024-subtask1');
const season2022 = seasons.get('2022');

describe('season profiles', () => {
  it('the 2024 profile rejects an ensemble, saying why', () => {
    const verdict = judgeModel(season2024, { models: 4, sizeMb: 20, cpuLatencyMs: 12, classCounts: [6, 5, 3] });
    expect(verdict.accepted).toBe(false);
    expect(verdict.reasons).toEqual(['an ensemble of 4 models; 2024-subtask1 allows one model, no ensembles']);
  });

  it('the 2024 profile rejects a 30 MB model, saying why', () => {
    const verdict = judgeModel(season2024, { models: 1, sizeMb: 30, cpuLatencyMs: 12, classCounts: [6, 5, 3] });
    expect(verdict.accepted).toBe(false);
    expect(verdict.reasons).toEqual(['30.0 MB over the 25 MB limit']);
  });

  it('the 2024 profile accepts a single 20 MB model measured on CPU', () => {
    const verdict = judgeModel(season2024, { models: 1, sizeMb: 20, cpuLatencyMs: 12, classCounts: [6, 5, 3] });
    expect(verdict).toMatchObject({ profileId: '2024-subtask1', accepted: true, reasons: [] });
    expect(verdict.checks.map((c) => [c.rule, c.ok])).toEqual([
      ['models', true],
      ['size', true],
      ['labels', true],
      ['device', true],
    ]);
  });

  it('the 2024 profile rejects the 7/6/3 label space and an unmeasured latency; 2022 takes ensembles of any size', () => {
    const verdict = judgeModel(season2024, { models: 1, sizeMb: 20, cpuLatencyMs: null, classCounts: [7, 6, 3] });
    expect(verdict.reasons).toEqual(["label space 7/6/3, the season's is 6/5/3", 'CPU latency not measured on this host (evaluate the model to measure it)']);
    expect(judgeModel(season2022, { models: 4, sizeMb: 400, cpuLatencyMs: null, classCounts: [7, 6, 3] }).accepted).toBe(true);
    expect(judgeModel(season2022, { models: 1, sizeMb: 4, cpuLatencyMs: null, classCounts: [6, 5, 3] }).accepted).toBe(false);
  });

  it('a per-image time limit is judged against the latency measured here', () => {
    const timed = { ...season2024, id: 'timed', latencyLimitMs: 50 };
    expect(judgeModel(timed, { models: 1, sizeMb: 5, cpuLatencyMs: 60 }).reasons).toEqual(['60.00 ms per image on this host, over the 50 ms limit']);
    expect(judgeModel(timed, { models: 1, sizeMb: 5, cpuLatencyMs: 40 }).accepted).toBe(true);
  });

  it("says which facts are sourced and which assumed, and writes the harness's columns", () => {
    for (const profile of BUILT_IN_PROFILES) {
      expect(profile.sources.some((s) => s.status === 'sourced')).toBe(true);
      expect(profile.sources.some((s) => s.status === 'assumed')).toBe(true);
      expect(submissionColumns(profile)).toEqual(['image_name', 'daily', 'gender', 'embel']);
    }
    expect(season2024.tasks.map((t) => t.classCount)).toEqual([6, 5, 3]);
    expect(season2022.tasks.map((t) => t.classCount)).toEqual([7, 6, 3]);
    expect(seasons.of({ seasonProfile: null })).toEqual({ profile: seasons.get(DEFAULT_PROFILE_ID), declared: false });
  });

  it("reads a user's profiles from a folder and refuses a bad one by name and field", async () => {
    const dir = path.join(scratch.dir, 'seasons');
    await mkdir(dir, { recursive: true });
    const mine = {
      id: 'my-league',
      tasks: [{ name: 'Daily', column: 'd', classCount: 7 }],
      ensemblesAllowed: false,
      sizeLimitMb: 10,
      device: 'cpu',
      runsModel: true,
    };
    await writeFile(path.join(dir, 'mine.json'), JSON.stringify(mine));
    const loaded = await SeasonProfiles.load(dir);
    expect(loaded.get('my-league')).toMatchObject({ sizeLimitMb: 10, ensemblesAllowed: false, device: 'cpu', origin: path.join(dir, 'mine.json') });
    expect(submissionColumns(loaded.get('my-league'))).toEqual(['image_name', 'd']);
    expect(() => loaded.get('2025')).toThrow('unknown season profile "2025". Choose one of: 2022, 2024-subtask1, my-league');

    expect(() => validateProfile({ ...mine, sizeLimitMb: -1 }, 'x.json')).toThrow(
      'season profile x.json: sizeLimitMb must be a positive number or null, got -1',
    );
    expect(() => validateProfile({ ...mine, tasks: [{ name: 'Daily', column: 'd', classCount: 1 }] }, 'x.json')).toThrow(
      'season profile x.json: tasks[0].classCount must be an integer of at least 2, got 1',
    );
    await writeFile(path.join(dir, 'taken.json'), JSON.stringify({ ...mine, id: '2022' }));
    await expect(SeasonProfiles.load(dir)).rejects.toThrow(`season profile ${path.join(dir, 'taken.json')} reuses the id "2022" of built-in`);
  });
});
