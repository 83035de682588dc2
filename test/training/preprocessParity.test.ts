import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESS, preprocess } from '../../src/data/image.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { WORKER_DIR } from '../../src/training/python.js';
import { testPython } from '../fixtures/python.js';
import { useScratchDir } from '../helpers.js';

// Training (PIL, in the worker) and serving (sharp) must see an item the same way: identical geometry,
// and pixel values that differ only by the two libraries' bilinear resampling.
const SCRIPT = `
import json, sys
sys.path.insert(0, sys.argv[1])
from presets import Preprocess
spec = json.loads(sys.argv[2])
p = Preprocess(spec["size"], spec["padValue"], spec["mean"], spec["std"])
print(json.dumps([p(item["path"], item["bbox"]).flatten().tolist() for item in spec["items"]]))
`;

const scratch = useScratchDir();

describe('preprocessing parity between the worker and serving', () => {
  it('puts the crop in the same place and agrees on pixel values', async () => {
    const synthetic = await writeSyntheticDataset({ out: scratch.dir, count: 6, seed: 9, minSide: 80, maxSide: 200 });
    const size = 64;
    const items = synthetic.rows.map((r) => ({
      path: path.join(synthetic.imageRoot, r.imageName),
      bbox: [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax],
    }));
    const python = await testPython();
    const { stdout } = await promisify(execFile)(python.executable, ['-c', SCRIPT, WORKER_DIR, JSON.stringify({ ...IMAGENET_PREPROCESS, size, items })], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const fromWorker = JSON.parse(stdout) as number[][];
    const white = [0, 1, 2].map((c) => (1 - IMAGENET_PREPROCESS.mean[c]!) / IMAGENET_PREPROCESS.std[c]!);
    for (const [i, row] of synthetic.rows.entries()) {
      const { tensor, geometry } = await preprocess(items[i]!.path, row.bbox, { ...IMAGENET_PREPROCESS, size }, { maxPixels: 1e7, maxBytes: 1e7 });
      const worker = fromWorker[i]!;
      expect(worker).toHaveLength(tensor.length);
      let insideDiff = 0;
      let inside = 0;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const k = c * size * size + y * size + x;
            const padded = x < geometry.left || x >= geometry.left + geometry.width || y < geometry.top || y >= geometry.top + geometry.height;
            if (padded) {
              expect(tensor[k]).toBeCloseTo(white[c]!, 5);
              expect(worker[k]).toBeCloseTo(white[c]!, 5);
            } else {
              insideDiff += Math.abs(tensor[k]! - worker[k]!);
              inside += 1;
            }
          }
        }
      }
      // Mean difference inside the crop: well under 0.1 in normalised units (about 6 grey levels).
      expect(insideDiff / inside).toBeLessThan(0.1);
    }
  });
});
