"""Loss, metrics, offline CutMix and models."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from batches import CachedBatches, batch_sampler  # noqa: E402
from models import FashionNet, Probabilities  # noqa: E402
from presets import letterbox_geometry, normalise  # noqa: E402
from scoring import accuracy_and_acsa, soft_cross_entropy  # noqa: E402
from transforms import one_hot  # noqa: E402


class LossTest(unittest.TestCase):
    def test_soft_targets_on_one_hot_labels_equal_torch_cross_entropy(self):
        torch.manual_seed(0)
        logits = torch.randn(8, 5)
        labels = torch.randint(0, 5, (8,))
        targets = torch.nn.functional.one_hot(labels, 5).float()
        weight = torch.tensor([0.5, 1.0, 2.0, 3.0, 0.25])
        self.assertAlmostEqual(soft_cross_entropy(logits, targets).item(), torch.nn.functional.cross_entropy(logits, labels).item(), places=5)
        self.assertAlmostEqual(
            soft_cross_entropy(logits, targets, weight).item(), torch.nn.functional.cross_entropy(logits, labels, weight=weight).item(), places=5
        )

    def test_logit_adjustment_adds_the_log_prior(self):
        logits = torch.zeros(1, 2)
        targets = torch.tensor([[1.0, 0.0]])
        log_prior = torch.log(torch.tensor([0.9, 0.1]))
        # softmax([log 0.9, log 0.1]) = [0.9, 0.1] -> loss = -log 0.9
        self.assertAlmostEqual(soft_cross_entropy(logits, targets, log_prior=log_prior).item(), -torch.log(torch.tensor(0.9)).item(), places=6)


class MetricsTest(unittest.TestCase):
    def test_top1_and_acsa_from_a_confusion_matrix(self):
        # 10 of class 0 (9 right), 2 of class 1 (0 right), none of class 2.
        confusion = torch.tensor([[9, 1, 0], [2, 0, 0], [0, 0, 0]])
        top1, acsa = accuracy_and_acsa(confusion)
        self.assertAlmostEqual(top1, 9 / 12)
        self.assertAlmostEqual(acsa, (0.9 + 0.0) / 2)


def tiny_cache(folder, n, size=8):
    """A pixel file whose row i is filled with the value i (as the cache lays it out)."""
    path = os.path.join(folder, "pixels.u8")
    np.repeat(np.arange(n, dtype=np.uint8), size * size * 3).tofile(path)
    return path, (n, size, size, 3)


class OfflineCutMixTest(unittest.TestCase):
    def test_each_image_plus_its_copies_deterministically(self):
        with tempfile.TemporaryDirectory() as folder:
            path, shape = tiny_cache(folder, 5)
            data = CachedBatches(path, shape, rows=[4, 3, 2, 1, 0], labels=[[i % 2] for i in range(5)], class_counts=[2], copies=4, seed=3)
            self.assertEqual(len(data), 25)  # as the seed: 14,000 -> 70,000
            images, targets = data[[2]]
            self.assertEqual(images.shape, (1, 8, 8, 3))
            self.assertEqual(images.dtype, torch.uint8)
            self.assertEqual(images.unique().tolist(), [2])  # item 2 is row 2
            first, first_targets = data[[7, 1]]
            again, again_targets = data[[7]]
            self.assertTrue(torch.equal(first[0], again[0]))
            self.assertTrue(torch.equal(first_targets[0][0], again_targets[0][0]))
            self.assertEqual(first[1].unique().tolist(), [3])  # item 1 is row 3, unmixed
            # A mixed copy of item 2 keeps part of it and takes the rest from exactly one other item.
            values = first[0].unique().tolist()
            self.assertIn(2, values)
            self.assertLessEqual(len(values), 2)
            if len(values) == 2:
                other_item = 4 - [v for v in values if v != 2][0]
                kept = (first[0] == 2).float().mean().item()
                expected = kept * one_hot([0], [2])[0] + (1 - kept) * one_hot([other_item % 2], [2])[0]
                self.assertTrue(torch.allclose(first_targets[0][0], expected, atol=1e-6))

    def test_reads_the_same_batches_in_a_dataloader_worker_process(self):
        with tempfile.TemporaryDirectory() as folder:
            path, shape = tiny_cache(folder, 6)
            data = CachedBatches(path, shape, rows=range(6), labels=[[0]] * 6, class_counts=[1], copies=1, seed=1)
            sampler = batch_sampler(data, 4)
            here = [images for images, _ in DataLoader(data, sampler=sampler, batch_size=None)]
            there = [images for images, _ in DataLoader(data, sampler=sampler, batch_size=None, num_workers=2)]
            self.assertEqual(len(here), 3)
            for a, b in zip(here, there):
                self.assertTrue(torch.equal(a, b))


class NormaliseTest(unittest.TestCase):
    def test_matches_the_per_pixel_formula(self):
        pixels = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8)  # one 1x1 image, NHWC
        mean, std = torch.tensor([0.5, 0.25, 0.0]), torch.tensor([0.5, 0.25, 2.0])
        out = normalise(pixels, mean, std)
        self.assertEqual(tuple(out.shape), (1, 3, 1, 1))
        expected = [(0 / 255 - 0.5) / 0.5, (128 / 255 - 0.25) / 0.25, (255 / 255 - 0.0) / 2.0]
        for got, want in zip(out.flatten().tolist(), expected):
            self.assertAlmostEqual(got, want, places=6)


class ModelTest(unittest.TestCase):
    def test_heads_follow_the_schema_and_export_wrapper_gives_probabilities(self):
        for head in ("feedforward", "residual"):
            net = FashionNet("mobilenet_v3_small", head, [6, 5, 3], hidden=16, pretrained="none").eval()
            outputs = Probabilities(net)(torch.zeros(2, 3, 32, 32))
            self.assertEqual([tuple(o.shape) for o in outputs], [(2, 6), (2, 5), (2, 3)])
            for o in outputs:
                self.assertTrue(torch.allclose(o.sum(1), torch.ones(2), atol=1e-6))
            self.assertIsNone(net.weights_source)

    def test_unknown_backbone_names_the_choices(self):
        with self.assertRaisesRegex(ValueError, 'Unsupported backbone "resnet99". Choose one of: resnet18, resnet34'):
            FashionNet("resnet99", "feedforward", [2])


class GeometryTest(unittest.TestCase):
    def test_matches_the_typescript_cases(self):
        # The same table as letterboxGeometry's TypeScript test; Python's round() would differ on x.5.
        self.assertEqual(letterbox_geometry(40, 20, 20), (20, 10, 0, 5))
        self.assertEqual(letterbox_geometry(20, 40, 224), (112, 224, 56, 0))
        self.assertEqual(letterbox_geometry(300, 199, 224), (224, 149, 0, 37))
        self.assertEqual(letterbox_geometry(1000, 1, 224), (224, 1, 0, 111))
        self.assertEqual(letterbox_geometry(8, 5, 4), (4, 3, 0, 0))  # 2.5 rounds up, as Math.round


if __name__ == "__main__":
    unittest.main()
