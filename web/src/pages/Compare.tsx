// Compare and choose: finished runs side by side (curves overlaid, final metrics), and a leaderboard
// of artifacts and ensembles by accuracy against size and CPU latency with the Pareto fronts marked.
import { useState } from 'react';
import { paretoFront } from '../../../src/reports/pareto.js';
import { f3, nodesOf, useQuery } from '../api.js';
import { Chart, escapeHtml } from '../chart.js';
import { CompareRunsDocument, type CompareRunsQuery, LeaderboardDocument, type LeaderboardReportFragment } from '../generated.js';

type Run = CompareRunsQuery['runs']['edges'][number]['node'];
type Report = LeaderboardReportFragment;

const runName = (run: Run) => `#${run.id} ${run.backbone}+${run.head}`;

function RunComparison({ runs }: { runs: Run[] }) {
  const tasks = runs[0]?.epochs[0]?.validation.map((v) => v.task) ?? [];
  const epochs = Array.from({ length: Math.max(0, ...runs.map((r) => r.epochs.length)) }, (_, i) => i + 1);
  const lines = (value: (e: Run['epochs'][number]) => number) =>
    runs.map((run) => ({ name: runName(run), type: 'line' as const, data: run.epochs.map(value) }));
  // Every run's name stays visible: the legend wraps, and the plot starts below it.
  const axes = {
    grid: { left: 48, right: 44, top: 30 + 22 * Math.ceil(runs.length / 2), bottom: 30 },
    legend: { top: 0 },
    tooltip: { trigger: 'axis' as const },
    xAxis: { type: 'category' as const, data: epochs, name: 'epoch' },
  };
  return (
    <>
      <div className="grid">
        <section className="card">
          <h2>Training loss</h2>
          <Chart testId="compare-loss" option={{ ...axes, yAxis: { type: 'value' }, series: lines((e) => e.trainLoss) }} />
        </section>
        {tasks.map((task, t) => (
          <section className="card" key={task}>
            <h2>Validation ACSA: {task}</h2>
            <Chart testId={`compare-acsa-${t}`} option={{ ...axes, yAxis: { type: 'value', min: 0, max: 1 }, series: lines((e) => e.validation[t]!.acsa) }} />
          </section>
        ))}
      </div>
      <section className="card">
        <h2>Final epoch</h2>
        <table data-testid="compare-final">
          <thead>
            <tr>
              <th>run</th>
              <th>dataset</th>
              <th className="num">epochs</th>
              <th className="num">train loss</th>
              <th className="num">mean top-1</th>
              <th className="num">mean ACSA</th>
              {tasks.map((task) => (
                <th key={task} className="num">
                  {task} ACSA
                </th>
              ))}
              <th className="num">parameters</th>
              <th className="num">ONNX MB</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => {
              const last = run.epochs[run.epochs.length - 1];
              return (
                <tr key={run.id} data-testid={`compare-run-${run.id}`}>
                  <td>
                    <a href={`#/runs/${run.id}`}>{runName(run)}</a>
                  </td>
                  <td>{run.dataset.name}</td>
                  <td className="num">{run.epochs.length}</td>
                  <td className="num">{last ? f3(last.trainLoss) : ''}</td>
                  <td className="num">{last ? f3(last.meanTop1) : ''}</td>
                  <td className="num">{last ? f3(last.meanAcsa) : ''}</td>
                  {tasks.map((task, t) => (
                    <td key={task} className="num">
                      {last ? f3(last.validation[t]!.acsa) : ''}
                    </td>
                  ))}
                  <td className="num">{run.parameterCount?.toLocaleString('en-US') ?? ''}</td>
                  <td className="num">{run.artifact ? (run.artifact.sizeBytes / 1e6).toFixed(1) : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
    </>
  );
}

interface Entry {
  key: string;
  name: string;
  kind: 'artifact' | 'ensemble';
  report: Report;
  sizeMB: number;
  parameters: number | null;
  latencyMs: number;
}

const COLUMNS = [
  ['name', 'model'],
  ['acsa', 'mean ACSA'],
  ['top1', 'mean top-1'],
  ['size', 'ONNX MB'],
  ['parameters', 'parameters'],
  ['latency', 'CPU ms / image'],
] as const;
type Column = (typeof COLUMNS)[number][0];
/** A first click sorts best first: accuracy high to low, costs (and names) low to high. */
const BEST_FIRST_DESCENDING = new Set<Column>(['acsa', 'top1']);

const sortValue = (entry: Entry, column: Column): number | string => {
  switch (column) {
    case 'name':
      return entry.name;
    case 'acsa':
      return entry.report.meanAcsa;
    case 'top1':
      return entry.report.meanTop1;
    case 'size':
      return entry.sizeMB;
    case 'parameters':
      return entry.parameters ?? -1;
    case 'latency':
      return entry.latencyMs;
    default: {
      const never: never = column;
      return never;
    }
  }
};

/** The newest evaluation of each model on one dataset split, so every row was scored on the same items. */
/** An INT8 artifact's badge and its accuracy change against its fp32 parent on the items shown. */
function Precision({ report }: { report: Report }) {
  if (report.artifact?.precision !== 'INT8') return null;
  const change = report.quantizationChange;
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${f3(v)}`;
  return (
    <span className="muted" data-testid="precision">
      {' '}
      INT8{change ? ` (ACSA ${signed(change.meanAcsaChange)}, top-1 ${signed(change.meanTop1Change)} vs fp32)` : ''}
    </span>
  );
}

function Leaderboard() {
  const { data, error } = useQuery(LeaderboardDocument);
  // An ensemble's report holds its members' reports on the same items: they rank too.
  const reports: Report[] = data ? nodesOf(data.reports).flatMap(({ members, ...r }) => [r, ...members.map((m) => ({ ...r, ...m, ensemble: null }))]) : [];
  const scored = reports.filter((r) => r.source === 'evaluation' && r.model);
  const groups = [...new Map(scored.map((r) => [`${r.dataset.id}:${r.split}`, `${r.dataset.name} ${r.split}`])).entries()];
  const [group, setGroup] = useState<string>();
  const [sort, setSort] = useState<{ column: Column; descending: boolean }>({ column: 'acsa', descending: true });
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  if (groups.length === 0)
    return (
      <p className="muted">
        No evaluations yet: run <code>fashion-how evaluate</code> or finish a distillation.
      </p>
    );
  const chosen = group ?? groups[0]![0];
  const entries = new Map<string, Entry>();
  for (const r of scored) {
    if (`${r.dataset.id}:${r.split}` !== chosen) continue;
    const key = r.ensemble ? `e${r.ensemble.id}` : `a${r.artifact!.id}`;
    if (entries.has(key)) continue; // newest first: the first one seen is the latest
    entries.set(key, {
      key,
      name: r.ensemble ? `ensemble ${r.ensemble.name}` : r.artifact!.name,
      kind: r.ensemble ? 'ensemble' : 'artifact',
      report: r,
      sizeMB: r.model!.sizeMB,
      parameters: r.model!.parameterCount ?? null,
      latencyMs: r.model!.cpuLatencyMs,
    });
  }
  const rows = [...entries.values()];
  const bySize = paretoFront(rows.map((e) => ({ accuracy: e.report.meanAcsa, cost: e.sizeMB })));
  const byLatency = paretoFront(rows.map((e) => ({ accuracy: e.report.meanAcsa, cost: e.latencyMs })));
  const front = new Map(rows.map((e, i) => [e.key, { size: bySize.has(i), latency: byLatency.has(i) }]));
  const sorted = [...rows].sort((a, b) => {
    const [x, y] = [sortValue(a, sort.column), sortValue(b, sort.column)];
    const order = typeof x === 'string' ? x.localeCompare(y as string) : x - (y as number);
    return sort.descending ? -order : order;
  });
  return (
    <>
      <p>
        <label className="check">
          scored on{' '}
          <select value={chosen} onChange={(e) => setGroup(e.target.value)} data-testid="leaderboard-split">
            {groups.map(([key, name]) => (
              <option key={key} value={key}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <span className="muted">
          the newest evaluation of each model on these items; ★ marks the Pareto front (no other model is at least as accurate and at most as large, or as
          slow); season: whether the dataset's season (2024-subtask1 when it declares none) accepts the model, and why not
        </span>
      </p>
      <table data-testid="leaderboard">
        <thead>
          <tr>
            {COLUMNS.map(([column, label]) => (
              <th key={column} className={column === 'name' ? '' : 'num'}>
                <button
                  type="button"
                  className="sort"
                  data-testid={`sort-${column}`}
                  onClick={() => setSort({ column, descending: sort.column === column ? !sort.descending : BEST_FIRST_DESCENDING.has(column) })}
                >
                  {label}
                  {sort.column === column ? (sort.descending ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
            <th>Pareto: size</th>
            <th>Pareto: latency</th>
            <th>season</th>
            <th>report</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((e) => (
            <tr key={e.key} data-testid={`leader-${e.key}`} className={front.get(e.key)!.size || front.get(e.key)!.latency ? 'front' : ''}>
              <td>
                {e.name}
                <Precision report={e.report} />
              </td>
              <td className="num">{f3(e.report.meanAcsa)}</td>
              <td className="num">{f3(e.report.meanTop1)}</td>
              <td className="num">{e.sizeMB.toFixed(2)}</td>
              <td className="num">{e.parameters?.toLocaleString('en-US') ?? ''}</td>
              <td className="num">{e.latencyMs.toFixed(2)}</td>
              <td data-testid="front-size">{front.get(e.key)!.size ? '★' : ''}</td>
              <td data-testid="front-latency">{front.get(e.key)!.latency ? '★' : ''}</td>
              <td className={e.report.season.accepted ? 'right' : 'wrong'} data-testid="leader-season" data-accepted={e.report.season.accepted}>
                {e.report.season.accepted ? '✔ accepted' : `✘ ${e.report.season.reasons.join('; ')}`}
              </td>
              <td>
                <a href={`#/reports/${e.report.id}`}>#{e.report.id}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Chart
        testId="pareto-size"
        height={280}
        option={{
          grid: { left: 56, right: 20, top: 30, bottom: 40 },
          tooltip: { formatter: (p: unknown) => escapeHtml((p as { data: { name: string } }).data.name) },
          xAxis: { type: 'value', name: 'ONNX MB', nameLocation: 'middle', nameGap: 26 },
          yAxis: { type: 'value', name: 'mean ACSA', scale: true },
          series: [
            {
              type: 'scatter',
              symbolSize: 10,
              data: rows.map((e, i) => ({ name: e.name, value: [e.sizeMB, e.report.meanAcsa], itemStyle: { color: bySize.has(i) ? '#e0301e' : '#9aa5b1' } })),
            },
            {
              type: 'line',
              step: 'end',
              symbol: 'none',
              lineStyle: { color: '#e0301e', type: 'dashed' },
              data: rows
                .filter((_, i) => bySize.has(i))
                .map((e) => [e.sizeMB, e.report.meanAcsa])
                .sort((a, b) => a[0]! - b[0]!),
            },
          ],
        }}
      />
    </>
  );
}

export function ComparePage({ ids }: { ids: string[] }) {
  const { data, error } = useQuery(CompareRunsDocument);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const runs = nodesOf(data.runs);
  const chosen = ids.map((id) => runs.find((r) => r.id === id)).filter((r): r is Run => r !== undefined);
  const toggle = (id: string) => {
    const next = ids.includes(id) ? ids.filter((i) => i !== id) : [...ids, id];
    location.hash = `#/compare/${next.join(',')}`;
  };
  return (
    <>
      <h1>Compare and choose</h1>
      <section className="card">
        <h2>Runs to compare</h2>
        <div data-testid="compare-pick">
          {runs.map((run) => (
            <label key={run.id} className="check">
              <input type="checkbox" checked={ids.includes(run.id)} onChange={() => toggle(run.id)} /> {runName(run)}{' '}
              <span className="muted">({run.dataset.name})</span>
            </label>
          ))}
        </div>
        {runs.length === 0 && <p className="muted">No finished runs yet.</p>}
        {runs.length > 0 && chosen.length < 2 && <p className="muted">Pick two or more runs to overlay their curves.</p>}
      </section>
      {chosen.length > 0 && <RunComparison runs={chosen} />}
      <section className="card">
        <h2>Leaderboard: artifacts and ensembles</h2>
        <Leaderboard />
      </section>
    </>
  );
}
