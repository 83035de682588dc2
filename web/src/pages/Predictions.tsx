// Batch prediction jobs: every job (or one dataset's) with its status and progress as the server pushes
// it, cancel and resume for trainers, and the finished table to download as CSV or JSON lines.
import { useState } from 'react';
import { getToken, request, useQuery, useSubscription } from '../api.js';
import {
  CancelPredictionJobButtonDocument,
  PredictionJobLiveDocument,
  type PredictionJobRowFragment,
  PredictionJobsPageDocument,
  ResumePredictionJobButtonDocument,
} from '../generated.js';

type Job = PredictionJobRowFragment;

const ACTIVE = new Set<Job['status']>(['QUEUED', 'RUNNING']);
/** A stopped job that resume queues again (it scores only the items it has not stored). */
const RESUMABLE = new Set<Job['status']>(['INTERRUPTED', 'CANCELLED', 'FAILED']);

/** With a token the table is fetched with it (the route has the read rules of queries, and a link cannot
 *  send the header) and saved from a blob; without one the plain link downloads it. */
function DownloadLink({ url, fileName, testId, children }: { url: string; fileName: string; testId: string; children: string }) {
  const [message, setMessage] = useState('');
  return (
    <>
      <a
        href={url}
        download={fileName}
        data-testid={testId}
        onClick={async (event) => {
          const token = getToken();
          if (!token) return;
          event.preventDefault();
          setMessage('');
          try {
            const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
            if (!response.ok) throw new Error(`the server answered ${response.status}`);
            const link = document.createElement('a');
            link.href = URL.createObjectURL(await response.blob());
            link.download = fileName;
            link.click();
            setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
          } catch (e) {
            setMessage((e as Error).message);
          }
        }}
      >
        {children}
      </a>
      {message && <span className="error"> {message}</span>}
    </>
  );
}

/** Cancel (queued or running) or resume (stopped): the server's answer replaces the row. */
function JobActions({ job, onChange }: { job: Job; onChange: (job: Job) => void }) {
  const [message, setMessage] = useState('');
  const act = async (what: 'cancel' | 'resume') => {
    setMessage('');
    try {
      onChange(
        what === 'cancel'
          ? (await request(CancelPredictionJobButtonDocument, { id: job.id })).cancelPredictionJob
          : (await request(ResumePredictionJobButtonDocument, { id: job.id })).resumePredictionJob,
      );
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <>
      {ACTIVE.has(job.status) && (
        <button type="button" onClick={() => void act('cancel')} data-testid={`cancel-prediction-${job.id}`}>
          Cancel
        </button>
      )}
      {RESUMABLE.has(job.status) && (
        <button type="button" onClick={() => void act('resume')} data-testid={`resume-prediction-${job.id}`}>
          Resume
        </button>
      )}
      {message && <span className="error"> {message}</span>}
    </>
  );
}

/** A queued or running job follows its own subscription (which completes when the job ends). */
function LiveJob({ id, onChange }: { id: string; onChange: (job: Job) => void }) {
  useSubscription(PredictionJobLiveDocument, { id }, ({ predictionJobUpdated }) => onChange(predictionJobUpdated));
  return null;
}

const modelText = (job: Job) => `${job.alias ? `${job.alias} → ` : ''}${job.modelKind} ${job.modelName} (#${job.modelId})`;

/** How the dataset's season judged the model when the job was made; a job that overrode a rejection says so. */
function SeasonNote({ job }: { job: Job }) {
  if (!job.season) return null;
  const { profileId, accepted, reasons, overridden } = job.season;
  if (accepted) return <div className="muted" data-testid="prediction-season">{`accepted by season ${profileId}`}</div>;
  return (
    <div className="wrong" data-testid="prediction-season" data-overridden={overridden}>
      {`season ${profileId} rejects it, overridden: ${reasons.join('; ')}`}
    </div>
  );
}

function JobRow({ job, showDataset, onChange }: { job: Job; showDataset: boolean; onChange: (job: Job) => void }) {
  const share = job.itemCount ? job.itemsDone / job.itemCount : 0;
  return (
    <tr data-testid={`prediction-job-${job.id}`}>
      <td>#{job.id}</td>
      {showDataset && (
        <td>
          <a href={`#/datasets/${job.dataset.id}`}>{job.dataset.name}</a>
        </td>
      )}
      <td>
        {modelText(job)}
        {job.split ? <span className="muted"> ({job.split.toLowerCase()} only)</span> : null}
        <SeasonNote job={job} />
      </td>
      <td data-testid="prediction-status" title={job.error ?? undefined}>
        {job.status}
        {job.attempts > 1 ? <span className="muted"> (attempt {job.attempts})</span> : null}
        {job.error ? <div className="error">{job.error}</div> : null}
      </td>
      <td className="num">
        <progress max={1} value={share} /> <span data-testid="prediction-progress">{`${job.itemsDone} / ${job.itemCount}`}</span>
      </td>
      <td className="num">{job.itemsPerSecond?.toFixed(1) ?? '–'}</td>
      <td>
        {job.csvUrl && job.jsonlUrl ? (
          <>
            <DownloadLink url={job.csvUrl} fileName={`predictions-${job.id}.csv`} testId={`download-csv-${job.id}`}>
              CSV
            </DownloadLink>{' '}
            <DownloadLink url={job.jsonlUrl} fileName={`predictions-${job.id}.jsonl`} testId={`download-jsonl-${job.id}`}>
              JSON lines
            </DownloadLink>
          </>
        ) : (
          <span className="muted">once it succeeds</span>
        )}
      </td>
      <td>
        <JobActions job={job} onChange={onChange} />
      </td>
      {ACTIVE.has(job.status) && <LiveJob id={job.id} onChange={onChange} />}
    </tr>
  );
}

/** How often the list is read again: it finds jobs started elsewhere (the CLI, another tab). */
const POLL_MS = 3000;

/** Which of two records of a job is newer: a later attempt, then more items stored, then a final status. */
const newer = (a: Job, b: Job) =>
  a.attempts !== b.attempts ? a.attempts > b.attempts : a.itemsDone !== b.itemsDone ? a.itemsDone > b.itemsDone : !ACTIVE.has(a.status);

/** The jobs, newest first; polled (slowly, for jobs made elsewhere) with each active job's own pushes on top. */
export function PredictionJobsTable({ datasetId }: { datasetId?: string }) {
  const [pushed, setPushed] = useState<Record<string, Job>>({});
  const { data, error } = useQuery(PredictionJobsPageDocument, datasetId ? { datasetId } : {}, POLL_MS);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const jobs = data.predictionJobs.map((job) => {
    const update = pushed[job.id];
    return update && newer(update, job) ? update : job;
  });
  const onChange = (job: Job) => setPushed((current) => ({ ...current, [job.id]: job }));
  if (jobs.length === 0)
    return (
      <p className="muted" data-testid="no-prediction-jobs">
        No prediction jobs yet: start one from a dataset's page, or run <code>fashion-how predict</code>.
      </p>
    );
  return (
    <table data-testid="prediction-jobs">
      <thead>
        <tr>
          <th>job</th>
          {!datasetId && <th>dataset</th>}
          <th>model</th>
          <th>status</th>
          <th className="num">items</th>
          <th className="num">items/s</th>
          <th>table</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <JobRow key={job.id} job={job} showDataset={!datasetId} onChange={onChange} />
        ))}
      </tbody>
    </table>
  );
}

export function PredictionsPage() {
  return (
    <>
      <h1>Predictions</h1>
      <p className="muted">
        A prediction job scores every item of a dataset (a prediction set imported from a CSV without labels, or any dataset) with one model through the serving
        path, and stores the table. Cancelling and resuming need a token with role trainer (top right); a resumed job scores only the items it has not stored.
      </p>
      <section className="card">
        <PredictionJobsTable />
      </section>
    </>
  );
}
