"""The learning-rate schedules, step by step."""
import math
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from optim import OneCycle, WarmupCosineDecay, build_optimizer, build_scheduler, stretch_schedule, warmup_linear_decay, warmup_steps  # noqa: E402


class WarmupTest(unittest.TestCase):
    def test_factors_for_100_steps_with_5_percent_warmup(self):
        f = warmup_linear_decay(100, 0.05)
        self.assertEqual(warmup_steps(100, 0.05), 5)
        self.assertEqual([f(s) for s in range(5)], [0.2, 0.4, 0.6, 0.8, 1.0])
        self.assertEqual(f(5), 1.0)  # (100 - 5) / 95
        self.assertAlmostEqual(f(52), 48 / 95)
        self.assertAlmostEqual(f(99), 1 / 95)
        self.assertEqual(f(100), 0.0)

    def test_tiny_runs_still_warm_up_for_one_step(self):
        f = warmup_linear_decay(3, 0.05)
        self.assertEqual(warmup_steps(3, 0.05), 1)
        self.assertEqual([f(s) for s in range(4)], [1.0, 1.0, 0.5, 0.0])

    def test_scheduler_drives_adamw(self):
        model = torch.nn.Linear(2, 2)
        optimizer = build_optimizer(model, lr=0.1, weight_decay=1e-4)
        scheduler = build_scheduler(optimizer, total_steps=10, warmup_fraction=0.2)
        seen = []
        for _ in range(10):
            seen.append(round(optimizer.param_groups[0]["lr"], 10))
            optimizer.step()
            scheduler.step()
        self.assertEqual(seen, [0.05, 0.1, 0.1, 0.0875, 0.075, 0.0625, 0.05, 0.0375, 0.025, 0.0125])
        self.assertIsInstance(optimizer, torch.optim.AdamW)
        self.assertEqual([g["weight_decay"] for g in optimizer.param_groups], [1e-4, 0.0])

    def test_a_stretched_schedule_decays_to_its_new_end_and_survives_a_state_dict(self):
        model = torch.nn.Linear(2, 2)
        optimizer = build_optimizer(model, lr=0.1, weight_decay=0)
        scheduler = build_scheduler(optimizer, total_steps=10, warmup_fraction=0.2)
        for _ in range(4):
            optimizer.step()
            scheduler.step()
        # Planned for 10 steps, re-planned at step 4 for 20: warmup (2 steps) as it was, then
        # (20 - s) / (20 - 2): at step 4, 16 / 18 of 0.1.
        stretch_schedule(scheduler, 20)
        self.assertAlmostEqual(optimizer.param_groups[0]["lr"], 0.1 * 16 / 18)
        seen = []
        for _ in range(16):
            optimizer.step()
            scheduler.step()
            seen.append(optimizer.param_groups[0]["lr"])
        self.assertAlmostEqual(seen[-2], 0.1 * 1 / 18)
        self.assertEqual(seen[-1], 0.0)
        # A resumed run rebuilds the 10-step schedule and loads the state: the 20-step plan comes back.
        resumed = build_scheduler(optimizer, total_steps=10, warmup_fraction=0.2)
        resumed.load_state_dict(scheduler.state_dict())
        self.assertEqual(resumed.lr_lambdas[0].total_steps, 20)


class ScheduleKindsTest(unittest.TestCase):
    def test_cosine_decays_by_hand_after_the_warmup(self):
        f = WarmupCosineDecay(100, 0.05)
        self.assertEqual([f(s) for s in range(5)], [0.2, 0.4, 0.6, 0.8, 1.0])
        self.assertAlmostEqual(f(5), 1.0)
        self.assertAlmostEqual(f(52), 0.5 * (1 + math.cos(math.pi * 47 / 95)))
        self.assertGreater(f(99), 0.0)  # the last step still learns
        self.assertEqual(f(100), 0.0)

    def test_one_cycle_equals_torchs_one_cycle_lr(self):
        for total in (10, 97, 400):
            parameter = torch.nn.Parameter(torch.zeros(1))
            optimizer = torch.optim.SGD([parameter], lr=0.3)
            reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.3, total_steps=total)
            rates = []
            for step in range(total):
                rates.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                if step < total - 1:
                    reference.step()
            ours = OneCycle(total)
            for step, rate in enumerate(rates):
                self.assertAlmostEqual(0.3 * ours(step), rate, places=12, msg=f"step {step} of {total}")

    def test_every_kind_stretches_to_a_new_end_and_drives_adamw(self):
        for kind in ("linear", "cosine", "onecycle"):
            model = torch.nn.Linear(2, 1)
            optimizer = build_optimizer(model, 0.01, 0.0)
            scheduler = build_scheduler(optimizer, 20, 0.1, kind)
            for _ in range(10):
                optimizer.step()
                scheduler.step()
            stretch_schedule(scheduler, 40)
            factor = scheduler.lr_lambdas[0]
            self.assertEqual(factor.total_steps, 40)
            self.assertAlmostEqual(optimizer.param_groups[0]["lr"], 0.01 * factor(10))
            self.assertLess(factor(39), factor(10), kind)


if __name__ == "__main__":
    unittest.main()


class BackboneLearningRateTest(unittest.TestCase):
    def test_backbone_groups_learn_at_the_multiplied_rate(self):
        model = torch.nn.Module()
        model.backbone = torch.nn.Linear(3, 3)
        model.head = torch.nn.Linear(3, 2)
        optimizer = build_optimizer(model, lr=0.1, weight_decay=1e-4, backbone_lr_multiplier=0.25)
        by_group = {(g["lr"], g["weight_decay"]): sum(p.numel() for p in g["params"]) for g in optimizer.param_groups}
        # head weight 6, head bias 2 at lr 0.1; backbone weight 9, bias 3 at 0.025; decay on weights only
        self.assertEqual(by_group, {(0.1, 1e-4): 6, (0.1, 0.0): 2, (0.025, 1e-4): 9, (0.025, 0.0): 3})
        # The scheduler scales every group from its own rate.
        scheduler = build_scheduler(optimizer, total_steps=10, warmup_fraction=0.2)
        self.assertEqual(sorted({g["lr"] for g in optimizer.param_groups}), [0.0125, 0.05])
        scheduler.step()
        self.assertEqual(sorted({g["lr"] for g in optimizer.param_groups}), [0.025, 0.1])
