// The training options `train` and `sweep` share: one flag per option that training/options.ts gives a
// CLI surface, its parser from the option's kind and its help from the declaration.
import { type Command, Option } from 'commander';
import { defaultText, type Hyperparameters, OPTION_NAMES, type OptionName, optionOf, type TrainingOption } from '../training/options.js';
import { choice, duration, int, intList, number } from './options.js';

/** The declared options with a flag, as commander options. */
function cliOptions(): { name: OptionName; option: Option }[] {
  return OPTION_NAMES.flatMap((name) => {
    const declared = optionOf(name);
    if (!declared.cli) return [];
    const option = new Option(declared.cli.flags, helpOf(declared));
    const parse = parserOf(declared);
    if (parse) option.argParser(parse);
    return [{ name, option }];
  });
}

function helpOf(declared: TrainingOption): string {
  if (declared.cli?.help) return declared.cli.help;
  const text = declared.description.charAt(0).toLowerCase() + declared.description.slice(1);
  return declared.kind === 'flag' ? text : `${text} (default ${defaultText(declared)})`;
}

/** The flag's value parser (the ranges are checked with the rest of the request, by resolveHyperparameters). */
function parserOf(declared: TrainingOption): ((raw: string) => unknown) | undefined {
  const flag = (declared.cli?.flags.split(' ')[0] ?? '').replace(/^--/, '');
  if (declared.cli?.duration) return duration;
  switch (declared.kind) {
    case 'int':
      return int(flag, declared.min);
    case 'float':
      return number;
    case 'choice': {
      // Choices are matched without regard to case or dashes (--selection-metric mean-acsa).
      const parse = choice(declared.values);
      return (raw: string) => parse(declared.values.find((v) => v.toLowerCase() === raw.toLowerCase().replace(/-/g, '_')) ?? raw);
    }
    case 'intList':
      return intList(flag, declared.min);
    case 'flag':
    case 'text':
      return undefined;
    default: {
      const unknown: never = declared;
      return unknown;
    }
  }
}

export function withTrainingOptions(command: Command): Command {
  for (const { option } of cliOptions()) command.addOption(option);
  return command;
}

/** The parsed options as hyperparameter overrides (absent ones take the recipe's value). */
// biome-ignore lint/suspicious/noExplicitAny: commander's parsed options are untyped
export function hyperparametersOf(options: Record<string, any>): Partial<Hyperparameters> {
  // A --no-x flag reads true when absent: only its false is a choice the user made.
  const given = cliOptions().map(({ name, option }) => [
    name,
    option.negate && options[option.attributeName()] === true ? undefined : options[option.attributeName()],
  ]);
  return Object.fromEntries(given.filter(([, value]) => value !== undefined)) as Partial<Hyperparameters>;
}

/** The distillation options `train` and `sweep` share. */
export function withTeacherOptions(command: Command): Command {
  return command
    .option('--teacher <ensembleId>', "distil: train on this ensemble's soft targets", int('teacher', 1))
    .option('--teacher-temperature <t>', 'distillation temperature (default 2)', number)
    .option('--teacher-alpha <a>', "weight of the teacher's term in the loss (default 0.5)", number);
}

/** The parsed distillation options as a teacher request (absent without --teacher). */
// biome-ignore lint/suspicious/noExplicitAny: commander's parsed options are untyped
export function teacherOf(options: Record<string, any>, compareWithoutTeacher: boolean) {
  return options.teacher
    ? { ensembleId: options.teacher as number, temperature: options.teacherTemperature, alpha: options.teacherAlpha, compareWithoutTeacher }
    : undefined;
}
