import { type ComponentProps, useEffect, useMemo, useRef, useState } from 'react';
import { f3, pct, request, useQuery, useSubscription } from '../api.js';
import { Chart } from '../chart.js';
import {
  EvaluateReportRunDocument,
  type PredictionOrder,
  type ReportBodyFragment,
  ReportGalleryDocument,
  type ReportGalleryQuery,
  ReportModelCardDocument,
  ReportPageDocument,
  ReportsLiveDocument,
  ReportsPageDocument,
} from '../generated.js';
import { ItemImage, ItemTile, itemCount } from '../items.js';
import { inOrder, MoreButton, usePages } from '../paging.js';

const subject = (r: { ensemble?: { name: string } | null; artifact?: { name: string } | null; run?: { id: string } | null }) =>
  r.ensemble ? `ensemble ${r.ensemble.name}` : r.artifact ? r.artifact.name : r.run ? `run ${r.run.id}` : '';

/** Newest first, as the server orders reports: ids grow with creation. */
const newerReport = (a: { id: string }, b: { id: string }) => Number(a.id) > Number(b.id);

export function ReportsPage() {
  const reports = usePages(ReportsPageDocument, { first: 50 }, (r) => r.reportsConnection, newerReport);
  useSubscription(ReportsLiveDocument, undefined, ({ reportAdded }) => reports.merge([reportAdded]));
  if (reports.error) return <p className="error">{reports.error.message}</p>;
  if (!reports.rows) return <p className="muted">Loading…</p>;
  return (
    <>
      <h1>Reports</h1>
      <section className="card">
        <table data-testid="reports-table">
          <thead>
            <tr>
              <th>report</th>
              <th>model</th>
              <th>split</th>
              <th>source</th>
              <th className="num">items</th>
              <th className="num">mean top-1</th>
              <th className="num">mean ACSA</th>
            </tr>
          </thead>
          <tbody>
            {reports.rows.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={`#/reports/${r.id}`}>#{r.id}</a>
                </td>
                <td>{subject(r)}</td>
                <td>{r.split}</td>
                <td>{r.source}</td>
                <td className="num">{r.itemCount}</td>
                <td className="num">{f3(r.meanTop1)}</td>
                <td className="num">{f3(r.meanAcsa)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {reports.rows.length === 0 && (
          <p className="muted">
            No reports yet: finish a run, or run <code>fashion-how evaluate</code>.
          </p>
        )}
        <MoreButton shown={reports.rows.length} total={reports.total} hasMore={reports.hasMore} more={reports.more} />
      </section>
    </>
  );
}

/** Which items a gallery shows: a confusion-matrix cell, a true class's row, or every (wrong) item. */
type Selection = { trueClass?: number; predictedClass?: number; correct?: boolean };

/** The heatmap's plot area inside its chart, in px: the cell buttons lie exactly over the cells. */
const HEATMAP_GRID = { left: 120, right: 20, top: 10, bottom: 90 };

/**
 * The confusion matrix as a heatmap, with a transparent button over every cell: a click (or Enter)
 * opens the gallery of the items behind that number. Buttons rather than the chart's own click events,
 * so cells can be reached by keyboard and name themselves; each one's title says what the cell counts.
 */
function Heatmap({
  matrix,
  normalized,
  selected,
  onSelect,
}: {
  matrix: ReportBodyFragment['confusionMatrices'][number];
  normalized: boolean;
  selected: Selection | undefined;
  onSelect: (selection: Selection) => void;
}) {
  const K = matrix.classes.length;
  // Drawn afresh when the numbers change, not when a click only moves the selection.
  const option = useMemo((): ComponentProps<typeof Chart>['option'] => {
    const values = normalized ? matrix.normalized : matrix.rows;
    const cells = values.flatMap((row, t) => row.map((v, p) => [p, K - 1 - t, normalized ? Number(v.toFixed(2)) : v]));
    return {
      grid: HEATMAP_GRID,
      xAxis: { type: 'category', data: matrix.classes, name: 'predicted', nameLocation: 'middle', nameGap: 70, axisLabel: { rotate: 35 } },
      yAxis: { type: 'category', data: [...matrix.classes].reverse(), name: 'true' },
      visualMap: { show: false, min: 0, max: Math.max(1e-9, ...values.flat()), inRange: { color: ['#f5f7fa', '#1f5fbf'] } },
      series: [{ type: 'heatmap', data: cells, label: { show: true, fontSize: 11 } }],
    };
  }, [matrix, normalized, K]);
  return (
    <div className="heatmap">
      <Chart testId={`heatmap-${matrix.task}`} height={Math.max(240, 36 * K + 110)} option={option} />
      <div className="heatmap-cells" style={{ ...HEATMAP_GRID, gridTemplateColumns: `repeat(${K}, 1fr)`, gridTemplateRows: `repeat(${K}, 1fr)` }}>
        {matrix.rows.flatMap((row, t) =>
          row.map((count, p) => {
            const label = `true ${matrix.classes[t]}, predicted ${matrix.classes[p]}: ${count} item${count === 1 ? '' : 's'}`;
            return (
              <button
                type="button"
                key={`${matrix.classes[t]} -> ${matrix.classes[p]}`}
                data-testid={`cell-${matrix.task}-${t}-${p}`}
                className={selected?.trueClass === t && selected.predictedClass === p ? 'selected' : ''}
                title={label}
                aria-label={label}
                onClick={() => onSelect({ trueClass: t, predictedClass: p })}
              />
            );
          }),
        )}
      </div>
    </div>
  );
}

function TaskSection({
  report,
  task,
  normalized,
  selected,
  onSelect,
}: {
  report: ReportBodyFragment;
  task: number;
  normalized: boolean;
  selected: Selection | undefined;
  onSelect: (selection: Selection) => void;
}) {
  const detail = report.details[task];
  const matrix = report.confusionMatrices.find((m) => m.task === task)!;
  return (
    <div className="grid">
      <div>
        <h2>Confusion matrix ({normalized ? 'row-normalised' : 'counts'})</h2>
        <p className="muted">
          Click a cell or a class to see its items, or see{' '}
          <button type="button" className="link" onClick={() => onSelect({})} data-testid="gallery-all">
            every item
          </button>{' '}
          or{' '}
          <button type="button" className="link" onClick={() => onSelect({ correct: false })} data-testid="gallery-errors">
            every error
          </button>
          .
        </p>
        <Heatmap matrix={matrix} normalized={normalized} selected={selected} onSelect={onSelect} />
      </div>
      {detail && (
        <div>
          <h2>Per class</h2>
          <table data-testid={`classes-${task}`}>
            <thead>
              <tr>
                <th>class</th>
                <th className="num">support</th>
                <th className="num">precision</th>
                <th className="num">recall</th>
                <th className="num">F1</th>
              </tr>
            </thead>
            <tbody>
              {detail.classes.map((c) => (
                <tr key={c.index}>
                  <td>
                    <button
                      type="button"
                      className="link"
                      onClick={() => onSelect({ trueClass: c.index })}
                      data-testid={`class-${task}-${c.index}`}
                      title={`the ${c.support} items whose true class is ${c.name}`}
                    >
                      {c.name}
                    </button>
                  </td>
                  <td className="num">{c.support}</td>
                  <td className="num">{f3(c.precision)}</td>
                  <td className="num">{f3(c.recall)}</td>
                  <td className="num">{f3(c.f1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Reliability (ECE {f3(detail.ece)})</h2>
          <Chart
            testId={`reliability-${task}`}
            height={220}
            option={{
              grid: { left: 48, right: 12, top: 36, bottom: 30 },
              legend: { top: 0 },
              tooltip: { trigger: 'axis' },
              xAxis: { type: 'category', data: detail.reliability.map((b) => b.upper.toFixed(2)), name: 'confidence' },
              yAxis: { type: 'value', min: 0, max: 1, name: 'accuracy' },
              series: [
                { type: 'bar', name: 'accuracy', data: detail.reliability.map((b) => (b.count ? b.accuracy : null)) },
                {
                  type: 'line',
                  name: 'perfect calibration',
                  data: detail.reliability.map((b) => (b.lower + b.upper) / 2),
                  symbol: 'none',
                  lineStyle: { type: 'dashed' },
                },
              ],
            }}
          />
        </div>
      )}
    </div>
  );
}

const ORDERS: [PredictionOrder, string][] = [
  ['CONFIDENCE_DESC', 'most confident first'],
  ['CONFIDENCE_ASC', 'least confident first'],
  ['LOSS_DESC', 'highest loss first'],
  ['LOSS_ASC', 'lowest loss first'],
];

/** The API's default page of predictions. */
const GALLERY_PAGE = 24;

type Prediction = ReportGalleryQuery['report']['predictions']['edges'][number]['node'];

/** An item appears once per task in a report, so its id names its row in a gallery of one task. */
const withIds = (connection: ReportGalleryQuery['report']['predictions']) => ({
  ...connection,
  edges: connection.edges.map((edge) => ({ node: { ...edge.node, id: edge.node.item.id } })),
});

function GalleryTile({ prediction: p }: { prediction: Prediction }) {
  return (
    <ItemTile item={p.item} testId={`gallery-tile-${p.item.id}`}>
      <span data-testid="tile-truth">
        true <b>{p.truth.name}</b> {pct(p.truth.probability)}
      </span>
      <br />
      <span className={p.correct ? 'right' : 'wrong'} data-testid="tile-predicted">
        predicted <b>{p.predicted.name}</b> {pct(p.predicted.probability)}
      </span>
      <br />
      <span className="muted">loss {f3(p.loss)}</span>
    </ItemTile>
  );
}

/** One gallery's pages; mounted afresh for each selection and order, so no page of another stays. */
function GalleryPages({ reportId, task, selection, order }: { reportId: string; task: number; selection: Selection; order: PredictionOrder }) {
  const pages = usePages(
    ReportGalleryDocument,
    { id: reportId, task, ...selection, orderBy: order, first: GALLERY_PAGE },
    (r) => withIds(r.report.predictions),
    inOrder,
  );
  if (pages.error) return <p className="error">{pages.error.message}</p>;
  if (!pages.rows) return <p className="muted">Loading…</p>;
  return (
    <>
      <p data-testid="gallery-count">{itemCount(pages.total)}</p>
      <div className="tiles">
        {pages.rows.map((p) => (
          <GalleryTile key={p.id} prediction={p} />
        ))}
      </div>
      <MoreButton shown={pages.rows.length} total={pages.total} hasMore={pages.hasMore} more={pages.more} />
    </>
  );
}

/**
 * A run's own validation report holds the worker's counts, not its predictions item by item: the
 * gallery says so and offers to evaluate the run's model, which stores them (a trainer token).
 */
function WorkerReportNotice({ report }: { report: ReportBodyFragment }) {
  const [message, setMessage] = useState<string>();
  const [made, setMade] = useState<string>();
  const run = report.run?.id;
  // A report's split is a Split or ALL (every item): evaluate's default for a run is its VALIDATION.
  const split = (['TRAIN', 'VALIDATION', 'TEST'] as const).find((s) => s === report.split);
  return (
    <div data-testid="worker-report">
      <p>
        This is {run ? `run #${run}'s` : 'a run’s'} own validation report: the training worker stores the counts, not the items behind them. Evaluate the model
        to see them
        {run ? (
          <>
            {' '}
            (or run <code>fashion-how evaluate --run {run}</code>)
          </>
        ) : (
          ''
        )}
        .
      </p>
      {run && (
        <p>
          <button
            type="button"
            data-testid="evaluate-run"
            onClick={async () => {
              setMessage('evaluating…');
              try {
                const { evaluate } = await request(EvaluateReportRunDocument, { input: { runId: run, ...(split ? { split } : {}) } });
                setMade(evaluate.id);
                setMessage(undefined);
              } catch (e) {
                setMessage((e as Error).message);
              }
            }}
          >
            Evaluate run #{run} on {split ?? 'VALIDATION'}
          </button>{' '}
          {made && <a href={`#/reports/${made}`}>report #{made}, with its items</a>} {message && <span className="muted">{message}</span>}
        </p>
      )}
      <p className="muted">Evaluating needs a token with role trainer (top right).</p>
    </div>
  );
}

/** The items behind one number of the report: a cell, a class's row, or every (wrong) item of a task. */
function Gallery({ report, task, selection, onClose }: { report: ReportBodyFragment; task: number; selection: Selection; onClose: () => void }) {
  const [order, setOrder] = useState<PredictionOrder>('CONFIDENCE_DESC');
  const section = useRef<HTMLElement>(null);
  const matrix = report.confusionMatrices.find((m) => m.task === task)!;
  const { trueClass, predictedClass, correct } = selection;
  const parts = [
    trueClass !== undefined && `true ${matrix.classes[trueClass]}`,
    predictedClass !== undefined && `predicted ${matrix.classes[predictedClass]}`,
    correct === false && 'the errors',
  ].filter(Boolean);
  const key = JSON.stringify([task, selection]);
  // A new selection is usually made far above: bring its gallery into view. (A block body: Chromium's
  // scrollIntoView returns a promise, which React would take for a cleanup function.)
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls once per selection (key), not per render
  useEffect(() => {
    section.current?.scrollIntoView({ block: 'start' });
  }, [key]);
  return (
    <section className="card" data-testid="gallery" ref={section}>
      <h2>
        {matrix.taskName}: {parts.length ? parts.join(', ') : 'every item'}{' '}
        <button type="button" onClick={onClose} data-testid="gallery-close">
          Close
        </button>
      </h2>
      {report.source === 'training-worker' ? (
        <WorkerReportNotice report={report} />
      ) : (
        <>
          <label className="check">
            order{' '}
            <select value={order} onChange={(e) => setOrder(e.target.value as PredictionOrder)} data-testid="gallery-order">
              {ORDERS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <GalleryPages key={`${key}:${order}`} reportId={report.id} task={task} selection={selection} order={order} />
        </>
      )}
    </section>
  );
}

/** Fetches the card over GraphQL (so the token and read rules are the queries') and saves it as a file. */
function ModelCardButton({ id }: { id: string }) {
  const [message, setMessage] = useState('');
  return (
    <span className="download">
      <button
        type="button"
        data-testid="model-card"
        onClick={async () => {
          setMessage('');
          try {
            const { report } = await request(ReportModelCardDocument, { id });
            const link = document.createElement('a');
            link.href = URL.createObjectURL(new Blob([report.modelCard], { type: 'text/html' }));
            link.download = `model-card-report-${id}.html`;
            link.click();
            setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
          } catch (e) {
            setMessage((e as Error).message);
          }
        }}
      >
        Download model card
      </button>{' '}
      {message && <span className="error">{message}</span>}
    </span>
  );
}

export function ReportPage({ id }: { id: string }) {
  const [task, setTask] = useState(0);
  const [normalized, setNormalized] = useState(false);
  const [selection, setSelection] = useState<Selection>();
  const { data, error } = useQuery(ReportPageDocument, { id, task });
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { report } = data;
  const side = [report, ...report.members];
  return (
    <>
      <h1>
        Report #{report.id}: {subject(report)} on {report.split} ({report.itemCount} items) <ModelCardButton id={report.id} />
      </h1>
      <section className="card">
        <table data-testid="headline">
          <thead>
            <tr>
              <th>model</th>
              <th className="num">mean top-1</th>
              <th className="num">mean ACSA</th>
              {report.tasks.map((t) => (
                <th key={t.task} className="num">
                  {t.task} top-1 / ACSA
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {side.map((r) => (
              <tr key={r.id}>
                <td>{subject(r)}</td>
                <td className="num">{f3(r.meanTop1)}</td>
                <td className="num">{f3(r.meanAcsa)}</td>
                {r.tasks.map((t) => (
                  <td key={t.task} className="num">
                    {f3(t.top1)} / {f3(t.acsa)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {report.gainOverBestMember && (
          <p>
            Gain over the best member: mean ACSA {report.gainOverBestMember.meanAcsa >= 0 ? '+' : ''}
            {f3(report.gainOverBestMember.meanAcsa)}, mean top-1 {report.gainOverBestMember.meanTop1 >= 0 ? '+' : ''}
            {f3(report.gainOverBestMember.meanTop1)}
          </p>
        )}
        {report.decisions && (
          <table data-testid="decisions">
            <thead>
              <tr>
                <th>decision</th>
                <th className="num">mean top-1</th>
                <th className="num">mean ACSA</th>
                {report.tasks.map((t) => (
                  <th key={t.task} className="num">
                    {t.task} top-1 / ACSA
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {report.decisions.map((d) => (
                <tr key={d.decision}>
                  <td>{d.decision === 'SOFT_VOTE' ? 'soft vote' : "logit-adjusted (this ensemble's decision)"}</td>
                  <td className="num">{f3(d.meanTop1)}</td>
                  <td className="num">{f3(d.meanAcsa)}</td>
                  {d.tasks.map((t) => (
                    <td key={t.task} className="num">
                      {f3(t.top1)} / {f3(t.acsa)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {report.model && (
          <p className="muted">
            model {report.model.sizeMB.toFixed(1)} MB, {report.model.parameterCount ?? '?'} parameters, {report.model.cpuLatencyMs.toFixed(1)} ms per image on
            the evaluating CPU
          </p>
        )}
        {report.details.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>task</th>
                <th className="num">top-1 [95% CI]</th>
                <th className="num">ACSA [95% CI]</th>
                <th className="num">macro F1</th>
                <th className="num">MCC</th>
                <th className="num">kappa</th>
                <th className="num">NLL</th>
              </tr>
            </thead>
            <tbody>
              {report.details.map((d) => (
                <tr key={d.task}>
                  <td>{d.name}</td>
                  <td className="num">
                    {f3(d.top1)} [{f3(d.top1Interval.low)}, {f3(d.top1Interval.high)}]
                  </td>
                  <td className="num">
                    {f3(d.acsa)} [{f3(d.acsaInterval.low)}, {f3(d.acsaInterval.high)}]
                  </td>
                  <td className="num">{f3(d.macroF1)}</td>
                  <td className="num">{f3(d.mcc)}</td>
                  <td className="num">{f3(d.kappa)}</td>
                  <td className="num">{f3(d.nll)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="card">
        <p>
          task:{' '}
          {report.confusionMatrices.map((m) => (
            <button
              type="button"
              key={m.task}
              onClick={() => {
                setTask(m.task);
                setSelection(undefined);
              }}
              disabled={m.task === task}
              style={{ marginRight: 4 }}
            >
              {m.taskName}
            </button>
          ))}{' '}
          <label style={{ display: 'inline-flex', flexDirection: 'row', gap: 4 }}>
            <input type="checkbox" checked={normalized} onChange={(e) => setNormalized(e.target.checked)} data-testid="normalize" /> row-normalised
          </label>
        </p>
        <TaskSection report={report} task={task} normalized={normalized} selected={selection} onSelect={setSelection} />
        {report.worstConfusions.length > 0 && (
          <>
            <h2>Worst confusions</h2>
            <div style={{ display: 'flex', flexWrap: 'wrap', gap: 12 }} data-testid="worst">
              {report.worstConfusions.map((w) => (
                <button
                  type="button"
                  key={w.itemId}
                  className="worst"
                  data-testid={`worst-${w.itemId}`}
                  title={`the items of true ${w.trueClass.name}, predicted ${w.predictedClass.name}`}
                  onClick={() => setSelection({ trueClass: w.trueClass.index, predictedClass: w.predictedClass.index })}
                >
                  <ItemImage className="crop" url={`/items/${w.itemId}/crop.jpg`} alt={w.imagePath} />
                  <span style={{ fontSize: 12 }}>
                    true <b>{w.trueClass.name}</b>, predicted <b>{w.predictedClass.name}</b> ({pct(w.predictedClass.probability)})
                  </span>
                </button>
              ))}
            </div>
          </>
        )}
      </section>
      {selection && <Gallery report={report} task={task} selection={selection} onClose={() => setSelection(undefined)} />}
    </>
  );
}
