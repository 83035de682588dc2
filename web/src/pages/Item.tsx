import { pct, useQuery } from '../api.js';
import { ItemPageDocument, type ItemPageQuery } from '../generated.js';
import { ItemImage, PhotoWithBox, SplitBadge } from '../items.js';

type Prediction = ItemPageQuery['item']['predictions'][number];

/** Every stored prediction of the item, newest report first, with which models got it right. */
function PredictionTable({ predictions, taskNames }: { predictions: Prediction[]; taskNames: Map<number, string> }) {
  if (predictions.length === 0)
    return (
      <p className="muted">
        No stored report scored this item yet: evaluate a model on its split (<code>fashion-how evaluate</code>), or try it now.
      </p>
    );
  const right = predictions.filter((p) => p.correct).length;
  return (
    <>
      <p data-testid="item-right">
        right in {right} of {predictions.length} stored predictions
      </p>
      <table data-testid="item-predictions">
        <thead>
          <tr>
            <th>report</th>
            <th>model</th>
            <th>task</th>
            <th>predicted</th>
            <th>true class's probability</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {predictions.map((p) => (
            <tr key={`${p.report.id}-${p.task}`} data-testid={`prediction-${p.report.id}-${p.task}`}>
              <td>
                <a href={`#/reports/${p.report.id}`}>#{p.report.id}</a> <span className="muted">{p.report.split}</span>
              </td>
              <td>{p.model}</td>
              <td>{taskNames.get(p.task) ?? p.task}</td>
              <td>
                {p.predicted.name} ({pct(p.predicted.probability)})
              </td>
              <td>{pct(p.truth.probability)}</td>
              <td className={p.correct ? 'right' : 'wrong'}>{p.correct ? '✔ right' : `✘ (true ${p.truth.name})`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** One item: its photo with the box, the crop the model sees, its labels, and what the models said. */
export function ItemPage({ id }: { id: string }) {
  const { data, error } = useQuery(ItemPageDocument, { id });
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { item } = data;
  const { bbox } = item;
  return (
    <>
      <h1>
        Item #{item.id} <span className="muted">line {item.line} of</span> <a href={`#/datasets/${item.dataset.id}`}>{item.dataset.name}</a>{' '}
        <SplitBadge split={item.split} />
      </h1>
      <section className="card">
        <div className="try-views">
          <div>
            <h2>The photo and its box</h2>
            <PhotoWithBox item={item} side={420} />
            <p className="muted">
              {item.imageWidth}x{item.imageHeight} px; box {bbox.xmin},{bbox.ymin} to {bbox.xmax},{bbox.ymax} ({bbox.xmax - bbox.xmin}x{bbox.ymax - bbox.ymin})
            </p>
          </div>
          <div>
            <h2>What the model sees</h2>
            <ItemImage className="item-crop" url={item.cropUrl} alt={`item ${item.id}, the crop the model sees`} testId="item-crop" />
          </div>
          <div>
            <h2>Labels</h2>
            <table data-testid="item-labels">
              <tbody>
                {item.labels.map((l) => (
                  <tr key={l.task}>
                    <td>{l.taskName}</td>
                    <td>{l.className}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p>
              <a href={`#/try?item=${item.id}`} data-testid="try-item">
                Try it: classify this item
              </a>
            </p>
          </div>
        </div>
      </section>
      <section className="card">
        <h2>Stored predictions</h2>
        <PredictionTable predictions={item.predictions} taskNames={new Map(item.labels.map((l) => [l.task, l.taskName]))} />
      </section>
    </>
  );
}
