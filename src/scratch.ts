// Scratch files: what a process writes on this host's disk while it works (an upload being received, an
// archive unpacked, a logged crop on its way to the store, a quantization's graphs, an imported graph
// under check), and the sweep at start-up that removes what a process killed mid-way (kill -9, a power
// cut) left behind. Each process works under names that carry its process id (hostname:pid, host.ts), so
// a process that starts beside a live one sharing the data folder (the CLI beside `serve`) removes only
// what belonged to processes that are gone, and none of what is still in flight.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isAlive, onThisHost, PROCESS_ID, pidOf } from './host.js';

/** Another host's leftovers (a data folder on a shared mount) are removed once this old: its processes
 *  cannot be checked for life from here, and no upload or import runs this long. */
export const OTHER_HOST_GRACE_MS = 24 * 3600 * 1000;

/** The scratch folder of this process: every kind of scratch file it makes goes under it. */
export const processScratchDir = (dataDir: string) => path.join(scratchRoot(dataDir), PROCESS_ID);

const scratchRoot = (dataDir: string) => path.join(dataDir, 'scratch');

/** Ends the owner in an owned name: no hostname or pid holds it (a hostname may hold dots). */
const OWNER_END = '~';

/** A scratch file's name in a folder that several processes share (a graph under check in
 *  artifacts/incoming, a journal of pendingObjects.ts): its owner's process id first. */
export const ownedName = (name: string) => `${PROCESS_ID}${OWNER_END}${name}`;

/** The owner an owned name starts with; undefined for a name without one. */
export function ownerOf(name: string): string | undefined {
  const end = name.indexOf(OWNER_END);
  return end > 0 ? name.slice(0, end) : undefined;
}

/** Whether the process that made `processId`'s scratch can no longer need it: this process in an earlier
 *  life (the same pid after a restart: nothing of this one is in flight yet), a process of this host
 *  that is not alive, or one of another host after the grace period. */
export function ownerGone(processId: string, modifiedMs: number): boolean {
  if (!processId.includes(':')) return true;
  if (!onThisHost(processId)) return Date.now() - modifiedMs > OTHER_HOST_GRACE_MS;
  const pid = pidOf(processId);
  return !Number.isInteger(pid) || pid === process.pid || !isAlive(pid);
}

/** Removes the entries of `folder` whose owner is gone; `ownerOf` reads the owner from a name (undefined:
 *  a name from before scratch names carried their owner, removed too). Returns the names removed. */
async function sweepFolder(folder: string, ownerOf: (name: string) => string | undefined): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const removed: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      const entry = path.join(folder, name);
      const info = await stat(entry).catch(() => null);
      if (!info || !ownerGone(ownerOf(name) ?? '', info.mtimeMs)) return;
      await rm(entry, { recursive: true, force: true });
      removed.push(name);
    }),
  );
  return removed.sort();
}

/** This process's scratch folder, made at start-up after the sweep (so it is there, empty, from the
 *  first request on), and what the sweep removed, for the log. */
export async function startScratch(dataDir: string): Promise<{ dir: string; swept: { scratch: string[]; incoming: string[] } }> {
  const swept = await sweepScratch(dataDir);
  const dir = processScratchDir(dataDir);
  await mkdir(dir, { recursive: true });
  return { dir, swept };
}

/**
 * The start-up sweep: every process folder under `<data>/scratch` whose process is gone (with whatever
 * kind of scratch file it held: upload-*, import-*, crop-*, quantize-*), every entry there of the
 * layout before process folders, and the graphs under check in `<data>/artifacts/incoming` whose
 * importing process is gone. What it removed, by folder, for the log.
 */
export async function sweepScratch(dataDir: string): Promise<{ scratch: string[]; incoming: string[] }> {
  const scratch = await sweepFolder(scratchRoot(dataDir), (name) => (name.includes(':') ? name : undefined));
  const incoming = await sweepFolder(path.join(dataDir, 'artifacts', 'incoming'), ownerOf);
  return { scratch, incoming };
}
