import { useState } from 'react';
import { nodesOf, pct, request, useQuery } from '../api.js';
import { BAR_COLOUR, Chart, RARE_COLOUR } from '../chart.js';
import {
  DatasetItemsDocument,
  DatasetPageDocument,
  type DatasetPageQuery,
  DatasetsPageDocument,
  FindLabelIssuesFormDocument,
  type ItemFilter,
  LabelScansDocument,
  type ScanRowFragment,
  type Split,
  TryItModelsDocument,
} from '../generated.js';
import { ItemTile, itemCount, Labels, SplitBadge } from '../items.js';
import { inOrder, MoreButton, usePages } from '../paging.js';
import { UploadDatasetForm } from '../upload.js';

/** Classes under this share are flagged as rare, as the seed's EDA does for the Daily tail. */
const RARE_SHARE = 0.05;

export function DatasetsPage() {
  const { data, error, reload } = useQuery(DatasetsPageDocument);
  const scans = useQuery(LabelScansDocument);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const datasets = nodesOf(data.datasets);
  if (datasets.length === 0)
    return (
      <>
        <p className="muted">
          No datasets yet: upload one below, or run <code>fashion-how synth</code> and <code>fashion-how import</code>, or <code>fashion-how demo</code>.
        </p>
        <UploadDatasetForm onUploaded={() => void reload()} />
      </>
    );
  return (
    <>
      <h1>Datasets</h1>
      <UploadDatasetForm onUploaded={() => void reload()} />
      {datasets.map((dataset) => (
        <section className="card" key={dataset.id} data-testid={`dataset-${dataset.id}`}>
          <h2>
            {dataset.name} <span className="muted">#{dataset.id}</span>{' '}
            <a href={`#/datasets/${dataset.id}`} data-testid={`browse-${dataset.id}`} className="download">
              browse the items
            </a>
          </h2>
          <p>
            {dataset.itemCount} items — {dataset.splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')}
            {dataset.rejectCount > 0 && `, ${dataset.rejectCount} rows rejected at import`}
            {dataset.parent && (
              <>
                {' '}
                — version {dataset.version}, after <a href={`#/datasets/${dataset.parent.id}`}>{dataset.parent.name}</a>
              </>
            )}
          </p>
          <ScanLinks scans={scans.data?.labelIssueScans.filter((scan) => scan.dataset.id === dataset.id) ?? []} />
          <div className="grid">
            {dataset.distribution.map((task) => (
              <div key={task.task}>
                <h2>
                  {task.name} <span className="muted">imbalance {task.imbalanceRatio?.toFixed(1) ?? '–'}x</span>
                </h2>
                <Chart
                  testId={`distribution-${dataset.id}-${task.task}`}
                  option={{
                    grid: { left: 48, right: 12, top: 10, bottom: 70 },
                    tooltip: {},
                    xAxis: { type: 'category', data: task.classes.map((c) => c.name), axisLabel: { rotate: 35 } },
                    yAxis: { type: 'value' },
                    series: [
                      {
                        type: 'bar',
                        data: task.classes.map((c) => ({ value: c.count, itemStyle: { color: c.share < RARE_SHARE ? RARE_COLOUR : BAR_COLOUR } })),
                      },
                    ],
                  }}
                />
                <table>
                  <thead>
                    <tr>
                      <th>class</th>
                      <th className="num">count</th>
                      <th className="num">share</th>
                    </tr>
                  </thead>
                  <tbody>
                    {task.classes.map((c) => (
                      <tr key={c.index} className={c.share < RARE_SHARE ? 'rare' : ''}>
                        <td>
                          {c.name}
                          {c.share < RARE_SHARE && ' (rare)'}
                        </td>
                        <td className="num">{c.count}</td>
                        <td className="num">{pct(c.share)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
          </div>
        </section>
      ))}
    </>
  );
}

/** A dataset's label reviews, as links. */
function ScanLinks({ scans }: { scans: ScanRowFragment[] }) {
  if (scans.length === 0) return null;
  return (
    <p>
      label reviews:{' '}
      {scans.map((scan, i) => (
        <span key={scan.id}>
          {i > 0 && ', '}
          <a href={`#/labels/${scan.id}`}>
            #{scan.id} ({scan.tasks.reduce((n, t) => n + t.issueCount, 0)} suspects{scan.reviewedDataset ? ', applied' : ''})
          </a>
        </span>
      ))}
    </p>
  );
}

type Dataset = DatasetPageQuery['dataset'];

/** What the filter form holds: '' is "any"; the sides as typed. */
interface FilterForm {
  split: Split | '';
  classes: Record<number, number | ''>;
  minSide: string;
  maxSide: string;
}

/** The API's filter from the form: absent fields match every item. */
function filterOf(form: FilterForm): ItemFilter {
  const labels = Object.entries(form.classes)
    .filter(([, classIndex]) => classIndex !== '')
    .map(([task, classIndex]) => ({ task: Number(task), classIndex: classIndex as number }));
  const side = (text: string) => (text.trim() === '' || !Number.isFinite(Number(text)) ? undefined : Math.round(Number(text)));
  return {
    ...(form.split ? { split: form.split } : {}),
    ...(labels.length ? { labels } : {}),
    ...(side(form.minSide) !== undefined ? { minBboxSide: side(form.minSide) } : {}),
    ...(side(form.maxSide) !== undefined ? { maxBboxSide: side(form.maxSide) } : {}),
  };
}

const BROWSER_PAGE = 40;

/** One filter's pages of item tiles; mounted afresh per filter, so no page of another filter stays. */
function ItemPages({ datasetId, filter }: { datasetId: string; filter: ItemFilter }) {
  const pages = usePages(DatasetItemsDocument, { id: datasetId, filter, first: BROWSER_PAGE }, (r) => r.dataset.items, inOrder);
  if (pages.error) return <p className="error">{pages.error.message}</p>;
  if (!pages.rows) return <p className="muted">Loading…</p>;
  return (
    <>
      <p data-testid="items-count">{itemCount(pages.total)}</p>
      <div className="tiles">
        {pages.rows.map((item) => (
          <ItemTile key={item.id} item={item} testId={`item-tile-${item.id}`}>
            <SplitBadge split={item.split} /> <Labels labels={item.labels} />
          </ItemTile>
        ))}
      </div>
      {pages.rows.length === 0 && <p className="muted">No item matches these filters.</p>}
      <MoreButton shown={pages.rows.length} total={pages.total} hasMore={pages.hasMore} more={pages.more} />
    </>
  );
}

/** The dataset's items as tiles, filtered by split, a class per task and the box's shorter side. */
function ItemBrowser({ dataset }: { dataset: Dataset }) {
  const [form, setForm] = useState<FilterForm>({ split: '', classes: {}, minSide: '', maxSide: '' });
  const filter = filterOf(form);
  return (
    <section className="card" data-testid="item-browser">
      <h2>Items</h2>
      <div className="fields">
        <label>
          split
          <select value={form.split} onChange={(e) => setForm({ ...form, split: e.target.value as Split | '' })} data-testid="filter-split">
            <option value="">any</option>
            {dataset.splits.map((s) => (
              <option key={s.split} value={s.split}>
                {s.split.toLowerCase()} ({s.count})
              </option>
            ))}
          </select>
        </label>
        {dataset.distribution.map((task) => (
          <label key={task.task}>
            {task.name}
            <select
              value={form.classes[task.task] ?? ''}
              onChange={(e) => setForm({ ...form, classes: { ...form.classes, [task.task]: e.target.value === '' ? '' : Number(e.target.value) } })}
              data-testid={`filter-task-${task.task}`}
            >
              <option value="">any</option>
              {task.classes.map((c) => (
                <option key={c.index} value={c.index}>
                  {c.name} ({c.count})
                </option>
              ))}
            </select>
          </label>
        ))}
        <label>
          box side at least (px)
          <input
            type="number"
            min={0}
            value={form.minSide}
            onChange={(e) => setForm({ ...form, minSide: e.target.value })}
            style={{ width: 90 }}
            data-testid="filter-min-side"
          />
        </label>
        <label>
          at most (px)
          <input
            type="number"
            min={0}
            value={form.maxSide}
            onChange={(e) => setForm({ ...form, maxSide: e.target.value })}
            style={{ width: 90 }}
            data-testid="filter-max-side"
          />
        </label>
      </div>
      <p className="muted">A box's side is its shorter one. Hover a tile for the whole photo; click it for the item and its predictions.</p>
      <ItemPages key={JSON.stringify(filter)} datasetId={dataset.id} filter={filter} />
    </section>
  );
}

/** Starts a confident-learning scan of the dataset's labels with a model's out-of-sample probabilities. */
function FindLabelIssuesForm({ datasetId }: { datasetId: string }) {
  const models = useQuery(TryItModelsDocument);
  const [target, setTarget] = useState('');
  const [split, setSplit] = useState<Split>('VALIDATION');
  const [message, setMessage] = useState('');
  const choices = models.data
    ? [
        ...nodesOf(models.data.ensembles).map((e) => [`e:${e.id}`, `ensemble ${e.name}`] as const),
        ...nodesOf(models.data.artifacts).map((a) => [`a:${a.id}`, `artifact ${a.name}`] as const),
      ]
    : [];
  const chosen = target || choices[0]?.[0] || '';
  return (
    <form
      className="inline"
      data-testid="find-label-issues"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!chosen) return;
        setMessage('scanning…');
        try {
          const source = chosen.startsWith('e:') ? { ensembleId: chosen.slice(2) } : { artifactId: chosen.slice(2) };
          const { findLabelIssues } = await request(FindLabelIssuesFormDocument, { input: { datasetId, split, ...source } });
          location.hash = `#/labels/${findLabelIssues.id}`;
        } catch (e) {
          setMessage((e as Error).message);
        }
      }}
    >
      <label>
        model
        <select value={chosen} onChange={(e) => setTarget(e.target.value)} style={{ maxWidth: 280 }}>
          {choices.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        on
        {/* Never TRAIN: the model learnt those labels, its probabilities there are not out of sample. */}
        <select value={split} onChange={(e) => setSplit(e.target.value as Split)}>
          <option value="VALIDATION">validation</option>
          <option value="TEST">test</option>
        </select>
      </label>
      <button type="submit" disabled={!chosen}>
        Find label issues
      </button>
      <span data-testid="find-message">{message}</span>
      <span className="muted">Needs a token with role trainer (top right).</span>
    </form>
  );
}

function ScanTable({ scans }: { scans: ScanRowFragment[] }) {
  if (scans.length === 0) return <p className="muted">No scans yet.</p>;
  return (
    <table data-testid="label-scans">
      <thead>
        <tr>
          <th>scan</th>
          <th>probabilities from</th>
          <th className="num">items</th>
          <th>suspects</th>
          <th>applied as</th>
        </tr>
      </thead>
      <tbody>
        {scans.map((scan) => (
          <tr key={scan.id}>
            <td>
              <a href={`#/labels/${scan.id}`}>#{scan.id}</a>
            </td>
            <td>{scan.source}</td>
            <td className="num">{scan.itemCount}</td>
            <td>{scan.tasks.map((t) => `${t.taskName} ${t.issueCount}`).join(', ')}</td>
            <td>{scan.reviewedDataset ? <a href={`#/datasets/${scan.reviewedDataset.id}`}>{scan.reviewedDataset.name}</a> : '–'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One dataset: its items to browse, and its label reviews. */
export function DatasetPage({ id }: { id: string }) {
  const { data, error } = useQuery(DatasetPageDocument, { id });
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { dataset } = data;
  return (
    <>
      <h1>
        {dataset.name} <span className="muted">#{dataset.id}</span>
      </h1>
      <section className="card">
        <p>
          {itemCount(dataset.itemCount)} — {dataset.splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')}
          {dataset.parent ? (
            <>
              {' '}
              — version {dataset.version}, after <a href={`#/datasets/${dataset.parent.id}`}>{dataset.parent.name}</a> (a re-import of changed content, or a
              label review)
            </>
          ) : (
            ` — version ${dataset.version}`
          )}
        </p>
        <p>
          <a href="#/datasets">all datasets and their class distributions</a> · <a href="#/try">try a model on its items</a>
        </p>
      </section>
      <ItemBrowser dataset={dataset} />
      <section className="card">
        <h2>Label reviews</h2>
        <ScanTable scans={data.labelIssueScans} />
        <h2>Find likely mislabels</h2>
        <FindLabelIssuesForm datasetId={dataset.id} />
      </section>
    </>
  );
}
