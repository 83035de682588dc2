// Sweeps: every sweep with its best trial, and one sweep's trials with what each drew, its decision at
// every rung (its figure against the trials that reached the rung), and its validation curve.
import { f3, useQuery } from '../api.js';
import { Chart } from '../chart.js';
import { SweepPageDocument, type SweepPageQuery, SweepsPageDocument } from '../generated.js';
import { RacePanel } from './Race.js';

type Trial = SweepPageQuery['sweep']['trials'][number];

/** A trial's draw as short text: "resnet18+residual, learningRate 0.0012, imageSize 64". */
function drawn(trial: Trial): string {
  const { backbone, head, options } = trial.parameters as { backbone: string; head: string; options: Record<string, unknown> };
  return [`${backbone}+${head}`, ...Object.entries(options).map(([key, value]) => `${key} ${value}`)].join(', ');
}

export function SweepsPage() {
  const { data, error } = useQuery(SweepsPageDocument, {}, 5000);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  if (data.sweeps.length === 0)
    return (
      <p className="muted">
        No sweeps yet: run <code>fashion-how sweep --dataset 1 --trials 6 --epochs 9 --lr-range 1e-4:1e-2</code>, or the <code>startSweep</code> mutation.
      </p>
    );
  return (
    <>
      <h1>Sweeps</h1>
      <section className="card">
        <table data-testid="sweeps-table">
          <thead>
            <tr>
              <th>sweep</th>
              <th>dataset</th>
              <th>strategy</th>
              <th className="num">trials</th>
              <th>status</th>
              <th>best trial</th>
              <th className="num">best figure</th>
            </tr>
          </thead>
          <tbody>
            {data.sweeps.map((sweep) => (
              <tr key={sweep.id}>
                <td>
                  <a href={`#/sweeps/${sweep.id}`}>#{sweep.id}</a>
                </td>
                <td>{sweep.dataset.name}</td>
                <td>
                  {sweep.strategy}
                  {sweep.strategy === 'ASHA' && <span className="muted"> rungs {sweep.rungEpochs.join(', ')}</span>}
                </td>
                <td className="num">{sweep.trialCount}</td>
                <td>{sweep.status}</td>
                <td>{sweep.best ? <a href={`#/runs/${sweep.best.run.id}`}>trial {sweep.best.index}</a> : '–'}</td>
                <td className="num">{sweep.best?.score != null ? `${f3(sweep.best.score)} ${sweep.metric}` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

export function SweepPage({ id }: { id: string }) {
  const { data, error } = useQuery(SweepPageDocument, { id }, 2000);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { sweep } = data;
  const metricKey = sweep.metric === 'MEAN_ACSA' ? 'meanAcsa' : 'meanTop1';
  return (
    <>
      <h1>
        Sweep #{sweep.id} <span className="muted">{sweep.status.toLowerCase()}</span>
      </h1>
      <p>
        {sweep.strategy === 'RACE'
          ? `A race of ${sweep.trialCount} candidates on ${sweep.dataset.name}, each run with its own time budget, judged by ${sweep.metric} on VALIDATION`
          : `${sweep.strategy} over ${sweep.trialCount} trials on ${sweep.dataset.name}, up to ${sweep.maxEpochs} epochs each, judged by ${sweep.metric} on VALIDATION`}
        {sweep.strategy === 'ASHA' && `; rungs after epochs ${sweep.rungEpochs.join(', ')}, 1 in ${sweep.reductionFactor} goes on`}.
        {sweep.best && ` Best: trial ${sweep.best.index} (run ${sweep.best.run.id}), ${f3(sweep.best.score ?? 0)}.`}
      </p>
      {sweep.race && <RacePanel race={sweep.race} metric={sweep.metric} />}
      <section className="card">
        <h2>Validation {sweep.metric} per trial</h2>
        <Chart
          testId="sweep-curves"
          option={{
            grid: { left: 48, right: 12, top: 10, bottom: 30 },
            tooltip: { trigger: 'axis' },
            legend: { type: 'scroll', bottom: 0 },
            xAxis: { type: 'value', name: 'epoch', minInterval: 1 },
            yAxis: { type: 'value' },
            series: sweep.trials.map((trial) => ({
              type: 'line',
              name: `trial ${trial.index}${trial.pruned ? ' (pruned)' : ''}`,
              data: trial.run.epochs.map((e) => [e.epoch, e[metricKey]]),
              lineStyle: trial.pruned ? { type: 'dashed' } : undefined,
            })),
          }}
        />
      </section>
      <section className="card">
        <table data-testid="sweep-trials">
          <thead>
            <tr>
              <th>trial</th>
              <th>run</th>
              <th>drawn</th>
              <th>rungs (figure, kept / reached)</th>
              <th>status</th>
              <th className="num">{sweep.metric}</th>
            </tr>
          </thead>
          <tbody>
            {sweep.trials.map((trial) => (
              <tr key={trial.index} data-testid={`trial-${trial.index}`} className={trial.index === sweep.best?.index ? 'best' : ''}>
                <td>
                  {trial.index}
                  {trial.index === sweep.best?.index && ' ★'}
                </td>
                <td>
                  <a href={`#/runs/${trial.run.id}`}>#{trial.run.id}</a>
                </td>
                <td>{drawn(trial)}</td>
                <td>
                  {trial.rungs.map((rung) => (
                    <span key={rung.epoch} className={rung.promoted ? '' : 'error'} title={`competing: ${rung.competing.map(f3).join(', ')}`}>
                      epoch {rung.epoch}: {f3(rung.value)} {rung.promoted ? 'goes on' : 'stops'} ({rung.kept}/{rung.competing.length}){' '}
                    </span>
                  ))}
                </td>
                <td>
                  {trial.run.status}
                  {trial.pruned && <strong> pruned at epoch {trial.prunedAtEpoch}</strong>}
                  {trial.run.error && <span className="error"> {trial.run.error}</span>}
                </td>
                <td className="num">{trial.score != null ? f3(trial.score) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
