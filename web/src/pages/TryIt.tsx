import { type PointerEvent as ReactPointerEvent, useEffect, useRef, useState } from 'react';
import { nodesOf, pct, request, useImageSrc, useQuery } from '../api.js';
import { Chart } from '../chart.js';
import { DatasetSelect } from '../fields.js';
import {
  DatasetItemsDocument,
  type ItemDetailFragment,
  type Split,
  TryItDatasetsDocument,
  TryItDocument,
  TryItItemDocument,
  TryItModelsDocument,
  type TryItQuery,
  TryItRandomItemDocument,
  TryItSaliencyDocument,
  type TryItSaliencyQuery,
} from '../generated.js';
import { ItemImage, Labels, SplitBadge } from '../items.js';
import { inOrder, MoreButton, usePages } from '../paging.js';

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
function BoxEditor({ src, size, bbox, onChange }: { src: string | undefined; size: Size; bbox: Box; onChange: (box: Box) => void }) {
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

/** Red where covering a cell lowered the predicted class's probability, blue where it raised it; the
 *  colour scale is shared by every task of the answer, so tasks compare. */
/** The picked item's true label for a task beside the answer, and whether the answer got it. */
function Truth({ label, predicted, testId }: { label: ItemDetailFragment['labels'][number] | undefined; predicted: string; testId: string }) {
  if (!label) return null;
  const right = label.className === predicted;
  return (
    <p data-testid={testId} className={right ? 'right' : 'wrong'}>
      true: <b>{label.className}</b> {right ? '✔ right' : '✘ wrong'}
    </p>
  );
}

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

/** Tiles to pick from: the first items of the split, a page at a time. */
const PICK_PAGE = 12;

function PickTiles({ datasetId, split, onPick }: { datasetId: string; split: Split | ''; onPick: (id: string) => void }) {
  const pages = usePages(DatasetItemsDocument, { id: datasetId, first: PICK_PAGE, ...(split ? { filter: { split } } : {}) }, (r) => r.dataset.items, inOrder);
  if (pages.error) return <p className="error">{pages.error.message}</p>;
  if (!pages.rows) return <p className="muted">Loading…</p>;
  return (
    <>
      <div className="tiles">
        {pages.rows.map((item) => (
          <button type="button" key={item.id} className="pick" onClick={() => onPick(item.id)} data-testid={`pick-${item.id}`} title={`item #${item.id}`}>
            <ItemImage className="crop" url={item.cropUrl} alt={`item ${item.id}`} />
            <Labels labels={item.labels} />
          </button>
        ))}
      </div>
      <MoreButton shown={pages.rows.length} total={pages.total} hasMore={pages.hasMore} more={pages.more} />
    </>
  );
}

/**
 * Try it from the data: a dataset, then one of its items picked from the tiles or drawn at random
 * (optionally of one class of one task). The item is classified by id: the server reads its photo and box.
 */
function ItemPicker({
  datasetId,
  initiallyOpen,
  onDataset,
  onPick,
  onRandom,
}: {
  datasetId: string;
  initiallyOpen: boolean;
  onDataset: (id: string) => void;
  onPick: (id: string) => void;
  onRandom: (item: ItemDetailFragment) => void;
}) {
  // Folded until asked for (or started from an item), so the upload keeps its place on the screen.
  const [open, setOpen] = useState(initiallyOpen);
  return (
    <details className="card" open={open} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="item-picker">
      <summary data-testid="pick-open">…or start from an item of a dataset</summary>
      {open && <ItemChooser datasetId={datasetId} onDataset={onDataset} onPick={onPick} onRandom={onRandom} />}
    </details>
  );
}

function ItemChooser({
  datasetId,
  onDataset,
  onPick,
  onRandom,
}: {
  datasetId: string;
  onDataset: (id: string) => void;
  onPick: (id: string) => void;
  onRandom: (item: ItemDetailFragment) => void;
}) {
  const datasets = useQuery(TryItDatasetsDocument);
  const [split, setSplit] = useState<Split | ''>('VALIDATION');
  const [task, setTask] = useState(0);
  const [classIndex, setClassIndex] = useState<number | ''>('');
  const [message, setMessage] = useState('');
  if (datasets.error) return <p className="error">{datasets.error.message}</p>;
  if (!datasets.data) return null;
  const list = nodesOf(datasets.data.datasets);
  const dataset = list.find((d) => d.id === datasetId) ?? list[0];
  if (!dataset) return null;
  const tasks = dataset.distribution;
  return (
    <>
      <div className="fields">
        <label>
          dataset
          <DatasetSelect datasets={list} value={dataset.id} onChange={onDataset} testId="pick-dataset" />
        </label>
        <label>
          split
          <select value={split} onChange={(e) => setSplit(e.target.value as Split | '')} data-testid="pick-split">
            <option value="">any</option>
            <option value="TRAIN">train</option>
            <option value="VALIDATION">validation</option>
            <option value="TEST">test</option>
          </select>
        </label>
        <span>a random one of</span>
        <label>
          task
          <select
            value={task}
            onChange={(e) => {
              setTask(Number(e.target.value));
              setClassIndex('');
            }}
            data-testid="random-task"
          >
            {tasks.map((t) => (
              <option key={t.task} value={t.task}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          class
          <select value={classIndex} onChange={(e) => setClassIndex(e.target.value === '' ? '' : Number(e.target.value))} data-testid="random-class">
            <option value="">any</option>
            {tasks
              .find((t) => t.task === task)
              ?.classes.map((c) => (
                <option key={c.index} value={c.index}>
                  {c.name} ({c.count})
                </option>
              ))}
          </select>
        </label>
        <button
          type="button"
          data-testid="random-item"
          onClick={async () => {
            setMessage('');
            try {
              const { randomItem } = await request(TryItRandomItemDocument, {
                datasetId: dataset.id,
                ...(classIndex !== '' ? { label: { task, classIndex } } : {}),
                ...(split ? { split } : {}),
              });
              onRandom(randomItem);
            } catch (e) {
              setMessage((e as Error).message);
            }
          }}
        >
          Random item
        </button>
        <span data-testid="pick-message">{message}</span>
      </div>
      <PickTiles key={`${dataset.id}:${split}`} datasetId={dataset.id} split={split} onPick={onPick} />
    </>
  );
}

const sameBox = (a: Box, b: Box) => a.xmin === b.xmin && a.ymin === b.ymin && a.xmax === b.xmax && a.ymax === b.ymax;

export function TryItPage({ itemId }: { itemId?: string }) {
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
  // A stored item instead of an upload, and the item the shown answer is of (its true labels beside it).
  const [item, setItem] = useState<ItemDetailFragment>();
  const [answered, setAnswered] = useState<ItemDetailFragment>();
  const [datasetId, setDatasetId] = useState('');
  const upload = useRef<HTMLInputElement>(null);
  // Counts what was chosen: an answer that comes back after another image or item was chosen is dropped.
  const attempt = useRef(0);
  const photo = useImageSrc(item?.photoUrl);
  useEffect(() => () => void (src && URL.revokeObjectURL(src)), [src]);
  const pick = (picked: ItemDetailFragment) => {
    attempt.current++;
    setItem(picked);
    setDatasetId(picked.dataset.id);
    setFile(undefined);
    setSrc(undefined);
    if (upload.current) upload.current.value = '';
    setSize({ width: picked.imageWidth, height: picked.imageHeight });
    setBbox({ xmin: picked.bbox.xmin, ymin: picked.bbox.ymin, xmax: picked.bbox.xmax, ymax: picked.bbox.ymax });
    setAnswer(undefined);
    setSaliency(undefined);
    setMessage('');
  };
  const pickById = async (id: string) => {
    try {
      pick((await request(TryItItemDocument, { id })).item);
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  // #/try?item=ID (the item view's "Try it"): start from that item.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per item asked for in the address
  useEffect(() => {
    if (itemId) void pickById(itemId);
  }, [itemId]);
  const model = target.startsWith('a:') ? { artifactId: target.slice(2) } : target.startsWith('e:') ? { ensembleId: target.slice(2) } : {};
  const scale = saliency ? Math.max(1e-9, ...saliency.tasks.flatMap((t) => t.drops.map(Math.abs))) : 0;
  return (
    <>
      <h1>Try it</h1>
      <form
        className="card inline"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!file && !item) return;
          // An item goes by id (the server reads its photo), with the box only when it was moved.
          const image = item ? { itemId: item.id, ...(sameBox(bbox, item.bbox) ? {} : { bbox }) } : { file, bbox };
          const mine = ++attempt.current;
          setMessage('classifying…');
          setSaliency(undefined);
          try {
            const { classify } = await request(TryItDocument, { input: { images: [image], ...model, includeMembers: true } });
            if (attempt.current !== mine) return;
            setAnswer(classify);
            setAnswered(item);
            setMessage('computing the occlusion maps…');
            const explained = await request(TryItSaliencyDocument, { input: { ...image, ...model, grid } });
            if (attempt.current !== mine) return;
            setSaliency(explained.saliency);
            setMessage('');
          } catch (e) {
            if (attempt.current === mine) setMessage((e as Error).message);
          }
        }}
      >
        <label>
          image
          <input
            type="file"
            accept="image/*"
            data-testid="upload"
            ref={upload}
            onChange={(e) => {
              const chosen = e.target.files?.[0];
              attempt.current++;
              setFile(chosen);
              setItem(undefined);
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
        <button type="submit" disabled={!file && !item}>
          Classify
        </button>
        <span data-testid="try-message">{message}</span>
        {size && (
          <span className="muted">
            image {size.width}x{size.height}; drag on the image to draw the box, or inside it to move it
          </span>
        )}
      </form>
      <ItemPicker datasetId={datasetId} initiallyOpen={Boolean(itemId)} onDataset={setDatasetId} onPick={(id) => void pickById(id)} onRandom={pick} />
      {(src || item) && size && (
        <section className="card">
          <div className="try-views">
            <div>
              <h2>Image and box</h2>
              <BoxEditor src={item ? photo : src} size={size} bbox={bbox} onChange={setBbox} />
              {item && (
                <p data-testid="picked-item">
                  <a href={`#/items/${item.id}`}>item #{item.id}</a> of {item.dataset.name} <SplitBadge split={item.split} />, labelled{' '}
                  <Labels labels={item.labels} />
                  {!sameBox(bbox, item.bbox) && (
                    <>
                      {' '}
                      <button type="button" onClick={() => setBbox({ ...item.bbox })}>
                        back to its own box
                      </button>
                    </>
                  )}
                </p>
              )}
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
            {answer.results[0]!.tasks.map((task, t) => (
              <div key={task.task}>
                <h2>
                  {task.task}: {task.predicted.name} ({pct(task.predicted.probability)})
                </h2>
                {answered && <Truth label={answered.labels.find((l) => l.task === t)} predicted={task.predicted.name} testId={`truth-${t}`} />}
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
