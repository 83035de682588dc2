// The breaking-change check: schema.graphql against the last released schema (schema/released.graphql),
// classified by GraphQL Inspector. A breaking change passes only when it is announced in
// schema/breaking-changes.yaml, reviewed, with why clients can cope; an announcement that matches no
// change fails too, so the list stays true. `npm test` runs it (test/schema.test.ts), and
// `npm run --silent schema:check` prints the same report.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';
import YAML from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One reviewed breaking change: Inspector's change type and path, and why clients can cope. */
export interface Announcement {
  change: string;
  path: string;
  why: string;
}

export interface CompatReport {
  /** Breaking changes that no announcement covers: each fails the check. */
  unannounced: Change[];
  /** Announcements that match no change: each fails the check too. */
  stale: Announcement[];
  /** Changes that may break some clients (e.g. a new enum value), for the reviewer. */
  dangerous: Change[];
}

export function parseAnnouncements(text: string): Announcement[] {
  const entries: unknown = YAML.parse(text) ?? [];
  if (!Array.isArray(entries)) throw new Error('schema/breaking-changes.yaml must be a list of { change, path, why }');
  return entries.map((entry, i) => {
    const { change, path: where, why } = (entry ?? {}) as Record<string, unknown>;
    if (typeof change !== 'string' || typeof where !== 'string' || typeof why !== 'string' || why.trim() === '') {
      throw new Error(`schema/breaking-changes.yaml entry ${i + 1} needs change, path and a non-empty why, got ${JSON.stringify(entry)}`);
    }
    return { change, path: where, why };
  });
}

export async function compareSchemas(released: string, current: string, announced: Announcement[]): Promise<CompatReport> {
  const changes = await diff(buildSchema(released), buildSchema(current));
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
  const covers = (a: Announcement, c: Change) => a.change === c.type && a.path === c.path;
  return {
    unannounced: breaking.filter((c) => !announced.some((a) => covers(a, c))),
    stale: announced.filter((a) => !breaking.some((c) => covers(a, c))),
    dangerous: changes.filter((c) => c.criticality.level === CriticalityLevel.Dangerous),
  };
}

/** The repository's own check: schema.graphql against schema/released.graphql. */
export async function checkRepositorySchema(): Promise<CompatReport> {
  const read = (file: string) => readFile(path.join(ROOT, file), 'utf8');
  return compareSchemas(await read('schema/released.graphql'), await read('schema.graphql'), parseAnnouncements(await read('schema/breaking-changes.yaml')));
}

export function describe(report: CompatReport): string {
  return [
    ...report.unannounced.map((c) => `BREAKING, not announced: ${c.message} (change: ${c.type}, path: ${c.path})`),
    ...report.stale.map((a) => `announced but not a breaking change (remove it): change: ${a.change}, path: ${a.path}`),
    ...report.dangerous.map((c) => `dangerous (review): ${c.message}`),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await checkRepositorySchema();
  console.log(describe(report) || 'schema.graphql keeps every promise of schema/released.graphql');
  process.exitCode = report.unannounced.length + report.stale.length > 0 ? 1 : 0;
}
