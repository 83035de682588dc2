// The model card's HTML pieces that draw: the escaper, the count format, tables, and the inline SVG
// charts (confusion matrix, reliability diagram). Pure functions of their arguments.
import type { ConfusionMatrix } from '../db/generated/client.js';
import type { ReliabilityBin } from './metrics.js';
import { f3, type Table } from './metricsTable.js';

export const escapeHtml = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
export const int = (value: number) => value.toLocaleString('en-US');

/** Headers are text; cells are HTML the caller escaped (some hold SVG or code). */
export function table(headers: string[], rows: (string | number)[][], attributes = ''): string {
  const head = headers.some(Boolean)
    ? `<thead><tr>${headers.map((h, c) => `<th${c > 0 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead>`
    : '';
  const body = rows.map((row) => `<tr>${row.map((cell, c) => `<td${c > 0 ? ' class="num"' : ''}>${cell}</td>`).join('')}</tr>`).join('');
  return `<table${attributes}>${head}<tbody>${body}</tbody></table>`;
}

/** One of a report's shared tables (metricsTable.ts), its text escaped. */
export const textTable = ({ headers, rows }: Table, attributes = '') =>
  table(
    headers,
    rows.map((row) => row.map((cell) => (typeof cell === 'string' ? escapeHtml(cell) : cell))),
    attributes,
  );

/** A blue scale from white (0) to dark (1), the dashboard's heatmap colours. */
function shade(share: number): string {
  const mix = (a: number, b: number) => Math.round(a + (b - a) * Math.min(1, Math.max(0, share)));
  return `rgb(${mix(245, 31)},${mix(247, 95)},${mix(250, 191)})`;
}

/** Counts in each cell, shaded by the row share (so rare classes' rows are as readable as common ones). */
export function confusionSvg(matrix: ConfusionMatrix): string {
  const classes = matrix.classes as string[];
  const rows = matrix.rows as number[][];
  const K = classes.length;
  const cell = 44;
  const left = 130;
  const top = 110;
  const cells = rows
    .map((row, t) => {
      const support = row.reduce((a, b) => a + b, 0);
      return row
        .map((count, p) => {
          const share = support ? count / support : 0;
          const x = left + p * cell;
          const y = top + t * cell;
          return `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" stroke="#fff"/><text class="cell" data-true="${t}" data-predicted="${p}" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.55 ? '#fff' : '#222'}">${count}</text>`;
        })
        .join('');
    })
    .join('');
  const rowLabels = classes.map((c, t) => `<text x="${left - 6}" y="${top + t * cell + cell / 2 + 4}" text-anchor="end">${escapeHtml(c)}</text>`).join('');
  const columnLabels = classes
    .map((c, p) => `<text transform="translate(${left + p * cell + cell / 2 + 4},${top - 6}) rotate(-40)">${escapeHtml(c)}</text>`)
    .join('');
  // Room on the right for the last column's slanted name.
  const width = left + K * cell + 90;
  const height = top + K * cell + 30;
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="confusion matrix of ${escapeHtml(matrix.taskName)}">${columnLabels}${rowLabels}${cells}<text x="${left + (K * cell) / 2}" y="${height - 8}" text-anchor="middle" class="axis">predicted →</text><text transform="translate(14,${top + (K * cell) / 2}) rotate(-90)" text-anchor="middle" class="axis">true →</text></svg>`;
}

/** Accuracy per confidence bin against the diagonal of perfect calibration; empty bins draw nothing. */
export function reliabilitySvg(bins: ReliabilityBin[], task: number): string {
  const size = 220;
  const pad = 34;
  const x = (v: number) => pad + v * size;
  const y = (v: number) => pad / 2 + (1 - v) * size;
  const bars = bins
    .map((b) =>
      b.count
        ? `<rect data-bin="${b.lower.toFixed(2)}" x="${x(b.lower) + 1}" y="${y(b.accuracy)}" width="${(b.upper - b.lower) * size - 2}" height="${b.accuracy * size}" fill="#3b6fd4"><title>confidence ${b.lower.toFixed(2)}-${b.upper.toFixed(2)}: ${b.count} items, accuracy ${f3(b.accuracy)}</title></rect>`
        : '',
    )
    .join('');
  const ticks = [0, 0.5, 1]
    .map((v) => `<text x="${x(v)}" y="${y(0) + 14}" text-anchor="middle">${v}</text><text x="${pad - 4}" y="${y(v) + 4}" text-anchor="end">${v}</text>`)
    .join('');
  const width = size + pad + 10;
  const height = size + pad + 14;
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="reliability diagram of task ${task}"><rect x="${x(0)}" y="${y(1)}" width="${size}" height="${size}" fill="none" stroke="#ccc"/>${bars}<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#d9534f" stroke-dasharray="4 3"/>${ticks}<text x="${x(0.5)}" y="${height - 2}" text-anchor="middle" class="axis">confidence</text></svg>`;
}
