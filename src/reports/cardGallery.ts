// The model card's gallery: for each task, the items behind its worst confusions (the off-diagonal
// cells with the most items), a few crops each, the most confident mistakes first, embedded as JPEG
// data URLs so that the card stays one file that opens offline.
import pLimit from 'p-limit';
import type { DatasetService } from '../data/datasets.js';
import type { Db } from '../db/client.js';
import type { ConfusionMatrix } from '../db/generated/client.js';

export interface GalleryCrop {
  itemId: number;
  /** data:image/jpeg;base64,... */
  src: string;
  confidence: number;
  trueProbability: number;
}

export interface GalleryCell {
  trueClass: number;
  predictedClass: number;
  count: number;
  crops: GalleryCrop[];
}

const CELLS_PER_TASK = 3;
const CROPS_PER_CELL = 4;
const CROP_SIDE = 96;

/** The worst confusions of each task with their crops; none for a report without stored predictions. */
export async function loadGallery(db: Db, datasets: DatasetService, reportId: number, matrices: ConfusionMatrix[]): Promise<GalleryCell[][]> {
  // The crops are decoded one at a time: a card takes one of sharp's threads while it is made, not all of
  // them (classify preprocesses on the same threads).
  const oneAtATime = pLimit(1);
  return Promise.all(
    matrices.map(async (matrix) => {
      const rows = matrix.rows as number[][];
      const cells = rows
        .flatMap((row, i) => row.map((count, j) => ({ trueClass: i, predictedClass: j, count })))
        .filter((c) => c.trueClass !== c.predictedClass && c.count > 0)
        .sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predictedClass - b.predictedClass)
        .slice(0, CELLS_PER_TASK);
      return Promise.all(
        cells.map(async (cell) => {
          const predictions = await db.reportPrediction.findMany({
            where: { reportId, task: matrix.task, trueClass: cell.trueClass, predictedClass: cell.predictedClass },
            orderBy: [{ confidence: 'desc' }, { id: 'asc' }],
            take: CROPS_PER_CELL,
          });
          const crops = await Promise.all(
            predictions.map(async (p) => ({
              itemId: p.itemId,
              src: await oneAtATime(() => datasets.itemCrop(p.itemId, CROP_SIDE))
                .then((jpeg) => `data:image/jpeg;base64,${jpeg.toString('base64')}`)
                // A photo gone from the server leaves its tile without a picture, not the card unmade.
                .catch(() => ''),
              confidence: p.confidence,
              trueProbability: p.trueProbability,
            })),
          );
          return { ...cell, crops };
        }),
      );
    }),
  );
}

/** The gallery of one task as HTML (escapeHtml: the card's escaper). */
export function galleryHtml(cells: GalleryCell[], classes: string[], task: number, escapeHtml: (v: unknown) => string): string {
  if (cells.length === 0) return '';
  const tile = (c: GalleryCrop, cell: GalleryCell) =>
    `<figure class="crop" data-item="${c.itemId}">${c.src ? `<img src="${c.src}" alt="item ${c.itemId}" width="${CROP_SIDE}">` : '<div class="missing">photo unavailable</div>'}<figcaption>item ${c.itemId}<br>${escapeHtml(classes[cell.predictedClass])} ${c.confidence.toFixed(2)}, true ${c.trueProbability.toFixed(2)}</figcaption></figure>`;
  const rows = cells
    .map(
      (cell) =>
        `<div class="confusion-row"><h4>${escapeHtml(classes[cell.trueClass])} taken for ${escapeHtml(classes[cell.predictedClass])}: ${cell.count} item(s)</h4><div class="crops">${cell.crops.map((c) => tile(c, cell)).join('')}</div></div>`,
    )
    .join('');
  return `<div class="gallery" id="gallery-${task}"><h3>Worst confusions, the most confident first</h3>${rows}</div>`;
}
