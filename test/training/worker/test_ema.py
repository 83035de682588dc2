"""The weight average: its arithmetic by hand, and that it survives a checkpoint and a resume."""
import os
import sys
import tempfile
import types
import unittest

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from checkpoint import load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from ema import WeightAverage  # noqa: E402
from recipe import BestEpoch  # noqa: E402


def tiny_model(value):
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(value)
    return model


class WeightAverageTest(unittest.TestCase):
    def test_follows_the_hand_computed_average_with_its_warm_up(self):
        model = tiny_model(0.0)
        average = WeightAverage(model, decay=0.9)
        expected = 0.0
        for n, value in enumerate([1.0, 2.0, 4.0, 8.0], start=1):
            with torch.no_grad():
                model[0].weight.fill_(value)
            average.update(model)
            # decay warm-up: min(0.9, (1 + n) / (10 + n)) = 2/11, 3/12, 4/13, 5/14 for n = 1..4
            d = min(0.9, (1 + n) / (10 + n))
            expected = d * expected + (1 - d) * value
            self.assertAlmostEqual(average.model[0].weight[0, 0].item(), expected, places=6)
        self.assertAlmostEqual(expected, 5 / 14 * (4 / 13 * (3 / 12 * (2 / 11 * 0 + 9 / 11) + 9 / 12 * 2) + 9 / 13 * 4) + 9 / 14 * 8, places=12)
        # The trained model is not touched, and the average does not learn by itself.
        self.assertEqual(model[0].weight[0, 0].item(), 8.0)
        self.assertFalse(any(p.requires_grad for p in average.model.parameters()))

    def test_reaches_the_set_decay_once_warmed_up(self):
        average = WeightAverage(tiny_model(0.0), decay=0.5)
        average.updates = 100
        self.assertEqual(average.current_decay(), 0.5)

    def test_averages_batchnorm_statistics_and_copies_its_step_count(self):
        model = tiny_model(1.0)
        average = WeightAverage(model, decay=0.5)
        model[1].running_mean.fill_(4.0)
        model[1].num_batches_tracked.fill_(7)
        average.updates = 100
        average.update(model)
        self.assertAlmostEqual(average.model[1].running_mean.item(), 0.5 * 0.0 + 0.5 * 4.0)
        self.assertEqual(average.model[1].num_batches_tracked.item(), 7)


class CheckpointTest(unittest.TestCase):
    def trainer(self, folder, value):
        model = tiny_model(value)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return types.SimpleNamespace(
            model=model,
            optimizer=optimizer,
            scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0),
            scaler=None,
            budget=None,
            best=BestEpoch("MEAN_TOP1", 0),
            ema=WeightAverage(model, decay=0.99),
            checkpoint_path=os.path.join(folder, "checkpoint.pt"),
            start_epoch=0,
        )

    def test_a_resumed_run_continues_the_same_average(self):
        with tempfile.TemporaryDirectory() as folder:
            first = self.trainer(folder, 0.0)
            for value in (3.0, 5.0, 7.0):
                with torch.no_grad():
                    first.model[0].weight.fill_(value)
                first.ema.update(first.model)
            first.best.update(1, [{"top1": 0.5, "acsa": 0.5}], first.ema.model, [torch.zeros(1, 2)], "ema")
            save_checkpoint(first, 0)

            resumed = self.trainer(folder, 0.0)
            resumed.saved = read_checkpoint(first.checkpoint_path, torch.device("cpu"))
            load_checkpoint(resumed)
            self.assertEqual(resumed.ema.updates, 3)
            self.assertEqual(resumed.best.weights, "ema")
            self.assertTrue(torch.equal(resumed.ema.model[0].weight, first.ema.model[0].weight))
            # The next step moves both averages alike: the decay's warm-up goes on from 3 updates.
            for trainer in (first, resumed):
                with torch.no_grad():
                    trainer.model[0].weight.fill_(11.0)
                trainer.ema.update(trainer.model)
            self.assertTrue(torch.equal(resumed.ema.model[0].weight, first.ema.model[0].weight))
            self.assertEqual(resumed.start_epoch, 1)


if __name__ == "__main__":
    unittest.main()
