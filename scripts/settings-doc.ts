// Writes the settings table of docs/configuration.md from src/settings.ts (`npm run docs:settings`);
// test/settings.test.ts fails when the page and the declaration disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../src/settings.js';

export const CONFIGURATION_PAGE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const START = '<!-- settings-table:start -->';
const END = '<!-- settings-table:end -->';

/** The page with its table section replaced by the table the declaration makes. */
export function withGeneratedTable(page: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md has no ${START} ... ${END} section`);
  return `${page.slice(0, start + START.length)}\n<!-- generated from src/settings.ts by npm run docs:settings; do not edit by hand -->\n${settingsTable()}\n${page.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIGURATION_PAGE, withGeneratedTable(readFileSync(CONFIGURATION_PAGE, 'utf8')));
  console.log('docs/configuration.md: settings table written');
}
