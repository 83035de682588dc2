// fashion-how labels find | show | review | apply: likely mislabels by confident learning, their
// review, and the reviewed labels as a new version of the dataset.
import type { Command } from 'commander';
import type { App } from '../app.js';
import { SPLITS } from '../domain.js';
import { badInput } from '../errors.js';
import { LABEL_DECISIONS, type LabelDecision, type ScanTask } from '../reports/labelReview.js';
import { f3 } from '../reports/metricsTable.js';
import { table } from './format.js';
import { choice, int } from './options.js';
import { withApp } from './session.js';

async function printScan(app: App, scanId: number, task: number | undefined, limit: number) {
  const { labelReview, datasets } = app.services;
  const scan = await labelReview.scan(scanId);
  const dataset = await datasets.get(scan.datasetId);
  const { tasks } = await datasets.labelSchema(dataset.labelSchemaId);
  const summary = scan.tasks as unknown as ScanTask[];
  console.log(`scan ${scan.id} of dataset ${dataset.id} "${dataset.name}": ${scan.itemCount} items`);
  console.log(
    table(
      ['task', 'suspects', 'share'],
      summary.map((t) => [t.taskName, t.issueCount, f3(t.issueCount / Math.max(1, scan.itemCount))]),
    ),
  );
  const issues = await labelReview.issues(scan.id, { task, limit });
  if (issues.length === 0) return;
  const name = (t: number, k: number) => tasks[t]!.classes[k]!;
  console.log(
    `\n${table(
      ['issue', 'task', 'rank', 'item', 'given', 'p(given)', 'suggested', 'p(suggested)', 'decision'],
      issues.map((i) => [
        i.id,
        tasks[i.task]!.name,
        i.rank,
        i.itemId,
        name(i.task, i.givenClass),
        f3(i.selfConfidence),
        name(i.task, i.suggestedClass),
        f3(i.suggestedProbability),
        i.decision === 'RELABEL' ? `RELABEL -> ${name(i.task, i.relabelTo!)}` : i.decision,
      ]),
    )}`,
  );
}

export function addLabelCommands(program: Command): void {
  const labels = program.command('labels').description('find likely mislabels (confident learning), review them, and make a corrected version of the dataset');
  labels
    .command('find')
    .description("scan a dataset's labels from out-of-sample probabilities: a cross-validation's out-of-fold predictions, or a model on a held-out split")
    .requiredOption('--dataset <id>', 'dataset id', int('dataset', 1))
    .option('--cross-validation <id>', 'a finished cross-validation of the dataset (every TRAIN and VALIDATION item)', int('cross-validation', 1))
    .option('--artifact <id>', 'an artifact, scored on --split', int('artifact', 1))
    .option('--ensemble <id>', 'an ensemble, scored on --split', int('ensemble', 1))
    .option('--split <split>', `with --artifact or --ensemble: ${SPLITS.join(' | ')} (default VALIDATION)`, choice(SPLITS))
    .option('--limit <n>', 'suspects to print (default 20)', int('limit', 0), 20)
    .action((options) =>
      withApp(async (app) => {
        const scan = await app.services.labelReview.find({
          datasetId: options.dataset,
          crossValidationId: options.crossValidation,
          artifactId: options.artifact,
          ensembleId: options.ensemble,
          split: options.split,
        });
        await printScan(app, scan.id, undefined, Math.max(1, options.limit));
      }),
    );
  labels
    .command('show <scan>')
    .description('a scan and its suspects, most suspect first within each task')
    .option('--task <t>', 'only this task index', int('task', 0))
    .option('--limit <n>', 'suspects to print (default 50)', int('limit', 1), 50)
    .action((scan, options) => withApp((app) => printScan(app, int('scan', 1)(scan), options.task, options.limit)));
  labels
    .command('review <scan> <decision>')
    .description(`decide suspects: ${LABEL_DECISIONS.filter((d) => d !== 'PENDING').join(' | ')} (relabel: to the suggested class, or --class)`)
    .option('--issue <id>', 'one suspect (default: every pending suspect of the scan)', int('issue', 1))
    .option('--task <t>', "only this task's suspects", int('task', 0))
    .option('--class <k>', 'with --issue and relabel: the class to relabel to', int('class', 0))
    .action((scan, decision, options) =>
      withApp(async (app) => {
        const chosen = String(decision).toUpperCase() as LabelDecision;
        if (!LABEL_DECISIONS.includes(chosen)) throw badInput(`decision must be one of ${LABEL_DECISIONS.join(', ')}, got "${decision}"`);
        if (options.issue) {
          const issue = await app.services.labelReview.review(options.issue, chosen, options.class);
          console.log(`issue ${issue.id}: ${issue.decision}${issue.relabelTo !== null ? ` -> class ${issue.relabelTo}` : ''}`);
        } else {
          const changed = await app.services.labelReview.reviewAll(int('scan', 1)(scan), chosen, { task: options.task });
          console.log(`${changed} suspect(s) of scan ${scan} marked ${chosen}`);
        }
      }),
    );
  labels
    .command('apply <scan>')
    .description('make the reviewed labels a new version of the dataset (relabelled, excluded items left out)')
    .option('--name <name>', "the new version's name (default: the dataset's with its version)")
    .action((scan, options) =>
      withApp(async (app) => {
        const dataset = await app.services.labelReview.apply(int('scan', 1)(scan), options.name);
        console.log(`dataset ${dataset.id} "${dataset.name}" (version ${dataset.version} of dataset ${dataset.parentId}): ${dataset.itemCount} items`);
      }),
    );
}
