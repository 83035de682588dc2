// The photo with its bbox drawn over it, to draw or move the box a classify request crops.
import { type PointerEvent as ReactPointerEvent, useRef } from 'react';

export type Box = { xmin: number; ymin: number; xmax: number; ymax: number };
export type Size = { width: number; height: number };

/** Keeps a box inside the image with at least one pixel of width and height, in whole pixels. */
function clampBox(box: Box, size: Size): Box {
  const xmin = Math.max(0, Math.min(size.width - 1, Math.round(Math.min(box.xmin, box.xmax))));
  const ymin = Math.max(0, Math.min(size.height - 1, Math.round(Math.min(box.ymin, box.ymax))));
  const xmax = Math.max(xmin + 1, Math.min(size.width, Math.round(Math.max(box.xmin, box.xmax))));
  const ymax = Math.max(ymin + 1, Math.min(size.height, Math.round(Math.max(box.ymin, box.ymax))));
  return { xmin, ymin, xmax, ymax };
}

/**
 * The uploaded image with the bbox over it. The overlay's viewBox is the image's own pixel grid, so the
 * rectangle's attributes are the bbox itself; dragging outside the box draws a new one, inside moves it.
 */
export function BoxEditor({ src, size, bbox, onChange }: { src: string | undefined; size: Size; bbox: Box; onChange: (box: Box) => void }) {
  const drag = useRef<{ mode: 'draw' | 'move'; x: number; y: number; start: Box } | null>(null);
  const toImage = (event: ReactPointerEvent<SVGSVGElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * size.width) / rect.width, y: ((event.clientY - rect.top) * size.height) / rect.height };
  };
  return (
    // At most 420 px on its longer side, so a tall photo does not push everything else off the screen.
    <div className="stage" style={{ aspectRatio: `${size.width} / ${size.height}`, width: Math.round((420 * size.width) / Math.max(size.width, size.height)) }}>
      <img src={src} alt="what to classify" draggable={false} />
      <svg
        data-testid="bbox-editor"
        viewBox={`0 0 ${size.width} ${size.height}`}
        preserveAspectRatio="none"
        onPointerDown={(event) => {
          const { x, y } = toImage(event);
          const inside = x >= bbox.xmin && x < bbox.xmax && y >= bbox.ymin && y < bbox.ymax;
          event.currentTarget.setPointerCapture(event.pointerId);
          drag.current = { mode: inside ? 'move' : 'draw', x, y, start: bbox };
        }}
        onPointerMove={(event) => {
          const d = drag.current;
          if (!d) return;
          const { x, y } = toImage(event);
          if (d.mode === 'draw') {
            onChange(clampBox({ xmin: d.x, ymin: d.y, xmax: x, ymax: y }, size));
            return;
          }
          const w = d.start.xmax - d.start.xmin;
          const h = d.start.ymax - d.start.ymin;
          const xmin = Math.max(0, Math.min(size.width - w, Math.round(d.start.xmin + x - d.x)));
          const ymin = Math.max(0, Math.min(size.height - h, Math.round(d.start.ymin + y - d.y)));
          onChange({ xmin, ymin, xmax: xmin + w, ymax: ymin + h });
        }}
        onPointerUp={() => (drag.current = null)}
      >
        <title>the item bbox: drag inside to move it, outside to draw a new one</title>
        {/* While the numbers are being typed the box may be inverted for a moment: draw nothing negative. */}
        <rect
          data-testid="bbox-rect"
          x={bbox.xmin}
          y={bbox.ymin}
          width={Math.max(0, bbox.xmax - bbox.xmin)}
          height={Math.max(0, bbox.ymax - bbox.ymin)}
          vectorEffect="non-scaling-stroke"
        />
      </svg>
    </div>
  );
}
