import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { CONFUSABLE } from '../../src/data/synthRealistic.js';
import { silhouette } from '../../src/data/synthSilhouette.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();

describe('silhouette synthetic data (the second hard kind)', () => {
  it('draws seven Daily silhouettes that differ pairwise in at least a tenth of the box, whatever their proportions', () => {
    const grid = (daily: number, p: number) => {
      const mask = silhouette(daily, p);
      const cells: boolean[] = [];
      for (let v = 0; v < 40; v++) for (let u = 0; u < 40; u++) cells.push(mask((u + 0.5) / 40, (v + 0.5) / 40));
      return cells;
    };
    for (let a = 0; a < 7; a++) {
      for (let b = a + 1; b < 7; b++) {
        for (const [pa, pb] of [
          [0, 1],
          [1, 0],
          [0.5, 0.5],
        ] as const) {
          const [ma, mb] = [grid(a, pa), grid(b, pb)];
          const differ = ma.filter((cell, i) => cell !== mb[i]).length;
          expect(differ / ma.length, `${a} vs ${b} at ${pa}/${pb}`).toBeGreaterThanOrEqual(0.1);
        }
      }
    }
  });

  it('is reproducible, noisy only toward confusable classes, and gives colour no Daily information', async () => {
    const write = (name: string) =>
      writeSyntheticDataset({ out: path.join(scratch.dir, name), count: 280, seed: 8, minSide: 48, maxSide: 64, difficulty: 'silhouette', labelNoise: 0.1 });
    const [one, two] = await Promise.all([write('a'), write('b')]);
    expect(one.difficulty).toBe('silhouette');
    const bytes = (dir: string, row: number) => readFile(path.join(scratch.dir, dir, 'images', one.rows[row]!.imageName));
    for (const row of [0, 99, 279]) expect((await bytes('a', row)).equals(await bytes('b', row))).toBe(true);
    expect(two.rows.map((r) => r.labels)).toEqual(one.rows.map((r) => r.labels));
    for (const row of one.rows)
      for (let t = 0; t < 3; t++) if (row.labels[t] !== row.cleanLabels[t]) expect(CONFUSABLE[t]![row.cleanLabels[t]!]).toContain(row.labels[t]);

    // The mean colour inside the box, per clean Daily class: as in the realistic data's hue groups a
    // class would stand out; here every class's mean sits near the overall mean (random colours).
    const means = new Map<number, number[][]>();
    for (const row of one.rows) {
      const { xmin, ymin, xmax, ymax } = row.bbox;
      const { data } = await sharp(path.join(scratch.dir, 'a', 'images', row.imageName))
        .extract({ left: xmin, top: ymin, width: xmax - xmin, height: ymax - ymin })
        .resize(1, 1, { kernel: 'cubic' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      means.set(row.cleanLabels[0]!, [...(means.get(row.cleanLabels[0]!) ?? []), [...data]]);
    }
    const all = [...means.values()].flat();
    const average = (rows: number[][]) => [0, 1, 2].map((k) => rows.reduce((s, r) => s + r[k]!, 0) / rows.length);
    const overall = average(all);
    for (const [daily, rows] of means) {
      if (rows.length < 20) continue;
      const mean = average(rows);
      for (let k = 0; k < 3; k++) expect(Math.abs(mean[k]! - overall[k]!), `Daily ${daily} channel ${k}`).toBeLessThan(25);
    }
  });
});
