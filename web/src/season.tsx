// Whether a season accepts a model, as the server judged it: a report and an alias show the same verdict,
// with the failed checks as the reason and every check on hover.
import type { SeasonVerdictFieldsFragment } from './generated.js';

/** "accepted by NAME", or "rejected by NAME: reason; reason". */
export const verdictText = (verdict: SeasonVerdictFieldsFragment) =>
  verdict.accepted ? `accepted by ${verdict.profile.name}` : `rejected by ${verdict.profile.name}: ${verdict.reasons.join('; ')}`;

/** Every check, one a line, for the hover text: what was found even where it holds. */
const checksText = (verdict: SeasonVerdictFieldsFragment) => verdict.checks.map((c) => `${c.ok ? '✔' : '✘'} ${c.rule}: ${c.detail}`).join('\n');

export function SeasonVerdict({ verdict, testId }: { verdict: SeasonVerdictFieldsFragment; testId?: string }) {
  return (
    <span className={verdict.accepted ? 'right' : 'wrong'} title={checksText(verdict)} data-testid={testId} data-accepted={verdict.accepted}>
      {verdict.accepted ? '✔ ' : '✘ '}
      {verdictText(verdict)}
    </span>
  );
}
