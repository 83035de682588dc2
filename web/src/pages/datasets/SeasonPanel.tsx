// The season a dataset is entered in (shown, and set by a trainer), what that season's rules are, and the
// log of submissions written for it with each one's verdict.
import { useState } from 'react';
import { request, useQuery } from '../../api.js';
import { DatasetSeasonDocument, type DatasetSeasonQuery, SetDatasetSeasonFormDocument } from '../../generated.js';

type Profile = DatasetSeasonQuery['seasonProfiles'][number];
type Submission = DatasetSeasonQuery['dataset']['submissions'][number];

/** The rules that decide whether a model is accepted, in a line. */
function rulesText(p: Profile) {
  const parts = [
    `labels ${p.tasks.map((t) => `${t.name} ${t.classCount}`).join(' / ')}`,
    p.sizeLimitMB === null ? 'no size limit' : `at most ${p.sizeLimitMB} MB`,
    p.ensemblesAllowed ? 'ensembles allowed' : 'one model, no ensembles',
    `inference on ${p.device}`,
    ...(p.latencyLimitMs === null ? [] : [`at most ${p.latencyLimitMs} ms per image`]),
    `submission columns ${p.submissionColumns.join(', ')}`,
  ];
  return parts.join('; ');
}

function SubmissionsTable({ submissions }: { submissions: Submission[] }) {
  if (submissions.length === 0)
    return (
      <p className="muted" data-testid="no-submissions">
        No submissions yet: <code>fashion-how submission --dataset ID --model NAME --out DIR</code> writes and checks one (docs/seasons.md).
      </p>
    );
  return (
    <table data-testid="submissions">
      <thead>
        <tr>
          <th>submission</th>
          <th>written</th>
          <th>season</th>
          <th>model</th>
          <th className="num">rows</th>
          <th>verdict</th>
          <th>table SHA-256</th>
        </tr>
      </thead>
      <tbody>
        {submissions.map((s) => (
          <tr key={s.id} data-testid={`submission-${s.id}`}>
            <td>#{s.id}</td>
            <td title={s.createdAt}>{new Date(s.createdAt).toLocaleString()}</td>
            <td>{s.profile}</td>
            <td>
              {s.alias ? `${s.alias} → ` : ''}
              {s.model.kind.toLowerCase()} {s.model.name} (#{s.model.id})
            </td>
            <td className="num">{s.rows}</td>
            <td className={s.accepted ? 'right' : 'wrong'}>
              {s.accepted ? 'accepted' : `rejected: ${s.reasons.join('; ')}`}
              {s.forced ? ' (written anyway, --force)' : ''}
            </td>
            <td>
              <code title={s.tableSha256}>{s.tableSha256.slice(0, 12)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SeasonPanel({ datasetId }: { datasetId: string }) {
  const { data, error, reload } = useQuery(DatasetSeasonDocument, { id: datasetId });
  const [choice, setChoice] = useState<string>();
  const [message, setMessage] = useState('');
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { season, submissions } = data.dataset;
  const selected = choice ?? season?.id ?? '';
  const profile = data.seasonProfiles.find((p) => p.id === (season?.id ?? ''));
  return (
    <section className="card" data-testid="season-panel">
      <h2>Season</h2>
      <p data-testid="dataset-season">
        {season ? (
          <>
            Entered in <b>{season.name}</b> ({season.id}): its models are judged by its rules, label space included.
          </>
        ) : (
          'No season declared: models are judged by the default profile, 2024-subtask1, without its label space.'
        )}
      </p>
      {profile && (
        <p className="muted" data-testid="season-rules">
          {rulesText(profile)}
        </p>
      )}
      <form
        className="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          setMessage('saving…');
          try {
            await request(SetDatasetSeasonFormDocument, { datasetId, profile: selected || null });
            setMessage('');
            setChoice(undefined);
            await reload();
          } catch (e) {
            setMessage((e as Error).message);
          }
        }}
      >
        <label>
          season
          <select value={selected} onChange={(e) => setChoice(e.target.value)} data-testid="season-select">
            <option value="">none</option>
            {data.seasonProfiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.id})
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={selected === (season?.id ?? '')} data-testid="season-save">
          Set season
        </button>
        <span data-testid="season-message">{message}</span>
        <span className="muted">Needs a token with role trainer (top right).</span>
      </form>
      <h2>Submissions</h2>
      <SubmissionsTable submissions={submissions} />
    </section>
  );
}
