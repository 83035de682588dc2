// Packs a dataset folder into a .tar for uploadDataset, on the client's machine: its CSV, images and
// schema as plain files under their names relative to the folder (a linked file goes in as the file it
// points to), so the server sees exactly what the folder holds and nothing it would refuse. Not gzipped:
// photos are compressed already, and gzip spent a minute of CPU on 14,000 JPEGs to save almost nothing.
import { createReadStream, createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

export interface PackedArchive {
  file: string;
  /** What the server records it as: the folder's name + .tar.gz, or the archive's own name. */
  name: string;
  remove(): Promise<void>;
}

/** `source` as an archive file: an archive as it is, a folder packed into a temporary .tar. */
export async function archiveOf(source: string): Promise<PackedArchive> {
  const found = await stat(source);
  if (found.isFile()) return { file: source, name: path.basename(source), remove: async () => undefined };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-upload-'));
  const file = path.join(dir, `${path.basename(path.resolve(source))}.tar`);
  try {
    const pack = tarStream.pack();
    const written = pipeline(pack, createWriteStream(file));
    const entries = await readdir(source, { recursive: true, withFileTypes: true });
    for (const entry of entries.sort((a, b) => path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)))) {
      const full = path.join(entry.parentPath, entry.name);
      const info = await stat(full);
      if (!info.isFile()) continue;
      const name = path.relative(source, full).split(path.sep).join('/');
      const sink = pack.entry({ name, size: info.size, mode: 0o644, mtime: info.mtime });
      await pipeline(createReadStream(full), sink);
    }
    pack.finalize();
    await written;
    return { file, name: path.basename(file), remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Runs `send` with `source` as a File (an archive, or the folder packed), removing what was packed. */
export async function withArchive<T>(source: string, send: (archive: File) => Promise<T>): Promise<T> {
  const archive = await archiveOf(source);
  try {
    return await send(new File([await openAsBlob(archive.file)], archive.name));
  } finally {
    await archive.remove();
  }
}
