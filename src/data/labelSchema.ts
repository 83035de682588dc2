// Label schemas are data: Fashion-How's default (7/6/3 classes) applies to the standard columns, and a
// dataset may declare its own tasks in a JSON or YAML file beside its CSV (e.g. the 2024 season's 6/5/3).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { LabelSchemaSpec, TaskSpec } from '../domain.js';
import { badInput } from '../errors.js';

export const DEFAULT_LABEL_SCHEMA: LabelSchemaSpec = {
  name: 'fashion-how',
  tasks: [
    {
      name: 'Daily',
      column: 'Daily',
      classes: ['loungewear', 'light outing', 'office', 'formal', 'event', 'school uniform', 'sportswear'],
    },
    {
      name: 'Gender',
      column: 'Gender',
      classes: ['military', 'mannish', 'unisex', 'girlish', 'elegant', 'sexy'],
    },
    {
      name: 'Embellishment',
      column: 'Embellishment',
      classes: ['none', 'point decoration', 'many decorations'],
    },
  ],
};

/** File names looked for beside `train.csv`: `train.schema.json`, `train.schema.yaml`, `train.schema.yml`. */
export function schemaCandidates(csvPath: string): string[] {
  const stem = path.join(path.dirname(csvPath), path.basename(csvPath, path.extname(csvPath)));
  return ['.schema.json', '.schema.yaml', '.schema.yml'].map((suffix) => stem + suffix);
}

function asStringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length < 2 || !value.every((v) => typeof v === 'string' && v.trim() !== '')) {
    throw badInput(`${where} must be a list of at least 2 non-empty class names`);
  }
  if (new Set(value).size !== value.length) throw badInput(`${where} has duplicate class names`);
  return value as string[];
}

/** Checks a parsed schema document and returns it in canonical form. */
export function validateLabelSchema(doc: unknown, source: string): LabelSchemaSpec {
  if (typeof doc !== 'object' || doc === null) throw badInput(`${source}: expected an object with "tasks"`);
  const { name, tasks } = doc as { name?: unknown; tasks?: unknown };
  if (!Array.isArray(tasks) || tasks.length === 0) {
    throw badInput(`${source}: "tasks" must be a non-empty list of { name, classes, column? }`);
  }
  const specs: TaskSpec[] = tasks.map((task: unknown, i) => {
    const t = (task ?? {}) as { name?: unknown; column?: unknown; classes?: unknown };
    if (typeof t.name !== 'string' || t.name.trim() === '') throw badInput(`${source}: tasks[${i}].name must be a non-empty string`);
    if (t.column !== undefined && typeof t.column !== 'string') throw badInput(`${source}: tasks[${i}].column must be a string`);
    return { name: t.name, column: t.column ?? t.name, classes: asStringList(t.classes, `${source}: tasks[${i}].classes`) };
  });
  const columns = specs.map((t) => t.column);
  if (new Set(columns).size !== columns.length) throw badInput(`${source}: two tasks read the same column`);
  return { name: typeof name === 'string' && name.trim() !== '' ? name : path.basename(source), tasks: specs };
}

/** Reads a JSON or YAML schema file; messages name it as `shown` says (an archive's name for it, say). */
export async function readLabelSchema(file: string, shown: (file: string) => string = (f) => f): Promise<LabelSchemaSpec> {
  const name = shown(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw badInput(`label schema file ${name} cannot be read`);
  }
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    throw badInput(`label schema file ${name} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return validateLabelSchema(doc, name);
}

/** The schema for a CSV: the explicit file if given, else one beside the CSV, else the default. */
export async function resolveLabelSchema(csvPath: string, explicit?: string, shown?: (file: string) => string): Promise<LabelSchemaSpec> {
  if (explicit) return readLabelSchema(explicit, shown);
  const beside = schemaCandidates(csvPath).find((candidate) => existsSync(candidate));
  return beside ? readLabelSchema(beside, shown) : DEFAULT_LABEL_SCHEMA;
}

/** Identical schemas (same tasks, columns and class names in the same order) share one stored row. */
export function schemaFingerprint(schema: LabelSchemaSpec): string {
  return createHash('sha256').update(JSON.stringify(schema.tasks)).digest('hex');
}
