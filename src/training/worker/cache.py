"""Decode once: every item letterboxed to a preprocessing spec and kept as uint8 (S x S x 3), one row per
item in a memory-mapped file, shared by every run, epoch and combo that uses the same spec.

Decoding camera photos is what starved training: offline CutMix x4 decoded every item about nine times
per epoch. Here each (image bytes, bbox) pair is decoded once per spec, ever.

Layout, one folder per spec under the cache root:
    pixels.u8     rows of S*S*3 bytes, appended, never rewritten
    index.sqlite  entries(key -> row): key = sha256 of the image's bytes and the bbox;
                  files(path, size, mtime_ns -> sha256): so an unchanged file is not read again
    lock          flock'ed by the one process that may append
Rows are committed to the index only after their bytes are on disk, so a build killed half way leaves
an index that names complete rows only; the next build cuts the file back to them (and a file cut
shorter than its index, say by a full disk, loses only the rows past its end). A changed image or bbox
is a new key: only it is decoded. A changed size or pad value is another folder.
"""
import fcntl
import hashlib
import io
import multiprocessing
import os
import sqlite3
import time

import numpy as np

from presets import letterbox_pixels

# Bump when letterbox_pixels() changes what it produces: old folders are then simply never read.
CACHE_FORMAT = 1
COMMIT_SECONDS = 2.0


def item_key(image_sha256, bbox):
    return hashlib.sha256(f"{image_sha256}|{','.join(str(int(v)) for v in bbox)}".encode()).hexdigest()


def spec_folder(size, pad_value):
    return f"letterbox-v{CACHE_FORMAT}-{size}px-pad{pad_value}"


class CacheError(ValueError):
    pass


def _prepare_one(job):
    """Read the file, hash it, and letterbox it unless the cache already has it (_KNOWN_KEYS)."""
    index, path, bbox, size, pad_value = job
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        digest = hashlib.sha256(data).hexdigest()
        if item_key(digest, bbox) in _KNOWN_KEYS:
            return index, digest, None, None
        return index, digest, letterbox_pixels(io.BytesIO(data), bbox, size, pad_value).tobytes(), None
    except Exception as error:  # noqa: BLE001 - reported with the item by the parent
        return index, None, None, f"{type(error).__name__}: {error}"


# The keys the cache held when the build started, set in this process and in each forked pool process.
_KNOWN_KEYS = frozenset()


def _set_known_keys(keys):
    global _KNOWN_KEYS
    _KNOWN_KEYS = keys


class PixelCache:
    def __init__(self, root, size, pad_value):
        self.size = size
        self.pad_value = pad_value
        self.row_bytes = size * size * 3
        self.dir = os.path.join(root, spec_folder(size, pad_value))
        self.pixels_path = os.path.join(self.dir, "pixels.u8")

    def _connect(self):
        db = sqlite3.connect(os.path.join(self.dir, "index.sqlite"), timeout=60)
        db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, row INTEGER NOT NULL UNIQUE)")
        db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL)")
        db.commit()
        return db

    def _recover(self, db, pixels):
        """Cuts the index and the file back to the rows that are whole on disk. Returns the rows lost."""
        whole_rows = os.fstat(pixels.fileno()).st_size // self.row_bytes
        lost = db.execute("SELECT COUNT(*) FROM entries WHERE row >= ?", (whole_rows,)).fetchone()[0]
        if lost:
            db.execute("DELETE FROM entries WHERE row >= ?", (whole_rows,))
            db.commit()
        rows = db.execute("SELECT COALESCE(MAX(row) + 1, 0) FROM entries").fetchone()[0]
        pixels.truncate(rows * self.row_bytes)  # drops what a killed build wrote but never committed
        return lost, rows

    def prepare(self, items, processes=1, on_progress=None, on_wait=None):
        """Makes sure every item has a row; returns (row per item as an int64 array, summary dict).

        items: dicts with "path" and "bbox" (and "id", used in error messages).
        on_progress(done, total) is called as images are prepared; on_wait() once if another process
        holds the cache and this one has to wait for it."""
        started = time.perf_counter()
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "lock"), "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(lock, fcntl.LOCK_EX)
            waited = time.perf_counter() - started
            db = self._connect()
            try:
                with os.fdopen(os.open(self.pixels_path, os.O_RDWR | os.O_CREAT, 0o644), "r+b") as pixels:
                    lost, next_row = self._recover(db, pixels)
                    rows, summary = self._fill(db, pixels, next_row, items, processes, on_progress)
            finally:
                db.close()
        summary.update(
            items=len(items),
            lostRows=lost,
            seconds=time.perf_counter() - started,
            waitedSeconds=waited,
            spec=os.path.basename(self.dir),
            bytes=os.path.getsize(self.pixels_path),
        )
        built_seconds = summary["seconds"] - waited
        summary["imagesPerSecond"] = summary["built"] / built_seconds if summary["built"] and built_seconds > 0 else None
        return rows, summary

    def _fill(self, db, pixels, next_row, items, processes, on_progress):
        keys = dict(db.execute("SELECT key, row FROM entries"))
        memo = {path: (size, mtime, sha) for path, size, mtime, sha in db.execute("SELECT path, size, mtime_ns, sha256 FROM files")}
        rows = np.full(len(items), -1, dtype=np.int64)
        stats = [None] * len(items)
        pending = []
        for index, item in enumerate(items):
            try:
                stat = os.stat(item["path"])
            except OSError as error:
                raise CacheError(f"item {item.get('id', index)}: cannot read its image {os.path.basename(item['path'])}: {error.strerror}") from None
            stats[index] = (stat.st_size, stat.st_mtime_ns)
            known = memo.get(item["path"])
            if known and known[:2] == stats[index]:
                row = keys.get(item_key(known[2], item["bbox"]))
                if row is not None:
                    rows[index] = row
                    continue
            pending.append(index)

        total, done, built = len(pending), 0, 0
        staged_entries, staged_files = [], []
        last_commit = last_report = time.perf_counter()

        def commit():
            pixels.flush()
            os.fsync(pixels.fileno())
            db.executemany("INSERT OR REPLACE INTO entries (key, row) VALUES (?, ?)", staged_entries)
            db.executemany("INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)", staged_files)
            db.commit()
            staged_entries.clear()
            staged_files.clear()

        if on_progress and total:
            on_progress(0, total)
        jobs = [(i, items[i]["path"], items[i]["bbox"], self.size, self.pad_value) for i in pending]
        _set_known_keys(frozenset(keys))
        pool = None
        if processes > 1 and total >= 4 * processes:
            # fork: the pool inherits the known keys instead of receiving them with every job.
            pool = multiprocessing.get_context("fork").Pool(processes)
            results = pool.imap(_prepare_one, jobs, chunksize=max(1, min(64, total // (processes * 8))))
        else:
            results = map(_prepare_one, jobs)
        try:
            for index, digest, data, error in results:
                item = items[index]
                if error:
                    raise CacheError(f"item {item.get('id', index)} ({os.path.basename(item['path'])}): {error}")
                key = item_key(digest, item["bbox"])
                row = keys.get(key)
                if row is None:
                    pixels.seek(next_row * self.row_bytes)
                    pixels.write(data)
                    row, next_row, built = next_row, next_row + 1, built + 1
                    keys[key] = row
                    staged_entries.append((key, row))
                rows[index] = row
                staged_files.append((item["path"], stats[index][0], stats[index][1], digest))
                done += 1
                now = time.perf_counter()
                if now - last_commit >= COMMIT_SECONDS:
                    commit()
                    last_commit = now
                if on_progress and (now - last_report >= 0.5 or done == total):
                    on_progress(done, total)
                    last_report = now
            commit()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
        return rows, {"built": built, "reused": len(items) - built}

    def open(self):
        """The cache as a read-only (rows, S, S, 3) uint8 array backed by the file."""
        rows = os.path.getsize(self.pixels_path) // self.row_bytes
        return np.memmap(self.pixels_path, dtype=np.uint8, mode="r", shape=(rows, self.size, self.size, 3))
