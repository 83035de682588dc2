// The layout's own rules, checked by `npm run lint` (part of npm test):
// - no hand-written file in src/ or in the dashboard's web/src/ over MAX_LINES lines (generated code is
//   its generator's);
// - the floors: src/'s folders stand on FLOORS, low to high, and a module imports only its own folder,
//   folders on lower floors, and the shared top-level modules (src/*.ts but the entry points), which in
//   turn import only each other. So an import "back up" (inference reaching into reports, config.ts into
//   inference) fails here, naming the file, the import and the rule, before it can grow into a cycle.
//   Two folders on one floor do not import each other either, except on the top floor, where the
//   composition root, the API, the CLI and the SDK are wired together;
// - the SDK is published on its own: it imports nothing of src/ but its own files and config.ts.
// Why the floors are in this order: docs/architecture.md#layout-of-the-source-tree. Import cycles are
// dpdm's to find (see package.json).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const MAX_LINES = 400;
const FLOORS = [
  ['storage', 'db'],
  ['auth', 'pubsub'],
  ['data'],
  ['jobs'],
  ['inference'],
  ['seasons'],
  ['reports'],
  ['training'],
  ['api', 'cli', 'sdk', 'app.ts', 'cli.ts'],
];
const TOP = FLOORS.length - 1;
const ENTRY_POINTS = new Set(FLOORS[TOP].filter((place) => place.endsWith('.ts')));
/** The one module outside src/sdk/ that the published SDK may import (its client settings). */
const SDK_DEPENDENCY = path.join('src', 'config.js');
const floorOf = new Map(FLOORS.flatMap((places, floor) => places.map((place) => [place, floor])));

const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else if (/\.(ts|tsx|py)$/.test(entry.name)) files.push(file);
  }
};
walk('src');
const serverFiles = files.length;
walk('web/src');

/** Where a path under src/ stands: its folder, an entry point, or 'shared' (any other top-level module). */
function placeOf(file) {
  const [, first, ...rest] = file.split(path.sep);
  if (rest.length > 0) return first;
  const name = first.replace(/\.js$/, '.ts');
  return ENTRY_POINTS.has(name) ? name : 'shared';
}
const describe = (place) => (place === 'shared' ? 'a shared top-level module' : place.endsWith('.ts') ? `src/${place}` : `src/${place}/`);

/** Why a module in `from` may not import `target` (a path under src/), or null when it may. */
function brokenRule(from, target) {
  const to = placeOf(target);
  if (from === 'sdk' && to !== 'sdk' && target !== SDK_DEPENDENCY) return 'the SDK is published on its own: it imports only its own files and src/config.ts';
  if (to === 'shared' || to === from) return null;
  if (from === 'shared') return `shared top-level modules import only each other, and ${describe(to)} stands on a floor`;
  const [theirs, ours] = [floorOf.get(to), floorOf.get(from)];
  if (theirs < ours || ours === TOP) return null;
  return theirs > ours
    ? `${describe(to)} stands above ${describe(from)}`
    : `${describe(to)} and ${describe(from)} share a floor, and siblings do not import each other`;
}

const generated = (file) => /(^|\/)generated(-postgresql)?(\/|\.ts$)/.test(file);
const problems = [];
for (const place of new Set(files.slice(0, serverFiles).map(placeOf))) {
  if (place !== 'shared' && !floorOf.has(place))
    problems.push(`src/${place}: on no floor: add it to FLOORS in scripts/check-layout.mjs (and to docs/architecture.md)`);
}
for (const file of files.filter((f) => !generated(f))) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${file}: ${lines} lines, over the limit of ${MAX_LINES}: split it by what it holds`);
  if (!file.startsWith('src/') || !file.endsWith('.ts')) continue;
  const from = placeOf(file);
  if (!floorOf.has(from) && from !== 'shared') continue;
  for (const [, specifier] of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'(\.[^']+)'/g)) {
    const target = path.normalize(path.join(path.dirname(file), specifier));
    if (!target.startsWith(`src${path.sep}`)) continue;
    const rule = brokenRule(from, target);
    if (rule) problems.push(`${file} imports ${specifier}: ${rule}`);
  }
}
const floors = FLOORS.map((places) => places.join(', ')).join(' < ');
if (problems.length > 0) {
  console.error(`layout check: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n(floors, low to high: ${floors})`);
  process.exit(1);
}
console.log(
  `layout check: ${serverFiles} files in src/ and ${files.length - serverFiles} in web/src/, none over ${MAX_LINES} lines; every import keeps to the floors (${floors})`,
);
