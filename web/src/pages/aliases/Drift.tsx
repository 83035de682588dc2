// An alias's drift: a timeline of windows over a chosen span, and the tables of its newest stored report.
import { type ComponentProps, useMemo, useState } from 'react';
import { f3, useQuery } from '../../api.js';
import { BAR_COLOUR, Chart, escapeHtml, RARE_COLOUR } from '../../chart.js';
import { AliasDriftTimelineDocument, type AliasDriftTimelineQuery, type DriftFeaturesFragment } from '../../generated.js';
import { refText, when } from './format.js';

type Window = AliasDriftTimelineQuery['driftTimeline'][number];

/** A window too small to judge (the server flags nothing in it). */
const THIN_COLOUR = '#9aa5b1';

/** p-values are often tiny: three decimals would say 0.000. */
const pValueText = (p: number) => (p === 0 ? '0' : p < 0.001 ? p.toExponential(2) : p.toFixed(3));

/** The largest PSI of a window, over its tasks and inputs: a bar's height. */
const maxPsi = (w: Pick<Window, 'tasks' | 'inputs'>) => Math.max(0, ...w.tasks.map((t) => t.psi), ...w.inputs.map((i) => i.psi));

const HOUR = 3_600_000;
export type Span = { from: string; to: string; buckets: number };
export const spanEnding = (hours: number, buckets: number): Span => {
  const to = Date.now();
  return { from: new Date(to - hours * HOUR).toISOString(), to: new Date(to).toISOString(), buckets };
};

function TimelineChart({ alias, windows }: { alias: string; windows: Window[] }) {
  const option = useMemo((): ComponentProps<typeof Chart>['option'] => {
    const threshold = windows[0]?.psiThreshold;
    const labels = windows.map((w) => new Date(w.from).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }));
    return {
      grid: { left: 56, right: 16, top: 28, bottom: 48 },
      tooltip: {
        trigger: 'item',
        formatter: (params: unknown) => {
          const w = windows[(params as { dataIndex: number }).dataIndex];
          if (!w) return '';
          const worst = [...w.tasks.map((t) => ({ name: `task ${t.task}`, psi: t.psi })), ...w.inputs.map((i) => ({ name: i.statistic, psi: i.psi }))].sort(
            (a, b) => b.psi - a.psi,
          )[0];
          return [
            `${escapeHtml(when(w.from))} – ${escapeHtml(when(w.to))}`,
            `${w.count} predictions${w.enough ? '' : ' (too few to judge)'}`,
            worst ? `largest PSI ${f3(worst.psi)}: ${escapeHtml(worst.name)}` : '',
            w.drifted ? '<b>drifted</b>' : '',
          ]
            .filter(Boolean)
            .join('<br/>');
        },
      },
      xAxis: { type: 'category', data: labels, axisLabel: { rotate: 20, fontSize: 10 } },
      yAxis: { type: 'value', name: 'largest PSI', min: 0 },
      series: [
        {
          type: 'bar',
          name: 'largest PSI',
          data: windows.map((w) => ({ value: maxPsi(w), itemStyle: { color: w.drifted ? RARE_COLOUR : w.enough ? BAR_COLOUR : THIN_COLOUR } })),
          label: {
            show: true,
            position: 'top',
            fontSize: 10,
            formatter: (params: unknown) => String(windows[(params as { dataIndex: number }).dataIndex]?.count ?? ''),
          },
        },
        ...(threshold !== undefined
          ? [
              {
                type: 'line' as const,
                name: 'PSI threshold',
                data: windows.map(() => threshold),
                symbol: 'none',
                lineStyle: { type: 'dashed' as const, color: RARE_COLOUR, width: 1 },
                tooltip: { show: false },
              },
            ]
          : []),
      ],
    };
  }, [windows]);
  return <Chart testId={`timeline-${alias}`} height={240} option={option} />;
}

export function DriftTimeline({ alias, span }: { alias: string; span: Span }) {
  const { data, error } = useQuery(AliasDriftTimelineDocument, { input: { alias, ...span } });
  if (error?.code === 'UNAUTHENTICATED' || error?.code === 'FORBIDDEN')
    return <p className="muted">The drift timeline makes the model score its reference items: enter a token with role trainer (top right) and reload.</p>;
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Computing {span.buckets} windows…</p>;
  const windows = data.driftTimeline;
  return (
    <>
      <TimelineChart alias={alias} windows={windows} />
      <p className="muted">
        Each bar is a window's largest PSI over tasks and inputs, labelled with its count of logged predictions; red: drifted, grey: too few predictions to
        judge; the dashed line is the PSI threshold.
      </p>
      <details>
        <summary>The windows as a table</summary>
        <table data-testid={`timeline-table-${alias}`}>
          <thead>
            <tr>
              <th>from</th>
              <th>to</th>
              <th className="num">predictions</th>
              <th className="num">largest PSI</th>
              <th>judged</th>
              <th>drifted</th>
            </tr>
          </thead>
          <tbody>
            {windows.map((w) => (
              <tr key={w.from} className={w.drifted ? 'rare' : ''}>
                <td title={w.from}>{when(w.from)}</td>
                <td title={w.to}>{when(w.to)}</td>
                <td className="num">{w.count}</td>
                <td className="num">{f3(maxPsi(w))}</td>
                <td>{w.enough ? 'yes' : 'too few'}</td>
                <td>{w.drifted ? 'drifted' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}

/** The span the timeline covers: the last so many hours, cut into so many windows. */
export function SpanForm({ onSpan }: { onSpan: (span: Span) => void }) {
  const [hours, setHours] = useState(24);
  const [buckets, setBuckets] = useState(12);
  return (
    <form
      className="inline"
      onSubmit={(event) => {
        event.preventDefault();
        onSpan(spanEnding(hours, buckets));
      }}
    >
      <label>
        last hours <input type="number" min={0.1} step="any" value={hours} onChange={(e) => setHours(Number(e.target.value))} data-testid="span-hours" />
      </label>
      <label>
        windows <input type="number" min={1} max={100} value={buckets} onChange={(e) => setBuckets(Number(e.target.value))} data-testid="span-buckets" />
      </label>
      <button type="submit" data-testid="span-draw">
        Draw
      </button>
    </form>
  );
}

export function DriftTables({ report, alias }: { report: DriftFeaturesFragment; alias: string }) {
  return (
    <>
      <p data-testid={`drift-summary-${alias}`}>
        Report #{report.id}: {report.count} predictions of {refText(report.model)} from {when(report.from)} to {when(report.to)} against {report.referenceItems}{' '}
        training items: <b className={report.drifted ? 'rare' : ''}>{report.drifted ? 'drifted' : 'no drift'}</b>
        {report.enough ? '' : ' (too few predictions to judge)'}. A feature drifts at PSI of at least {f3(report.psiThreshold)} with p below{' '}
        {pValueText(report.pValueThreshold)}. <span className="muted">Computed {when(report.createdAt)}.</span>
      </p>
      <div className="grid">
        <div>
          <table data-testid={`drift-tasks-${alias}`}>
            <thead>
              <tr>
                <th>task (predicted class)</th>
                <th className="num">PSI</th>
                <th className="num">p-value</th>
                <th>drifted</th>
              </tr>
            </thead>
            <tbody>
              {report.tasks.map((t) => (
                <tr key={t.task} className={t.drifted ? 'rare' : ''}>
                  <td>{t.task}</td>
                  <td className="num">{f3(t.psi)}</td>
                  <td className="num">{pValueText(t.pValue)}</td>
                  <td>{t.drifted ? 'drifted' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <table data-testid={`drift-inputs-${alias}`}>
            <thead>
              <tr>
                <th>input</th>
                <th className="num">reference mean</th>
                <th className="num">window mean</th>
                <th className="num">PSI</th>
                <th className="num">KS</th>
                <th className="num">p-value</th>
                <th>drifted</th>
              </tr>
            </thead>
            <tbody>
              {report.inputs.map((i) => (
                <tr key={i.statistic} className={i.drifted ? 'rare' : ''}>
                  <td>{i.statistic}</td>
                  <td className="num">{f3(i.referenceMean)}</td>
                  <td className="num">{f3(i.windowMean)}</td>
                  <td className="num">{f3(i.psi)}</td>
                  <td className="num">{f3(i.ks)}</td>
                  <td className="num">{pValueText(i.pValue)}</td>
                  <td>{i.drifted ? 'drifted' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}
