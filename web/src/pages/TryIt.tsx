import { useState } from 'react';
import { nodesOf, pct, request, useQuery } from '../api.js';
import { Chart } from '../chart.js';
import { type TryItQuery, TryItDocument, TryItModelsDocument } from '../generated.js';

export function TryItPage() {
  const models = useQuery(TryItModelsDocument);
  const [file, setFile] = useState<File>();
  const [size, setSize] = useState<{ width: number; height: number }>();
  const [bbox, setBbox] = useState({ xmin: 0, ymin: 0, xmax: 0, ymax: 0 });
  const [ensembleId, setEnsembleId] = useState('');
  const [answer, setAnswer] = useState<TryItQuery['classify']>();
  const [message, setMessage] = useState('');
  return (
    <>
      <h1>Try it</h1>
      <form
        className="card inline"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!file) return;
          setMessage('classifying…');
          try {
            const { classify } = await request(TryItDocument, { input: { images: [{ file, bbox }], ensembleId: ensembleId || undefined, includeMembers: true } });
            setAnswer(classify);
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
              if (!chosen) return;
              const img = new Image();
              img.onload = () => {
                setSize({ width: img.naturalWidth, height: img.naturalHeight });
                setBbox({ xmin: 0, ymin: 0, xmax: img.naturalWidth, ymax: img.naturalHeight });
              };
              img.src = URL.createObjectURL(chosen);
            }}
          />
        </label>
        {(['xmin', 'ymin', 'xmax', 'ymax'] as const).map((key) => (
          <label key={key}>
            {key}
            <input type="number" value={bbox[key]} onChange={(e) => setBbox({ ...bbox, [key]: Number(e.target.value) })} style={{ width: 70 }} data-testid={`bbox-${key}`} />
          </label>
        ))}
        <label>
          model
          <select value={ensembleId} onChange={(e) => setEnsembleId(e.target.value)}>
            <option value="">default ensemble</option>
            {models.data && nodesOf(models.data.ensembles).map((e) => <option key={e.id} value={e.id}>{e.name}</option>)}
          </select>
        </label>
        <button type="submit" disabled={!file}>Classify</button>
        <span data-testid="try-message">{message}</span>
        {size && <span className="muted">image {size.width}x{size.height}; the bbox defaults to the whole image</span>}
      </form>
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
                      { name: 'ensemble', type: 'bar', data: task.distribution.map((d) => d.probability) },
                      ...(task.members ?? []).map((m) => ({ name: `artifact ${m.artifactId} (w ${m.weight})`, type: 'bar' as const, data: m.distribution.map((d) => d.probability) })),
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
