// The datasets with their class distributions, and one dataset's page: its items, its season and
// submissions, its prediction jobs and its label reviews.
import { nodesOf, pct, useQuery } from '../api.js';
import { BAR_COLOUR, Chart, RARE_COLOUR } from '../chart.js';
import { DatasetPageDocument, DatasetsPageDocument, LabelScansDocument } from '../generated.js';
import { itemCount } from '../items.js';
import { UploadDatasetForm } from '../upload.js';
import { ItemBrowser } from './datasets/ItemBrowser.js';
import { FindLabelIssuesForm, ScanLinks, ScanTable } from './datasets/LabelReviews.js';
import { PredictForm } from './datasets/PredictForm.js';
import { SeasonPanel } from './datasets/SeasonPanel.js';
import { PredictionJobsTable } from './Predictions.js';

/** A dataset imported from a CSV without label columns: predictDataset scores it, training refuses it. */
function PredictionSetBadge({ labelled, testId }: { labelled: boolean; testId: string }) {
  if (labelled) return null;
  return (
    <span className="badge" data-testid={testId} title="imported from a CSV without label columns: its items have no labels and all sit in TEST">
      prediction set
    </span>
  );
}

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
            <PredictionSetBadge labelled={dataset.labelled} testId={`prediction-set-${dataset.id}`} />{' '}
            {dataset.season && <span className="muted">season {dataset.season.name} </span>}
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

/** One dataset: its items to browse, its season and submissions, its prediction jobs, and its label reviews. */
export function DatasetPage({ id }: { id: string }) {
  const { data, error } = useQuery(DatasetPageDocument, { id });
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { dataset } = data;
  return (
    <>
      <h1>
        {dataset.name} <span className="muted">#{dataset.id}</span> <PredictionSetBadge labelled={dataset.labelled} testId="prediction-set" />
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
      <SeasonPanel datasetId={dataset.id} />
      <section className="card" data-testid="dataset-predictions">
        <h2>Prediction jobs</h2>
        <PredictionJobsTable datasetId={dataset.id} />
        <h2>Predict every item</h2>
        <PredictForm datasetId={dataset.id} />
      </section>
      {dataset.labelled && (
        <section className="card">
          <h2>Label reviews</h2>
          <ScanTable scans={data.labelIssueScans} />
          <h2>Find likely mislabels</h2>
          <FindLabelIssuesForm datasetId={dataset.id} />
        </section>
      )}
    </>
  );
}
