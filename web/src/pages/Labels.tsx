import { useEffect, useState } from 'react';
import { f3, pct, request, useQuery } from '../api.js';
import {
  ApplyLabelReviewDocument,
  type LabelDecision,
  type LabelIssueRowFragment,
  LabelIssuesDocument,
  LabelReviewPageDocument,
  type LabelReviewPageQuery,
  ReviewLabelIssueDocument,
} from '../generated.js';
import { ItemImage } from '../items.js';

type Scan = LabelReviewPageQuery['labelIssueScan'];

/** Suspects per request; the API allows up to 1,000. */
const ISSUE_PAGE = 50;

const DECISIONS: [LabelDecision, string][] = [
  ['PENDING', 'pending'],
  ['KEEP', 'kept'],
  ['RELABEL', 'relabelled'],
  ['EXCLUDE', 'excluded'],
];

/** Rows the given label, columns the label the probabilities confidently suggest: off the diagonal are the suspects. */
function ConfidentJoint({ task, classes }: { task: Scan['tasks'][number]; classes: string[] }) {
  return (
    <table className="joint" data-testid={`joint-${task.task}`}>
      <thead>
        <tr>
          <th>given \ suggested</th>
          {classes.map((name) => (
            <th key={name} className="num">
              {name}
            </th>
          ))}
          <th className="num" title="the mean probability of the class over the items labelled with it">
            threshold
          </th>
        </tr>
      </thead>
      <tbody>
        {task.confidentJoint.map((row, given) => (
          <tr key={classes[given] ?? given}>
            <td>{classes[given]}</td>
            {row.map((count, suggested) => (
              <td key={classes[suggested] ?? suggested} className={`num${given === suggested ? ' diagonal' : count > 0 ? ' off' : ''}`}>
                {count}
              </td>
            ))}
            <td className="num">{task.thresholds[given] == null ? '–' : f3(task.thresholds[given]!)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One suspect with its decision; relabel goes to the chosen class, the suggested one by default. */
function IssueRow({
  issue,
  classes,
  locked,
  onChange,
}: {
  issue: LabelIssueRowFragment;
  classes: string[];
  locked: boolean;
  onChange: (issue: LabelIssueRowFragment) => void;
}) {
  const [relabelTo, setRelabelTo] = useState(issue.relabelTo ?? issue.suggested.index);
  const [message, setMessage] = useState('');
  const decide = async (decision: LabelDecision) => {
    setMessage('');
    try {
      const { reviewLabelIssue } = await request(ReviewLabelIssueDocument, {
        id: issue.id,
        decision,
        ...(decision === 'RELABEL' ? { classIndex: relabelTo } : {}),
      });
      onChange(reviewLabelIssue);
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <tr data-testid={`issue-${issue.id}`}>
      <td className="num">{issue.rank}</td>
      <td>
        <a href={`#/items/${issue.item.id}`}>
          <ItemImage className="crop" url={issue.item.cropUrl} alt={`item ${issue.item.id}`} />
        </a>
      </td>
      <td>
        <b>{issue.given.name}</b> ({pct(issue.given.probability)})
      </td>
      <td>
        <b>{issue.suggested.name}</b> ({pct(issue.suggested.probability)})
      </td>
      <td data-testid="decision">
        {DECISIONS.find(([d]) => d === issue.decision)?.[1]}
        {issue.decision === 'RELABEL' && issue.relabelTo !== null && ` to ${classes[issue.relabelTo]}`}
      </td>
      <td>
        <span className="decide">
          <button type="button" disabled={locked} onClick={() => void decide('KEEP')} data-testid="keep">
            Keep
          </button>
          <button type="button" disabled={locked} onClick={() => void decide('RELABEL')} data-testid="relabel">
            Relabel to
          </button>
          <select value={relabelTo} disabled={locked} onChange={(e) => setRelabelTo(Number(e.target.value))} data-testid="relabel-to" aria-label="relabel to">
            {classes.map((name, k) => (
              <option key={name} value={k}>
                {name}
              </option>
            ))}
          </select>
          <button type="button" disabled={locked} onClick={() => void decide('EXCLUDE')} data-testid="exclude">
            Exclude
          </button>
        </span>
        {message && <span className="error">{message}</span>}
      </td>
    </tr>
  );
}

/** One task's suspects (most suspect first), optionally of one decision; mounted afresh per choice. */
function IssueList({
  scanId,
  task,
  decision,
  classes,
  locked,
}: {
  scanId: string;
  task: number;
  decision: LabelDecision | '';
  classes: string[];
  locked: boolean;
}) {
  const [rows, setRows] = useState<LabelIssueRowFragment[]>();
  const [more, setMore] = useState(false);
  const [error, setError] = useState('');
  const load = async (offset: number) => {
    try {
      const { labelIssueScan } = await request(LabelIssuesDocument, { id: scanId, task, limit: ISSUE_PAGE, offset, ...(decision ? { decision } : {}) });
      setRows((current) => [...(offset ? (current ?? []) : []), ...labelIssueScan.issues]);
      setMore(labelIssueScan.issues.length === ISSUE_PAGE);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page once; the parent remounts the list for another task or decision
  useEffect(() => void load(0), []);
  if (error) return <p className="error">{error}</p>;
  if (!rows) return <p className="muted">Loading…</p>;
  if (rows.length === 0) return <p className="muted">No suspects here.</p>;
  return (
    <>
      <table data-testid="issues">
        <thead>
          <tr>
            <th className="num">rank</th>
            <th>item</th>
            <th>given (self-confidence)</th>
            <th>suggested</th>
            <th>decision</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((issue) => (
            <IssueRow
              key={issue.id}
              issue={issue}
              classes={classes}
              locked={locked}
              onChange={(changed) => setRows((current) => current?.map((r) => (r.id === changed.id ? changed : r)))}
            />
          ))}
        </tbody>
      </table>
      {more && (
        <p className="muted">
          {rows.length} shown{' '}
          <button type="button" onClick={() => void load(rows.length)} data-testid="load-more">
            Load more
          </button>
        </p>
      )}
    </>
  );
}

/** Makes the reviewed labels a new version of the dataset, once per scan. */
function ApplyForm({ scan, onApplied }: { scan: Scan; onApplied: () => unknown }) {
  const [name, setName] = useState('');
  const [message, setMessage] = useState('');
  if (scan.reviewedDataset)
    return (
      <p data-testid="applied">
        Applied: the reviewed labels are{' '}
        <a href={`#/datasets/${scan.reviewedDataset.id}`} data-testid="reviewed-dataset">
          {scan.reviewedDataset.name}
        </a>
        ; train on it like any dataset.
      </p>
    );
  return (
    <form
      className="inline"
      onSubmit={async (event) => {
        event.preventDefault();
        setMessage('applying…');
        try {
          await request(ApplyLabelReviewDocument, { scanId: scan.id, ...(name.trim() ? { name: name.trim() } : {}) });
          setMessage('');
          onApplied();
        } catch (e) {
          setMessage((e as Error).message);
        }
      }}
    >
      <label>
        new version's name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="default: the dataset's name and version" style={{ width: 280 }} />
      </label>
      <button type="submit" data-testid="apply-review">
        Apply the review
      </button>
      <span data-testid="apply-message">{message}</span>
      <span className="muted">
        A new version of the dataset: relabelled items get their new class, excluded ones are left out, pending and kept ones keep their label. Needs a token
        with role trainer (top right).
      </span>
    </form>
  );
}

/** A confident-learning scan: per task the confident joint and the suspects, each to keep, relabel or exclude. */
export function LabelReviewPage({ id }: { id: string }) {
  const { data, error, reload } = useQuery(LabelReviewPageDocument, { id });
  const [task, setTask] = useState(0);
  const [decision, setDecision] = useState<LabelDecision | ''>('');
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const scan = data.labelIssueScan;
  const current = scan.tasks.find((t) => t.task === task) ?? scan.tasks[0];
  const classes = scan.dataset.distribution.find((d) => d.task === current?.task)?.classes.map((c) => c.name) ?? [];
  return (
    <>
      <h1>
        Label review #{scan.id}: <a href={`#/datasets/${scan.dataset.id}`}>{scan.dataset.name}</a>
      </h1>
      <section className="card">
        <p>
          {scan.itemCount} items scanned with the probabilities of {scan.source}; suspects: {scan.tasks.map((t) => `${t.taskName} ${t.issueCount}`).join(', ')}.
        </p>
        <p className="muted">
          Confident learning: an item is a suspect when the probability of another class reaches that class's threshold and beats its given label's. Ranked by
          self-confidence (the probability of the given label), lowest first.
        </p>
        <ApplyForm scan={scan} onApplied={reload} />
      </section>
      {current && (
        <section className="card">
          <p>
            task:{' '}
            {scan.tasks.map((t) => (
              <button type="button" key={t.task} onClick={() => setTask(t.task)} disabled={t.task === current.task} style={{ marginRight: 4 }}>
                {t.taskName} ({t.issueCount})
              </button>
            ))}{' '}
            <label className="check">
              showing{' '}
              <select value={decision} onChange={(e) => setDecision(e.target.value as LabelDecision | '')} data-testid="decision-filter">
                <option value="">every suspect</option>
                {DECISIONS.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
          </p>
          <h2>Confident joint</h2>
          <ConfidentJoint task={current} classes={classes} />
          <h2>Suspects</h2>
          <IssueList
            key={`${current.task}:${decision}`}
            scanId={scan.id}
            task={current.task}
            decision={decision}
            classes={classes}
            locked={scan.reviewedDataset !== null}
          />
        </section>
      )}
    </>
  );
}
