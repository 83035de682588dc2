"""Loss, metrics, offline CutMix and models."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from models import FashionNet, Probabilities  # noqa: E402
from presets import letterbox_geometry  # noqa: E402
from train import OfflineCutMixDataset, accuracy_and_acsa, soft_cross_entropy  # noqa: E402
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


class TinyBase(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((3, 8, 8), float(i)), one_hot([i % 2], [2])


class OfflineCutMixTest(unittest.TestCase):
    def test_each_image_plus_its_copies_deterministically(self):
        data = OfflineCutMixDataset(TinyBase(5), copies=4, alpha=1.0, seed=3)
        self.assertEqual(len(data), 25)  # as the seed: 14,000 -> 70,000
        image, targets = data[2]
        self.assertEqual(image.unique().tolist(), [2.0])
        first, first_targets = data[7]
        again, again_targets = data[7]
        self.assertTrue(torch.equal(first, again))
        self.assertTrue(torch.equal(first_targets[0], again_targets[0]))
        # A mixed copy of item 2 keeps part of it and takes the rest from exactly one other item.
        values = first.unique().tolist()
        self.assertIn(2.0, values)
        self.assertLessEqual(len(values), 2)
        if len(values) == 2:
            other = [v for v in values if v != 2.0][0]
            kept = (first == 2.0).float().mean().item()
            expected = kept * one_hot([0], [2])[0] + (1 - kept) * one_hot([int(other) % 2], [2])[0]
            self.assertTrue(torch.allclose(first_targets[0], expected, atol=1e-6))


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
