"""The INT8 graph pass on a small exported network: what it plans, the weights and biases it writes
(7-bit weights, so no int16 pair sum of AVX2's kernels saturates; checked against a brute-force
requantization), the ReLUs it folds, and refusing a quantized graph."""
import os
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from quantize import apply_ranges, inline_constant_identities, make_plan  # noqa: E402


class Block(torch.nn.Module):
    """conv-bn-relu, conv, + skip, relu, max pool, global pool, linear: a ResNet in miniature."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.skip = torch.nn.Conv2d(3, 8, 1)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv1(x)))
        y = torch.relu(self.conv2(y) + self.skip(x))
        y = torch.nn.functional.max_pool2d(y, 2)
        return torch.softmax(self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1)), dim=1)


class QuantizeTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        path = os.path.join(tempfile.mkdtemp(), "block.onnx")
        with torch.no_grad():
            torch.onnx.export(Block().eval(), torch.zeros(1, 3, 16, 16), path, input_names=["image"], output_names=["probs"], opset_version=17)
        self.model = onnx.load(path)
        inline_constant_identities(self.model)
        roles, self.tensors, self.aliases, self.absorbed = make_plan(self.model)
        self.roles = roles
        self.ranges = {t: [-1.0 if i == 0 else 0.0, 2.0 + i] for i, t in enumerate(self.tensors)}

    def test_plans_every_conv_input_and_output_and_folds_the_relus(self):
        kinds = sorted(role for role, _ in self.roles.values())
        self.assertEqual(kinds, ["add", "conv", "conv", "conv", "maxpool", "pool"])
        self.assertEqual(self.tensors[0], "image")
        self.assertEqual(len(self.absorbed), 2)  # after conv1 and after the add
        self.assertEqual(len(self.aliases), 1)  # max pool shares its input's grid

    def test_writes_per_channel_int8_weights_and_int32_biases_a_brute_force_agrees_with(self):
        original = {i.name: numpy_helper.to_array(i) for i in self.model.graph.initializer}
        convs = [(n.output[0], n.input[1], n.input[2] if len(n.input) > 2 else None, n.input[0]) for n in self.model.graph.node if n.op_type == "Conv"]
        quantized = apply_ranges(self.model, self.ranges)
        written = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
        for output, weight_name, bias_name, x in convs:
            weight = original[weight_name]
            q, scale = written[f"{output}_weight_q"], written[f"{output}_weight_scale"]
            self.assertEqual(q.dtype, np.int8)
            # Any two products with a uint8 activation fit the int16 that AVX2's vpmaddubsw adds them into
            # (x86 without VNNI), whichever two its packing pairs: the worst is two full activations on the
            # largest weight magnitude, twice.
            self.assertLessEqual(2 * 255 * int(np.abs(q.astype(np.int64)).max()), 2**15 - 1)
            for c in range(weight.shape[0]):
                self.assertAlmostEqual(float(scale[c]), float(np.abs(weight[c]).max() / 63), places=7)
                self.assertLessEqual(float(np.abs(q[c] * scale[c] - weight[c]).max()), float(scale[c]) / 2 + 1e-7)
            low, high = self.ranges[x]
            x_scale = (max(high, 0) - min(low, 0)) / 255
            bias = written[f"{output}_bias_q"]
            self.assertEqual(bias.dtype, np.int32)
            np.testing.assert_array_equal(bias, np.round(original[bias_name] / (scale.astype(np.float64) * np.float32(x_scale))).astype(np.int32))
        ops = [n.op_type for n in quantized.graph.node]
        self.assertEqual(ops.count("Relu"), 0)
        self.assertEqual(ops.count("QuantizeLinear"), len(self.tensors) + len(self.aliases))
        # A folded ReLU's output grid starts at zero: the uint8 clamp is the ReLU.
        for name in self.absorbed:
            self.assertEqual(int(written[f"{name}_zero_point"]), 0)

    def test_refuses_a_graph_that_is_already_quantized_and_names_missing_ranges(self):
        partial = dict(list(self.ranges.items())[:-1])
        with self.assertRaisesRegex(ValueError, "no calibration range for 1 tensors"):
            apply_ranges(self.model, partial)
        quantized = apply_ranges(self.model, self.ranges)
        with self.assertRaisesRegex(ValueError, "already quantized"):
            make_plan(quantized)


if __name__ == "__main__":
    unittest.main()
