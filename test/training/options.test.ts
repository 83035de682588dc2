import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { type InputObjectTypeDefinitionNode, Kind, parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { hyperparametersOf, withTrainingOptions } from '../../src/cli/trainingOptions.js';
import { resolveHyperparameters } from '../../src/training/hyper.js';
import { graphqlFields, graphqlInputs, graphqlTypeOf, workerOptionsJson } from '../../src/training/optionSurfaces.js';
import { DEFAULTS, OPTION_NAMES, type OptionName, optionOf, problemOf } from '../../src/training/options.js';
import { WORKER_DIR } from '../../src/training/python.js';
import { testPython } from '../fixtures/python.js';

// Every training option is declared once (src/training/options.ts); these tests fail when a surface
// (the GraphQL inputs, the CLI's flags, the worker's typed config, the validation) disagrees with it.
const root = new URL('../../', import.meta.url).pathname;
const schemaText = readFileSync(`${root}schema.graphql`, 'utf8');

function inputFields(name: string) {
  const input = parse(schemaText).definitions.find(
    (d): d is InputObjectTypeDefinitionNode => d.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION && d.name.value === name,
  );
  return (input?.fields ?? []).map((f) => ({ field: f.name.value, type: print(f.type), description: f.description?.value ?? '' }));
}

describe('training options declared once', () => {
  it('shows every option with a GraphQL surface in its input, with the declared type, range and default', () => {
    for (const input of ['TrainingOptions', 'TrainingBudgetInput'] as const) {
      const inSchema = inputFields(input);
      const declared = graphqlFields(input);
      expect(inSchema.map((f) => f.field)).toEqual(declared.map((d) => d.field));
      for (const [i, { option }] of declared.entries()) {
        expect(inSchema[i]!.type).toBe(graphqlTypeOf(option));
        if (option.kind === 'int' || option.kind === 'float') expect(inSchema[i]!.description).toContain(`from ${option.min} to ${option.max}`);
      }
    }
    expect(inputFields('TrainingOptions').find((f) => f.field === 'cutmix')).toMatchObject({ type: 'CutMixMode' });
    expect(inputFields('TrainingBudgetInput').find((f) => f.field === 'seconds')).toMatchObject({ type: 'Int!' });
    // The file is what the generator writes from the declaration (npm run generate keeps it so).
    expect(graphqlInputs(schemaText)).toBe(schemaText);
  });

  it("gives the CLI one flag per option with a CLI surface, and maps each flag's value to its option", () => {
    const command = withTrainingOptions(new Command().exitOverride());
    const declared = OPTION_NAMES.filter((name) => optionOf(name).cli);
    expect(command.options.map((o) => o.flags)).toEqual(declared.map((name) => optionOf(name).cli?.flags));
    command.parse(
      ['--epochs', '7', '--lr', '0.01', '--no-flip', '--selection-metric', 'mean-acsa', '--time-budget', '2m', '--budget-sizes', '32,64', '--cutmix', 'ONLINE'],
      { from: 'user' },
    );
    const hyper = hyperparametersOf(command.opts());
    expect(hyper).toMatchObject({
      epochs: 7,
      learningRate: 0.01,
      horizontalFlip: false,
      selectionMetric: 'MEAN_ACSA',
      timeBudgetSeconds: 120,
      budgetImageSizes: [32, 64],
      cutmix: 'online',
    });
    // Exactly the options given: a --no-x flag that was not given (commander reads it true) is no choice.
    expect(Object.keys(hyper).sort()).toEqual([
      'budgetImageSizes',
      'cutmix',
      'epochs',
      'horizontalFlip',
      'learningRate',
      'selectionMetric',
      'timeBudgetSeconds',
    ]);
    expect(hyperparametersOf(withTrainingOptions(new Command()).parse([], { from: 'user' }).opts())).toEqual({});
    expect(() => resolveHyperparameters(hyper)).not.toThrow();
    expect(() => withTrainingOptions(new Command().exitOverride()).parse(['--epochs', 'x'], { from: 'user' })).toThrow(/epochs must be an integer/);
  });

  it('validates every option against its declared range and refuses unknown ones', () => {
    expect(() => resolveHyperparameters({ epochs: 0 })).toThrow('epochs must be an integer from 1 to 1000, got 0');
    expect(() => resolveHyperparameters({ learningRate: 2 })).toThrow('learningRate must be a number from 1e-8 to 1, got 2');
    expect(() => resolveHyperparameters({ cutmix: 'sometimes' as never })).toThrow('cutmix must be one of off, online, offline, got "sometimes"');
    expect(() => resolveHyperparameters({ budgetImageSizes: [8] })).toThrow('budgetImageSizes must be 1 to 12 integers from 16 to 1024');
    expect(() => resolveHyperparameters({ epochz: 3 } as never)).toThrow(/unknown training option\(s\) epochz/);
    expect(resolveHyperparameters({})).toEqual(DEFAULTS);
  });

  it('gives the worker the declared table, and its typed config the declared fields, defaults and checks', async () => {
    expect(readFileSync(`${WORKER_DIR}/training_options.json`, 'utf8')).toBe(workerOptionsJson());
    // Values each option must accept or refuse; the worker's verdict and message must equal the platform's.
    const probes: [OptionName, unknown][] = [
      ['epochs', 0],
      ['epochs', 3],
      ['epochs', 2.5],
      ['learningRate', 0.5],
      ['learningRate', 1.5],
      ['horizontalFlip', 'yes'],
      ['maxStepsPerEpoch', null],
      ['epochs', null],
      ['budgetImageSizes', [64, 2000]],
      ['budgetImageSizes', [32]],
      ['pretrained', ''],
    ];
    const python = await testPython();
    const script = [
      'import dataclasses, json, sys',
      'from hyper import Hyper, problem_of',
      'probes = json.loads(sys.argv[1])',
      'defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory()) for f in dataclasses.fields(Hyper)}',
      'print(json.dumps({"defaults": defaults, "problems": [problem_of(n, v) for n, v in probes]}))',
    ].join('\n');
    const { stdout } = await promisify(execFile)(python.executable, ['-c', script, JSON.stringify(probes)], { cwd: WORKER_DIR });
    const worker = JSON.parse(stdout) as { defaults: Record<string, unknown>; problems: (string | null)[] };
    expect(worker.defaults).toEqual(DEFAULTS);
    expect(Object.keys(worker.defaults)).toEqual(OPTION_NAMES);
    const platform = probes.map(([name, value]) => problemOf(name, value));
    expect(worker.problems.map((p) => p === null)).toEqual(platform.map((p) => p === null));
    expect(platform.filter((p) => p === null)).toHaveLength(4);
  });
});
