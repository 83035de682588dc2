// Classify the items of a Fashion-How CSV with the default ensemble of a running server, in bulk.
//   FASHION_HOW_ENDPOINT=http://127.0.0.1:4000/graphql node --import tsx examples/classify.ts data/synth/train.csv data/synth/images
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FashionHowClient } from 'fashion-how/sdk';

const [csv = 'data/synth/train.csv', root = path.join(path.dirname(csv), 'images')] = process.argv.slice(2);
const rows = (await readFile(csv, 'utf8'))
  .trim()
  .split('\n')
  .slice(1, 101)
  .map((line) => line.split(','));
const client = new FashionHowClient(); // endpoint and token from FASHION_HOW_ENDPOINT / FASHION_HOW_TOKEN
const answers = await client.classify(
  rows.map(([name, xmin, ymin, xmax, ymax]) => ({
    image: path.join(root, name!),
    bbox: { xmin: Number(xmin), ymin: Number(ymin), xmax: Number(xmax), ymax: Number(ymax) },
  })),
);
for (const [i, answer] of answers.entries()) {
  console.log(`${rows[i]![0]}: ${answer.tasks.map((t) => `${t.task}=${t.predicted.name} (${(t.predicted.probability * 100).toFixed(0)}%)`).join(', ')}`);
}
