// What an answer is shown with: the picked item's true label beside it, and the occlusion map of a task.
import { pct } from '../../api.js';
import type { ItemDetailFragment, TryItSaliencyQuery } from '../../generated.js';

/** The picked item's true label for a task beside the answer, and whether the answer got it. */
export function Truth({ label, predicted, testId }: { label: ItemDetailFragment['labels'][number] | undefined; predicted: string; testId: string }) {
  if (!label) return null;
  const right = label.className === predicted;
  return (
    <p data-testid={testId} className={right ? 'right' : 'wrong'}>
      true: <b>{label.className}</b> {right ? '✔ right' : '✘ wrong'}
    </p>
  );
}

/** Red where covering a cell lowered the predicted class's probability, blue where it raised it; the
 *  colour scale is shared by every task of the answer, so tasks compare. */
export function SaliencyMap({ saliency, task, scale }: { saliency: TryItSaliencyQuery['saliency']; task: number; scale: number }) {
  const map = saliency.tasks[task]!;
  const { grid, size } = saliency;
  const edge = (i: number) => Math.round((i * size) / grid);
  return (
    <figure className="saliency" data-testid={`saliency-${task}`}>
      <div className="overlay">
        <img src={saliency.crop} alt={`model input, ${map.task}`} />
        <svg viewBox={`0 0 ${size} ${size}`} preserveAspectRatio="none">
          <title>{`how much each patch, hidden, lowers the ${map.task} prediction`}</title>
          {map.drops.map((drop, cell) => {
            const row = Math.floor(cell / grid);
            const column = cell % grid;
            return (
              <rect
                // biome-ignore lint/suspicious/noArrayIndexKey: a cell's index is its place in the fixed grid, the same cell on every render
                key={cell}
                className="saliency-cell"
                data-cell={cell}
                data-value={drop}
                x={edge(column)}
                y={edge(row)}
                width={edge(column + 1) - edge(column)}
                height={edge(row + 1) - edge(row)}
                fill={drop >= 0 ? '#e0301e' : '#1f5fbf'}
                fillOpacity={scale > 0 ? Math.min(1, Math.abs(drop) / scale) * 0.7 : 0}
              >
                <title>{`cell ${row},${column}: ${drop >= 0 ? '-' : '+'}${pct(Math.abs(drop))} ${map.predicted.name} when covered`}</title>
              </rect>
            );
          })}
        </svg>
      </div>
      <figcaption>
        <b>{map.task}</b>: {map.predicted.name} ({pct(map.predicted.probability)})
        <br />
        <span className="muted">largest drop when covered {pct(Math.max(0, ...map.drops))}</span>
      </figcaption>
    </figure>
  );
}
