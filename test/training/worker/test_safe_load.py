"""Files the worker loads run no code: checkpoints and weights through safe_load (a pickle that names any
other callable is refused before it runs), and pretrained files only from the weights folder."""
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from safe_load import safe_load  # noqa: E402
from weights import WeightsError, WeightsStore  # noqa: E402


class Payload:
    """What a hostile pickle carries: unpickling it calls open() to create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class SafeLoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def test_loads_a_checkpoint_with_floats_tensors_and_an_optimizer(self):
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.003)
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "best": {"score": 0.625, "epoch": 3}, "rng": torch.get_rng_state()}
        path = os.path.join(self.dir, "checkpoint.pt")
        torch.save(state, path)
        loaded = safe_load(path)
        self.assertEqual(loaded["best"], {"score": 0.625, "epoch": 3})
        self.assertEqual(loaded["optimizer"]["param_groups"][0]["lr"], 0.003)
        for key, value in state["model"].items():
            self.assertTrue(torch.equal(loaded["model"][key], value))
        self.assertTrue(torch.equal(loaded["rng"], state["rng"]))

    def test_refuses_a_pickle_that_runs_code_before_it_runs(self):
        marker = os.path.join(self.dir, "ran")
        path = os.path.join(self.dir, "hostile.pt")
        torch.save({"model": Payload(marker)}, path)
        with self.assertRaises(Exception) as refused:
            safe_load(path)
        self.assertFalse(os.path.exists(marker))
        self.assertRegex(str(refused.exception), r"open|builtins|[Ww]eights only")

    def test_pretrained_files_come_from_the_weights_folder_only(self):
        weights = os.path.join(self.dir, "weights")
        os.makedirs(weights)
        torch.save(torch.nn.Linear(2, 2).state_dict(), os.path.join(weights, "mine.pth"))
        outside = os.path.join(self.dir, "outside.pth")
        torch.save(torch.nn.Linear(2, 2).state_dict(), outside)
        store = WeightsStore({"dir": weights})
        path, record = store.resolve("resnet18", "mine.pth")
        self.assertEqual(record["file"], "mine.pth")
        self.assertEqual(os.path.dirname(path), os.path.realpath(weights))
        messages = []
        for given in (outside, "../outside.pth", "/etc/passwd", "missing.pth"):
            with self.assertRaises(WeightsError) as refused:
                store.resolve("resnet18", given)
            messages.append(str(refused.exception).replace(repr(os.path.basename(given)), "NAME"))
        self.assertEqual(len(set(messages)), 1, messages)  # missing and outside answer alike
        self.assertIn("FASHION_HOW_WEIGHTS_DIR", messages[0])


if __name__ == "__main__":
    unittest.main()
