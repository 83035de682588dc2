"""Builds a small ONNX classifier that is slow to run: [batch, 3, SIZE, SIZE] in, one probability vector
per task out (out_0, ...), plus LAYERS square MatMuls of side SIDE that depend on the input (so ONNX
Runtime cannot fold them away at load). A few KB on disk; LAYERS x 2 x SIDE^3 FLOPs per run.
    python slowGraph.py OUT.onnx SIZE SIDE LAYERS CLASSES..."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, size, side, layers, *classes = sys.argv[1:]
size, side, layers, classes = int(size), int(side), int(layers), [int(k) for k in classes]
init = [
    numpy_helper.from_array(np.array([side, side], dtype=np.int64), "square"),
    numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
]
nodes = [
    helper.make_node("ReduceMean", ["pixels"], ["mean"], keepdims=0),
    helper.make_node("Expand", ["mean", "square"], ["h0"]),
    helper.make_node("ConstantOfShape", ["square"], ["w"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0 / side])),
]
for i in range(layers):
    nodes.append(helper.make_node("MatMul", [f"h{i}", "w"], [f"m{i}"]))
    nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"h{i + 1}"]))
nodes += [
    helper.make_node("ReduceMean", [f"h{layers}"], ["slow"], keepdims=0),
    helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
    helper.make_node("Flatten", ["pooled"], ["features"]),
]
outputs = []
for t, k in enumerate(classes):
    init.append(numpy_helper.from_array(np.linspace(-1, 1, 3 * k, dtype=np.float32).reshape(3, k), f"w_{t}"))
    nodes += [
        helper.make_node("MatMul", ["features", f"w_{t}"], [f"z_{t}"]),
        helper.make_node("Add", [f"z_{t}", "slow"], [f"logits_{t}"]),
        helper.make_node("Softmax", [f"logits_{t}"], [f"out_{t}"], axis=1),
    ]
    outputs.append(helper.make_tensor_value_info(f"out_{t}", TensorProto.FLOAT, ["n", k]))
graph = helper.make_graph(nodes, "slow", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, size, size])], outputs, init)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), out)
