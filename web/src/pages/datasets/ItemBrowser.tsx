// A dataset's items as tiles, filtered by split, a class per task and the box's shorter side.
import { useState } from 'react';
import { DatasetItemsDocument, type DatasetPageQuery, type ItemFilter, type Split } from '../../generated.js';
import { ItemTile, itemCount, Labels, SplitBadge } from '../../items.js';
import { inOrder, MoreButton, usePages } from '../../paging.js';

type Dataset = DatasetPageQuery['dataset'];

/** What the filter form holds: '' is "any"; the sides as typed. */
interface FilterForm {
  split: Split | '';
  classes: Record<number, number | ''>;
  minSide: string;
  maxSide: string;
}

/** The API's filter from the form: absent fields match every item. */
function filterOf(form: FilterForm): ItemFilter {
  const labels = Object.entries(form.classes)
    .filter(([, classIndex]) => classIndex !== '')
    .map(([task, classIndex]) => ({ task: Number(task), classIndex: classIndex as number }));
  const side = (text: string) => (text.trim() === '' || !Number.isFinite(Number(text)) ? undefined : Math.round(Number(text)));
  return {
    ...(form.split ? { split: form.split } : {}),
    ...(labels.length ? { labels } : {}),
    ...(side(form.minSide) !== undefined ? { minBboxSide: side(form.minSide) } : {}),
    ...(side(form.maxSide) !== undefined ? { maxBboxSide: side(form.maxSide) } : {}),
  };
}

const BROWSER_PAGE = 40;

/** One filter's pages of item tiles; mounted afresh per filter, so no page of another filter stays. */
function ItemPages({ datasetId, filter }: { datasetId: string; filter: ItemFilter }) {
  const pages = usePages(DatasetItemsDocument, { id: datasetId, filter, first: BROWSER_PAGE }, (r) => r.dataset.items, inOrder);
  if (pages.error) return <p className="error">{pages.error.message}</p>;
  if (!pages.rows) return <p className="muted">Loading…</p>;
  return (
    <>
      <p data-testid="items-count">{itemCount(pages.total)}</p>
      <div className="tiles">
        {pages.rows.map((item) => (
          <ItemTile key={item.id} item={item} testId={`item-tile-${item.id}`}>
            <SplitBadge split={item.split} /> <Labels labels={item.labels} />
          </ItemTile>
        ))}
      </div>
      {pages.rows.length === 0 && <p className="muted">No item matches these filters.</p>}
      <MoreButton shown={pages.rows.length} total={pages.total} hasMore={pages.hasMore} more={pages.more} />
    </>
  );
}

/** The dataset's items as tiles, filtered by split, a class per task and the box's shorter side. */
export function ItemBrowser({ dataset }: { dataset: Dataset }) {
  const [form, setForm] = useState<FilterForm>({ split: '', classes: {}, minSide: '', maxSide: '' });
  const filter = filterOf(form);
  return (
    <section className="card" data-testid="item-browser">
      <h2>Items</h2>
      <div className="fields">
        <label>
          split
          <select value={form.split} onChange={(e) => setForm({ ...form, split: e.target.value as Split | '' })} data-testid="filter-split">
            <option value="">any</option>
            {dataset.splits.map((s) => (
              <option key={s.split} value={s.split}>
                {s.split.toLowerCase()} ({s.count})
              </option>
            ))}
          </select>
        </label>
        {dataset.distribution.map((task) => (
          <label key={task.task}>
            {task.name}
            <select
              value={form.classes[task.task] ?? ''}
              onChange={(e) => setForm({ ...form, classes: { ...form.classes, [task.task]: e.target.value === '' ? '' : Number(e.target.value) } })}
              data-testid={`filter-task-${task.task}`}
            >
              <option value="">any</option>
              {task.classes.map((c) => (
                <option key={c.index} value={c.index}>
                  {c.name} ({c.count})
                </option>
              ))}
            </select>
          </label>
        ))}
        <label>
          box side at least (px)
          <input
            type="number"
            min={0}
            value={form.minSide}
            onChange={(e) => setForm({ ...form, minSide: e.target.value })}
            style={{ width: 90 }}
            data-testid="filter-min-side"
          />
        </label>
        <label>
          at most (px)
          <input
            type="number"
            min={0}
            value={form.maxSide}
            onChange={(e) => setForm({ ...form, maxSide: e.target.value })}
            style={{ width: 90 }}
            data-testid="filter-max-side"
          />
        </label>
      </div>
      <p className="muted">A box's side is its shorter one. Hover a tile for the whole photo; click it for the item and its predictions.</p>
      <ItemPages key={JSON.stringify(filter)} datasetId={dataset.id} filter={filter} />
    </section>
  );
}
