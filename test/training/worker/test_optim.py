"""The warmup schedule, step by step."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from optim import build_optimizer, build_scheduler, stretch_schedule, warmup_linear_decay, warmup_steps  # noqa: E402


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
