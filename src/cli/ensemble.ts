// How a fitted ensemble is shown on a terminal (`fashion-how ensemble fit` and the demo): each
// candidate's own score, its picks and temperatures, the ensemble's score against the best member, and
// the logit adjustment per task.
import type { Ensemble } from '../db/generated/client.js';
import type { LogitAdjustment } from '../inference/ensembles.js';
import type { FitRecord } from '../inference/fitEnsemble.js';
import { f3 } from '../reports/metricsTable.js';
import { table } from './format.js';

export function describeFit(ensemble: Ensemble): string {
  const fit = ensemble.fit as FitRecord | null;
  if (!fit) return `ensemble ${ensemble.id} "${ensemble.name}" was weighted by hand`;
  const lines = [
    `ensemble ${ensemble.id} "${ensemble.name}": ${fit.method}, ${fit.metric} on dataset ${fit.datasetId} ${fit.split} (${fit.itemCount} items), ${fit.bestStep} of ${fit.rounds} steps kept, ${fit.seconds.toFixed(1)} s`,
    table(
      ['artifact', `own ${fit.metric}`, 'picks', 'temperatures'],
      fit.candidates.map((c) => [c.artifactId, f3(c.score), c.picks, c.temperatures?.map((t) => t.toFixed(2)).join(' ') ?? '']),
    ),
    `fitted ${fit.metric}: ${f3(fit.score)} (best member, artifact ${fit.bestMember.artifactId}: ${f3(fit.bestMember.score)})`,
  ];
  const adjustment = ensemble.logitAdjustment as LogitAdjustment | null;
  if (adjustment) {
    lines.push(
      `logit adjustment for ${adjustment.optimised ?? 'MEAN_ACSA'}: ${adjustment.tasks.map((t) => `${t.task} tau ${t.tau.toFixed(1)} (ACSA ${f3(t.plainAcsa)} -> ${f3(t.adjustedAcsa)}${t.plainTop1 === undefined ? '' : `, top-1 ${f3(t.plainTop1)} -> ${f3(t.adjustedTop1!)}`})`).join(', ')}`,
    );
  }
  return lines.join('\n');
}
