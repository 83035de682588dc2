import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { encodeJpeg } from '../../src/data/image.js';
import { ImportRejectedError, type ImportRequest, importDataset } from '../../src/data/import.js';
import { CSV_HEADER, writeSyntheticDataset } from '../../src/data/synth.js';
import { naiveCsv, openTestApp, storedRowCounts, tempDir } from '../helpers.js';

let scratch: Awaited<ReturnType<typeof tempDir>>;
let app: App;
let synthetic: Awaited<ReturnType<typeof writeSyntheticDataset>>;

beforeAll(async () => {
  scratch = await tempDir();
  app = await openTestApp(path.join(scratch.dir, 'data'));
  synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 160, seed: 11, minSide: 64, maxSide: 120 });
});
afterAll(async () => {
  await app.close();
  await scratch.remove();
});

const run = (request: ImportRequest) => importDataset(request, app.services.importContext);

/** Writes a CSV of the synthetic header plus the given rows (arrays of cells) and returns its path. */
async function csvWith(name: string, rows: (string | number)[][]): Promise<string> {
  const file = path.join(synthetic.imageRoot, '..', name);
  await writeFile(file, `${[CSV_HEADER.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`);
  return file;
}

const good = (i: number) => {
  const row = synthetic.rows[i]!;
  return [row.imageName, row.bbox.xmin, row.bbox.ymin, row.bbox.xmax, row.bbox.ymax, ...row.labels];
};

describe('importDataset', () => {
  it('imports a synthetic dataset whose class distribution equals an independent count of the CSV', async () => {
    const outcome = await run({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, name: 'synthetic' });
    expect(outcome).toMatchObject({ created: true, itemCount: 160, rejects: [] });

    const csvRows = naiveCsv(await readFile(synthetic.csvPath, 'utf8'));
    expect(csvRows).toHaveLength(160);
    const distribution = await app.services.datasets.distribution(outcome.datasetId);
    for (const task of distribution) {
      for (const cls of task.classes) {
        const expected = csvRows.filter((r) => Number(r[task.name]) === cls.index).length;
        expect(cls.count, `${task.name}/${cls.name}`).toBe(expected);
        expect(cls.share).toBeCloseTo(expected / 160, 12);
      }
    }
    const splits = await app.services.datasets.splitCounts(outcome.datasetId);
    expect(splits).toEqual([
      { split: 'TRAIN', count: 120 },
      { split: 'VALIDATION', count: 40 },
    ]);
    const validationOnly = await app.services.datasets.distribution(outcome.datasetId, 'VALIDATION');
    expect(validationOnly.every((t) => t.total === 40)).toBe(true);

    const item = await app.services.db.item.findFirstOrThrow({
      where: { datasetId: outcome.datasetId, line: 2 },
      include: { labels: { orderBy: { task: 'asc' } } },
    });
    expect(item.imagePath).toBe(synthetic.rows[0]!.imageName);
    expect(item.imagePath).toContain(' ');
    expect({ xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax }).toEqual(synthetic.rows[0]!.bbox);
    expect(item.labels.map((l) => l.classIndex)).toEqual(synthetic.rows[0]!.labels);
  });

  it('detects a re-import of the same CSV by its content and stores nothing new', async () => {
    const before = await storedRowCounts(app);
    const again = await run({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot });
    expect(again.created).toBe(false);
    expect(await storedRowCounts(app)).toEqual(before);
  });

  it('rejects each kind of bad row with its line number and stores nothing', async () => {
    const root = synthetic.imageRoot;
    await writeFile(path.join(root, 'garbage.jpg'), 'definitely not a jpeg');
    const jpeg = await encodeJpeg(
      new Uint8Array(80 * 80 * 3).map((_, i) => (i * 31) % 253),
      80,
      80,
      95,
    );
    await writeFile(path.join(root, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    const ok = synthetic.rows[0]!;
    const csv = await csvWith('bad.csv', [
      good(0), // line 2
      ['missing/nowhere.jpg', 0, 0, 10, 10, 0, 0, 0], // 3
      ['garbage.jpg', 0, 0, 10, 10, 0, 0, 0], // 4
      ['truncated.jpg', 0, 0, 10, 10, 0, 0, 0], // 5
      [ok.imageName, 0, 0, 5000, 10, 0, 0, 0], // 6: bbox outside
      [ok.imageName, 10, 10, 10, 20, 0, 0, 0], // 7: zero width
      [ok.imageName, 0, 0, 10, 10, 7, 0, 0], // 8: Daily has 7 classes (0..6)
      [ok.imageName, 0, 0, 10, 10, 0, 'x', 0], // 9: not a number
      ['../outside.jpg', 0, 0, 10, 10, 0, 0, 0], // 10: escapes the root
      ['/etc/passwd', 0, 0, 10, 10, 0, 0, 0], // 11: absolute
      [ok.imageName, 0, 0, 10, 10, 0, 0], // 12: a column short
      [ok.imageName, 0, 0, 10.5, 10, 0, 0, 0], // 13: fractional coordinate
      good(1), // 14
    ]);
    const before = await storedRowCounts(app);
    const error = await run({ csvPath: csv, imageRoot: root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportRejectedError);
    const rejects = (error as ImportRejectedError).rejects;
    expect(rejects.map((r) => r.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const reasonAt = (line: number) => rejects.find((r) => r.line === line)!.reason;
    expect(reasonAt(3)).toMatch(/image file not found under the image root/);
    expect(reasonAt(4)).toMatch(/cannot be decoded/);
    expect(reasonAt(5)).toMatch(/corrupt or truncated/);
    expect(reasonAt(6)).toMatch(/must lie inside the \d+x\d+ image/);
    expect(reasonAt(7)).toMatch(/positive area/);
    expect(reasonAt(8)).toBe('Daily label "7" is not a class index from 0 to 6');
    expect(reasonAt(9)).toBe('Gender label "x" is not a class index from 0 to 5');
    expect(reasonAt(10)).toMatch(/contains "\.\.", which would leave the image root/);
    expect(reasonAt(11)).toMatch(/absolute path/);
    expect(reasonAt(12)).toBe('expected 8 columns, found 7');
    expect(reasonAt(13)).toBe('BBox_xmax "10.5" is not an integer pixel coordinate');
    expect((error as Error).message).toMatch(/^11 of 13 rows are invalid, so nothing was imported/);
    expect((error as Error).message).toContain('line 6: bbox');
    expect(await storedRowCounts(app)).toEqual(before);
  });

  it('refuses an image reached through a symbolic link that leaves the root', async () => {
    const outside = path.join(scratch.dir, 'outside');
    await mkdir(outside, { recursive: true });
    await copyFile(path.join(synthetic.imageRoot, synthetic.rows[0]!.imageName), path.join(outside, 'secret.jpg'));
    await symlink(outside, path.join(synthetic.imageRoot, 'link'));
    const csv = await csvWith('symlink.csv', [['link/secret.jpg', 0, 0, 10, 10, 0, 0, 0]]);
    const error = await run({ csvPath: csv, imageRoot: synthetic.imageRoot }).catch((e: unknown) => e);
    expect((error as ImportRejectedError).rejects[0]).toMatchObject({ line: 2, reason: expect.stringMatching(/symbolic link\) outside the image root/) });
  });

  it('imports the good rows and keeps the rejects with skipInvalid', async () => {
    const csv = await csvWith('partly-bad.csv', [good(2), ['missing.jpg', 0, 0, 1, 1, 0, 0, 0], good(3), good(4)]);
    const outcome = await run({ csvPath: csv, imageRoot: synthetic.imageRoot, skipInvalid: true, validationFraction: 0 });
    expect(outcome).toMatchObject({ created: true, itemCount: 3 });
    const stored = await app.services.datasets.rejects(outcome.datasetId, 10);
    expect(stored.map((r) => [r.line, r.row])).toEqual([[3, 'missing.jpg,0,0,1,1,0,0,0']]);
    const dataset = await app.services.datasets.get(outcome.datasetId);
    expect(dataset).toMatchObject({ itemCount: 3, rejectCount: 1 });
  });

  it('names the missing columns of a CSV with the wrong header', async () => {
    const file = path.join(scratch.dir, 'wrong-header.csv');
    await writeFile(file, 'image,x1,y1,x2,y2,Daily\na.jpg,0,0,1,1,0\n');
    await expect(run({ csvPath: file, imageRoot: synthetic.imageRoot })).rejects.toThrow(
      'the CSV header lacks column(s) image_name, BBox_xmin, BBox_ymin, BBox_xmax, BBox_ymax, Gender, Embellishment',
    );
  });

  it('imports a dataset that declares its own tasks and class counts', async () => {
    const dir = path.join(scratch.dir, 'season2024');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'train.schema.json'),
      JSON.stringify({
        name: 'season 2024',
        tasks: [
          { name: 'Daily', classes: ['a', 'b', 'c', 'd', 'e', 'f'] },
          { name: 'Gender', classes: ['a', 'b', 'c', 'd', 'e'] },
        ],
      }),
    );
    const row = synthetic.rows[5]!;
    await writeFile(
      path.join(dir, 'train.csv'),
      `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily,Gender\n"${row.imageName}",${row.bbox.xmin},${row.bbox.ymin},${row.bbox.xmax},${row.bbox.ymax},5,4\n`,
    );
    const outcome = await run({ csvPath: path.join(dir, 'train.csv'), imageRoot: synthetic.imageRoot, validationFraction: 0 });
    const dataset = await app.services.datasets.get(outcome.datasetId);
    const schema = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    expect(schema.tasks.map((t) => t.classes.length)).toEqual([6, 5]);
    const distribution = await app.services.datasets.distribution(outcome.datasetId);
    expect(distribution.map((t) => t.classes.find((c) => c.count === 1)?.index)).toEqual([5, 4]);
  });

  it('imports a CSV without the label columns as a prediction set: every row kept in line order, in TEST, with no labels', async () => {
    const header = ['image_name', 'BBox_xmin', 'BBox_ymin', 'BBox_xmax', 'BBox_ymax'];
    const rows = [0, 1, 2, 3, 4, 5].map((i) => good(i).slice(0, 5));
    const file = path.join(synthetic.imageRoot, '..', 'test-unlabelled.csv');
    await writeFile(file, `${[header.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`);
    const outcome = await run({ csvPath: file, imageRoot: synthetic.imageRoot, name: 'to predict' });
    expect(outcome).toMatchObject({ created: true, itemCount: 6, rejects: [] });
    const dataset = await app.services.datasets.get(outcome.datasetId);
    expect(dataset).toMatchObject({ labelled: false, validationFraction: 0, testFraction: 1 });
    const items = await app.services.db.item.findMany({ where: { datasetId: outcome.datasetId }, include: { labels: true }, orderBy: { line: 'asc' } });
    expect(items.map((i) => [i.line, i.imagePath, i.split, i.labels.length])).toEqual(rows.map((r, i) => [i + 2, r[0], 'TEST', 0]));
    expect(items.map((i) => [i.xmin, i.ymin, i.xmax, i.ymax])).toEqual(rows.map((r) => r.slice(1).map(Number)));

    // Work that needs labels refuses it before anything starts, naming the dataset and what to do instead.
    const refusal = /is a prediction set: its CSV had no label columns, so there is nothing to .*predictDataset/;
    await expect(app.services.training.startTraining({ datasetId: outcome.datasetId, backbones: ['resnet18'], heads: ['feedforward'] })).rejects.toThrow(
      refusal,
    );
    await expect(app.services.evaluation.evaluate({ ensembleId: 1, datasetId: outcome.datasetId })).rejects.toThrow(refusal);
    await expect(app.services.fitter.fit({ name: 'x', artifactIds: [1], datasetId: outcome.datasetId })).rejects.toThrow(refusal);
  });

  it("validates an unlabelled CSV's rows as a labelled one's, and refuses a header with only some label columns", async () => {
    const file = path.join(synthetic.imageRoot, '..', 'bad-unlabelled.csv');
    const ok = synthetic.rows[0]!;
    await writeFile(
      file,
      `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax\n${good(0).slice(0, 5).join(',')}\n${ok.imageName},0,0,5000,10\n../x.jpg,0,0,1,1\n`,
    );
    const before = await storedRowCounts(app);
    const error = await run({ csvPath: file, imageRoot: synthetic.imageRoot }).catch((e: unknown) => e);
    expect((error as ImportRejectedError).rejects.map((r) => r.line)).toEqual([3, 4]);
    expect((error as ImportRejectedError).rejects[0]!.reason).toMatch(/must lie inside the \d+x\d+ image/);
    expect(await storedRowCounts(app)).toEqual(before);

    const partial = path.join(scratch.dir, 'partial-labels.csv');
    await writeFile(partial, `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily\n${good(0).slice(0, 6).join(',')}\n`);
    await expect(run({ csvPath: partial, imageRoot: synthetic.imageRoot })).rejects.toThrow('the CSV header lacks column(s) Gender, Embellishment');
  });
});
