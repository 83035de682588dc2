import { useState } from 'react';
import { f3, nodesOf, request, useQuery } from '../api.js';
import { DatasetSelect } from '../fields.js';
import {
  CreateEnsembleFormDocument,
  EnsemblesPageDocument,
  type EnsemblesPageQuery,
  FitEnsembleFormDocument,
  type FitMetric,
  type Split,
} from '../generated.js';

type EnsembleRow = EnsemblesPageQuery['ensembles']['edges'][number]['node'];

function describeFit(e: EnsembleRow): string {
  if (!e.fit) return 'weights by hand';
  const adjusted = e.logitAdjustment
    ?.filter((a) => a.tau !== 0)
    .map((a) => `${a.task} tau ${a.tau.toFixed(1)}`)
    .join(', ');
  return (
    `fitted for ${e.fit.metric} on ${e.fit.dataset.name} ${e.fit.split} (${e.fit.itemCount} items): ${f3(e.fit.score)}, best member ${f3(e.fit.bestMemberScore)}` +
    (adjusted ? `; logit adjustment ${adjusted}` : '')
  );
}

/** Greedy selection over chosen finished runs, fitted on one split. */
function FitForm({ data, onFitted }: { data: EnsemblesPageQuery; onFitted: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [datasetId, setDatasetId] = useState(nodesOf(data.datasets)[0]?.id ?? '');
  const [split, setSplit] = useState<Split>('VALIDATION');
  const [metric, setMetric] = useState<FitMetric>('MEAN_ACSA');
  const [temperatureScaling, setTemperatureScaling] = useState(true);
  const [logitAdjustment, setLogitAdjustment] = useState(false);
  const [candidates, setCandidates] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  return (
    <form
      className="card"
      data-testid="fit-ensemble"
      onSubmit={async (event) => {
        event.preventDefault();
        setMessage('fitting: every candidate is scored on the split first…');
        try {
          const { fitEnsemble } = await request(FitEnsembleFormDocument, {
            input: { name, datasetId, split, metric, temperatureScaling, logitAdjustment, artifactIds: candidates },
          });
          setMessage(`fitted ensemble ${fitEnsemble.id}`);
          await onFitted();
        } catch (e) {
          setMessage((e as Error).message);
        }
      }}
    >
      <h2>Fit an ensemble to win</h2>
      <p className="muted">Greedy selection with replacement over the candidates, maximising the metric on the fitting split; report it on another split.</p>
      <div className="fields">
        <label>
          name <input value={name} onChange={(e) => setName(e.target.value)} required style={{ width: 220 }} />
        </label>
        <label>
          dataset <DatasetSelect datasets={nodesOf(data.datasets)} value={datasetId} onChange={setDatasetId} />
        </label>
        <label>
          fitting split{' '}
          <select value={split} onChange={(e) => setSplit(e.target.value as Split)}>
            {(['VALIDATION', 'TEST', 'TRAIN'] as const).map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          metric{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value as FitMetric)}>
            {(['MEAN_ACSA', 'MEAN_TOP1', 'NLL'] as const).map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={temperatureScaling} onChange={(e) => setTemperatureScaling(e.target.checked)} /> temperature scaling
        </label>
        <label className="check">
          <input type="checkbox" checked={logitAdjustment} onChange={(e) => setLogitAdjustment(e.target.checked)} /> logit adjustment
        </label>
      </div>
      <p>
        candidates:{' '}
        {nodesOf(data.artifacts).map((a) => (
          <label key={a.id} className="check">
            <input
              type="checkbox"
              checked={candidates.includes(a.id)}
              onChange={(e) => setCandidates(e.target.checked ? [...candidates, a.id] : candidates.filter((c) => c !== a.id))}
            />{' '}
            {a.name}
          </label>
        ))}
      </p>
      <button type="submit" disabled={candidates.length === 0}>
        Fit
      </button>{' '}
      <span data-testid="fit-message">{message}</span>
    </form>
  );
}

export function EnsemblesPage() {
  const { data, error, reload } = useQuery(EnsemblesPageDocument);
  const [name, setName] = useState('');
  const [weights, setWeights] = useState<Record<string, number>>({});
  const [message, setMessage] = useState('');
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const latest = (ensembleId: string) => nodesOf(data.reports).find((r) => r.ensemble?.id === ensembleId);
  return (
    <>
      <h1>Ensembles</h1>
      <section className="card">
        <table data-testid="ensembles-table">
          <thead>
            <tr>
              <th>ensemble</th>
              <th>members (weight)</th>
              <th>how</th>
              <th className="num">mean top-1</th>
              <th className="num">mean ACSA</th>
            </tr>
          </thead>
          <tbody>
            {nodesOf(data.ensembles).map((e) => (
              <tr key={e.id}>
                <td>
                  {e.name}
                  {e.isDefault && ' (default)'}
                </td>
                <td>
                  {e.members
                    .map((m) => `${m.artifact.name} (${m.weight}${m.temperatures ? `, T ${m.temperatures.map((t) => t.toFixed(2)).join('/')}` : ''})`)
                    .join(', ')}
                </td>
                <td data-testid={`fit-${e.id}`}>{describeFit(e)}</td>
                <td className="num">{latest(e.id) ? f3(latest(e.id)!.meanTop1) : '–'}</td>
                <td className="num">{latest(e.id) ? <a href={`#/reports/${latest(e.id)!.id}`}>{f3(latest(e.id)!.meanAcsa)}</a> : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data.ensembles.edges.length === 0 && <p className="muted">No ensembles yet.</p>}
      </section>
      <form
        className="card"
        onSubmit={async (event) => {
          event.preventDefault();
          const members = Object.entries(weights)
            .filter(([, w]) => w > 0)
            .map(([artifactId, weight]) => ({ artifactId, weight }));
          try {
            const { createEnsemble } = await request(CreateEnsembleFormDocument, { input: { name, members } });
            setMessage(`created ensemble ${createEnsemble.id}`);
            await reload();
          } catch (e) {
            setMessage((e as Error).message);
          }
        }}
      >
        <h2>New ensemble from finished runs</h2>
        <label>
          name <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <table>
          <thead>
            <tr>
              <th>artifact</th>
              <th className="num">best val. ACSA</th>
              <th className="num">size MB</th>
              <th>weight (0 = leave out)</th>
            </tr>
          </thead>
          <tbody>
            {nodesOf(data.artifacts).map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td className="num">{a.run?.bestValidationAcsa != null ? f3(a.run.bestValidationAcsa) : '–'}</td>
                <td className="num">{(a.sizeBytes / 1e6).toFixed(1)}</td>
                <td>
                  <input
                    type="number"
                    min={0}
                    step={0.5}
                    value={weights[a.id] ?? 0}
                    onChange={(e) => setWeights({ ...weights, [a.id]: Number(e.target.value) })}
                    style={{ width: 70 }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="submit">Create</button> <span>{message}</span>
      </form>
      {data.artifacts.edges.length > 0 && <FitForm data={data} onFitted={reload} />}
    </>
  );
}
