import { type PointerEvent as ReactPointerEvent, useEffect, useRef, useState } from 'react';
import { nodesOf, pct, request, useQuery } from '../api.js';
import { Chart } from '../chart.js';
import { TryItDocument, TryItModelsDocument, type TryItQuery, TryItSaliencyDocument, type TryItSaliencyQuery } from '../generated.js';

type Box = { xmin: number; ymin: number; xmax: number; ymax: number };
type Size = { width: number; height: number };

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
function BoxEditor({ src, size, bbox, onChange }: { src: string; size: Size; bbox: Box; onChange: (box: Box) => void }) {
  const drag = useRef<{ mode: 'draw' | 'move'; x: number; y: number; start: Box } | null>(null);
  const toImage = (event: ReactPointerEvent<SVGSVGElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * size.width) / rect.width, y: ((event.clientY - rect.top) * size.height) / rect.height };
  };
  return (
    // At most 420 px on its longer side, so a tall photo does not push everything else off the screen.
    <div className="stage" style={{ aspectRatio: `${size.width} / ${size.height}`, width: Math.round((420 * size.width) / Math.max(size.width, size.height)) }}>
      <img src={src} alt="uploaded" draggable={false} />
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

/** Red where covering a cell lowered the predicted class's probability, blue where it raised it; the
 *  colour scale is shared by every task of the answer, so tasks compare. */
function SaliencyMap({ saliency, task, scale }: { saliency: TryItSaliencyQuery['saliency']; task: number; scale: number }) {
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

export function TryItPage() {
  const models = useQuery(TryItModelsDocument);
  const [file, setFile] = useState<File>();
  const [src, setSrc] = useState<string>();
  const [size, setSize] = useState<Size>();
  const [bbox, setBbox] = useState<Box>({ xmin: 0, ymin: 0, xmax: 0, ymax: 0 });
  const [target, setTarget] = useState('');
  const [grid, setGrid] = useState(8);
  const [answer, setAnswer] = useState<TryItQuery['classify']>();
  const [saliency, setSaliency] = useState<TryItSaliencyQuery['saliency']>();
  const [message, setMessage] = useState('');
  useEffect(() => () => void (src && URL.revokeObjectURL(src)), [src]);
  const model = target.startsWith('a:') ? { artifactId: target.slice(2) } : target.startsWith('e:') ? { ensembleId: target.slice(2) } : {};
  const scale = saliency ? Math.max(1e-9, ...saliency.tasks.flatMap((t) => t.drops.map(Math.abs))) : 0;
  return (
    <>
      <h1>Try it</h1>
      <form
        className="card inline"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!file) return;
          setMessage('classifying…');
          setSaliency(undefined);
          try {
            const { classify } = await request(TryItDocument, { input: { images: [{ file, bbox }], ...model, includeMembers: true } });
            setAnswer(classify);
            setMessage('computing the occlusion maps…');
            const explained = await request(TryItSaliencyDocument, { input: { file, bbox, ...model, grid } });
            setSaliency(explained.saliency);
            setMessage('');
          } catch (e) {
            setMessage((e as Error).message);
          }
        }}
      >
        <label>
          image
          <input
            type="file"
            accept="image/*"
            data-testid="upload"
            onChange={(e) => {
              const chosen = e.target.files?.[0];
              setFile(chosen);
              setAnswer(undefined);
              setSaliency(undefined);
              if (!chosen) return;
              const url = URL.createObjectURL(chosen);
              const img = new Image();
              img.onload = () => {
                setSize({ width: img.naturalWidth, height: img.naturalHeight });
                setBbox({ xmin: 0, ymin: 0, xmax: img.naturalWidth, ymax: img.naturalHeight });
                setSrc(url);
              };
              img.src = url;
            }}
          />
        </label>
        {(['xmin', 'ymin', 'xmax', 'ymax'] as const).map((key) => (
          <label key={key}>
            {key}
            <input
              type="number"
              value={bbox[key]}
              onChange={(e) => setBbox({ ...bbox, [key]: Number(e.target.value) })}
              style={{ width: 70 }}
              data-testid={`bbox-${key}`}
            />
          </label>
        ))}
        <label>
          model
          <select value={target} onChange={(e) => setTarget(e.target.value)} data-testid="model" style={{ maxWidth: 280 }}>
            <option value="">default ensemble</option>
            {models.data &&
              nodesOf(models.data.ensembles).map((e) => (
                <option key={e.id} value={`e:${e.id}`}>
                  ensemble {e.name}
                </option>
              ))}
            {models.data &&
              nodesOf(models.data.artifacts).map((a) => (
                <option key={a.id} value={`a:${a.id}`}>
                  artifact {a.name}
                </option>
              ))}
          </select>
        </label>
        <label>
          occlusion grid
          <input type="number" min={2} max={16} value={grid} onChange={(e) => setGrid(Number(e.target.value))} style={{ width: 60 }} data-testid="grid" />
        </label>
        <button type="submit" disabled={!file}>
          Classify
        </button>
        <span data-testid="try-message">{message}</span>
        {size && (
          <span className="muted">
            image {size.width}x{size.height}; drag on the image to draw the box, or inside it to move it
          </span>
        )}
      </form>
      {src && size && (
        <section className="card">
          <div className="try-views">
            <div>
              <h2>Image and box</h2>
              <BoxEditor src={src} size={size} bbox={bbox} onChange={setBbox} />
            </div>
            {saliency && (
              <div className="model-view">
                <h2>
                  What the model sees ({saliency.size}×{saliency.size})
                </h2>
                <img className="model-input" src={saliency.crop} alt="model input" data-testid="crop" />
                <p className="muted">
                  cropped to the box, long side resized to {saliency.size} px, padded to a square: exactly the model's input
                  {saliency.letterbox.width < saliency.size || saliency.letterbox.height < saliency.size
                    ? ` (crop ${saliency.letterbox.width}×${saliency.letterbox.height} at ${saliency.letterbox.left},${saliency.letterbox.top})`
                    : ''}
                </p>
              </div>
            )}
          </div>
          {saliency && (
            <>
              <h2>
                Where the decision came from: occlusion sensitivity ({saliency.model}, {saliency.grid}×{saliency.grid} grid)
              </h2>
              <p className="muted">
                Each cell was covered with the model's mean colour in turn; red: the predicted class lost probability without it, blue: it gained. One colour
                scale for all tasks (strongest cell {pct(scale)}).
              </p>
              <div className="saliency-row">
                {saliency.tasks.map((t, i) => (
                  <SaliencyMap key={t.task} saliency={saliency} task={i} scale={scale} />
                ))}
              </div>
            </>
          )}
        </section>
      )}
      {answer && (
        <section className="card" data-testid="prediction">
          <h2>{answer.model}</h2>
          <div className="grid">
            {answer.results[0]!.tasks.map((task) => (
              <div key={task.task}>
                <h2>
                  {task.task}: {task.predicted.name} ({pct(task.predicted.probability)})
                </h2>
                <Chart
                  height={60 + 34 * task.distribution.length}
                  option={{
                    grid: { left: 110, right: 20, top: 40, bottom: 24 },
                    legend: { top: 0, type: 'scroll' },
                    tooltip: { trigger: 'axis' },
                    xAxis: { type: 'value', max: 1 },
                    yAxis: { type: 'category', data: task.distribution.map((d) => d.name) },
                    series: [
                      { name: 'answer', type: 'bar', data: task.distribution.map((d) => d.probability) },
                      ...(task.members ?? []).map((m) => ({
                        name: `artifact ${m.artifactId} (w ${m.weight})`,
                        type: 'bar' as const,
                        data: m.distribution.map((d) => d.probability),
                      })),
                    ],
                  }}
                />
              </div>
            ))}
          </div>
        </section>
      )}
    </>
  );
}
