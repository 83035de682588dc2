// How an item shows wherever it appears (a report's gallery, the dataset browser, the item view, Try it):
// the crop the model sees, its labels, and the whole photo with its box drawn over it.
import { type ReactNode, useState } from 'react';
import { useImageSrc } from './api.js';
import type { ItemTileFragment } from './generated.js';

type Photo = Pick<ItemTileFragment, 'id' | 'photoUrl' | 'imageWidth' | 'imageHeight' | 'bbox'>;

/** One of the server's item images, with the token when there is one (see useImageSrc). */
export function ItemImage({ url, alt, className, testId }: { url: string; alt: string; className?: string; testId?: string }) {
  const src = useImageSrc(url);
  return <img className={className} src={src} alt={alt} data-testid={testId} />;
}

/**
 * The whole photo (the server's copy, at most 480 px) with the item's box over it, its longer side
 * `side` px. The overlay's viewBox is the original photo's pixel grid, so the rectangle is the stored
 * bbox itself: the SVG scales it by the shown width over imageWidth, whatever size the copy has.
 */
export function PhotoWithBox({ item, side }: { item: Photo; side: number }) {
  const src = useImageSrc(item.photoUrl);
  const { imageWidth: W, imageHeight: H, bbox } = item;
  return (
    <div className="photo" style={{ width: Math.round((side * W) / Math.max(W, H)), aspectRatio: `${W} / ${H}` }} data-testid={`photo-${item.id}`}>
      <img src={src} alt={`item ${item.id} with its box`} />
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none">
        <title>{`bbox ${bbox.xmin},${bbox.ymin} to ${bbox.xmax},${bbox.ymax} of ${W}x${H}`}</title>
        <rect
          data-testid="photo-bbox"
          x={bbox.xmin}
          y={bbox.ymin}
          width={bbox.xmax - bbox.xmin}
          height={bbox.ymax - bbox.ymin}
          vectorEffect="non-scaling-stroke"
        />
      </svg>
    </div>
  );
}

/** Where the hovered photo opens: beside the tile, on its left when the right would leave the window. */
const POPOVER_WIDTH = 340;

/**
 * A tile: the crop, what the caller writes under it, and, while hovered or focused, the whole photo
 * with the box. The photo is asked for only then, so a page of tiles loads its crops alone. The tile
 * links to the item's own view.
 */
export function ItemTile({ item, testId, children }: { item: Photo & { cropUrl: string }; testId: string; children: ReactNode }) {
  const [open, setOpen] = useState<'right' | 'left'>();
  const show = (element: HTMLElement) => setOpen(element.getBoundingClientRect().right + POPOVER_WIDTH > window.innerWidth ? 'left' : 'right');
  return (
    <a
      className="tile"
      href={`#/items/${item.id}`}
      data-testid={testId}
      onMouseEnter={(e) => show(e.currentTarget)}
      onMouseLeave={() => setOpen(undefined)}
      onFocus={(e) => show(e.currentTarget)}
      onBlur={() => setOpen(undefined)}
    >
      <ItemImage className="crop" url={item.cropUrl} alt={`item ${item.id}, the crop the model sees`} />
      <div className="tile-caption">{children}</div>
      {open && (
        <div className={`tile-photo on-${open}`} data-testid="tile-photo">
          <PhotoWithBox item={item} side={320} />
        </div>
      )}
    </a>
  );
}

/** An item's labels, one class per task. */
export function Labels({ labels }: { labels: ItemTileFragment['labels'] }) {
  return (
    <span className="labels">
      {labels.map((l) => (
        <span key={l.task} title={l.taskName}>
          {l.className}
        </span>
      ))}
    </span>
  );
}

export function SplitBadge({ split }: { split: string }) {
  return <span className={`split split-${split}`}>{split.toLowerCase()}</span>;
}

/** "1 item", "12 items". */
export const itemCount = (n: number) => `${n.toLocaleString('en-US')} item${n === 1 ? '' : 's'}`;
