// `fashion-how train` on PostgreSQL, where it is not the in-process queue of SQLite: the command queues
// its runs on the job queue, works them itself while it follows them (no other worker is running), and
// prints the same plain lines. Everything else the CLI does reads and writes the same rows on either
// database and is tested once, on SQLite, in cli.test.ts (which also trains through SQLite's queue).
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { type CliResult, runCli } from './fixtures/cli.js';
import { trainTinyComboAndList } from './fixtures/cliTrain.js';
import { seedTestDatabase, TEST_DATABASE, testDatabaseUrl, useScratchDir } from './helpers.js';

const scratch = useScratchDir();
beforeAll(() => seedTestDatabase(path.join(scratch.dir, 'data')));

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, {
    ...process.env,
    FASHION_HOW_DATA_DIR: path.join(scratch.dir, 'data'),
    DATABASE_URL: testDatabaseUrl(path.join(scratch.dir, 'data')),
    LOG_LEVEL: 'silent',
  });
}

describe('fashion-how train on PostgreSQL', () => {
  it('queues a combo on the job queue, works it in the same process and follows it to the end, then lists it', async () => {
    expect(TEST_DATABASE).toBe('postgresql');
    const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 2, minSide: 64, maxSide: 96 });
    const imported = await cli('import', synthetic.csvPath, '--name', 'cli set');
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported dataset 1, version 1 \(digest [0-9a-f]{12}\): 60 items/);
    await trainTinyComboAndList(cli);
  });
});
