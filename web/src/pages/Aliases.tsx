// Models as clients name them: every alias (champion, challenger, ...) with its target, its canary or
// shadow candidate and its log rate; both sides' live figures; its recorded moves with an undo; and
// drift, as a timeline of windows and as the newest stored report. Every number is the server's.
import { useState } from 'react';
import { f3, pct, request, useQuery } from '../api.js';
import { AliasesPageDocument, type AliasesPageQuery, type RolloutMode, UndoAliasChangeButtonDocument } from '../generated.js';
import { SeasonVerdict } from '../season.js';
import { DriftTables, DriftTimeline, SpanForm, spanEnding } from './aliases/Drift.js';
import { type Ref, refText, when } from './aliases/format.js';

type Alias = AliasesPageQuery['aliases'][number];
type LinkedRef = Alias['target'];

/** NONE, CANARY with its share of clients, or SHADOW. */
const modeText = (state: { mode: RolloutMode; canaryPercent: number }) => (state.mode === 'CANARY' ? `CANARY ${state.canaryPercent}%` : state.mode);

/** Where the dashboard shows a model: the ensembles page, or the run that trained an artifact. */
function RefLink({ model, testId }: { model: LinkedRef; testId?: string }) {
  const href = model.kind === 'ENSEMBLE' ? '#/ensembles' : model.artifact?.run ? `#/runs/${model.artifact.run.id}` : undefined;
  return href ? (
    <a href={href} data-testid={testId}>
      {refText(model)}
    </a>
  ) : (
    <span data-testid={testId}>{refText(model)}</span>
  );
}

function LiveTable({ alias }: { alias: Alias }) {
  const { sides, shadow } = alias.live;
  const tasks = sides[0]?.confidence.map((c) => c.task) ?? shadow.agreement.map((a) => a.task);
  const shadowed = alias.mode === 'SHADOW' || shadow.scored + shadow.skipped + shadow.failed > 0;
  return (
    <>
      <h2>Live, since this server started</h2>
      {sides.length === 0 ? (
        <p className="muted" data-testid={`live-empty-${alias.name}`}>
          No requests since this server started.
        </p>
      ) : (
        <table data-testid={`live-${alias.name}`}>
          <thead>
            <tr>
              <th>role</th>
              <th>model</th>
              <th className="num">requests</th>
              <th className="num">images</th>
              <th className="num">mean latency ms</th>
              {tasks.map((task) => (
                <th key={task} className="num">
                  {task} confidence
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sides.map((side) => (
              <tr key={`${side.role} ${side.model.kind} ${side.model.id}`} data-testid={`live-${alias.name}-${side.role}`}>
                <td>{side.role}</td>
                <td>{`${side.model.kind.toLowerCase()} ${side.model.name} (#${side.model.id})`}</td>
                <td className="num">{side.requests}</td>
                <td className="num">{side.images}</td>
                <td className="num">{side.meanLatencyMs.toFixed(1)}</td>
                {side.confidence.map((c) => (
                  <td key={c.task} className="num">
                    {f3(c.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shadowed && (
        <>
          <h2>Shadow</h2>
          <table data-testid={`shadow-${alias.name}`}>
            <thead>
              <tr>
                <th className="num">scored</th>
                <th className="num">skipped</th>
                <th className="num">failed</th>
                {shadow.agreement.map((a) => (
                  <th key={a.task} className="num">
                    {a.task} agreement
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              <tr>
                <td className="num">{shadow.scored}</td>
                <td className="num">{shadow.skipped}</td>
                <td className="num">{shadow.failed}</td>
                {shadow.agreement.map((a) => (
                  <td key={a.task} className="num">
                    {pct(a.value)}
                  </td>
                ))}
              </tr>
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

function stateText(state: { target: Ref; candidate: Ref | null; mode: RolloutMode; canaryPercent: number }) {
  return state.candidate ? `${modeText(state)} ${refText(state.candidate)}` : modeText(state);
}

function History({ alias, onMoved }: { alias: Alias; onMoved: () => Promise<void> }) {
  const [message, setMessage] = useState<{ text: string; error: boolean }>();
  return (
    <>
      <h2>Changes (newest first)</h2>
      <table data-testid={`history-${alias.name}`}>
        <thead>
          <tr>
            <th>change</th>
            <th>when</th>
            <th>actor</th>
            <th>target</th>
            <th>mode</th>
            <th className="num">log rate</th>
            <th>undone</th>
          </tr>
        </thead>
        <tbody>
          {alias.history.map((c) => (
            <tr key={c.id} data-testid={`change-${c.id}`}>
              <td>#{c.id}</td>
              <td title={c.at}>{when(c.at)}</td>
              <td>{c.actor}</td>
              <td>
                {c.before ? refText(c.before.target) : '(created)'} → {refText(c.after.target)}
              </td>
              <td>{stateText(c.after)}</td>
              <td className="num">{pct(c.after.logRate)}</td>
              <td>{c.undoneAt ? <span title={c.undoneAt}>undone {when(c.undoneAt)}</span> : c.undoes ? `undoes #${c.undoes}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button
          type="button"
          data-testid={`undo-${alias.name}`}
          onClick={async () => {
            setMessage({ text: 'undoing…', error: false });
            try {
              const { undoAliasChange } = await request(UndoAliasChangeButtonDocument, { name: alias.name });
              setMessage({ text: `undone: ${undoAliasChange.name} now points at ${refText(undoAliasChange.target)}`, error: false });
              await onMoved();
            } catch (e) {
              setMessage({ text: (e as Error).message, error: true });
            }
          }}
        >
          Undo last change
        </button>{' '}
        {message && (
          <span className={message.error ? 'error' : 'muted'} data-testid={`undo-message-${alias.name}`}>
            {message.text}
          </span>
        )}
      </p>
      <p className="muted">Undoing is a recorded change too, and needs a token with role trainer (top right).</p>
    </>
  );
}

function AliasCard({ alias, onMoved }: { alias: Alias; onMoved: () => Promise<void> }) {
  const [span, setSpan] = useState(() => spanEnding(24, 12));
  return (
    <section className="card" data-testid={`alias-${alias.name}`}>
      <h2>{alias.name}</h2>
      <table data-testid={`alias-summary-${alias.name}`}>
        <tbody>
          <tr>
            <th>target</th>
            <td>
              <RefLink model={alias.target} testId={`target-${alias.name}`} />
            </td>
          </tr>
          <tr>
            <th>mode</th>
            <td data-testid={`mode-${alias.name}`}>{modeText(alias)}</td>
          </tr>
          <tr>
            <th>candidate</th>
            <td>{alias.candidate ? <RefLink model={alias.candidate} testId={`candidate-${alias.name}`} /> : <span className="muted">none</span>}</td>
          </tr>
          <tr>
            <th>log rate</th>
            <td data-testid={`log-rate-${alias.name}`}>{pct(alias.logRate)} of requests logged</td>
          </tr>
          <tr>
            <th>moved</th>
            <td title={alias.updatedAt}>{when(alias.updatedAt)}</td>
          </tr>
          <tr>
            <th>season</th>
            <td>
              <SeasonVerdict verdict={alias.season} testId={`season-${alias.name}`} />
            </td>
          </tr>
        </tbody>
      </table>
      <LiveTable alias={alias} />
      <History alias={alias} onMoved={onMoved} />
      <h2>Drift timeline</h2>
      <SpanForm onSpan={setSpan} />
      {/* A move changes the model drift compares: the timeline is asked again. */}
      <DriftTimeline key={alias.updatedAt} alias={alias.name} span={span} />
      <h2>Latest drift report</h2>
      {alias.latestDrift ? (
        <DriftTables report={alias.latestDrift} alias={alias.name} />
      ) : (
        <p className="muted">
          No stored drift report yet: <code>fashion-how alias drift</code> (or checkDrift) computes and stores one.
        </p>
      )}
    </section>
  );
}

export function AliasesPage() {
  // The season every alias's model is judged by; absent: the server's default profile.
  const [profile, setProfile] = useState('');
  const { data, error, reload } = useQuery(AliasesPageDocument, profile ? { profile } : {});
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      <h1>
        Models{' '}
        <button type="button" onClick={() => void reload()} data-testid="aliases-refresh">
          Refresh
        </button>
      </h1>
      <p className="muted">
        Aliases name a role (champion, challenger) rather than a model: classify answers with champion when no model is named. A canary's candidate answers a
        share of clients; a shadow scores a copy of every request off the answer path.
      </p>
      <p>
        <label className="check">
          judged by the season{' '}
          <select value={profile} onChange={(e) => setProfile(e.target.value)} data-testid="aliases-season">
            <option value="">default (2024-subtask1)</option>
            {data.seasonProfiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.id})
              </option>
            ))}
          </select>
        </label>
      </p>
      {data.aliases.length === 0 && (
        <p className="muted" data-testid="no-aliases">
          No aliases yet: <code>fashion-how alias set</code> (or setAlias) points one at an ensemble or an artifact.
        </p>
      )}
      {data.aliases.map((alias) => (
        <AliasCard key={alias.name} alias={alias} onMoved={reload} />
      ))}
    </>
  );
}
