import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRepositorySchema, compareSchemas, describe as describeReport, parseAnnouncements, ROOT } from '../scripts/schema-compat.js';
import { useScratchDir } from './helpers.js';

// The schema as a product: linted with the rules in .graphql-schema-linterrc, and compared with the
// last released schema so that no change breaks a client without being announced.
const scratch = useScratchDir();

function lint(file: string): { errors: { message: string; rule: string }[] } {
  const cli = path.join(ROOT, 'node_modules', 'graphql-schema-linter', 'lib', 'cli.js');
  const result = spawnSync(process.execPath, [cli, '--format', 'json', '--config-directory', ROOT, file], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(result.stdout) as { errors: { message: string; rule: string }[] };
}

describe('schema.graphql', () => {
  it('passes graphql-schema-linter under the chosen rules with nothing to report', () => {
    expect(lint(path.join(ROOT, 'schema.graphql')).errors).toEqual([]);
  });

  it('is linted for real: an undescribed field and a lowercase enum value are reported', async () => {
    const planted = (await readFile(path.join(ROOT, 'schema.graphql'), 'utf8'))
      .replace('  "Always true when the server answers."\n  ok: Boolean!', '  ok: Boolean!')
      .replace('  "Queries, subscriptions and classify."\n  READER', '  "Queries, subscriptions and classify."\n  reader');
    const file = path.join(scratch.dir, 'planted.graphql');
    await writeFile(file, planted);
    expect(
      lint(file)
        .errors.map((e) => e.rule)
        .sort(),
    ).toEqual(['enum-values-all-caps', 'fields-have-descriptions']);
  });

  it('keeps every promise of the released schema, or announces the change', async () => {
    const report = await checkRepositorySchema();
    expect(describeReport({ ...report, dangerous: [] })).toBe('');
  });

  it('fails on a planted breaking change, and passes once it is announced', async () => {
    const released = await readFile(path.join(ROOT, 'schema', 'released.graphql'), 'utf8');
    const current = await readFile(path.join(ROOT, 'schema.graphql'), 'utf8');
    const announced = parseAnnouncements(await readFile(path.join(ROOT, 'schema', 'breaking-changes.yaml'), 'utf8'));
    // A field clients read disappears, and an optional argument becomes required.
    const planted = current
      .replace('  "Rows refused at import and kept because the import used skipInvalid."\n  rejectCount: Int!\n', '')
      .replace(
        'runs("Only the runs that match every given field." filter: RunFilter)',
        'runs("Only the runs that match every given field." filter: RunFilter!)',
      );
    const broken = await compareSchemas(released, planted, announced);
    expect(broken.unannounced.map((c) => `${c.type} ${c.path}`).sort()).toEqual([
      'FIELD_ARGUMENT_TYPE_CHANGED Query.runs.filter',
      'FIELD_REMOVED Dataset.rejectCount',
    ]);
    expect(describeReport(broken)).toMatch(/^BREAKING, not announced: Field 'rejectCount' was removed from object type 'Dataset'/m);
    const withReview = [...announced, ...broken.unannounced.map((c) => ({ change: c.type, path: c.path!, why: 'planted by a test' }))];
    expect((await compareSchemas(released, planted, withReview)).unannounced).toEqual([]);
  });

  it('fails on an announcement that matches no change, and on one without a reason', async () => {
    const schema = await readFile(path.join(ROOT, 'schema.graphql'), 'utf8');
    const stale = await compareSchemas(schema, schema, [{ change: 'FIELD_REMOVED', path: 'Query.health', why: 'never happened' }]);
    expect(stale.stale).toHaveLength(1);
    expect(() => parseAnnouncements('- change: FIELD_REMOVED\n  path: Query.health\n')).toThrow(/needs change, path and a non-empty why/);
  });
});
