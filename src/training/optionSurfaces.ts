// The training options' surfaces that are text, derived from their declaration (options.ts): the fields
// of the GraphQL inputs that show them, and the worker's copy of the table. scripts/training-options.ts
// writes both; the options test compares them with what is in place.
import { defaultText, OPTION_NAMES, type OptionName, optionOf, rangeText, type TrainingOption } from './options.js';

type GraphqlInput = 'TrainingOptions' | 'TrainingBudgetInput';

/** The GraphQL type that shows an option. */
export function graphqlTypeOf(option: TrainingOption): string {
  const base = (() => {
    switch (option.kind) {
      case 'int':
        return 'Int';
      case 'float':
        return 'Float';
      case 'flag':
        return 'Boolean';
      case 'choice':
        return option.graphqlEnum ?? 'String';
      case 'text':
        return 'String';
      case 'intList':
        return '[Int!]';
      default: {
        const unknown: never = option;
        return unknown;
      }
    }
  })();
  return option.graphql?.required ? `${base}!` : base;
}

/** The options an input shows, with their field names, in declaration order. */
export function graphqlFields(input: GraphqlInput): { name: OptionName; field: string; option: TrainingOption }[] {
  return OPTION_NAMES.flatMap((name) => {
    const option = optionOf(name);
    return option.graphql?.input === input ? [{ name, field: option.graphql.field ?? name, option }] : [];
  });
}

/** A choice's values as the GraphQL enum spells them. */
const enumText = (option: TrainingOption, value: string) => (option.kind === 'choice' && option.graphqlEnum ? value.toUpperCase() : value);

function fieldDescription(option: TrainingOption): string {
  const required = option.graphql?.required === true;
  const values = option.kind === 'choice' ? `one of ${option.values.map((v) => enumText(option, v)).join(', ')}` : rangeText(option);
  const shownDefault = option.defaultText ? `: ${option.defaultText}` : ` ${enumText(option, defaultText(option))}`;
  const text = `${option.description}; ${required ? values.replace(', or null', '') : values}${required ? '' : ` (default${shownDefault})`}.`;
  return JSON.stringify(text);
}

/** schema.graphql with the declared options' inputs' fields written in (descriptions above each input kept). */
export function graphqlInputs(schema: string): string {
  let text = schema;
  for (const input of ['TrainingOptions', 'TrainingBudgetInput'] as const) {
    const start = text.indexOf(`input ${input} {\n`);
    if (start < 0) throw new Error(`schema.graphql has no "input ${input} {" to write the training options into`);
    const bodyStart = start + `input ${input} {\n`.length;
    const end = text.indexOf('\n}\n', bodyStart);
    const body = graphqlFields(input)
      .map(({ field, option }) => `  ${fieldDescription(option)}\n  ${field}: ${graphqlTypeOf(option)}`)
      .join('\n');
    text = text.slice(0, bodyStart) + body + text.slice(end);
  }
  return text;
}

/** The table the worker's hyper.py reads: each option's kind, default and range. */
export function workerOptionsJson(): string {
  const table = Object.fromEntries(
    OPTION_NAMES.map((name) => {
      const option = optionOf(name);
      const { kind, default: value } = option;
      const range = option.kind === 'int' || option.kind === 'float' || option.kind === 'intList' ? { min: option.min, max: option.max } : {};
      return [
        name,
        {
          kind,
          default: value,
          ...range,
          ...(option.kind === 'int' ? { nullable: option.nullable } : {}),
          ...(option.kind === 'choice' ? { values: option.values } : {}),
          ...(option.kind === 'intList' ? { maxLength: option.maxLength } : {}),
        },
      ];
    }),
  );
  return `${JSON.stringify({ $comment: 'Generated from src/training/options.ts by npm run generate; do not edit.', options: table }, null, 2)}\n`;
}
