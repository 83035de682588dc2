// The items behind one number of a report (a cell, a class's row, every error), a page of tiles at a time.
import { useEffect, useRef, useState } from 'react';
import { f3, pct, request } from '../../api.js';
import { EvaluateReportRunDocument, type PredictionOrder, type ReportBodyFragment, ReportGalleryDocument, type ReportGalleryQuery } from '../../generated.js';
import { ItemTile, itemCount } from '../../items.js';
import { inOrder, MoreButton, usePages } from '../../paging.js';
import type { Selection } from './TaskSection.js';

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
export function Gallery({ report, task, selection, onClose }: { report: ReportBodyFragment; task: number; selection: Selection; onClose: () => void }) {
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
