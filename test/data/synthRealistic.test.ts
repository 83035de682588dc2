import { readFile } from 'node:fs/promises';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { SYNTH_CLASS_PRIORS, writeSyntheticDataset } from '../../src/data/synth.js';
import { CONFUSABLE, noiseCeiling, noisyLabels } from '../../src/data/synthRealistic.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();

describe('realistic synthetic data', () => {
  it('flips the stated share of labels, only to a confusable class, and keeps the images of every noise rate', async () => {
    const count = 300;
    const write = (labelNoise: number) =>
      writeSyntheticDataset({
        out: path.join(scratch.dir, `noise-${labelNoise}`),
        count,
        seed: 5,
        minSide: 48,
        maxSide: 64,
        difficulty: 'realistic',
        labelNoise,
      });
    const [clean, noisy] = await Promise.all([write(0), write(0.2)]);
    for (let i = 0; i < count; i++) {
      expect(noisy.rows[i]!.cleanLabels).toEqual(clean.rows[i]!.labels);
      expect(noisy.rows[i]!.bbox).toEqual(clean.rows[i]!.bbox);
    }
    const image = (out: string, row: number) => readFile(path.join(out, 'images', clean.rows[row]!.imageName));
    for (const row of [0, 17, 299])
      expect((await image(path.join(scratch.dir, 'noise-0.2'), row)).equals(await image(path.join(scratch.dir, 'noise-0'), row))).toBe(true);
    for (let task = 0; task < 3; task++) {
      const flips = noisy.rows.filter((r) => r.labels[task] !== r.cleanLabels[task]);
      // 300 draws at p = 0.2: mean 60, standard deviation 6.9; 4 deviations either side.
      expect(flips.length).toBeGreaterThanOrEqual(32);
      expect(flips.length).toBeLessThanOrEqual(88);
      for (const r of flips) expect(CONFUSABLE[task]![r.cleanLabels[task]!]).toContain(r.labels[task]);
    }
    const written = JSON.parse(await readFile(path.join(scratch.dir, 'noise-0.2', 'synth.json'), 'utf8'));
    expect(written.flipped).toHaveLength(noisy.rows.reduce((n, r) => n + r.labels.filter((l, t) => l !== r.cleanLabels[t]).length, 0));
    expect(written.ceiling).toEqual(noisy.ceiling);
  });

  it('states a ceiling that a simulation of the clean-label predictor reproduces', () => {
    const rate = 0.15;
    const ceiling = noiseCeiling(SYNTH_CLASS_PRIORS, rate);
    // Brute force: draw clean classes from the priors, label them with noise, predict the clean class.
    const n = 60_000;
    const rng = seedrandom('ceiling');
    const draw = (priors: readonly number[]) => {
      let u = rng();
      for (let k = 0; k < priors.length; k++) {
        u -= priors[k]!;
        if (u < 0) return k;
      }
      return priors.length - 1;
    };
    const pairs = Array.from({ length: n }, (_, i) => {
      const cleanLabels = SYNTH_CLASS_PRIORS.map(draw);
      return { cleanLabels, labels: noisyLabels(9, i, cleanLabels, rate) };
    });
    for (let task = 0; task < 3; task++) {
      const k = SYNTH_CLASS_PRIORS[task]!.length;
      const correct = pairs.filter((p) => p.labels[task] === p.cleanLabels[task]).length / n;
      const recalls = Array.from({ length: k }, (_, b) => {
        const labelled = pairs.filter((p) => p.labels[task] === b);
        return labelled.filter((p) => p.cleanLabels[task] === b).length / labelled.length;
      });
      const acsa = recalls.reduce((s, r) => s + r, 0) / k;
      expect(ceiling[task]!.top1).toBeCloseTo(1 - rate, 12);
      expect(Math.abs(correct - ceiling[task]!.top1)).toBeLessThan(0.01);
      expect(Math.abs(acsa - ceiling[task]!.acsa)).toBeLessThan(0.015);
      expect(ceiling[task]!.acsa).toBeLessThan(1);
    }
    expect(noiseCeiling(SYNTH_CLASS_PRIORS, 0).every((c) => c.top1 === 1 && c.acsa === 1)).toBe(true);
  });

  it('refuses a noise rate outside 0 to 0.5 and an unknown difficulty, naming the limit', async () => {
    await expect(writeSyntheticDataset({ out: path.join(scratch.dir, 'bad'), count: 2, seed: 1, labelNoise: 0.7 })).rejects.toThrow(
      'label noise must be from 0 to 0.5',
    );
    await expect(writeSyntheticDataset({ out: path.join(scratch.dir, 'bad'), count: 2, seed: 1, difficulty: 'hard' as 'realistic' })).rejects.toThrow(
      'Unsupported difficulty "hard". Choose one of: standard, realistic',
    );
  });
});
