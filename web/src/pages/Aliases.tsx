// Models as clients name them: every alias (champion, challenger, ...) with its target, its canary or
// shadow candidate and its log rate; both sides' live figures; its recorded moves with an undo; and
// drift, as a timeline of windows and as the newest stored report. Every number is the server's.
import { type ComponentProps, useMemo, useState } from 'react';
import { f3, pct, request, useQuery } from '../api.js';
import { BAR_COLOUR, Chart, escapeHtml, RARE_COLOUR } from '../chart.js';
import {
  AliasDriftTimelineDocument,
  type AliasDriftTimelineQuery,
  AliasesPageDocument,
  type AliasesPageQuery,
  type DriftFeaturesFragment,
  type ModelKind,
  type RolloutMode,
  UndoAliasChangeButtonDocument,
} from '../generated.js';

type Alias = AliasesPageQuery['aliases'][number];
type Ref = { kind: ModelKind; id: string; name: string };
type LinkedRef = Alias['target'];
type Window = AliasDriftTimelineQuery['driftTimeline'][number];

/** A window too small to judge (the server flags nothing in it). */
const THIN_COLOUR = '#9aa5b1';

const kindOf = (ref: Ref) => (ref.kind === 'ENSEMBLE' ? 'ensemble' : 'artifact');
const refText = (ref: Ref) => `${kindOf(ref)} ${ref.name} (#${ref.id})`;

/** NONE, CANARY with its share of clients, or SHADOW. */
const modeText = (state: { mode: RolloutMode; canaryPercent: number }) => (state.mode === 'CANARY' ? `CANARY ${state.canaryPercent}%` : state.mode);

/** p-values are often tiny: three decimals would say 0.000. */
const pValueText = (p: number) => (p === 0 ? '0' : p < 0.001 ? p.toExponential(2) : p.toFixed(3));

const when = (iso: string) => new Date(iso).toLocaleString();

/** Where the dashboard shows a model: the ensembles page, or the run that trained an artifact. */
function RefLink({ model, testId }: { model: LinkedRef; testId?: string }) {
  const href = model.kind === 'ENSEMBLE' ? '#/ensembles' : model.artifact?.run ? `#/runs/${model.artifact.run.id}` : undefined;
  return href ? (
    <a href={href} data-testid={testId}>
      {refText(model)}
    </a>
  ) : (
    <span data-testid={testId}>{refText(model)}</span>
  );
}

function LiveTable({ alias }: { alias: Alias }) {
  const { sides, shadow } = alias.live;
  const tasks = sides[0]?.confidence.map((c) => c.task) ?? shadow.agreement.map((a) => a.task);
  const shadowed = alias.mode === 'SHADOW' || shadow.scored + shadow.skipped + shadow.failed > 0;
  return (
    <>
      <h2>Live, since this server started</h2>
      {sides.length === 0 ? (
        <p className="muted" data-testid={`live-empty-${alias.name}`}>
          No requests since this server started.
        </p>
      ) : (
        <table data-testid={`live-${alias.name}`}>
          <thead>
            <tr>
              <th>role</th>
              <th>model</th>
              <th className="num">requests</th>
              <th className="num">images</th>
              <th className="num">mean latency ms</th>
              {tasks.map((task) => (
                <th key={task} className="num">
                  {task} confidence
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sides.map((side) => (
              <tr key={`${side.role} ${side.model.kind} ${side.model.id}`} data-testid={`live-${alias.name}-${side.role}`}>
                <td>{side.role}</td>
                <td>{`${side.model.kind.toLowerCase()} ${side.model.name} (#${side.model.id})`}</td>
                <td className="num">{side.requests}</td>
                <td className="num">{side.images}</td>
                <td className="num">{side.meanLatencyMs.toFixed(1)}</td>
                {side.confidence.map((c) => (
                  <td key={c.task} className="num">
                    {f3(c.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shadowed && (
        <>
          <h2>Shadow</h2>
          <table data-testid={`shadow-${alias.name}`}>
            <thead>
              <tr>
                <th className="num">scored</th>
                <th className="num">skipped</th>
                <th className="num">failed</th>
                {shadow.agreement.map((a) => (
                  <th key={a.task} className="num">
                    {a.task} agreement
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              <tr>
                <td className="num">{shadow.scored}</td>
                <td className="num">{shadow.skipped}</td>
                <td className="num">{shadow.failed}</td>
                {shadow.agreement.map((a) => (
                  <td key={a.task} className="num">
                    {pct(a.value)}
                  </td>
                ))}
              </tr>
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

function stateText(state: { target: Ref; candidate: Ref | null; mode: RolloutMode; canaryPercent: number }) {
  return state.candidate ? `${modeText(state)} ${refText(state.candidate)}` : modeText(state);
}

function History({ alias, onMoved }: { alias: Alias; onMoved: () => Promise<void> }) {
  const [message, setMessage] = useState<{ text: string; error: boolean }>();
  return (
    <>
      <h2>Changes (newest first)</h2>
      <table data-testid={`history-${alias.name}`}>
        <thead>
          <tr>
            <th>change</th>
            <th>when</th>
            <th>actor</th>
            <th>target</th>
            <th>mode</th>
            <th className="num">log rate</th>
            <th>undone</th>
          </tr>
        </thead>
        <tbody>
          {alias.history.map((c) => (
            <tr key={c.id} data-testid={`change-${c.id}`}>
              <td>#{c.id}</td>
              <td title={c.at}>{when(c.at)}</td>
              <td>{c.actor}</td>
              <td>
                {c.before ? refText(c.before.target) : '(created)'} → {refText(c.after.target)}
              </td>
              <td>{stateText(c.after)}</td>
              <td className="num">{pct(c.after.logRate)}</td>
              <td>{c.undoneAt ? <span title={c.undoneAt}>undone {when(c.undoneAt)}</span> : c.undoes ? `undoes #${c.undoes}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button
          type="button"
          data-testid={`undo-${alias.name}`}
          onClick={async () => {
            setMessage({ text: 'undoing…', error: false });
            try {
              const { undoAliasChange } = await request(UndoAliasChangeButtonDocument, { name: alias.name });
              setMessage({ text: `undone: ${undoAliasChange.name} now points at ${refText(undoAliasChange.target)}`, error: false });
              await onMoved();
            } catch (e) {
              setMessage({ text: (e as Error).message, error: true });
            }
          }}
        >
          Undo last change
        </button>{' '}
        {message && (
          <span className={message.error ? 'error' : 'muted'} data-testid={`undo-message-${alias.name}`}>
            {message.text}
          </span>
        )}
      </p>
      <p className="muted">Undoing is a recorded change too, and needs a token with role trainer (top right).</p>
    </>
  );
}

/** The largest PSI of a window, over its tasks and inputs: a bar's height. */
const maxPsi = (w: Pick<Window, 'tasks' | 'inputs'>) => Math.max(0, ...w.tasks.map((t) => t.psi), ...w.inputs.map((i) => i.psi));

const HOUR = 3_600_000;
type Span = { from: string; to: string; buckets: number };
const spanEnding = (hours: number, buckets: number): Span => {
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

function DriftTimeline({ alias, span }: { alias: string; span: Span }) {
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
function SpanForm({ onSpan }: { onSpan: (span: Span) => void }) {
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

function DriftTables({ report, alias }: { report: DriftFeaturesFragment; alias: string }) {
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

function AliasCard({ alias, onMoved }: { alias: Alias; onMoved: () => Promise<void> }) {
  const [span, setSpan] = useState(() => spanEnding(24, 12));
  return (
    <section className="card" data-testid={`alias-${alias.name}`}>
      <h2>{alias.name}</h2>
      <table data-testid={`alias-summary-${alias.name}`}>
        <tbody>
          <tr>
            <th>target</th>
            <td>
              <RefLink model={alias.target} testId={`target-${alias.name}`} />
            </td>
          </tr>
          <tr>
            <th>mode</th>
            <td data-testid={`mode-${alias.name}`}>{modeText(alias)}</td>
          </tr>
          <tr>
            <th>candidate</th>
            <td>{alias.candidate ? <RefLink model={alias.candidate} testId={`candidate-${alias.name}`} /> : <span className="muted">none</span>}</td>
          </tr>
          <tr>
            <th>log rate</th>
            <td data-testid={`log-rate-${alias.name}`}>{pct(alias.logRate)} of requests logged</td>
          </tr>
          <tr>
            <th>moved</th>
            <td title={alias.updatedAt}>{when(alias.updatedAt)}</td>
          </tr>
        </tbody>
      </table>
      <LiveTable alias={alias} />
      <History alias={alias} onMoved={onMoved} />
      <h2>Drift timeline</h2>
      <SpanForm onSpan={setSpan} />
      {/* A move changes the model drift compares: the timeline is asked again. */}
      <DriftTimeline key={alias.updatedAt} alias={alias.name} span={span} />
      <h2>Latest drift report</h2>
      {alias.latestDrift ? (
        <DriftTables report={alias.latestDrift} alias={alias.name} />
      ) : (
        <p className="muted">
          No stored drift report yet: <code>fashion-how alias drift</code> (or checkDrift) computes and stores one.
        </p>
      )}
    </section>
  );
}

export function AliasesPage() {
  const { data, error, reload } = useQuery(AliasesPageDocument);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      <h1>
        Models{' '}
        <button type="button" onClick={() => void reload()} data-testid="aliases-refresh">
          Refresh
        </button>
      </h1>
      <p className="muted">
        Aliases name a role (champion, challenger) rather than a model: classify answers with champion when no model is named. A canary's candidate answers a
        share of clients; a shadow scores a copy of every request off the answer path.
      </p>
      {data.aliases.length === 0 && (
        <p className="muted" data-testid="no-aliases">
          No aliases yet: <code>fashion-how alias set</code> (or setAlias) points one at an ensemble or an artifact.
        </p>
      )}
      {data.aliases.map((alias) => (
        <AliasCard key={alias.name} alias={alias} onMoved={reload} />
      ))}
    </>
  );
}
