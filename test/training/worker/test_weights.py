"""Pretrained weights through the real download path: a loopback HTTP mirror serving a state dict made
here, hash checks, the weights cache, and clear failures offline."""
import functools
import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading
import unittest

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from models import build_backbone  # noqa: E402
from weights import WeightsError, WeightsStore, wanted_file  # noqa: E402


class Mirror:
    """A folder served over HTTP on a free loopback port, counting the requests it answers."""

    def __init__(self, folder):
        self.requests = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/models"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WeightsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.served = os.path.join(cls.scratch.name, "served", "models")
        os.makedirs(cls.served)
        # Stands in for ImageNet weights: a random mobilenet_v3_small's state dict, saved as torchvision does.
        torch.manual_seed(5)
        cls.state = torchvision.models.mobilenet_v3_small().state_dict()
        cls.local = os.path.join(cls.served, "mnv3-small-local.pth")
        torch.save(cls.state, cls.local)
        with open(cls.local, "rb") as handle:
            cls.sha = hashlib.sha256(handle.read()).hexdigest()
        cls.official_name = wanted_file("mobilenet_v3_small")[0]
        os.link(cls.local, os.path.join(cls.served, cls.official_name))  # the official name, other bytes
        cls.mirror = Mirror(os.path.dirname(cls.served))

    @classmethod
    def tearDownClass(cls):
        cls.mirror.close()
        cls.scratch.cleanup()

    def setUp(self):
        self.cache = tempfile.mkdtemp(dir=self.scratch.name)
        self.manifest = os.path.join(self.cache, "manifest.json")

    def store(self, sha=None, mirror=None, manifest=True):
        with open(self.manifest, "w") as handle:
            json.dump({"mobilenet_v3_small": {"file": "mnv3-small-local.pth", "sha256": sha or self.sha}}, handle)
        return WeightsStore(
            {"dir": os.path.join(self.cache, "checkpoints"), "mirror": mirror or self.mirror.url, "manifest": self.manifest if manifest else None}
        )

    def test_downloads_from_the_mirror_checks_the_hash_caches_and_loads(self):
        progress = []
        asked = lambda: len([r for r in self.mirror.requests if r.endswith("mnv3-small-local.pth")])  # noqa: E731
        before = asked()
        store = self.store()
        path, record = store.resolve("mobilenet_v3_small", "imagenet", on_progress=lambda *p: progress.append(p))
        self.assertEqual(record, {"source": "imagenet", "file": "mnv3-small-local.pth", "sha256": self.sha, "downloaded": True})
        self.assertEqual(os.path.dirname(path), os.path.join(self.cache, "checkpoints"))
        size = os.path.getsize(self.local)
        self.assertEqual(progress[-1], ("mnv3-small-local.pth", size, size))
        self.assertEqual(self.mirror.requests[-1], "/models/mnv3-small-local.pth")
        # The backbone starts from exactly these weights.
        model, _, source = build_backbone("mobilenet_v3_small", "imagenet", store)
        self.assertEqual(source["sha256"], self.sha)
        self.assertFalse(source["downloaded"])  # the second time it comes from the cache
        for name, tensor in model.state_dict().items():
            self.assertTrue(torch.equal(tensor, self.state[name]), name)
        self.assertEqual(asked() - before, 1)

    def test_a_wrong_hash_is_refused_and_nothing_is_kept(self):
        # torchvision's own file name carries the first digits of its sha256; these bytes do not match.
        with self.assertRaisesRegex(WeightsError, rf"refused {self.official_name} from {self.mirror.url}/{self.official_name}: its sha256 is {self.sha[:16]}"):
            self.store(manifest=False).resolve("mobilenet_v3_small", "imagenet")
        with self.assertRaisesRegex(WeightsError, r"refused mnv3-small-local\.pth .*expected 0000000000000000"):
            self.store(sha="0" * 64).resolve("mobilenet_v3_small", "imagenet")
        self.assertEqual(os.listdir(os.path.join(self.cache, "checkpoints")), [])

    def test_offline_imagenet_is_an_error_naming_the_file_and_the_setting_and_auto_falls_back(self):
        closed = "http://127.0.0.1:9/models"  # the discard port: nothing listens there
        with self.assertRaisesRegex(
            WeightsError, r"could not download mnv3-small-local\.pth from http://127\.0\.0\.1:9/models/mnv3-small-local\.pth .*FASHION_HOW_WEIGHTS_MIRROR"
        ):
            self.store(mirror=closed).resolve("mobilenet_v3_small", "imagenet")
        warnings = []
        self.assertEqual(self.store(mirror=closed).resolve("mobilenet_v3_small", "auto", on_warning=warnings.append), (None, None))
        self.assertEqual(len(warnings), 1)
        self.assertRegex(warnings[0], r"could not download .* training mobilenet_v3_small from random init instead$")

    def test_a_damaged_cached_file_is_not_loaded(self):
        store = self.store()
        path, _ = store.resolve("mobilenet_v3_small", "imagenet")
        with open(path, "r+b") as handle:
            handle.write(b"garbage")
        with self.assertRaisesRegex(WeightsError, r"the cached mnv3-small-local\.pth has sha256 .*delete it"):
            store.resolve("mobilenet_v3_small", "imagenet")


if __name__ == "__main__":
    unittest.main()


class DenseNetKeysTest(unittest.TestCase):
    def test_old_style_densenet_files_load(self):
        # torchvision's DenseNet files name "denselayer1.norm1" as "denselayer1.norm.1".
        import re

        torch.manual_seed(1)
        state = torchvision.models.densenet121().state_dict()
        old = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v for k, v in state.items()}
        self.assertGreater(sum(".norm.1." in k for k in old), 50)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "densenet121-old.pth")
            torch.save(old, path)
            model, _, record = build_backbone("densenet121", "densenet121-old.pth", WeightsStore({"dir": folder}))
        self.assertEqual(record["source"], "file")
        for name, tensor in model.state_dict().items():
            self.assertTrue(torch.equal(tensor, state[name]), name)
