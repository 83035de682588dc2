// fashion-how alias, drift, online-report: roll a model out behind an alias, watch it, roll it back.
import type { Command } from 'commander';
import { badInput } from '../errors.js';
import { type AliasRow, type AliasSettings, type ModelRef, type RolloutMode, settingsOf } from '../inference/aliases.js';
import { f3, percent } from '../reports/metricsTable.js';
import { onlineReport } from '../reports/online.js';
import { table } from './format.js';
import { duration, int, number } from './options.js';
import { withApp } from './session.js';

const refText = (ref: ModelRef | null) => (ref ? `${ref.kind} ${ref.id}` : '-');

function describe(row: AliasRow): string {
  const s = settingsOf(row);
  const rollout =
    s.mode === 'CANARY' ? `canary ${s.canaryPercent}% to ${refText(s.candidate)}` : s.mode === 'SHADOW' ? `shadow ${refText(s.candidate)}` : 'no candidate';
  return `${row.name} -> ${refText(s.target)}, ${rollout}, log ${percent(s.logRate)}`;
}

/** The model an option pair names: --ensemble or --artifact (or their --candidate- twins), exactly one. */
function refOf(ensemble: number | undefined, artifact: number | undefined, what: string): ModelRef | null {
  if (ensemble !== undefined && artifact !== undefined) throw badInput(`${what}: give an ensemble or an artifact, not both`);
  if (ensemble !== undefined) return { kind: 'ensemble', id: ensemble };
  if (artifact !== undefined) return { kind: 'artifact', id: artifact };
  return null;
}

interface SetOptions {
  ensemble?: number;
  artifact?: number;
  candidateEnsemble?: number;
  candidateArtifact?: number;
  canary?: number;
  shadow?: boolean;
  logRate?: number;
}

export function addAliasCommands(program: Command): void {
  const alias = program.command('alias').description('aliases (champion, challenger, ...): which model answers, canaries, shadows, rollbacks');
  alias
    .command('list')
    .description('every alias and where it points')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.aliases.list();
        if (rows.length === 0) return console.log('no aliases yet: classify answers with the default ensemble (alias set champion --ensemble ID)');
        for (const row of rows) console.log(describe(row));
      }),
    );
  alias
    .command('set')
    .description(
      'point an alias at a model, optionally with a canary or shadow candidate (one recorded change); a new target without --canary or --shadow ends a rollout, options left out keep their current value',
    )
    .argument('<name>', 'the alias, e.g. champion')
    .option('--ensemble <id>', 'the ensemble that answers', int('ensemble', 1))
    .option('--artifact <id>', 'the artifact that answers', int('artifact', 1))
    .option('--candidate-ensemble <id>', 'an ensemble to try out', int('candidate ensemble', 1))
    .option('--candidate-artifact <id>', 'an artifact to try out', int('candidate artifact', 1))
    .option('--canary <percent>', 'share of clients (0-100) the candidate answers', number)
    .option('--shadow', 'the candidate scores a copy of every request, off the answer path')
    .option('--log-rate <share>', 'share of requests (0-1) whose predictions are logged (default: the current value, else 0)', number)
    .action((name: string, options: SetOptions) =>
      withApp(async (app) => {
        const current = await app.services.db.modelAlias.findUnique({ where: { name } });
        const before = current ? settingsOf(current) : null;
        const given = refOf(options.ensemble, options.artifact, 'the target');
        const target = given ?? before?.target;
        if (!target) throw badInput('give the model that answers: --ensemble ID or --artifact ID');
        const named = refOf(options.candidateEnsemble, options.candidateArtifact, 'the candidate');
        if (options.canary !== undefined && options.shadow) throw badInput('a candidate is a canary or a shadow, not both');
        const rollout = options.canary !== undefined || options.shadow;
        if (named && !rollout) throw badInput('a candidate needs --canary PERCENT or --shadow');
        // A new target without rollout options ends any rollout (a promotion); no new target and no
        // rollout options (say, only --log-rate) keeps the one running.
        const keep = !given && !rollout && before;
        const candidate = rollout ? (named ?? before?.candidate ?? null) : keep ? before.candidate : null;
        if (rollout && !candidate) throw badInput('a canary or shadow needs a candidate: --candidate-ensemble ID or --candidate-artifact ID');
        const mode: RolloutMode = options.canary !== undefined ? 'CANARY' : options.shadow ? 'SHADOW' : keep ? before.mode : 'NONE';
        const settings: AliasSettings = {
          target,
          candidate,
          mode,
          canaryPercent: options.canary ?? (keep && before.mode === 'CANARY' ? before.canaryPercent : 0),
          logRate: options.logRate ?? before?.logRate ?? 0,
        };
        console.log(describe(await app.services.aliases.set(name, settings, 'cli')));
      }),
    );
  alias
    .command('undo')
    .description("revert an alias's latest change: the rollback")
    .argument('<name>', 'the alias')
    .action((name: string) =>
      withApp(async (app) => {
        console.log(describe(await app.services.aliases.undo(name, 'cli')));
      }),
    );
  alias
    .command('history')
    .description("an alias's changes, newest first")
    .argument('<name>', 'the alias')
    .action((name: string) =>
      withApp(async (app) => {
        const row = await app.services.aliases.get(name);
        const changes = await app.services.aliases.history(row.id, 100);
        const state = (s: unknown) => {
          const settings = s as AliasSettings | null;
          return settings
            ? `${refText(settings.target)}${settings.mode === 'NONE' ? '' : ` (${settings.mode.toLowerCase()} ${refText(settings.candidate)})`}`
            : '(created)';
        };
        console.log(
          table(
            ['change', 'at', 'by', 'from', 'to', 'note'],
            changes.map((c) => [
              c.id,
              c.at.toISOString(),
              c.actor,
              state(c.before),
              state(c.after),
              c.undoes ? `undoes ${c.undoes}` : c.undoneAt ? 'undone' : '',
            ]),
          ),
        );
      }),
    );

  program
    .command('drift')
    .description("a drift report of an alias's logged predictions against its model's training split (stored)")
    .argument('<alias>', 'the alias')
    .option('--window <duration>', 'how far back from now, e.g. 24h, 90m', duration, 86_400)
    .option('--dataset <id>', "compare with this dataset's TRAIN split", int('dataset', 1))
    .option('--json', 'print the report as JSON')
    .action((name: string, options: { window: number; dataset?: number; json?: boolean }) =>
      withApp(async (app) => {
        const to = new Date();
        const report = await app.services.drift.report(name, { from: new Date(to.getTime() - options.window * 1000), to, datasetId: options.dataset });
        if (options.json) return console.log(JSON.stringify(report, null, 2));
        console.log(
          `drift report ${report.id}: ${report.count} predictions of ${report.body.model.kind} ${report.body.model.id}, ${report.drifted ? 'DRIFT' : 'no drift'}${report.body.enough ? '' : ' (too few to judge)'}`,
        );
        console.log(
          table(
            ['feature', 'PSI', 'test', 'p-value', 'drifted'],
            [
              ...report.body.tasks.map((t) => [
                `prediction ${t.task}`,
                f3(t.psi),
                `chi2 ${f3(t.chiSquare)}`,
                t.pValue.toExponential(2),
                t.drifted ? 'yes' : '',
              ]),
              ...report.body.inputs.map((i) => [
                `input ${i.statistic} (${f3(i.referenceMean)} -> ${f3(i.windowMean)})`,
                f3(i.psi),
                `KS ${f3(i.ks)}`,
                i.pValue.toExponential(2),
                i.drifted ? 'yes' : '',
              ]),
            ],
          ),
        );
      }),
    );

  program
    .command('online-report')
    .description("evaluate's metrics over an alias's logged predictions that feedback labelled")
    .argument('<alias>', 'the alias')
    .option('--window <duration>', 'how far back from now', duration, 30 * 86_400)
    .action((name: string, options: { window: number }) =>
      withApp(async (app) => {
        await app.services.aliases.get(name);
        const to = new Date();
        const report = await onlineReport(app.services.db, { alias: name, from: new Date(to.getTime() - options.window * 1000), to });
        console.log(`${report.count} labelled answers: mean top-1 ${f3(report.meanTop1)}, mean ACSA ${f3(report.meanAcsa)}`);
        console.log(
          table(
            ['side', 'model', 'labelled', 'mean top-1', 'mean ACSA'],
            report.models.map((m) => [m.role, `${m.kind} ${m.id} "${m.name}"`, m.count, f3(m.meanTop1), f3(m.meanAcsa)]),
          ),
        );
      }),
    );
}
