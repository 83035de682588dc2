"""The recipe's run-level choices: best-epoch restore, early stopping, flips, label smoothing, rungs."""

import json
import math
import os
import sys
import tempfile
import threading
import time
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from recipe import BestEpoch, await_rung, flip_batch, selection_score  # noqa: E402
from scoring import soft_cross_entropy  # noqa: E402


def validation(top1s, acsas):
    return [{"task": str(i), "top1": t, "acsa": a} for i, (t, a) in enumerate(zip(top1s, acsas))]


class BestEpochTest(unittest.TestCase):
    def test_restores_the_weights_of_the_best_epoch_when_the_last_is_worse(self):
        model = torch.nn.Linear(3, 2)
        best = BestEpoch("MEAN_TOP1", patience=0)
        weights = {}
        for epoch, score in [(1, 0.5), (2, 0.8), (3, 0.3)]:
            with torch.no_grad():
                model.weight.fill_(float(epoch))  # each epoch's weights are recognisable
            weights[epoch] = model.weight.clone()
            best.update(epoch, validation([score, score], [0.1, 0.1]), model, [torch.full((4, 2), float(epoch))])
        self.assertEqual(best.epoch, 2)
        self.assertTrue(torch.equal(model.weight, weights[3]))
        best.restore(model)
        self.assertTrue(torch.equal(model.weight, weights[2]))
        self.assertTrue(torch.equal(best.probabilities[0], torch.full((4, 2), 2.0)))
        # Restoring hands over a copy: training on does not change the kept weights.
        with torch.no_grad():
            model.weight.add_(1)
        best.restore(model)
        self.assertTrue(torch.equal(model.weight, weights[2]))

    def test_ranks_by_the_chosen_metric(self):
        # Epoch 1 has the better top-1, epoch 2 the better ACSA.
        a, b = validation([0.9, 0.9], [0.5, 0.5]), validation([0.8, 0.8], [0.7, 0.7])
        self.assertAlmostEqual(selection_score(a, "MEAN_TOP1"), 0.9)
        self.assertAlmostEqual(selection_score(b, "MEAN_ACSA"), 0.7)
        for metric, expected in [("MEAN_TOP1", 1), ("MEAN_ACSA", 2)]:
            best = BestEpoch(metric, patience=0)
            model = torch.nn.Linear(1, 1)
            best.update(1, a, model, [])
            best.update(2, b, model, [])
            self.assertEqual(best.epoch, expected, metric)

    def test_early_stopping_after_patience_epochs_without_a_better_score(self):
        best = BestEpoch("MEAN_TOP1", patience=2)
        model = torch.nn.Linear(1, 1)
        stops = []
        for epoch, score in enumerate([0.5, 0.6, 0.6, 0.55, 0.9], start=1):
            best.update(epoch, validation([score], [score]), model, [])
            stops.append(best.should_stop())
        # A tie is no improvement: epochs 3 and 4 are the two without one.
        self.assertEqual(stops, [False, False, False, True, False])
        self.assertFalse(BestEpoch("MEAN_TOP1", patience=0).should_stop())


class FlipTest(unittest.TestCase):
    def test_mirrors_about_half_the_images_and_leaves_the_rest(self):
        images = torch.arange(64 * 3 * 2 * 4, dtype=torch.float32).view(64, 3, 2, 4)
        flipped = flip_batch(images, torch.Generator().manual_seed(0))
        mirrored = [torch.equal(flipped[i], images[i].flip(2)) for i in range(64)]
        kept = [torch.equal(flipped[i], images[i]) for i in range(64)]
        self.assertTrue(all(m != k for m, k in zip(mirrored, kept)))
        self.assertTrue(16 <= sum(mirrored) <= 48)
        self.assertEqual(images[0, 0, 0, 0].item(), 0.0)  # the input batch itself is unchanged


class LabelSmoothingTest(unittest.TestCase):
    def test_matches_the_hand_computed_smoothed_cross_entropy(self):
        logits = torch.tensor([[2.0, 0.0, -1.0]])
        target = torch.tensor([[1.0, 0.0, 0.0]])
        log_p = torch.log_softmax(logits, 1)[0]
        # With smoothing 0.3 over 3 classes the target is [0.8, 0.1, 0.1].
        expected = -(0.8 * log_p[0] + 0.1 * log_p[1] + 0.1 * log_p[2]).item()
        self.assertAlmostEqual(soft_cross_entropy(logits, target, smoothing=0.3).item(), expected, places=6)
        self.assertAlmostEqual(soft_cross_entropy(logits, target).item(), -log_p[0].item(), places=6)
        self.assertTrue(math.isfinite(soft_cross_entropy(logits, target, smoothing=0.5).item()))


class RungTest(unittest.TestCase):
    def test_waits_for_the_verdict_file_and_follows_it(self):
        with tempfile.TemporaryDirectory() as run_dir:
            checks = []

            def deliver():
                time.sleep(0.3)
                # As the platform delivers it (runExecutor.deliverVerdict): written whole, then renamed, so
                # the waiting worker never opens a file that is still empty.
                path = os.path.join(run_dir, "rung-2.json")
                with open(f"{path}.tmp", "w") as handle:
                    json.dump({"promoted": False}, handle)
                os.replace(f"{path}.tmp", path)

            threading.Thread(target=deliver).start()
            began = time.perf_counter()
            self.assertFalse(await_rung(run_dir, 2, 30, lambda: checks.append(1)))
            self.assertGreaterEqual(time.perf_counter() - began, 0.3)
            # While it waits it keeps checking that its runner is alive.
            self.assertGreater(len(checks), 1)
            with open(os.path.join(run_dir, "rung-3.json"), "w") as handle:
                json.dump({"promoted": True}, handle)
            self.assertTrue(await_rung(run_dir, 3, 30, lambda: None))

    def test_goes_on_when_no_verdict_comes_in_time(self):
        with tempfile.TemporaryDirectory() as run_dir:
            began = time.perf_counter()
            self.assertTrue(await_rung(run_dir, 1, 0.2, lambda: None))
            self.assertLess(time.perf_counter() - began, 5)


if __name__ == "__main__":
    unittest.main()
