import { useEffect, useRef, useState } from 'react';
import { f3, nodesOf, request, useQuery, useSubscription } from '../api.js';
import { Chart } from '../chart.js';
import {
  CancelRunButtonDocument,
  ResumeRunButtonDocument,
  type RunDetailFragment,
  RunLiveDocument,
  RunPageDocument,
  type RunPageQuery,
  type RunRowFragment,
  RunsLiveDocument,
  RunsPageDocument,
  StartTrainingChoicesDocument,
  StartTrainingFormDocument,
} from '../generated.js';
import { MoreButton, usePages } from '../paging.js';

/** Why a run stopped before its last epoch, as the run page says it. */
const STOPPED = { EARLY: '; stopped early', BUDGET: '; stopped at the time budget', PRUNED: "; stopped at a sweep's rung" } as const;

function StartForm({
  datasets,
  backbones,
  heads,
  onStarted,
}: {
  datasets: { id: string; name: string }[];
  backbones: string[];
  heads: string[];
  onStarted: () => unknown;
}) {
  // The seed's recipe, pre-filled.
  const [form, setForm] = useState({
    datasetId: datasets[0]?.id ?? '',
    backbones: ['resnet18'],
    heads: ['feedforward'],
    epochs: 3,
    batchSize: 64,
    imageSize: 224,
  });
  const [message, setMessage] = useState('');
  const toggle = (key: 'backbones' | 'heads', value: string) =>
    setForm((f) => ({ ...f, [key]: f[key].includes(value) ? f[key].filter((v) => v !== value) : [...f[key], value] }));
  return (
    <form
      className="card"
      data-testid="start-training"
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          const { startTraining } = await request(StartTrainingFormDocument, {
            input: {
              datasetId: form.datasetId,
              backbones: form.backbones,
              heads: form.heads,
              options: { epochs: form.epochs, batchSize: form.batchSize, imageSize: form.imageSize },
            },
          });
          setMessage(`queued run(s) ${startTraining.map((r) => r.id).join(', ')}`);
          onStarted();
        } catch (error) {
          setMessage((error as Error).message);
        }
      }}
    >
      <h2>Start training (one run per backbone x head)</h2>
      <div className="inline form">
        <label>
          dataset
          <select value={form.datasetId} onChange={(e) => setForm({ ...form, datasetId: e.target.value })}>
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        {(['epochs', 'batchSize', 'imageSize'] as const).map((key) => (
          <label key={key}>
            {key}
            <input type="number" value={form[key]} onChange={(e) => setForm({ ...form, [key]: Number(e.target.value) })} style={{ width: 80 }} />
          </label>
        ))}
      </div>
      {(['backbones', 'heads'] as const).map((key) => (
        <p key={key}>
          {key}:{' '}
          {(key === 'backbones' ? backbones : heads).map((name) => (
            <label key={name} style={{ display: 'inline-flex', flexDirection: 'row', marginRight: 8 }}>
              <input type="checkbox" checked={form[key].includes(name)} onChange={() => toggle(key, name)} /> {name}
            </label>
          ))}
        </p>
      ))}
      <button type="submit">Start {form.backbones.length * form.heads.length} run(s)</button> <span data-testid="start-message">{message}</span>
      <p className="muted">Needs a token with role trainer (top right).</p>
    </form>
  );
}

const count = (n: number | null) => (n ?? 0).toLocaleString('en-US');

const megabytes = (bytes: number | null) => ((bytes ?? 0) / 1e6).toFixed(1);

function describeProgress(progress: RunRowFragment['progress']): string {
  if (!progress) return '';
  switch (progress.phase) {
    case 'DOWNLOADING_WEIGHTS':
      return `downloading weights ${megabytes(progress.downloadedBytes)}${progress.downloadBytes ? `/${megabytes(progress.downloadBytes)}` : ''} MB`;
    case 'WAITING_FOR_IMAGES':
      return 'waiting for images';
    case 'PREPARING_IMAGES':
      return progress.toPrepare ? `preparing images ${count(progress.prepared)}/${count(progress.toPrepare)}` : 'preparing (images cached)';
    case 'TRAINING':
      return `${progress.epoch} (${progress.step}/${progress.totalSteps})`;
    default: {
      const unknown: never = progress.phase;
      return unknown;
    }
  }
}

function describeCache(cache: NonNullable<RunPageQuery['run']['imageCache']>): string {
  const made = cache.built > 0 ? `decoded ${count(cache.built)} at ${cache.imagesPerSecond?.toFixed(0) ?? '–'} images/s, ` : '';
  const lost = cache.lostRows > 0 ? `, ${count(cache.lostRows)} damaged rows rebuilt` : '';
  return `images: ${count(cache.items)} from the pixel cache (${made}${count(cache.reused)} reused, ${cache.seconds.toFixed(1)} s${lost}; ${cache.spec}, ${(cache.bytes / 2 ** 20).toFixed(cache.bytes < 10 * 2 ** 20 ? 1 : 0)} MiB on disk)`;
}

/** Newest first, as the page asks for them: ids grow with creation. */
const newerRun = (a: { id: string }, b: { id: string }) => Number(a.id) > Number(b.id);

export function RunsPage() {
  const runs = usePages(RunsPageDocument, { first: 50 }, (r) => r.runsConnection, newerRun);
  const choices = useQuery(StartTrainingChoicesDocument);
  // Progress and status changes are pushed; without a WebSocket the first page is polled instead.
  const live = useSubscription(
    RunsLiveDocument,
    undefined,
    ({ runsUpdated }) => runs.merge([runsUpdated]),
    () => runs.refresh(),
  );
  const blocked = live === 'blocked';
  const refresh = useRef(runs.refresh);
  refresh.current = runs.refresh;
  useEffect(() => {
    if (!blocked) return;
    const timer = setInterval(() => void refresh.current(), 2000);
    return () => clearInterval(timer);
  }, [blocked]);
  const act = async (action: 'cancel' | 'resume', id: string) => {
    try {
      if (action === 'cancel') await request(CancelRunButtonDocument, { id });
      else await request(ResumeRunButtonDocument, { id });
    } catch (e) {
      alert((e as Error).message);
    }
  };
  const error = runs.error ?? choices.error;
  if (error) return <p className="error">{error.message}</p>;
  if (!runs.rows || !choices.data) return <p className="muted">Loading…</p>;
  const datasets = nodesOf(choices.data.datasets);
  return (
    <>
      <h1>Runs</h1>
      <section className="card">
        <table data-testid="runs-table">
          <thead>
            <tr>
              <th>run</th>
              <th>dataset</th>
              <th>backbone</th>
              <th>head</th>
              <th>status</th>
              <th>epoch</th>
              <th className="num">images/s</th>
              <th className="num">best val. ACSA</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {runs.rows.map((run) => (
              <tr key={run.id} data-testid={`run-${run.id}`}>
                <td>
                  <a href={`#/runs/${run.id}`}>#{run.id}</a>
                </td>
                <td>{run.dataset.name}</td>
                <td>{run.backbone}</td>
                <td>{run.head}</td>
                <td className={`status-${run.status}`} title={run.error ?? ''} data-testid="run-status">
                  {run.status}
                </td>
                <td data-testid="run-progress">{describeProgress(run.progress)}</td>
                <td className="num">{run.progress?.imagesPerSecond?.toFixed(0) ?? ''}</td>
                <td className="num">{run.bestValidationAcsa !== null ? f3(run.bestValidationAcsa) : ''}</td>
                <td>
                  {run.cancellable && (
                    <button type="button" onClick={() => act('cancel', run.id)}>
                      Cancel
                    </button>
                  )}
                  {run.resumable && (
                    <button type="button" onClick={() => act('resume', run.id)}>
                      Resume
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {runs.rows.length === 0 && <p className="muted">No runs yet.</p>}
        <MoreButton shown={runs.rows.length} total={runs.total} hasMore={runs.hasMore} more={runs.more} />
        <p className="muted" data-testid="runs-live">
          {live === 'blocked'
            ? 'Updates every 2 s (no WebSocket).'
            : live === 'live'
              ? 'Live: updates are pushed as they happen.'
              : 'Connecting for live updates…'}
        </p>
      </section>
      {datasets.length > 0 && (
        <StartForm
          datasets={datasets}
          backbones={choices.data.trainingCapabilities.backbones}
          heads={choices.data.trainingCapabilities.heads}
          onStarted={() => blocked && runs.refresh()}
        />
      )}
    </>
  );
}

export function RunPage({ id }: { id: string }) {
  const [pushed, setPushed] = useState<RunDetailFragment>();
  const blocked = useSubscription(RunLiveDocument, { id }, ({ runUpdated }) => setPushed(runUpdated)) === 'blocked';
  const { data, error, reload } = useQuery(RunPageDocument, { id }, blocked ? 3000 : undefined);
  // The run's reports appear when it ends; ask for them once then.
  const ended = pushed !== undefined && !pushed.cancellable;
  useEffect(() => {
    if (ended) void reload();
  }, [ended, reload]);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const run = !blocked && pushed?.id === id ? pushed : data.run;
  const reports = nodesOf(data.reports);
  const epochs = run.epochs.map((e) => e.epoch);
  const tasks = run.epochs[0]?.validation.map((v) => v.task) ?? [];
  return (
    <>
      <h1>
        Run #{run.id}: {run.backbone} + {run.head} <span className={`status-${run.status}`}>{run.status}</span>
      </h1>
      {run.error && <p className="error">{run.error}</p>}
      <div className="grid">
        <section className="card">
          <h2>Training loss</h2>
          <Chart
            testId="loss-curve"
            option={{
              grid: { left: 48, right: 12, top: 20, bottom: 30 },
              tooltip: { trigger: 'axis' },
              xAxis: { type: 'category', data: epochs, name: 'epoch' },
              yAxis: { type: 'value' },
              series: [{ type: 'line', data: run.epochs.map((e) => e.trainLoss) }],
            }}
          />
        </section>
        <section className="card">
          <h2>Validation ACSA per task</h2>
          <Chart
            testId="acsa-curves"
            option={{
              grid: { left: 48, right: 12, top: 36, bottom: 30 },
              legend: { top: 0 },
              tooltip: { trigger: 'axis' },
              xAxis: { type: 'category', data: epochs, name: 'epoch' },
              yAxis: { type: 'value', min: 0, max: 1 },
              series: tasks.map((task, t) => ({ name: task, type: 'line', data: run.epochs.map((e) => e.validation[t]!.acsa) })),
            }}
          />
        </section>
      </div>
      <section className="card">
        <h2>Configuration</h2>
        <p>
          device {run.device ?? '–'},{' '}
          <span data-testid="worker">
            {run.workerId
              ? `${run.status === 'RUNNING' ? 'running on' : 'last run by'} ${run.workerId}${run.status === 'RUNNING' && run.heartbeatAt ? ` (heartbeat ${new Date(run.heartbeatAt).toLocaleTimeString()})` : ''}, attempt ${run.attempts}`
              : 'not started yet'}
          </span>
          ,{' '}
          <span data-testid="weights">
            {run.weights
              ? `starting weights ${run.weights.file} (sha256 ${run.weights.sha256.slice(0, 12)}…${run.weights.downloaded ? ', downloaded by this run' : ''})`
              : 'random init'}
          </span>
          ; reports:{' '}
          {reports.map((r) => (
            <a key={r.id} href={`#/reports/${r.id}`} style={{ marginRight: 6 }}>
              #{r.id} ({r.split}, ACSA {f3(r.meanAcsa)})
            </a>
          ))}
        </p>
        {run.warnings.map((w) => (
          <p key={w} className="error">
            {w}
          </p>
        ))}
        {run.imageCache && <p data-testid="image-cache">{describeCache(run.imageCache)}</p>}
        {run.budget && (
          <p data-testid="budget">
            {`time budget ${run.budget.seconds} s: ${[run.budget.sizeReason, run.budget.batchReason, run.budget.reason].filter(Boolean).join('; ')}`}
          </p>
        )}
        {run.selection && (
          <p data-testid="selection">
            {`the artifact holds epoch ${run.selection.bestEpoch} of ${run.selection.epochsRun}, the best by ${run.selection.selectionMetric === 'MEAN_TOP1' ? 'mean top-1' : 'mean ACSA'} on VALIDATION${
              run.selection.stopped ? STOPPED[run.selection.stopped] : ''
            }`}
          </p>
        )}
        {run.fold && (
          <p data-testid="fold">
            fold {run.fold.index + 1} of {run.fold.crossValidation.folds} of cross-validation #{run.fold.crossValidation.id}
            {run.fold.crossValidation.outOfFold &&
              `: out of fold so far, mean top-1 ${f3(run.fold.crossValidation.outOfFold.meanTop1)} and mean ACSA ${f3(run.fold.crossValidation.outOfFold.meanAcsa)} over ${run.fold.crossValidation.outOfFold.itemCount} of ${run.fold.crossValidation.outOfFold.expectedItems} items`}
            {run.fold.crossValidation.ensemble && (
              <>
                ; the fold models are <a href="#/ensembles">ensemble {run.fold.crossValidation.ensemble.name}</a>
              </>
            )}
          </p>
        )}
        {run.trial && (
          <p data-testid="trial">
            trial {run.trial.index} of <a href={`#/sweeps/${run.trial.sweep.id}`}>sweep #{run.trial.sweep.id}</a>
            {run.trial.pruned && `, pruned at epoch ${run.trial.prunedAtEpoch}`}
          </p>
        )}
        <pre style={{ fontSize: 12 }}>{JSON.stringify(run.config, null, 2)}</pre>
      </section>
    </>
  );
}
