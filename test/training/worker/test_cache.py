"""The pixel cache: exact pixels, rebuilding only what changed, sharing between processes, recovery
from a truncated file and from a build killed half way."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
from PIL import Image

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker")
sys.path.insert(0, WORKER)
from cache import PixelCache  # noqa: E402
from presets import letterbox_pixels  # noqa: E402


def write_images(folder, count, seed=0, side=(60, 140)):
    """JPEGs and PNGs (some RGBA, some grey) of random sizes, with a bbox inside each."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        width, height = (int(v) for v in rng.integers(side[0], side[1], 2))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        if i % 5 == 1:
            image = image.convert("L")
        if i % 5 == 2:
            image = Image.fromarray(np.dstack([pixels, rng.integers(0, 256, (height, width), dtype=np.uint8)]), "RGBA")
        path = os.path.join(folder, f"{i}.{'png' if i % 5 == 2 else 'jpg'}")
        image.save(path)
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        items.append({"id": i, "path": path, "bbox": [x0, y0, x0 + int(rng.integers(5, width - x0 + 1)), y0 + int(rng.integers(5, height - y0 + 1))]})
    return items


def direct(item, size):
    return letterbox_pixels(item["path"], item["bbox"], size, 255)


class PixelCacheTest(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.scratch.name, "cache")
        self.items = write_images(self.scratch.name, 30)

    def tearDown(self):
        self.scratch.cleanup()

    def assert_exact(self, cache, rows, items, size):
        pixels = cache.open()
        for item, row in zip(items, rows):
            self.assertTrue(np.array_equal(pixels[row], direct(item, size)), f"item {item['id']} differs from direct preprocessing")

    def test_cached_pixels_equal_direct_preprocessing_exactly(self):
        for processes in (1, 2):  # in this process and in a pool
            with self.subTest(processes=processes):
                cache = PixelCache(os.path.join(self.root, str(processes)), 32, 255)
                rows, summary = cache.prepare(self.items, processes=processes)
                self.assertEqual((summary["built"], summary["reused"]), (30, 0))
                self.assertEqual(sorted(rows.tolist()), list(range(30)))
                self.assertEqual(summary["bytes"], 30 * 32 * 32 * 3)
                self.assert_exact(cache, rows, self.items, 32)

    def test_a_second_prepare_decodes_nothing(self):
        cache = PixelCache(self.root, 32, 255)
        first, _ = cache.prepare(self.items)
        progress = []
        again, summary = cache.prepare(self.items, on_progress=lambda done, total: progress.append((done, total)))
        self.assertEqual((summary["built"], summary["reused"]), (0, 30))
        self.assertEqual(progress, [])
        self.assertTrue(np.array_equal(first, again))

    def test_a_changed_image_bbox_or_size_rebuilds_only_what_changed(self):
        cache = PixelCache(self.root, 32, 255)
        before, _ = cache.prepare(self.items)
        changed = [dict(i) for i in self.items]
        Image.fromarray(np.zeros((90, 90, 3), dtype=np.uint8) + 7).save(changed[3]["path"], "JPEG")
        changed[8]["bbox"] = [0, 0, 5, 5]
        rows, summary = cache.prepare(changed)
        self.assertEqual((summary["built"], summary["reused"]), (2, 28))
        self.assertEqual([i for i in range(30) if rows[i] != before[i]], [3, 8])
        self.assert_exact(cache, rows, changed, 32)
        # Another size is another spec: all of it is built, in its own file, and the 32 px one stays.
        bigger = PixelCache(self.root, 48, 255)
        rows48, summary48 = bigger.prepare(changed)
        self.assertEqual(summary48["built"], 30)
        self.assertNotEqual(bigger.pixels_path, cache.pixels_path)
        self.assert_exact(bigger, rows48, changed, 48)
        self.assertEqual(cache.prepare(changed)[1]["built"], 0)

    def test_an_unchanged_file_with_a_new_timestamp_is_hashed_not_decoded(self):
        cache = PixelCache(self.root, 32, 255)
        cache.prepare(self.items)
        os.utime(self.items[0]["path"], ns=(1, 1))
        _, summary = cache.prepare(self.items)
        self.assertEqual(summary["built"], 0)

    def test_a_truncated_pixel_file_is_detected_and_the_lost_rows_rebuilt(self):
        cache = PixelCache(self.root, 32, 255)
        cache.prepare(self.items)
        row_bytes = 32 * 32 * 3
        with open(cache.pixels_path, "r+b") as handle:
            handle.truncate(12 * row_bytes + 100)  # rows 0-11 whole, row 12 cut, 13-29 gone
        rows, summary = cache.prepare(self.items)
        self.assertEqual((summary["lostRows"], summary["built"], summary["reused"]), (18, 18, 12))
        self.assertEqual(os.path.getsize(cache.pixels_path), 30 * row_bytes)
        self.assert_exact(cache, rows, self.items, 32)

    def test_a_missing_image_is_named_in_the_error(self):
        broken = self.items[:3] + [{"id": 99, "path": os.path.join(self.scratch.name, "gone.jpg"), "bbox": [0, 0, 4, 4]}]
        with self.assertRaisesRegex(ValueError, r"^item 99: cannot read its image gone\.jpg: No such file"):
            PixelCache(self.root, 32, 255).prepare(broken)
        bad_box = [dict(self.items[0], bbox=[0, 0, 10_000, 5])]
        with self.assertRaisesRegex(ValueError, r"^item 0 \(0\.jpg\): ValueError: bbox must lie inside the image"):
            PixelCache(self.root, 32, 255).prepare(bad_box)


# A child process that prepares the cache; used for concurrency and kill -9.
CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import cache
cache.COMMIT_SECONDS = float(sys.argv[4])
spec = json.loads(sys.argv[3])
def progress(done, total):
    print(json.dumps({"done": done, "total": total}), flush=True)
rows, summary = cache.PixelCache(sys.argv[2], spec["size"], 255).prepare(spec["items"], processes=1, on_progress=progress,
                                                                       on_wait=lambda: print(json.dumps({"waiting": True}), flush=True))
print(json.dumps({"rows": rows.tolist(), "summary": summary}), flush=True)
"""


class ProcessesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Camera-sized images, so that a build lasts long enough to be killed in the middle; written once
        # (the tests only read them), each test building its own cache.
        cls.photos = tempfile.TemporaryDirectory()
        cls.items = write_images(cls.photos.name, 40, seed=1, side=(1200, 1800))

    @classmethod
    def tearDownClass(cls):
        cls.photos.cleanup()

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.scratch.name, "cache")

    def tearDown(self):
        self.scratch.cleanup()

    def child(self, size=64, commit_seconds=2.0):
        spec = json.dumps({"size": size, "items": self.items})
        return subprocess.Popen([sys.executable, "-c", CHILD, WORKER, self.root, spec, str(commit_seconds)], stdout=subprocess.PIPE, text=True)

    def test_two_processes_at_once_share_one_build(self):
        first, second = self.child(), self.child()
        outputs = [[json.loads(line) for line in p.communicate()[0].splitlines()] for p in (first, second)]
        results = [out[-1] for out in outputs]
        self.assertEqual(sorted(r["summary"]["built"] for r in results), [0, 40])
        self.assertEqual(results[0]["rows"], results[1]["rows"])
        self.assertEqual(os.path.getsize(PixelCache(self.root, 64, 255).pixels_path), 40 * 64 * 64 * 3)

    def test_a_build_killed_half_way_is_completed_by_the_next_one(self):
        child = self.child(commit_seconds=0)  # commits after every image
        for line in child.stdout:
            if json.loads(line).get("done", 0) >= 5:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        cache = PixelCache(self.root, 64, 255)
        rows, summary = cache.prepare(self.items)
        self.assertGreaterEqual(summary["reused"], 5)
        self.assertLess(summary["reused"], 40)
        self.assertEqual(summary["built"] + summary["reused"], 40)
        self.assertEqual(os.path.getsize(cache.pixels_path), 40 * 64 * 64 * 3)
        pixels = cache.open()
        for item, row in zip(self.items, rows):
            self.assertTrue(np.array_equal(pixels[row], direct(item, 64)))


if __name__ == "__main__":
    unittest.main()
