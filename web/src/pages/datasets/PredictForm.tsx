// Starts a batch prediction job over a dataset with an alias, an ensemble or one artifact; the job then
// shows in the dataset's list of jobs below the form, and on the Predictions page.
import { useState } from 'react';
import { nodesOf, request, useQuery } from '../../api.js';
import { PredictChoicesDocument, PredictDatasetFormDocument, type Split } from '../../generated.js';

/** A choice's value: `alias:NAME`, `e:ID` or `a:ID`, turned into predictDataset's model fields. */
function modelOf(choice: string) {
  if (choice.startsWith('alias:')) return { model: choice.slice('alias:'.length) };
  if (choice.startsWith('e:')) return { ensembleId: choice.slice(2) };
  return { artifactId: choice.slice(2) };
}

export function PredictForm({ datasetId }: { datasetId: string }) {
  const choices = useQuery(PredictChoicesDocument);
  const [chosen, setChosen] = useState('');
  const [split, setSplit] = useState<Split | ''>('');
  const [ignoreSeason, setIgnoreSeason] = useState(false);
  const [message, setMessage] = useState('');
  const options = choices.data
    ? [
        ...choices.data.aliases.map((a) => [`alias:${a.name}`, `alias ${a.name} (${a.target.kind.toLowerCase()} ${a.target.name})`] as const),
        ...nodesOf(choices.data.ensembles).map((e) => [`e:${e.id}`, `ensemble ${e.name}`] as const),
        ...nodesOf(choices.data.artifacts).map((a) => [`a:${a.id}`, `artifact ${a.name}`] as const),
      ]
    : [];
  const choice = chosen || options[0]?.[0] || '';
  return (
    <form
      className="inline"
      data-testid="predict-form"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!choice) return;
        setMessage('queueing…');
        try {
          const { predictDataset } = await request(PredictDatasetFormDocument, {
            input: { datasetId, ...modelOf(choice), ...(split ? { split } : {}), ignoreSeason },
          });
          setMessage(
            `prediction job #${predictDataset.id} queued${predictDataset.season?.overridden ? ` against season ${predictDataset.season.profileId}'s rules` : ''}`,
          );
        } catch (e) {
          setMessage((e as Error).message);
        }
      }}
    >
      <label>
        model
        <select value={choice} onChange={(e) => setChosen(e.target.value)} style={{ maxWidth: 320 }} data-testid="predict-model">
          {options.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        items
        <select value={split} onChange={(e) => setSplit(e.target.value as Split | '')} data-testid="predict-split">
          <option value="">every item</option>
          <option value="TRAIN">train only</option>
          <option value="VALIDATION">validation only</option>
          <option value="TEST">test only</option>
        </select>
      </label>
      <label className="check" title="Score with a model the dataset's season rejects; the job records the override">
        <input type="checkbox" checked={ignoreSeason} onChange={(e) => setIgnoreSeason(e.target.checked)} data-testid="predict-ignore-season" /> ignore the
        season's verdict
      </label>
      <button type="submit" disabled={!choice} data-testid="predict-start">
        Predict
      </button>
      <span data-testid="predict-message">{message}</span>
      <span className="muted">Needs a token with role trainer (top right).</span>
    </form>
  );
}
