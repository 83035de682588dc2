"""The backbone registry: what each registration says (parameters, stem, feature size) holds for the
network it builds, and the small-input stems keep the detail that an ImageNet stem divides away."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from backbones import BACKBONES, CompactResNet, describe  # noqa: E402
from models import FashionNet, build_backbone  # noqa: E402


def parameters(module):
    return sum(p.numel() for p in module.parameters())


class RegistryTest(unittest.TestCase):
    # The small networks are built here; the large torchvision ones are built by the end-to-end test.
    CHEAP = ("compact_xs", "compact_s", "compact_m", "compact_l", "mobilenet_v3_small", "regnet_y_800mf", "efficientnet_b0")

    def test_declared_sizes_match_the_built_networks(self):
        for name in self.CHEAP:
            model, features, record = build_backbone(name, "none")
            self.assertAlmostEqual(parameters(model) / 1e6, BACKBONES[name].parameters_m, delta=0.006, msg=name)
            self.assertIsNone(record)
            self.assertEqual(model.eval()(torch.zeros(2, 3, 32, 32)).shape, (2, features), name)

    def test_the_compact_family_spans_a_third_of_a_million_to_eleven_million_parameters(self):
        sizes = [BACKBONES[n].parameters_m for n in ("compact_xs", "compact_s", "compact_m", "compact_l")]
        self.assertEqual(sizes, sorted(sizes))
        self.assertLess(sizes[0], 0.4)
        self.assertGreater(sizes[-1], 9)
        # The practitioner's network: 4 stages of 2 basic blocks, widths 16-32-64-128, 0.7 M parameters.
        self.assertAlmostEqual(parameters(CompactResNet((16, 32, 64, 128), 2)) / 1e6, 0.70, delta=0.01)

    def test_a_small_stem_keeps_four_times_the_side_to_the_last_stage(self):
        compact = CompactResNet()
        last = compact.stages(compact.stem(torch.zeros(1, 3, 32, 32)))
        self.assertEqual(tuple(last.shape[-2:]), (4, 4))  # 32 / 8
        plain, _, _ = build_backbone("resnet18", "none")
        small, _, _ = build_backbone("resnet18", "none", small_stem=True)
        for model, side in ((plain, 1), (small, 4)):  # 32 px: /32 with the ImageNet stem, /8 without it
            x = torch.zeros(1, 3, 32, 32)
            for layer in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
                x = getattr(model, layer)(x)
            self.assertEqual(x.shape[-1], side)
        self.assertEqual(tuple(small.conv1.weight.shape), (64, 3, 3, 3))

    def test_a_small_stem_is_refused_outside_the_resnets(self):
        with self.assertRaisesRegex(ValueError, "smallInputStem applies to the torchvision ResNets"):
            build_backbone("mobilenet_v3_small", "none", small_stem=True)

    def test_describes_every_registration_and_builds_heads_on_it(self):
        described = {d["name"]: d for d in describe()}
        self.assertEqual(set(described), set(BACKBONES))
        self.assertEqual(described["compact_s"]["stem"], "small")
        self.assertFalse(described["compact_s"]["imagenetWeights"])
        self.assertTrue(described["convnext_tiny"]["imagenetWeights"])
        net = FashionNet("compact_xs", "residual", [7, 6, 3], hidden=8, pretrained="none")
        self.assertEqual([tuple(o.shape) for o in net(torch.zeros(2, 3, 32, 32))], [(2, 7), (2, 6), (2, 3)])


if __name__ == "__main__":
    unittest.main()
