// The reports: a list that grows live, and one report's figures, confusion matrices, worst confusions and
// the gallery of items behind each number.
import { useState } from 'react';
import { f3, pct, request, useQuery, useSubscription } from '../api.js';
import { ReportModelCardDocument, ReportPageDocument, ReportsLiveDocument, ReportsPageDocument } from '../generated.js';
import { ItemImage } from '../items.js';
import { MoreButton, usePages } from '../paging.js';
import { SeasonVerdict } from '../season.js';
import { Gallery } from './reports/Gallery.js';
import { type Selection, TaskSection } from './reports/TaskSection.js';

const subject = (r: { ensemble?: { name: string } | null; artifact?: { name: string } | null; run?: { id: string } | null }) =>
  r.ensemble ? `ensemble ${r.ensemble.name}` : r.artifact ? r.artifact.name : r.run ? `run ${r.run.id}` : '';

/** Newest first, as the server orders reports: ids grow with creation. */
const newerReport = (a: { id: string }, b: { id: string }) => Number(a.id) > Number(b.id);

export function ReportsPage() {
  const reports = usePages(ReportsPageDocument, { first: 50 }, (r) => r.reportsConnection, newerReport);
  // A report stored while the socket was opening is picked up by the refresh once it is up.
  useSubscription(
    ReportsLiveDocument,
    undefined,
    ({ reportAdded }) => reports.merge([reportAdded]),
    () => reports.refresh(),
  );
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
        <p>
          season: <SeasonVerdict verdict={report.season} testId="report-season" />
        </p>
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
