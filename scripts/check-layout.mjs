// The layout's own rules, checked by `npm run lint` (part of npm test): no hand-written file in src/ over
// MAX_LINES lines (generated code is its generator's), and no module below the API layer imports it
// (src/api/ sits above the domain folders; only the composition root and the CLI may reach into it).
// Import cycles are dpdm's to find (see package.json).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const MAX_LINES = 400;
const ALLOWED_TO_IMPORT_API = new Set(['src/app.ts', 'src/cli.ts']);

const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else if (/\.(ts|tsx|py)$/.test(entry.name)) files.push(file);
  }
};
walk('src');

const generated = (file) => /(^|\/)generated(-postgresql)?(\/|\.ts$)/.test(file);
const problems = [];
for (const file of files.filter((f) => !generated(f))) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${file}: ${lines} lines, over the limit of ${MAX_LINES}: split it by what it holds`);
  const belowApi = !file.startsWith('src/api/') && !file.startsWith('src/cli/') && !ALLOWED_TO_IMPORT_API.has(file);
  if (belowApi && file.endsWith('.ts')) {
    for (const [, specifier] of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = path.normalize(path.join(path.dirname(file), specifier));
      if (target.startsWith('src/api/') || target === 'src/api') problems.push(`${file} imports ${specifier}: the API layer sits above it`);
    }
  }
}
if (problems.length > 0) {
  console.error(`layout check: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`layout check: ${files.length} files in src/, none over ${MAX_LINES} lines, nothing below src/api/ imports it`);
