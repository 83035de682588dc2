// A dataset's label reviews: links and a table of its scans, and the form that starts a new one.
import { useState } from 'react';
import { nodesOf, request, useQuery } from '../../api.js';
import { FindLabelIssuesFormDocument, type ScanRowFragment, type Split, TryItModelsDocument } from '../../generated.js';

/** A dataset's label reviews, as links. */
export function ScanLinks({ scans }: { scans: ScanRowFragment[] }) {
  if (scans.length === 0) return null;
  return (
    <p>
      label reviews:{' '}
      {scans.map((scan, i) => (
        <span key={scan.id}>
          {i > 0 && ', '}
          <a href={`#/labels/${scan.id}`}>
            #{scan.id} ({scan.tasks.reduce((n, t) => n + t.issueCount, 0)} suspects{scan.reviewedDataset ? ', applied' : ''})
          </a>
        </span>
      ))}
    </p>
  );
}

/** Starts a confident-learning scan of the dataset's labels with a model's out-of-sample probabilities. */
export function FindLabelIssuesForm({ datasetId }: { datasetId: string }) {
  const models = useQuery(TryItModelsDocument);
  const [target, setTarget] = useState('');
  const [split, setSplit] = useState<Split>('VALIDATION');
  const [message, setMessage] = useState('');
  const choices = models.data
    ? [
        ...nodesOf(models.data.ensembles).map((e) => [`e:${e.id}`, `ensemble ${e.name}`] as const),
        ...nodesOf(models.data.artifacts).map((a) => [`a:${a.id}`, `artifact ${a.name}`] as const),
      ]
    : [];
  const chosen = target || choices[0]?.[0] || '';
  return (
    <form
      className="inline"
      data-testid="find-label-issues"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!chosen) return;
        setMessage('scanning…');
        try {
          const source = chosen.startsWith('e:') ? { ensembleId: chosen.slice(2) } : { artifactId: chosen.slice(2) };
          const { findLabelIssues } = await request(FindLabelIssuesFormDocument, { input: { datasetId, split, ...source } });
          location.hash = `#/labels/${findLabelIssues.id}`;
        } catch (e) {
          setMessage((e as Error).message);
        }
      }}
    >
      <label>
        model
        <select value={chosen} onChange={(e) => setTarget(e.target.value)} style={{ maxWidth: 280 }}>
          {choices.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        on
        {/* Never TRAIN: the model learnt those labels, its probabilities there are not out of sample. */}
        <select value={split} onChange={(e) => setSplit(e.target.value as Split)}>
          <option value="VALIDATION">validation</option>
          <option value="TEST">test</option>
        </select>
      </label>
      <button type="submit" disabled={!chosen}>
        Find label issues
      </button>
      <span data-testid="find-message">{message}</span>
      <span className="muted">Needs a token with role trainer (top right).</span>
    </form>
  );
}

export function ScanTable({ scans }: { scans: ScanRowFragment[] }) {
  if (scans.length === 0) return <p className="muted">No scans yet.</p>;
  return (
    <table data-testid="label-scans">
      <thead>
        <tr>
          <th>scan</th>
          <th>probabilities from</th>
          <th className="num">items</th>
          <th>suspects</th>
          <th>applied as</th>
        </tr>
      </thead>
      <tbody>
        {scans.map((scan) => (
          <tr key={scan.id}>
            <td>
              <a href={`#/labels/${scan.id}`}>#{scan.id}</a>
            </td>
            <td>{scan.source}</td>
            <td className="num">{scan.itemCount}</td>
            <td>{scan.tasks.map((t) => `${t.taskName} ${t.issueCount}`).join(', ')}</td>
            <td>{scan.reviewedDataset ? <a href={`#/datasets/${scan.reviewedDataset.id}`}>{scan.reviewedDataset.name}</a> : '–'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
