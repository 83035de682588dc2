import { describe, expect, it } from 'vitest';
import { table } from '../../src/cli/format.js';
import { textTable } from '../../src/reports/cardHtml.js';
import { type ReportMetrics, taskReportsOf } from '../../src/reports/evaluate.js';
import { classesTable, decisionsTable, gainSentence, metricsTable } from '../../src/reports/metricsTable.js';

// Six items of one three-class task: truth 0 0 0 1 1 2, decided 0 0 1 1 0 2 (the largest probability).
const tasks = [{ name: 'Daily <b>', column: 'daily', classes: ['casual', 'formal', 'sport & outdoor'] }];
const truth = [[0, 0, 0, 1, 1, 2]];
const onehot = (k: number) => [0.1, 0.1, 0.1].map((p, j) => (j === k ? 0.8 : p));
const probabilities = [[0, 0, 1, 1, 0, 2].map(onehot)];

function evaluation(): ReportMetrics {
  const { taskReports, meanTop1, meanAcsa } = taskReportsOf(tasks, truth, probabilities);
  return { source: 'evaluation', tasks: taskReports, meanTop1, meanAcsa, model: { sizeMB: 1, parameterCount: 10, cpuLatencyMs: 1 } };
}

describe('the tables of a stored report', () => {
  it('write an evaluation as the terminal and the model card both show it, with figures counted by hand', () => {
    const metrics = evaluation();
    const scores = metricsTable(metrics);
    expect(scores.headers).toEqual([
      'task',
      'top-1',
      '95% CI',
      'ACSA',
      '95% CI',
      'macro F1',
      'weighted F1',
      'MCC',
      'kappa',
      'G-mean recall',
      'NLL',
      'Brier',
      'ECE',
    ]);
    // 4 of 6 right; recalls 2/3, 1/2, 1/1 -> ACSA 0.722.
    expect(scores.rows[0]!.slice(0, 2)).toEqual(['Daily <b>', '0.667']);
    expect(scores.rows[0]![3]).toBe('0.722');
    expect(scores.rows[0]![2]).toMatch(/^\[\d\.\d{3}, \d\.\d{3}\]$/);

    const classes = classesTable(metrics.tasks[0]!, tasks[0]!.classes);
    // precision = right / predicted, recall = right / support, specificity = true negatives / (6 - support).
    expect(classes.rows).toEqual([
      ['casual', 3, 3, '0.667', '0.667', '0.667', '0.667'],
      ['formal', 2, 2, '0.500', '0.500', '0.500', '0.750'],
      ['sport & outdoor', 1, 1, '1.000', '1.000', '1.000', '1.000'],
    ]);

    // The same cells in both drawings: escaped on the card, as they are in the terminal.
    const card = textTable(classes);
    const terminal = table(classes.headers, classes.rows);
    expect(card).toContain('<td>sport &amp; outdoor</td><td class="num">1</td><td class="num">1</td><td class="num">1.000</td>');
    expect(terminal.split('\n')[4]).toMatch(/^sport & outdoor\s+1\s+1\s+1\.000\s+1\.000\s+1\.000\s+1\.000$/);
    expect(textTable(scores)).toContain('<td>Daily &lt;b&gt;</td><td class="num">0.667</td>');
  });

  it('write a worker quick report, both decisions of an ensemble, and a gain said plainly when it is a loss', () => {
    const quick = metricsTable({ source: 'training-worker', tasks: [{ task: 0, name: 'Gender', top1: 0.5, acsa: 0.25 }], meanTop1: 0.5, meanAcsa: 0.25 });
    expect(quick).toEqual({ headers: ['task', 'top-1', 'ACSA'], rows: [['Gender', '0.500', '0.250']] });
    const decisions = decisionsTable([
      { decision: 'SOFT_VOTE', meanTop1: 0.6, meanAcsa: 0.4, tasks: [{ task: 'Daily', top1: 0.6, acsa: 0.4 }] },
      { decision: 'LOGIT_ADJUSTED', meanTop1: 0.55, meanAcsa: 0.5, tasks: [{ task: 'Daily', top1: 0.55, acsa: 0.5 }] },
    ]);
    expect(decisions.rows).toEqual([
      ['soft vote', '0.600', '0.400', '0.600 / 0.400'],
      ['logit-adjusted', '0.550', '0.500', '0.550 / 0.500'],
    ]);
    expect(gainSentence({ meanTop1: 0.01, meanAcsa: -0.002, bestMemberArtifactId: 3 })).toBe(
      'Gain over the best member (artifact 3): mean ACSA -0.002, mean top-1 +0.010 (the ensemble is worse than its best member).',
    );
  });
});
