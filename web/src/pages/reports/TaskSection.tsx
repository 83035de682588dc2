// A report's confusion matrix per task, as a heatmap whose cells open their items, beside the per-class
// table and the reliability chart.
import { type ComponentProps, useMemo } from 'react';
import { f3 } from '../../api.js';
import { Chart } from '../../chart.js';
import type { ReportBodyFragment } from '../../generated.js';

/** Which items a gallery shows: a confusion-matrix cell, a true class's row, or every (wrong) item. */
export type Selection = { trueClass?: number; predictedClass?: number; correct?: boolean };

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

export function TaskSection({
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
