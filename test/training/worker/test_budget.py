"""What a time budget chooses: the epochs that fit, the side and the batch, and the plan made again."""

import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from batches import CachedBatches, batch_sampler, train_steps  # noqa: E402
from hyper import Hyper  # noqa: E402
from budget import BATCH_GAIN, budget_epochs, candidate_sides, choose_batch, choose_side, replan_epochs  # noqa: E402


class BudgetTest(unittest.TestCase):
    def test_epochs_that_fit_by_hand(self):
        # 600 s budget, 40 s gone, 0.5 s a step, 100 steps an epoch, 900 side images at 120 images/s
        # (forward at 3 x that): an epoch is 50 + 900 / 360 = 52.5 s; the reserve is max(5, 18) = 18 s;
        # 542 s are left: 10.32 epochs fit, so 10.
        epochs, plan = budget_epochs(600, 40, 0.5, 100, 900, 120, 100)
        self.assertEqual(epochs, 10)
        self.assertAlmostEqual(plan["epochSeconds"], 52.5)
        self.assertEqual(plan["reserveSeconds"], 18.0)
        self.assertIn("10 epoch(s)", plan["reason"])
        # An epoch is taken once 85 % of it fits. 100 s, 5 s reserve: 95 / 52.5 = 1.81 epochs, 81 % of a
        # second one: 1. 105 s: 100 / 52.5 = 1.90, 90 % of a second: 2.
        self.assertEqual(budget_epochs(100, 0, 0.5, 100, 900, 120, 100)[0], 1)
        self.assertEqual(budget_epochs(105, 0, 0.5, 100, 900, 120, 100)[0], 2)
        self.assertEqual(budget_epochs(600, 40, 0.5, 100, 900, 120, 4)[0], 4)  # capped by the request
        self.assertEqual(budget_epochs(30, 40, 0.5, 100, 900, 120, 100)[0], 1)  # never below one epoch


class ReplanTest(unittest.TestCase):
    PLAN = {"seconds": 600, "reserveSeconds": 18, "epochSeconds": 24.8, "epochs": 23}

    def test_slower_epochs_than_estimated_mean_fewer_epochs(self):
        # 600 s budget, 18 s reserve, 40 s gone after epoch 1, which took 30 s: (600 - 18 - 40) / 30 = 18.07 -> 18 more.
        epochs, record = replan_epochs(self.PLAN, 1, 40, 30, 100)
        self.assertEqual(epochs, 19)
        self.assertEqual(record["afterEpoch"], 1)
        self.assertEqual(record["measuredEpochSeconds"], 30)
        self.assertIn("estimated 24.8 s", record["reason"])
        # Later epochs at 20 s: after epoch 5, 150 s gone, (600 - 18 - 150) / 20 = 21.6 -> 21 more.
        self.assertEqual(replan_epochs(self.PLAN, 5, 150, 20, 100)[0], 26)

    def test_never_below_what_ran_nor_above_the_cap(self):
        self.assertEqual(replan_epochs(self.PLAN, 1, 590, 30, 100)[0], 1)
        self.assertEqual(replan_epochs(self.PLAN, 1, 20, 1, 40)[0], 40)
        # An epoch of which 85 % fits is taken: 0.87 of one more fits here.
        self.assertEqual(replan_epochs(self.PLAN, 1, 556, 30, 100)[0], 2)


class SideTest(unittest.TestCase):
    # A step's cost grows with the pixels: 0.1 s at 64 px, (side / 64)^2 x that elsewhere.
    @staticmethod
    def measure(seen):
        def measure(side):
            seen.append(side)
            per_step = 0.1 * (side / 64) ** 2
            return per_step, 32 / per_step

        return measure

    def test_the_sides_up_to_the_requested_one(self):
        self.assertEqual(candidate_sides(128, [64, 96, 128, 160]), [64, 96, 128])
        self.assertEqual(candidate_sides(100, [64, 96, 128]), [64, 96, 100])
        self.assertEqual(candidate_sides(32, [64, 96]), [32])  # a small request is the only choice

    def test_the_largest_side_at_which_the_epochs_fit_by_hand(self):
        # 1800 s, 54 s reserve, 100 steps an epoch, 320 side images. At 128 px a step is 0.4 s and a side
        # pass 320 / (3 x 80) = 1.33 s: 41.3 s an epoch, 1746 / 41.3 = 42 epochs. At 192 px: 0.9 s, 93 s,
        # 18.8 -> 18. At 224 px: 1.225 s, 126.6 s, 13.8 -> 13 < 15, so 192 px, and nothing above is measured.
        seen = []
        side, record = choose_side(1800, 0, self.measure(seen), [64, 128, 192, 224, 256], 100, 320, 15)
        self.assertEqual(side, 192)
        self.assertEqual(seen, [64, 128, 192, 224])
        self.assertEqual([s["epochs"] for s in record["sizes"]][1:], [42, 18, 13])
        self.assertEqual(record["imageSize"], 192)
        self.assertIn("192 px: the largest size at which 15 epoch(s) fit", record["sizeReason"])

    def test_the_smallest_side_when_none_leaves_the_epochs(self):
        side, record = choose_side(60, 0, self.measure([]), [64, 128], 100, 320, 10)
        self.assertEqual(side, 64)
        self.assertEqual(len(record["sizes"]), 1)
        self.assertIn("the smallest size; even there fewer than 10 epoch(s) fit", record["sizeReason"])

    def test_time_spent_probing_counts_against_the_budget(self):
        clock = iter([0, 1000])  # the second side is measured 1000 s later
        side, record = choose_side(1800, lambda: next(clock), self.measure([]), [64, 96], 100, 320, 10)
        # 96 px: a 0.225 s step and a 0.75 s side pass, 23.25 s an epoch; 746 s left after the 54 s
        # reserve -> 32 epochs (1746 s would have been 75).
        self.assertEqual(record["sizes"][1]["epochs"], 32)
        self.assertEqual(side, 96)


class BatchTest(unittest.TestCase):
    def test_doubles_only_for_a_measured_gain(self):
        batch, factor, record = choose_batch(64, lambda b: {64: 1000.0, 128: 1000.0 * BATCH_GAIN}[b], 1000)
        self.assertEqual((batch, factor, record["batchSize"]), (128, 2.0, 128))
        batch, factor, record = choose_batch(64, lambda b: {64: 1000.0, 128: 1100.0}[b], 1000)
        self.assertEqual((batch, factor), (64, 1.0))
        self.assertIn("1.10x as fast per image", record["batchReason"])
        batch, _, record = choose_batch(64, lambda b: 1 / 0, 100)  # not measured: twice 64 leaves under 8 steps
        self.assertEqual(batch, 64)

    def test_steps_an_epoch_as_the_training_loader_has_them(self):
        for items, batch, cutmix, copies in [(100, 32, "online", 0), (100, 32, "offline", 4), (20, 32, "online", 0), (64, 32, "off", 0)]:
            hyper = Hyper(batchSize=batch, cutmix=cutmix, cutmixCopies=copies)
            dataset = CachedBatches.__new__(CachedBatches)
            dataset.rows, dataset.copies = list(range(items)), copies if cutmix == "offline" else 0
            sampler = batch_sampler(dataset, batch, drop_last=len(dataset) > batch)
            self.assertEqual(train_steps(hyper, items), len(sampler), hyper)
            self.assertEqual(train_steps(hyper, items), len(list(sampler)), hyper)


if __name__ == "__main__":
    unittest.main()
