// Try it from the data: a dataset's items as tiles to pick from, or one drawn at random of a class.
import { useState } from 'react';
import { nodesOf, request, useQuery } from '../../api.js';
import { DatasetSelect } from '../../fields.js';
import { DatasetItemsDocument, type ItemDetailFragment, type Split, TryItDatasetsDocument, TryItRandomItemDocument } from '../../generated.js';
import { ItemImage, Labels } from '../../items.js';
import { inOrder, MoreButton, usePages } from '../../paging.js';

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
export function ItemPicker({
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
