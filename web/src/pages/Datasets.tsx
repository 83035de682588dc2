import { nodesOf, pct, useQuery } from '../api.js';
import { BAR_COLOUR, Chart, RARE_COLOUR } from '../chart.js';
import { DatasetsPageDocument } from '../generated.js';

/** Classes under this share are flagged as rare, as the seed's EDA does for the Daily tail. */
const RARE_SHARE = 0.05;

export function DatasetsPage() {
  const { data, error } = useQuery(DatasetsPageDocument);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const datasets = nodesOf(data.datasets);
  if (datasets.length === 0)
    return (
      <p className="muted">
        No datasets yet: run <code>fashion-how synth</code> and <code>fashion-how import</code>, or <code>fashion-how demo</code>.
      </p>
    );
  return (
    <>
      <h1>Datasets</h1>
      {datasets.map((dataset) => (
        <section className="card" key={dataset.id} data-testid={`dataset-${dataset.id}`}>
          <h2>
            {dataset.name} <span className="muted">#{dataset.id}</span>
          </h2>
          <p>
            {dataset.itemCount} items — {dataset.splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')}
            {dataset.rejectCount > 0 && `, ${dataset.rejectCount} rows rejected at import`}
          </p>
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
