// The statuses a job goes through, training run or prediction job alike (the GraphQL enum RunStatus
// says them to clients): QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED, or INTERRUPTED when the
// process running it died. Here, beside the queue, so both kinds of job read one vocabulary.

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses cancelRun stops a run in (TrainingRun.cancellable says it to clients). */
export const CANCELLABLE_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['QUEUED', 'RUNNING']);
/** Statuses resumeRun takes a run out of (TrainingRun.resumable says it to clients). */
export const RESUMABLE_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['INTERRUPTED', 'CANCELLED', 'FAILED']);
/** Statuses a run does not leave by itself. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']);

/** What a heartbeat found: the job is still this process's to run, or it was cancelled from another
 *  process, or another process declared this one dead (missing heartbeat) and owns the record now. */
export type BeatOutcome = 'ours' | 'cancelled' | 'lost';
