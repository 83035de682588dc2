// A race on its sweep's page: each rung's runs with their figures, what was decided and why, and the
// outcome (the best single model, the finalists' ensemble).
import { f3 } from '../api.js';
import type { SweepPageQuery } from '../generated.js';

type Race = NonNullable<SweepPageQuery['sweep']['race']>;
type Candidate = Race['rungs'][number]['entries'][number]['candidate'];

const named = (c: Candidate) => `${c.backbone}${c.smallInputStem ? ' (small stem)' : ''} @ ${c.imageSize} px`;

export function RacePanel({ race, metric }: { race: Race; metric: string }) {
  const lastRung = race.rungs.length > 0 ? Math.max(...race.rungs.map((r) => r.rung)) : -1;
  return (
    <section className="card" data-testid="race">
      <h2>
        Race: preset {race.preset.toLowerCase()}, {race.budgetSeconds} s <span className="muted">{race.status.toLowerCase()}</span>
      </h2>
      <p>
        {race.best ? (
          <>
            Best single model: <a href={`#/runs/${race.best.id}`}>run #{race.best.id}</a> ({f3(race.bestScore ?? 0)} {metric} on VALIDATION)
          </>
        ) : (
          'No best model yet.'
        )}
        {race.ensemble && (
          <>
            {' '}
            The finalists as <a href="#/ensembles">ensemble {race.ensemble.name}</a>.
          </>
        )}
        {race.wallSeconds != null && ` Wall time ${race.wallSeconds.toFixed(0)} s.`}
        {race.note && <span className="muted"> {race.note}</span>}
      </p>
      {race.student && (
        <p data-testid="race-student">
          The best model is over {race.sizeLimitMb} MB: distilled into {race.student.backbone} @ {race.student.imageSize} px,{' '}
          <a href={`#/runs/${race.student.run.id}`}>run #{race.student.run.id}</a>
          {race.student.score != null && race.student.gap != null
            ? `, ${race.student.sizeMb?.toFixed(1)} MB, ${f3(race.student.score)} against the best's ${f3(race.student.bestScore)} (${f3(race.student.gap)} below)`
            : ', which did not succeed'}
          .
        </p>
      )}
      {race.leftOut.length > 0 && (
        <p className="muted" data-testid="race-left-out">
          Left out: {race.leftOut.map((l) => `${l.backbone} @ ${l.imageSize} px (${l.reason})`).join('; ')}
        </p>
      )}
      {race.rungs.map((rung) => (
        <table key={rung.rung} data-testid={`race-rung-${rung.rung}`}>
          <caption>
            Rung {rung.rung}: {rung.secondsPerRun} s a run{rung.decided ? '' : ', training'}
          </caption>
          <thead>
            <tr>
              <th>candidate</th>
              <th>run</th>
              <th className="num">{metric}</th>
              <th>decision</th>
              <th>why</th>
            </tr>
          </thead>
          <tbody>
            {rung.entries.map((entry) => (
              <tr key={entry.run.id} data-testid={`race-entry-${entry.run.id}`} className={entry.kept ? 'best' : ''}>
                <td>{named(entry.candidate)}</td>
                <td>
                  <a href={`#/runs/${entry.run.id}`}>#{entry.run.id}</a> <span className="muted">{entry.run.status.toLowerCase()}</span>
                </td>
                <td className="num">{entry.score != null ? f3(entry.score) : '–'}</td>
                <td>{entry.kept == null ? '–' : rung.rung === lastRung ? (entry.kept ? 'best' : 'finalist') : entry.kept ? 'goes on' : 'stops'}</td>
                <td>{entry.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}
