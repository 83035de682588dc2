// A finished prediction job's table, written once from its stored rows in the CSV's line order: one
// line per item with its image_name and bbox as imported, then per task the predicted class (index and
// name) and every class's probability. The same table as JSON lines, one object per item. A season's
// submission (columns, encoding, order) is read from these, item by item.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { BBOX_COLUMNS, IMAGE_COLUMN } from '../data/rows.js';
import type { Bbox } from '../domain.js';

export interface TableTask {
  name: string;
  classes: string[];
}

export interface TableRow {
  line: number;
  imagePath: string;
  bbox: Bbox;
  predicted: number[];
  probabilities: number[][];
}

/** The CSV's header: line, image_name, the bbox columns, then per task `<task>`, `<task>_name` and `<task>_p<k>` per class. */
export function tableHeader(tasks: TableTask[]): string[] {
  return [
    'line',
    IMAGE_COLUMN,
    ...BBOX_COLUMNS,
    ...tasks.flatMap((task) => [task.name, `${task.name}_name`, ...task.classes.map((_, k) => `${task.name}_p${k}`)]),
  ];
}

function csvRecord(row: TableRow, tasks: TableTask[]): (string | number)[] {
  return [
    row.line,
    row.imagePath,
    row.bbox.xmin,
    row.bbox.ymin,
    row.bbox.xmax,
    row.bbox.ymax,
    ...tasks.flatMap((task, t) => [row.predicted[t]!, task.classes[row.predicted[t]!]!, ...row.probabilities[t]!]),
  ];
}

function jsonRecord(row: TableRow, tasks: TableTask[]) {
  return {
    line: row.line,
    image_name: row.imagePath,
    bbox: [row.bbox.xmin, row.bbox.ymin, row.bbox.xmax, row.bbox.ymax],
    predictions: Object.fromEntries(
      tasks.map((task, t) => [task.name, { class: row.predicted[t]!, name: task.classes[row.predicted[t]!]!, probabilities: row.probabilities[t]! }]),
    ),
  };
}

/** Writes the rows (already in line order) as CSV and JSON lines to the two files, a few hundred at a time. */
export async function writeTable(rows: TableRow[], tasks: TableTask[], files: { csv: string; jsonl: string }): Promise<void> {
  const csv = createWriteStream(files.csv);
  const jsonl = createWriteStream(files.jsonl);
  const write = async (stream: NodeJS.WritableStream, text: string) => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  await write(csv, stringify([tableHeader(tasks)]));
  const BLOCK = 500;
  for (let start = 0; start < rows.length; start += BLOCK) {
    const block = rows.slice(start, start + BLOCK);
    await write(csv, stringify(block.map((row) => csvRecord(row, tasks))));
    await write(jsonl, block.map((row) => `${JSON.stringify(jsonRecord(row, tasks))}\n`).join(''));
  }
  await Promise.all([
    new Promise((resolve, reject) => csv.end(resolve).once('error', reject)),
    new Promise((resolve, reject) => jsonl.end(resolve).once('error', reject)),
  ]);
}
