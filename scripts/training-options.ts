// Writes the surfaces of the training options that are files, from their one declaration
// (src/training/options.ts): the fields of the GraphQL inputs `TrainingOptions` and `TrainingBudgetInput`
// in schema.graphql, and the worker's typed config (src/training/worker/training_options.json).
// Run by `npm run generate`, before the GraphQL types are generated from the schema; `--check` only
// says whether the files are up to date (exit 1 when not).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { graphqlInputs, workerOptionsJson } from '../src/training/optionSurfaces.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = [
  { path: `${root}schema.graphql`, write: (text: string) => graphqlInputs(text) },
  { path: `${root}src/training/worker/training_options.json`, write: () => workerOptionsJson() },
];

const check = process.argv.includes('--check');
let stale = 0;
for (const file of files) {
  const before = existsSync(file.path) ? readFileSync(file.path, 'utf8') : '';
  const after = file.write(before);
  if (after === before) continue;
  stale += 1;
  if (check) console.error(`${file.path} is not what src/training/options.ts declares: run npm run generate`);
  else writeFileSync(file.path, after);
}
process.exit(check && stale > 0 ? 1 : 0);
