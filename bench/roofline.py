"""What bench:serve measures the CPU's ceiling and each model's arithmetic with.
  graphs OUTDIR [M K N]   writes matmul_fp32.onnx and matmul_int8.onnx: X[M,K] x W[K,N], W a constant; the
                          int8 one is the QDQ form ONNX Runtime runs on its integer GEMM (u8 x s8, VNNI/AMX)
  macs MODEL              prints {"macs": multiply-accumulates of one image}: Conv, Gemm and MatMul nodes
                          after shape inference at batch 1"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference


def conv_graphs(out, batch=8, channels=256, side=28):
    """A 3x3 convolution, channels in = out, padded: the arithmetic ResNets spend their time in."""
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, side, side])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, channels, side, side])
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    fp32 = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], **conv)], "conv_fp32", [x], [y], [numpy_helper.from_array(weight, "w")])
    scale = np.abs(weight.reshape(channels, -1)).max(axis=1) / 127.0
    q = np.clip(np.round(weight / scale.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
    constants = [
        numpy_helper.from_array(q, "w_q"),
        numpy_helper.from_array(scale.astype(np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(channels, dtype=np.int8), "w_zero"),
        numpy_helper.from_array(np.array(4.0 / 255, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "x_zero"),
        numpy_helper.from_array(np.array(16.0 / 255, dtype=np.float32), "y_scale"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "y_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
        helper.make_node("Conv", ["x_dq", "w_dq"], ["y_f"], **conv),
        helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"]),
    ]
    int8 = helper.make_graph(nodes, "conv_int8", [x], [y], constants)
    for graph, name in ((fp32, "conv_fp32.onnx"), (int8, "conv_int8.onnx")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out, name))
    return {"dims": [batch, channels, side, side], "macs": batch * channels * side * side * channels * 9}


def graphs(out, m=256, k=1024, n=1024):
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
    for graph, name in ((fp32, "matmul_fp32.onnx"), (int8, "matmul_int8.onnx")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out, name))
    print(json.dumps({"matmul": {"dims": [m, k], "macs": m * k * n}, "conv": conv_graphs(out)}))


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
        graphs(sys.argv[2], *map(int, sys.argv[3:6]))
    else:
        macs(sys.argv[2])
