import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LABEL_SCHEMA, resolveLabelSchema, schemaFingerprint, validateLabelSchema } from '../../src/data/labelSchema.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();

describe('label schemas', () => {
  it('uses the Fashion-How default (7/6/3) when nothing is declared', async () => {
    const schema = await resolveLabelSchema(path.join(scratch.dir, 'train.csv'));
    expect(schema.tasks.map((t) => [t.name, t.classes.length])).toEqual([
      ['Daily', 7],
      ['Gender', 6],
      ['Embellishment', 3],
    ]);
  });

  it('reads a YAML schema beside the CSV, e.g. the 2024 season with 6/5/3 classes', async () => {
    await writeFile(
      path.join(scratch.dir, 'season2024.schema.yaml'),
      [
        'name: fashion-how-2024',
        'tasks:',
        '  - name: Daily',
        '    classes: [a, b, c, d, e, f]',
        '  - name: Gender',
        '    classes: [a, b, c, d, e]',
        '  - name: Embellishment',
        '    column: Emb',
        '    classes: [a, b, c]',
      ].join('\n'),
    );
    const schema = await resolveLabelSchema(path.join(scratch.dir, 'season2024.csv'));
    expect(schema.name).toBe('fashion-how-2024');
    expect(schema.tasks.map((t) => [t.column, t.classes.length])).toEqual([
      ['Daily', 6],
      ['Gender', 5],
      ['Emb', 3],
    ]);
    expect(schemaFingerprint(schema)).not.toBe(schemaFingerprint(DEFAULT_LABEL_SCHEMA));
  });

  it('explains what is wrong with a bad schema', () => {
    expect(() => validateLabelSchema({ tasks: [] }, 's.json')).toThrow('s.json: "tasks" must be a non-empty list');
    expect(() => validateLabelSchema({ tasks: [{ name: 'Daily', classes: ['only one'] }] }, 's.json')).toThrow('tasks[0].classes must be a list of at least 2');
    expect(() => validateLabelSchema({ tasks: [{ name: 'A', classes: ['x', 'x'] }] }, 's.json')).toThrow('duplicate class names');
    expect(() =>
      validateLabelSchema(
        {
          tasks: [
            { name: 'A', classes: ['x', 'y'] },
            { name: 'B', column: 'A', classes: ['x', 'y'] },
          ],
        },
        's.json',
      ),
    ).toThrow('two tasks read the same column');
  });
});
