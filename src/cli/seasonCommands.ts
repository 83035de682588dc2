// fashion-how season (list, set, check), submission and submissions: entering a Fashion-How season.
import path from 'node:path';
import type { Command } from 'commander';
import type { App } from '../app.js';
import { settingsOf } from '../inference/aliases.js';
import { submissionColumns } from '../seasons/profiles.js';
import type { ModelTarget } from '../seasons/service.js';
import { SubmissionService } from '../seasons/submission.js';
import { describeVerdict } from '../seasons/verdict.js';
import { findPython } from '../training/python.js';
import { table } from './format.js';
import { int } from './options.js';
import { withApp } from './session.js';

interface ModelOptions {
  model?: string;
  ensemble?: number;
  artifact?: number;
}

/** The model an alias, ensemble or artifact option names (default: champion). */
async function targetOf(app: App, options: ModelOptions): Promise<ModelTarget> {
  if (options.ensemble !== undefined) return { kind: 'ensemble', id: options.ensemble };
  if (options.artifact !== undefined) return { kind: 'artifact', id: options.artifact };
  return settingsOf(await app.services.aliases.get(options.model ?? 'champion')).target;
}

const withModelOptions = (command: Command) =>
  command
    .option('--model <alias>', 'an alias (default champion)')
    .option('--ensemble <id>', 'an ensemble instead of an alias', int('ensemble', 1))
    .option('--artifact <id>', 'a single artifact instead of an alias', int('artifact', 1));

export function addSeasonCommands(program: Command): void {
  const season = program.command('season').description("Fashion-How seasons: their rules as profiles, a dataset's season, whether a model is accepted");
  season
    .command('list')
    .description('the season profiles this server knows (built-in, and FASHION_HOW_SEASONS_DIR)')
    .option('--json', 'print them as JSON')
    .action((options: { json?: boolean }) =>
      withApp(async (app) => {
        const profiles = app.services.seasons.profiles.list();
        if (options.json) return console.log(JSON.stringify(profiles, null, 2));
        console.log(
          table(
            ['id', 'labels', 'ranked by', 'size limit', 'ensembles', 'device', 'ms/image', 'runs model', 'columns'],
            profiles.map((p) => [
              p.id,
              p.tasks.map((t) => t.classCount).join('/'),
              p.rankingMetric,
              p.sizeLimitMb === null ? 'none' : `${p.sizeLimitMb} MB`,
              p.ensemblesAllowed ? 'yes' : 'no',
              p.device,
              p.latencyLimitMs === null ? 'none' : String(p.latencyLimitMs),
              p.runsModel ? 'yes' : 'no',
              submissionColumns(p).join(','),
            ]),
          ),
        );
        for (const p of profiles) {
          const assumed = p.sources.filter((s) => s.status === 'assumed').map((s) => s.fact);
          if (assumed.length) console.log(`${p.id}: assumed, not sourced: ${assumed.join('; ')}`);
        }
      }),
    );
  season
    .command('set')
    .description("declare the season a dataset is entered in (its models are judged by that profile, label space included); 'none' clears it")
    .requiredOption('--dataset <id>', 'the dataset', int('dataset', 1))
    .requiredOption('--profile <id>', "a season profile's id (see season list), or none")
    .action((options: { dataset: number; profile: string }) =>
      withApp(async (app) => {
        const dataset = await app.services.seasons.setDatasetSeason(options.dataset, options.profile === 'none' ? null : options.profile);
        console.log(`dataset ${dataset.id} "${dataset.name}": ${dataset.seasonProfile ? `entered in ${dataset.seasonProfile}` : 'no season declared'}`);
      }),
    );
  withModelOptions(
    season
      .command('check')
      .description("whether a season accepts a model, and why not (latency from the model's newest evaluation on this host)")
      .option('--dataset <id>', "judge by this dataset's season", int('dataset', 1))
      .option('--profile <id>', "judge by this season profile (default: the dataset's, else 2024-subtask1)"),
  ).action((options: ModelOptions & { dataset?: number; profile?: string }) =>
    withApp(async (app) => {
      const { seasons } = app.services;
      const dataset = options.dataset !== undefined ? await app.services.datasets.get(options.dataset) : null;
      const profile = options.profile ? seasons.profiles.get(options.profile) : dataset ? seasons.profiles.of(dataset).profile : undefined;
      const target = await targetOf(app, options);
      const verdict = await seasons.judge(target, profile);
      console.log(`${target.kind} ${target.id}: ${describeVerdict(verdict)}`);
      console.log(
        table(
          ['rule', 'ok', 'detail'],
          verdict.checks.map((c) => [c.rule, c.ok ? 'yes' : 'NO', c.detail]),
        ),
      );
      if (!verdict.accepted) process.exitCode = 2;
    }),
  );

  program
    .command('submission')
    .description(
      "write a season's submission for a dataset: the table in the harness's format and order, and (for a season that runs the model) a package proven on a sample",
    )
    .requiredOption('--dataset <id>', 'the dataset holding the test CSV', int('dataset', 1))
    .option('--model <alias>', 'an alias (default champion)')
    .option('--ensemble <id>', 'an ensemble instead of an alias', int('ensemble', 1))
    .option('--artifact <id>', 'a single artifact instead of an alias', int('artifact', 1))
    .requiredOption('--out <dir>', 'folder to write predictions.csv, package/, check/ and submission.json into')
    .option('--season <id>', "a season profile other than the dataset's")
    .option('--sample <n>', 'items the package check runs (default 16)', int('sample', 1))
    .option('--force', 'write it although the season rejects the model')
    .action((options: ModelOptions & { dataset: number; out: string; season?: string; sample?: number; force?: boolean }) =>
      withApp(async (app) => {
        const { services, config } = app;
        const submissions = new SubmissionService({
          db: services.db,
          seasons: services.seasons,
          classify: services.classify,
          photos: services.importContext.photos,
          artifactStore: services.artifactStore,
          python: async () => (await findPython(config.python, config.pythonCacheDir)).executable,
        });
        const result = await submissions.write({
          datasetId: options.dataset,
          alias: options.model,
          ensembleId: options.ensemble,
          artifactId: options.artifact,
          profileId: options.season,
          outDir: path.resolve(options.out),
          force: options.force,
          sample: options.sample,
        });
        console.log(`submission ${result.id}: ${result.target.kind} ${result.target.id} "${result.target.name}" for ${result.profile.id}`);
        console.log(`  ${describeVerdict(result.verdict)}${result.verdict.accepted ? '' : ' (written with --force)'}`);
        console.log(`  table: ${result.table} (${result.rows} rows, columns ${submissionColumns(result.profile).join(', ')})`);
        console.log(
          `  answers: ${result.source === 'scored' ? 'scored now through the serving path (no finished prediction job of this model over the whole dataset)' : `prediction job ${result.source.predictionJob}`}`,
        );
        if (result.packageDir && result.check) {
          const { check } = result;
          const e = (v: number) => v.toExponential(1);
          console.log(`  package: ${result.packageDir} (graph run by ${check.backend})`);
          console.log(
            `  check on ${check.items} items: same pixels ${check.graph.argmaxAgree}/${check.items} same argmax, max |dp| ${e(check.graph.maxDiff)} (tolerance ${e(check.tolerance)}); original photos ${check.endToEnd.argmaxAgree}/${check.items}, max |dp| ${e(check.endToEnd.maxDiff)}`,
          );
          console.log(
            `  CPU per image: mean ${check.cpuMs.mean.toFixed(1)} ms, max ${check.cpuMs.max.toFixed(1)} ms${check.cpuMs.limitMs === null ? ' (the season sets no limit)' : ` against ${check.cpuMs.limitMs} ms`}`,
          );
          console.log(`  check ${check.passed ? 'passed' : 'FAILED'}`);
          if (!check.passed) process.exitCode = 3;
        }
      }),
    );

  program
    .command('submissions')
    .description('the submissions written for a dataset, newest first')
    .requiredOption('--dataset <id>', 'the dataset', int('dataset', 1))
    .action((options: { dataset: number }) =>
      withApp(async (app) => {
        const rows = await app.services.seasons.submissions(options.dataset, 100);
        console.log(
          table(
            ['id', 'when', 'season', 'model', 'rows', 'accepted', 'check', 'table sha256'],
            rows.map((r) => [
              r.id,
              r.createdAt.toISOString(),
              r.profileId,
              `${r.modelKind} ${r.modelId} "${r.modelName}"${r.alias ? ` (${r.alias})` : ''}`,
              r.rows,
              r.accepted ? 'yes' : 'forced',
              r.packageCheck ? ((r.packageCheck as { passed: boolean }).passed ? 'passed' : 'FAILED') : '-',
              r.tableSha256.slice(0, 16),
            ]),
          ),
        );
      }),
    );
}
