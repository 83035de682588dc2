// Try it: classify an uploaded photo (or a stored item) with a model, box drawn by hand, with the
// answer's distribution per task and an occlusion map of what it looked at.
import { useEffect, useRef, useState } from 'react';
import { nodesOf, pct, request, useImageSrc, useQuery } from '../api.js';
import { Chart } from '../chart.js';
import {
  type ItemDetailFragment,
  TryItDocument,
  TryItItemDocument,
  TryItModelsDocument,
  type TryItQuery,
  TryItSaliencyDocument,
  type TryItSaliencyQuery,
} from '../generated.js';
import { Labels, SplitBadge } from '../items.js';
import { type Box, BoxEditor, type Size } from './tryit/BoxEditor.js';
import { ItemPicker } from './tryit/ItemPicker.js';
import { SaliencyMap, Truth } from './tryit/Saliency.js';

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
