import { useState } from 'react';
import { f3, request, useQuery } from '../api.js';
import { CreateEnsembleFormDocument, EnsemblesPageDocument } from '../generated.js';

export function EnsemblesPage() {
  const { data, error, reload } = useQuery(EnsemblesPageDocument);
  const [name, setName] = useState('');
  const [weights, setWeights] = useState<Record<string, number>>({});
  const [message, setMessage] = useState('');
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const latest = (ensembleId: string) => data.reports.find((r) => r.ensemble?.id === ensembleId);
  return (
    <>
      <h1>Ensembles</h1>
      <section className="card">
        <table data-testid="ensembles-table">
          <thead>
            <tr><th>ensemble</th><th>members (weight)</th><th className="num">mean top-1</th><th className="num">mean ACSA</th></tr>
          </thead>
          <tbody>
            {data.ensembles.map((e) => (
              <tr key={e.id}>
                <td>{e.name}{e.isDefault && ' (default)'}</td>
                <td>{e.members.map((m) => `${m.artifact.name} (${m.weight})`).join(', ')}</td>
                <td className="num">{latest(e.id) ? f3(latest(e.id)!.meanTop1) : '–'}</td>
                <td className="num">{latest(e.id) ? <a href={`#/reports/${latest(e.id)!.id}`}>{f3(latest(e.id)!.meanAcsa)}</a> : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data.ensembles.length === 0 && <p className="muted">No ensembles yet.</p>}
      </section>
      <form
        className="card"
        onSubmit={async (event) => {
          event.preventDefault();
          const members = Object.entries(weights).filter(([, w]) => w > 0).map(([artifactId, weight]) => ({ artifactId, weight }));
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
        <label>name <input value={name} onChange={(e) => setName(e.target.value)} required /></label>
        <table>
          <thead>
            <tr><th>artifact</th><th className="num">best val. ACSA</th><th className="num">size MB</th><th>weight (0 = leave out)</th></tr>
          </thead>
          <tbody>
            {data.artifacts.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td className="num">{a.run?.bestValidationAcsa != null ? f3(a.run.bestValidationAcsa) : '–'}</td>
                <td className="num">{(a.sizeBytes / 1e6).toFixed(1)}</td>
                <td><input type="number" min={0} step={0.5} value={weights[a.id] ?? 0} onChange={(e) => setWeights({ ...weights, [a.id]: Number(e.target.value) })} style={{ width: 70 }} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="submit">Create</button> <span>{message}</span>
      </form>
    </>
  );
}
