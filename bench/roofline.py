"""What bench:serve measures the CPU's ceiling and each model's arithmetic with.
  graphs OUTDIR           writes fp32 and int8 graphs of chains of 3x3 convolutions at each ResNet stage's shape
                          and of a 1024^3 MatMul, the int8 ones in the QDQ form ONNX Runtime runs on its
                          integer kernels (u8 x s8, VNNI/AMX); prints [{name, precision, file, dims, macs}]
  macs MODEL              prints {"macs": multiply-accumulates of one image}: Conv, Gemm and MatMul nodes
                          after shape inference at batch 1"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference


def conv_graphs(out, batch, channels, side, depth=4):
    """`depth` 3x3 convolutions in a row, channels in = out, padded: the arithmetic ResNets spend their
    time in. A chain, so that ONNX Runtime's layout changes at the ends are paid once, as in a model."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, side, side])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, channels, side, side])
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    weights = [(rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32) for _ in range(depth)]
    names = ["x"] + [f"h{i}" for i in range(1, depth)] + ["y"]
    fp32_nodes = [helper.make_node("Conv", [names[i], f"w{i}"], [names[i + 1]], **conv) for i in range(depth)]
    fp32 = helper.make_graph(fp32_nodes, "conv_fp32", [x], [y], [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)])
    constants = [
        numpy_helper.from_array(np.array(4.0 / 255, dtype=np.float32), "a_scale"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zero"),
    ]
    nodes = []
    for i, weight in enumerate(weights):
        scale = np.abs(weight.reshape(channels, -1)).max(axis=1) / 127.0
        q = np.clip(np.round(weight / scale.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
        constants += [
            numpy_helper.from_array(q, f"w{i}_q"),
            numpy_helper.from_array(scale.astype(np.float32), f"w{i}_scale"),
            numpy_helper.from_array(np.zeros(channels, dtype=np.int8), f"w{i}_zero"),
        ]
        source = names[i]
        nodes += [
            helper.make_node("QuantizeLinear", [source, "a_scale", "a_zero"], [f"{source}_q"]),
            helper.make_node("DequantizeLinear", [f"{source}_q", "a_scale", "a_zero"], [f"{source}_dq"]),
            helper.make_node("DequantizeLinear", [f"w{i}_q", f"w{i}_scale", f"w{i}_zero"], [f"w{i}_dq"], axis=0),
        ]
        target = names[i + 1] if i < depth - 1 else "y_f"
        nodes.append(helper.make_node("Conv", [f"{source}_dq", f"w{i}_dq"], [target], **conv))
    nodes += [
        helper.make_node("QuantizeLinear", ["y_f", "a_scale", "a_zero"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "a_scale", "a_zero"], ["y"]),
    ]
    int8 = helper.make_graph(nodes, "conv_int8", [x], [y], constants)
    name = f"{depth} conv3x3 {channels}x{side}x{side}"
    return save(out, name, fp32, int8, [batch, channels, side, side], depth * batch * channels * side * side * channels * 9)


def save(out, name, fp32, int8, dims, macs):
    ops = []
    for graph, precision in ((fp32, "fp32"), (int8, "int8")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        file = os.path.join(out, f"{name.replace(' ', '_')}_{precision}.onnx")
        onnx.save(model, file)
        ops.append({"name": f"{name} {precision}", "precision": precision, "file": file, "dims": dims, "macs": macs})
    return ops


def matmul_graphs(out, m=1024, k=1024, n=1024):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((k, n)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
    fp32 = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul_fp32", [x], [y], [numpy_helper.from_array(weight, "w")])
    scale = np.abs(weight).max(axis=0) / 127.0
    q = np.clip(np.round(weight / scale), -127, 127).astype(np.int8)
    constants = [
        numpy_helper.from_array(q, "w_q"),
        numpy_helper.from_array(scale.astype(np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(n, dtype=np.int8), "w_zero"),
        numpy_helper.from_array(np.array(4.0 / 255, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "x_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=1),
        helper.make_node("MatMul", ["x_dq", "w_dq"], ["y"]),
    ]
    int8 = helper.make_graph(nodes, "matmul_int8", [x], [y], constants)
    return save(out, f"matmul {m}x{k}x{n}", fp32, int8, [m, k], m * k * n)


def graphs(out):
    ops = []
    for channels, side in ((64, 56), (128, 28), (256, 14), (512, 7)):
        ops += conv_graphs(out, 16, channels, side)
    print(json.dumps(ops + matmul_graphs(out)))


def macs(path):
    model = onnx.load(path)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)
    }
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out, weight = shapes.get(node.output[0]), shapes[node.input[1]]
            total += int(np.prod(out)) * int(np.prod(weight[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            total += int(np.prod(out)) * a[-1]
    print(json.dumps({"macs": total}))


if __name__ == "__main__":
    if sys.argv[1] == "graphs":
        graphs(sys.argv[2])
    else:
        macs(sys.argv[2])
