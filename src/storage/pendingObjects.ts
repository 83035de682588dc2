// Objects put into the artifact store before the rows that name them exist: an import's photos before
// its transaction commits, the prediction log's crops before their rows are written. A process killed in
// between (or an import that failed after its photos were stored) leaves objects that nothing names, and
// a content-addressed store cannot tell them from any other. So while they are unnamed a journal on this
// host's disk names them (one file per batch, its owner's process id in its name), and the collection
// deletes, from the journals whose owner is gone, each object that no row names and no live journal
// names, once the journal is older than a grace period (an import in flight on another host sharing the
// store may have put the same photo and not committed yet).
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { ownedName, ownerGone, ownerOf } from '../scratch.js';
import type { ArtifactStore, ObjectKind } from './contentStore.js';

/** One batch of objects on their way to being named by rows. */
export interface PendingBatch {
  /** Names objects about to be put (before they are put). */
  add(sha256s: readonly string[]): Promise<void>;
  /** The rows that name them are written: the journal goes. */
  settle(): Promise<void>;
  /** The rows will never be written (the import failed): the objects are the collection's to judge,
   *  whether or not this process lives. */
  abandon(): Promise<void>;
}

/** Decides which of these objects rows name (the database's answer; the store cannot know). */
export type NamedBy = (kind: ObjectKind, sha256s: string[]) => Promise<Set<string>>;

const SHA256 = /^[0-9a-f]{64}$/;
/** How often a server collects after its start-up collection: journals ripen with the grace period. */
export const COLLECT_EVERY_MS = 10 * 60_000;
/** The owner a journal is given once abandoned: no process, so always gone. */
const ABANDONED = 'abandoned';

export class PendingObjects {
  constructor(readonly dir: string) {}

  async open(kind: ObjectKind): Promise<PendingBatch> {
    await mkdir(this.dir, { recursive: true });
    const id = `${kind}.${randomUUID()}.jsonl`;
    const file = path.join(this.dir, ownedName(id));
    const remove = () => rm(file, { force: true });
    return {
      // Appended and flushed to the file system before the caller puts the objects: a kill after the
      // put finds them named here.
      add: (sha256s) => (sha256s.length === 0 ? Promise.resolve() : appendFile(file, `${sha256s.join('\n')}\n`)),
      settle: remove,
      abandon: () => rename(file, path.join(this.dir, `${ABANDONED}~${id}`)).catch(remove),
    };
  }

  /** Collects now and then every `everyMs` (a failure is logged and tried again); the returned stop
   *  waits for a collection in progress. */
  async startCollecting(store: ArtifactStore, namedBy: NamedBy, graceMs: number, log: Logger, everyMs = COLLECT_EVERY_MS): Promise<() => Promise<void>> {
    let running: Promise<void> = Promise.resolve();
    const once = () =>
      (running = this.collect(store, namedBy, graceMs).then(
        (deleted) => {
          if (deleted.length > 0)
            log.info({ deleted: deleted.length }, 'deleted stored photos and crops that no row names (their import or log write was cut off)');
        },
        (error: unknown) => log.warn({ err: error }, 'could not collect the stored photos and crops that no row names; trying again later'),
      ));
    await once();
    const timer = setInterval(() => void once(), everyMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  /** Deletes what the journals of gone owners name and nothing else does; journals younger than
   *  `graceMs` wait for a later collection. Returns the objects deleted. */
  async collect(store: ArtifactStore, namedBy: NamedBy, graceMs: number): Promise<{ kind: ObjectKind; sha256: string }[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const journals = await Promise.all(
      names.map(async (name) => {
        const file = path.join(this.dir, name);
        const [info, text] = await Promise.all([stat(file).catch(() => null), readFile(file, 'utf8').catch(() => null)]);
        if (!info || text === null) return null;
        const kind = name.slice(name.indexOf('~') + 1).split('.')[0] as ObjectKind;
        const owner = ownerOf(name);
        const gone = owner === ABANDONED || ownerGone(owner ?? '', info.mtimeMs);
        return { file, kind, gone, ripe: gone && Date.now() - info.mtimeMs >= graceMs, sha256s: text.split('\n').filter((line) => SHA256.test(line)) };
      }),
    );
    const live = new Set(journals.flatMap((j) => (j && !j.gone ? j.sha256s.map((s) => `${j.kind}/${s}`) : [])));
    const deleted: { kind: ObjectKind; sha256: string }[] = [];
    for (const journal of journals) {
      if (!journal?.ripe) continue;
      const candidates = [...new Set(journal.sha256s)].filter((sha256) => !live.has(`${journal.kind}/${sha256}`));
      const named = candidates.length > 0 ? await namedBy(journal.kind, candidates) : new Set<string>();
      for (const sha256 of candidates) {
        if (named.has(sha256)) continue;
        await store.remove(sha256, journal.kind);
        deleted.push({ kind: journal.kind, sha256 });
      }
      await rm(journal.file, { force: true });
    }
    return deleted;
  }
}
