// Where a dataset's photos are: in the content-addressed artifact store, under the sha256 of their
// bytes, put there at import. Every reader (serving-path scoring, the dashboard's crops, the worker's
// item list on any host) asks here, so no host needs the folder an import came from; a fetched photo
// is verified against its hash before it is used. Items imported before photos were stored have no
// hash and are read from the folder they were imported from, as they always were.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Db } from '../db/client.js';
import type { Split } from '../domain.js';
import type { ArtifactStore } from '../storage/artifactStore.js';
import type { NamedBy } from '../storage/pendingObjects.js';

export interface PhotoRef {
  imageSha256: string | null;
  imagePath: string;
}

/** One dataset's photos: what scoring and previews read through. */
export interface PhotoSource {
  read(item: PhotoRef): Promise<Buffer>;
}

export class Photos {
  constructor(private readonly store: ArtifactStore) {}

  /** A local, verified file holding the photo (this host's cache of the store). */
  file(item: PhotoRef, imageRoot: string): Promise<string> {
    if (item.imageSha256) return this.store.fetch(item.imageSha256, 'image');
    return Promise.resolve(path.join(imageRoot, item.imagePath));
  }

  async read(item: PhotoRef, imageRoot: string): Promise<Buffer> {
    return readFile(await this.file(item, imageRoot));
  }

  /** The photos of one dataset (`imageRoot`: its import folder, for items from before the store). */
  of(dataset: { imageRoot: string }): PhotoSource {
    return { read: (item) => this.read(item, dataset.imageRoot) };
  }

  /** Local files for many items at once, in order (a run's item list). */
  files(items: PhotoRef[], imageRoot: string, concurrency = 16): Promise<string[]> {
    const limit = pLimit(concurrency);
    return Promise.all(items.map((item) => limit(() => this.file(item, imageRoot))));
  }

  /** Stores each local file under its sha256; `expected` (file -> sha256, as validation hashed them)
   *  makes a file that changed since it was checked fail the import instead of storing other bytes. */
  async putAll(expected: Map<string, string>, concurrency: number, onProgress?: (done: number, total: number) => void): Promise<void> {
    const limit = pLimit(concurrency);
    let done = 0;
    await Promise.all(
      [...expected].map(([file, sha256]) =>
        limit(async () => {
          const stored = await this.store.put(file, 'image');
          if (stored.sha256 !== sha256) throw new Error(`an image changed while it was imported (${path.basename(file)}); nothing was imported`);
          onProgress?.(++done, expected.size);
        }),
      ),
    );
  }
}

export const sha256Of = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Which of these stored images rows name: items' photos and the prediction log's crops, the two kinds
 *  of row that name an image (the collection of unnamed objects asks, storage/pendingObjects.ts). */
export function namedImages(db: Db): NamedBy {
  return async (kind, sha256s) => {
    const named = new Set<string>();
    if (kind !== 'image') return new Set(sha256s); // no journal names another kind: keep whatever it is
    // A few hundred at a time: SQLite and PostgreSQL cap the parameters of one statement.
    for (let start = 0; start < sha256s.length; start += 500) {
      const some = sha256s.slice(start, start + 500);
      const items = await db.item.findMany({ where: { imageSha256: { in: some } }, select: { imageSha256: true }, distinct: ['imageSha256'] });
      const crops = await db.prediction.findMany({ where: { cropKey: { in: some } }, select: { cropKey: true }, distinct: ['cropKey'] });
      for (const row of [...items.map((i) => i.imageSha256), ...crops.map((c) => c.cropKey)]) if (row) named.add(row);
    }
    return named;
  };
}

export interface DigestRow {
  imageSha256: string | null;
  imagePath: string;
  bbox: [number, number, number, number];
  labels: number[];
  split: Split | string;
}

/** A dataset's content digest: the schema's fingerprint and every row (photo hash, bbox, labels, split),
 *  in a canonical order, so the same content imported from anywhere has the same digest. */
export function contentDigest(schemaFingerprint: string, rows: DigestRow[]): string {
  const lines = rows.map((r) => JSON.stringify([r.imageSha256 ?? `path:${r.imagePath}`, r.bbox, r.labels, r.split])).sort();
  return sha256Of(`fashion-how dataset v1\n${schemaFingerprint}\n${lines.join('\n')}`);
}
