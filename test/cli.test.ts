import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from './fixtures/cli.js';
import { trainTinyComboAndList } from './fixtures/cliTrain.js';
import { seedTestDatabase, testDatabaseUrl, useScratchDir } from './helpers.js';

// Runs the built command exactly as a user would (npm test builds dist/ first).
const scratch = useScratchDir();
beforeAll(() => seedTestDatabase(path.join(scratch.dir, 'data')));

function cli(...args: string[]): Promise<CliResult> {
  return cliWith({}, ...args);
}

function cliWith(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return runCli(args, {
    ...process.env,
    FASHION_HOW_DATA_DIR: path.join(scratch.dir, 'data'),
    DATABASE_URL: testDatabaseUrl(path.join(scratch.dir, 'data')),
    LOG_LEVEL: 'silent',
    ...env,
  });
}

describe('fashion-how CLI', () => {
  it('generates, imports, re-detects and lists a synthetic dataset', async () => {
    const out = path.join(scratch.dir, 'synth');
    const synth = await cli('synth', '--out', out, '--count', '60', '--seed', '2', '--min-side', '64', '--max-side', '96');
    expect(synth.code).toBe(0);
    expect(synth.stdout).toContain('wrote 60 images');
    // Not a terminal: progress comes as plain lines, not a redrawn bar.
    expect(synth.stderr).toMatch(/^synth: 60\/60$/m);

    const imported = await cli('import', path.join(out, 'train.csv'), '--name', 'cli set');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/imported dataset 1, version 1 \(digest [0-9a-f]{12}\): 60 items/);

    const again = await cli('import', path.join(out, 'train.csv'));
    expect(again.stdout).toMatch(/this content was imported before \(digest [0-9a-f]{12}\): dataset 1 \(version 1\)/);

    const list = await cli('datasets');
    expect(list.stdout).toMatch(/^\s*1\s+cli set\s+60\s+0\s/m);

    const shown = await cli('dataset', '1');
    expect(shown.stdout).toMatch(/dataset 1 "cli set" version 1 \(digest [0-9a-f]{64}\): 60 items \(train 45, validation 15\)/);
    expect(shown.stdout).toMatch(/Daily: 60 labels/);
    expect(shown.stdout).toMatch(/^1\s+light outing\s+\d+\s+\d+\.\d%$/m);
  });

  it('trains a combo and follows it to the end, then lists it', async () => {
    await trainTinyComboAndList(cli);
    const csv = (await readFile(path.join(scratch.dir, 'synth', 'train.csv'), 'utf8')).trim().split('\n')[1]!.split(',');
    const classified = await cli(
      'classify',
      '--artifact',
      '1',
      '--image',
      path.join(scratch.dir, 'synth', 'images', csv[0]!),
      '--bbox',
      csv.slice(1, 5).join(','),
    );
    expect(classified.code, classified.stderr).toBe(0);
    expect(classified.stdout).toMatch(/^artifact 1 "mobilenet_v3_small\+feedforward \(run 1\)"$/m);
    expect(classified.stdout).toMatch(/^Daily: .+ \(\d+\.\d%\)$/m);
    expect(classified.stdout).toMatch(/^Embellishment: /m);
    const evaluated = await cli('evaluate', '--run', '1');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toMatch(/^report \d+: run 1 \(artifact 1\) on dataset 1, split VALIDATION, 15 items/m);
    expect(evaluated.stdout).toMatch(/^Daily\s+\d\.\d{3}\s+\[\d\.\d{3}, \d\.\d{3}\]/m);
    const reportId = evaluated.stdout.match(/^report (\d+):/m)![1]!;
    const csvFile = path.join(scratch.dir, 'report.csv');
    expect((await cli('report', reportId, '--csv', csvFile)).code).toBe(0);
    const csvRows = (await readFile(csvFile, 'utf8')).trim().split('\n');
    expect(csvRows[0]).toBe('report,task,class_index,class,support,predicted,precision,recall,f1,specificity,task_top1,task_acsa');
    expect(csvRows).toHaveLength(1 + 7 + 6 + 3);
    const json = JSON.parse((await cli('report', reportId, '--json')).stdout);
    expect(json.confusionMatrices.map((m: { rows: number[][] }) => m.rows.flat().reduce((a, b) => a + b, 0))).toEqual([15, 15, 15]);
    // The model card of a single small model: its numbers, and the 2024 rules met.
    const htmlFile = path.join(scratch.dir, 'card.html');
    const carded = await cli('report', reportId, '--html', htmlFile);
    expect(carded.code, carded.stderr).toBe(0);
    expect(carded.stderr).toContain(`wrote ${htmlFile}`);
    const html = await readFile(htmlFile, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(html).toContain(`mean ACSA<b>${json.metrics.meanAcsa.toFixed(3)}</b>`);
    expect(html).toContain('data-compliant="true"');
    expect(html).toContain(`${json.metrics.model.cpuLatencyMs.toFixed(2)} ms per image`);
    expect((await cli('report', '999', '--html', htmlFile)).stderr).toMatch(/report 999 does not exist/);
    // The run's own quick report: what it lacks is said, and without a measured latency no compliance is claimed.
    expect((await cli('report', '1', '--html', htmlFile)).code).toBe(0);
    const quick = await readFile(htmlFile, 'utf8');
    expect(quick).toContain('quick validation report');
    expect(quick).toContain('data-compliant="false"');
    expect(quick).toContain('latency not measured');
    const token = await cli('token', 'create', '--role', 'admin', '--name', 'cli test');
    expect(token.stdout.trim()).toMatch(/^fh_[A-Za-z0-9_-]{43}$/);
    expect((await cli('token', 'list')).stdout).toMatch(new RegExp(`cli test\\s+admin\\s+${token.stdout.trim().slice(0, 10)}`));
    const bad = await cli('train', '--dataset', '1', '--backbones', 'resnet99', '--heads', 'feedforward');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error: Unsupported backbone "resnet99". Choose one of: resnet18/);
  });

  it('fits an ensemble, says how, and reports the soft vote and the adjusted decision side by side', async () => {
    const fitted = await cli('ensemble', 'fit', '--name', 'cli fit', '--artifacts', '1', '--dataset', '1', '--logit-adjustment', '--rounds', '3');
    expect(fitted.code, fitted.stderr).toBe(0);
    expect(fitted.stdout).toMatch(
      /^ensemble 1 "cli fit": greedy selection with replacement \(Caruana et al\., 2004\), MEAN_TOP1 on dataset 1 VALIDATION \(15 items\), 1 of 3 steps kept/m,
    );
    const taus = [...fitted.stdout.matchAll(/(Daily|Gender|Embellishment) tau (\d\.\d)/g)].map((m) => Number(m[2]));
    expect(taus).toHaveLength(3);
    const evaluated = await cli('evaluate', '--ensemble', '1', '--dataset', '1', '--split', 'validation');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    if (taus.some((tau) => tau > 0)) {
      expect(evaluated.stdout).toMatch(/^decisions side by side/m);
      expect(evaluated.stdout).toMatch(/^soft vote\s+\d\.\d{3}\s+\d\.\d{3}/m);
      expect(evaluated.stdout).toMatch(/^logit-adjusted\s+\d\.\d{3}\s+\d\.\d{3}/m);
    } else {
      expect(evaluated.stdout).not.toMatch(/decisions side by side/);
    }
    const refused = await cli('ensemble', 'fit', '--name', 'cli fit', '--artifacts', '1', '--dataset', '1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/an ensemble named "cli fit" already exists/);
  });

  it('imports a model from files on this host, and says what is wrong with a bad one', async () => {
    const onnx = (await promisify(execFile)('find', [path.join(scratch.dir, 'data'), '-name', 'model.onnx'])).stdout.trim().split('\n')[0]!;
    const imported = await cli('import-model', onnx, '--name', 'from disk');
    expect(imported.code, imported.stderr).toBe(0);
    const sha256 = createHash('sha256')
      .update(await readFile(onnx))
      .digest('hex');
    expect(imported.stdout).toMatch(new RegExp(`^artifact (\\d+) "from disk": \\d+\\.\\d MiB, sha256 ${sha256.slice(0, 12)}$`, 'm'));
    const id = imported.stdout.match(/^artifact (\d+)/)![1]!;
    const csv = (await readFile(path.join(scratch.dir, 'synth', 'train.csv'), 'utf8')).trim().split('\n')[1]!.split(',');
    const classified = await cli(
      'classify',
      '--artifact',
      id,
      '--image',
      path.join(scratch.dir, 'synth', 'images', csv[0]!),
      '--bbox',
      csv.slice(1, 5).join(','),
    );
    expect(classified.stdout).toMatch(new RegExp(`^artifact ${id} "from disk"$`, 'm'));
    const badJson = path.join(scratch.dir, 'bad-model.json');
    await writeFile(badJson, JSON.stringify({ input: { size: 32 }, tasks: [] }));
    const refused = await cli('import-model', onnx, '--model-json', badJson);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/model.json is not valid: input.mean must be 3 numbers/);
  });

  it('rolls a model out behind an alias, rolls it back, and reports what it logged', async () => {
    const set = await cli('alias', 'set', 'champion', '--artifact', '1', '--log-rate', '1');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^champion -> artifact 1, no candidate, log 100.0%$/m);
    const canary = await cli('alias', 'set', 'champion', '--candidate-artifact', '2', '--canary', '100');
    expect(canary.stdout).toMatch(/^champion -> artifact 1, canary 100% to artifact 2, log 100.0%$/m);
    const csv = (await readFile(path.join(scratch.dir, 'synth', 'train.csv'), 'utf8')).trim().split('\n')[1]!.split(',');
    const photo = ['--image', path.join(scratch.dir, 'synth', 'images', csv[0]!), '--bbox', csv.slice(1, 5).join(',')];
    // Every client is on a 100 % canary's candidate, the CLI too.
    expect((await cli('classify', ...photo)).stdout).toMatch(/^artifact 2 "from disk" \(alias champion, candidate\)$/m);
    const undone = await cli('alias', 'undo', 'champion');
    expect(undone.stdout).toMatch(/^champion -> artifact 1, no candidate, log 100.0%$/m);
    expect((await cli('classify', ...photo)).stdout).toMatch(/^artifact 1 ".*" \(alias champion, champion\)$/m);
    const history = await cli('alias', 'history', 'champion');
    expect(history.stdout).toMatch(/^\s*3\s+\S+\s+cli\s+artifact 1 \(canary artifact 2\)\s+artifact 1\s+undoes 2$/m);
    expect(history.stdout).toMatch(/^\s*2\s+\S+\s+cli\s+artifact 1\s+artifact 1 \(canary artifact 2\)\s+undone$/m);
    // Two answers were logged (rate 1), one by each side; one of artifact 1 is too few to judge drift by.
    const drift = await cli('drift', 'champion');
    expect(drift.code, drift.stderr).toBe(0);
    expect(drift.stdout).toMatch(/^drift report 1: 1 predictions of artifact 1, no drift \(too few to judge\)$/m);
    expect(drift.stdout).toMatch(/^input brightness \(/m);
    expect((await cli('alias', 'undo', 'nothing')).stderr).toMatch(/error: alias "nothing" does not exist/);
  });

  it('says when a run trained from random init because its pretrained weights could not be had', async () => {
    // A mirror where nothing listens (the discard port) stands in for a site without internet.
    const result = await cliWith(
      { FASHION_HOW_WEIGHTS_MIRROR: 'http://127.0.0.1:9/models', FASHION_HOW_WEIGHTS_DIR: path.join(scratch.dir, 'weights') },
      'train',
      '--dataset',
      '1',
      '--backbones',
      'mobilenet_v3_small',
      '--heads',
      'residual',
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--image-size',
      '32',
      '--max-steps',
      '1',
      '--cutmix',
      'off',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /^run \d+ mobilenet_v3_small\+residual: warning: could not download mobilenet_v3_small-[0-9a-f]+\.pth from http:\/\/127\.0\.0\.1:9\/models\/.*training mobilenet_v3_small from random init instead$/m,
    );
  });

  it('exits non-zero and lists bad lines when the import is refused', async () => {
    const csv = path.join(scratch.dir, 'synth', 'bad.csv');
    await writeFile(csv, 'image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily,Gender,Embellishment\nnope.jpg,0,0,5,5,0,0,0\n');
    const result = await cli('import', csv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: 1 of 1 rows are invalid, so nothing was imported');
    expect(result.stderr).toContain('line 2: image file not found under the image root ("nope.jpg")');
    expect((await cli('datasets')).stdout).not.toContain('bad');
  });

  it('explains a bad option value', async () => {
    const result = await cli('synth', '--out', scratch.dir, '--count', 'many');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('count must be an integer >= 1, got "many"');
  });
});
