// The `fashion-how` command. Each subcommand is a thin shell over the same services the GraphQL
// server uses, opened on the database that the environment (src/config.ts) names; the commands live in
// src/cli/, one file per group.
import { Command } from 'commander';
import { addAliasCommands } from './cli/aliasCommands.js';
import { addDataCommands } from './cli/dataCommands.js';
import { addLabelCommands } from './cli/labelCommands.js';
import { addModelCommands } from './cli/modelCommands.js';
import { addPredictCommands } from './cli/predictCommands.js';
import { addSeasonCommands } from './cli/seasonCommands.js';
import { addServerCommands } from './cli/serverCommands.js';
import { addSweepCommands } from './cli/sweepCommands.js';
import { addTrainingCommands } from './cli/trainingCommands.js';
import { debugEnabled } from './config.js';
import { AppError, ensureError } from './errors.js';
import { SETTINGS, type Setting } from './settings.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('fashion-how')
    .description('Fashion-How sensibility platform: datasets, training, ensembles, reports over GraphQL.')
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nEnvironment:\n${Object.values(SETTINGS)
        .map((s: Setting<unknown>) => `  ${s.name.padEnd(34)} ${s.description} (default ${s.defaultText})`)
        .join('\n')}`,
    );

  addDataCommands(program);
  addTrainingCommands(program);
  addSweepCommands(program);
  addModelCommands(program);
  addAliasCommands(program);
  addPredictCommands(program);
  addSeasonCommands(program);
  addLabelCommands(program);
  addServerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (thrown) {
    const error = ensureError(thrown);
    console.error(`error: ${error.message}`);
    if (!(error instanceof AppError) && debugEnabled()) console.error(error.stack);
    return 1;
  }
}
