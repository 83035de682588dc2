// This process as other processes see it: "hostname:pid" names it in run records, logs and /readyz
// (unique across hosts, readable in listings), and a process of this host can be checked for life.
import os from 'node:os';

export const PROCESS_ID = `${os.hostname()}:${process.pid}`;

/** Whether a process id (hostname:pid) names a process on this host. */
export function onThisHost(processId: string): boolean {
  return processId.slice(0, processId.lastIndexOf(':')) === os.hostname();
}

/** The pid of a process id (hostname:pid). */
export const pidOf = (processId: string): number => Number(processId.slice(processId.lastIndexOf(':') + 1));

/** Whether a process of this host is alive (one we may not signal is alive too). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `processId` names a process of this host, other than this one, that is no longer alive: a
 *  job it held RUNNING was cut off (a job of another host is judged by its heartbeat instead). */
export function diedOnThisHost(processId: string): boolean {
  return onThisHost(processId) && pidOf(processId) !== process.pid && !isAlive(pidOf(processId));
}
