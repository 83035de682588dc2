"""Post-training static INT8 for an exported fp32 graph, as an ONNX graph pass (the `onnx` package and
numpy; Debian has no Python onnxruntime, so the activation ranges are measured by the caller with
onnxruntime-node on images through the serving preprocessing).

Two steps, one process each:
  plan   --model fp32.onnx --out calibrate.onnx   prints {"tensors": [...]}: the activations whose ranges
         are needed; calibrate.onnx is the graph with each of them as an extra output.
  apply  --model fp32.onnx --ranges ranges.json --out int8.onnx   writes the QDQ graph: ranges.json maps
         each planned tensor to [low, high].

The QDQ graph is the form ONNX Runtime's CPU provider fuses into integer kernels (QLinearConv,
QLinearAdd, uint8 MaxPool, QLinearGlobalAveragePool): activations uint8 asymmetric per tensor, weights
int8 symmetric per output channel within +-63 (WEIGHT_LEVELS), biases int32 at input scale x weight scale. A Relu that is the only
consumer of a Conv or Add is dropped and its output range (low 0) quantizes the producer's output: the
uint8 clamp at zero point 0 is the Relu. Everything else (heads, softmax) stays float: they are a small
share of the arithmetic and most of the accuracy."""
import argparse
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANTIZED_DOMAIN_MARK = "fashion-how.quantized"


def inline_constant_identities(model):
    """torch's exporter shares equal initializers through Identity nodes; a weight must be an
    initializer to be quantized, so each such Identity becomes a copy of its initializer."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers:
            copy = onnx.TensorProto()
            copy.CopyFrom(initializers[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            initializers[copy.name] = copy
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def consumers_of(graph):
    uses = {}
    for node in graph.node:
        for name in node.input:
            uses.setdefault(name, []).append(node)
    return uses


def make_plan(model):
    """Which nodes run in integer arithmetic and which tensors need a range. Returns
    (steps, tensors, aliases, absorbed): steps maps a node's first output to its role, tensors lists the
    tensors to calibrate, aliases maps a tensor to the one whose parameters it shares (MaxPool), absorbed
    the Relu nodes folded into their producer."""
    graph = model.graph
    if any(o.domain == QUANTIZED_DOMAIN_MARK for o in model.opset_import) or any(n.op_type in ("QuantizeLinear", "QLinearConv") for n in graph.node):
        raise ValueError("the graph is already quantized")
    initializers = {i.name for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    uses = consumers_of(graph)
    quantized = set()
    tensors = []
    aliases = {}
    absorbed = set()
    roles = {}

    def need(name):
        if name not in quantized:
            quantized.add(name)
            tensors.append(name)

    def output_of(node):
        """The tensor whose range quantizes the node's output: a lone Relu consumer is absorbed."""
        out = node.output[0]
        after = uses.get(out, [])
        if len(after) == 1 and after[0].op_type == "Relu" and out not in outputs:
            absorbed.add(after[0].output[0])
            return after[0].output[0]
        return out

    for node in graph.node:
        if node.output[0] in absorbed:
            continue
        if node.op_type == "Conv" and len(node.input) >= 2 and node.input[1] in initializers and (len(node.input) < 3 or node.input[2] in initializers):
            if node.input[0] in initializers:
                continue
            need(node.input[0])
            out = output_of(node)
            roles[node.output[0]] = ("conv", out)
            need(out)
        elif node.op_type == "Add" and all(i in quantized for i in node.input):
            out = output_of(node)
            roles[node.output[0]] = ("add", out)
            need(out)
        elif node.op_type == "MaxPool" and node.input[0] in quantized and len(node.output) == 1:
            roles[node.output[0]] = ("maxpool", node.output[0])
            aliases[node.output[0]] = node.input[0]
            quantized.add(node.output[0])
        elif node.op_type == "GlobalAveragePool" and node.input[0] in quantized:
            roles[node.output[0]] = ("pool", node.output[0])
            need(node.output[0])
    if not any(role == "conv" for role, _ in roles.values()):
        raise ValueError("the graph has no convolution with constant weights to quantize")
    return roles, tensors, aliases, absorbed


def augmented(model, tensors):
    """The fp32 graph with every tensor to calibrate as an extra output."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    present = {o.name for o in copy.graph.output}
    for name in tensors:
        if name not in present:
            copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return copy


def activation_parameters(low, high):
    """uint8 asymmetric: the range always holds 0 (padding and ReLU produce exact zeros)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = (high - low) / 255.0 if high > low else 1.0
    zero_point = int(np.clip(round(-low / scale), 0, 255))
    return np.float32(scale), np.uint8(zero_point)


# Weights use 7 of int8's bits. On x86 CPUs without VNNI (AVX2 and plain AVX-512: many AMD EPYCs, older
# Xeons) ONNX Runtime's uint8 x int8 kernels add each pair of products into a saturating int16
# (vpmaddubsw); with full-range weights 2 x 255 x 127 overflows it and an INT8 ResNet-18 drifted 0.088
# from its parent's probabilities on such an EPYC (0.05 is the bound). 2 x 255 x 63 = 32,130 fits, so an
# artifact quantized anywhere serves the same answers on every host; VNNI hosts lose one bit of weight
# precision for it (ONNX Runtime's and OpenVINO's "reduce range" is the same trade).
WEIGHT_LEVELS = 63


def quantize_weights(weight):
    """int8 symmetric per output channel (axis 0), zero point 0, within +-WEIGHT_LEVELS."""
    flat = np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1)
    scale = np.where(flat > 0, flat / WEIGHT_LEVELS, 1.0).astype(np.float32)
    shape = (-1,) + (1,) * (weight.ndim - 1)
    q = np.clip(np.round(weight / scale.reshape(shape)), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int8)
    return q, scale


def apply_ranges(model, ranges):
    """The QDQ graph, given [low, high] per planned tensor."""
    roles, tensors, aliases, absorbed = make_plan(model)
    missing = [t for t in tensors if t not in ranges]
    if missing:
        raise ValueError(f"no calibration range for {len(missing)} tensors, e.g. {missing[0]}")
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    parameters = {}
    new_initializers = []

    def constant(name, array):
        new_initializers.append(numpy_helper.from_array(array, name))
        return name

    def params_of(tensor):
        if tensor not in parameters:
            if tensor in aliases:
                parameters[tensor] = params_of(aliases[tensor])
            else:
                scale, zero_point = activation_parameters(*ranges[tensor])
                names = (constant(f"{tensor}_scale", np.array(scale, dtype=np.float32)), constant(f"{tensor}_zero_point", np.array(zero_point, dtype=np.uint8)))
                parameters[tensor] = (*names, float(scale))
        return parameters[tensor]

    def qdq(tensor):
        """Quantize then dequantize `tensor`; its consumers read `<tensor>_dq`."""
        scale, zero_point, _ = params_of(tensor)
        return [
            helper.make_node("QuantizeLinear", [tensor, scale, zero_point], [f"{tensor}_q"], name=f"{tensor}_Q"),
            helper.make_node("DequantizeLinear", [f"{tensor}_q", scale, zero_point], [f"{tensor}_dq"], name=f"{tensor}_DQ"),
        ]

    def dequantized(base, q, scale):
        """A constant stored as integers (zero point 0) and dequantized per output channel (axis 0)."""
        constant(f"{base}_q", q)
        constant(f"{base}_scale", scale)
        constant(f"{base}_zero_point", np.zeros(scale.shape, dtype=q.dtype))
        nodes.append(helper.make_node("DequantizeLinear", [f"{base}_q", f"{base}_scale", f"{base}_zero_point"], [f"{base}_dq"], axis=0))
        return f"{base}_dq"

    quantized = set(tensors) | set(aliases)
    nodes = []
    for value in graph.input:
        if value.name in quantized:
            nodes.extend(qdq(value.name))
    for node in graph.node:
        if node.output[0] in absorbed:
            continue
        role = roles.get(node.output[0])
        inputs = [f"{i}_dq" if i in quantized else i for i in node.input]
        outputs = list(node.output)
        if role is not None:
            outputs[0] = role[1]
        if role is not None and role[0] == "conv":
            weight = numpy_helper.to_array(initializers[node.input[1]]).astype(np.float32)
            q, w_scale = quantize_weights(weight)
            inputs[1] = dequantized(f"{node.output[0]}_weight", q, w_scale)
            if len(node.input) >= 3 and node.input[2]:
                b_scale = (w_scale * params_of(node.input[0])[2]).astype(np.float32)
                bias = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float64)
                inputs[2] = dequantized(f"{node.output[0]}_bias", np.clip(np.round(bias / b_scale), -(2**31), 2**31 - 1).astype(np.int32), b_scale)
        rebuilt = helper.make_node(node.op_type, inputs, outputs, name=node.name, domain=node.domain or None)
        rebuilt.attribute.extend(node.attribute)
        nodes.append(rebuilt)
        # Any planned tensor gets its pair right after the node that makes it (a convolution's input may
        # come from a Hardswish, a Mul or a Concat that itself stays float).
        for name in outputs:
            if name in quantized:
                nodes.extend(qdq(name))
    still_used = {i for n in nodes for i in n.input}
    kept = [i for i in graph.initializer if i.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_initializers)
    del graph.node[:]
    graph.node.extend(nodes)
    model.metadata_props.append(onnx.StringStringEntryProto(key="fashion-how.precision", value="int8"))
    onnx.checker.check_model(model)
    return model


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["plan", "apply"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ranges")
    args = parser.parse_args(argv)
    model = onnx.load(args.model)
    inline_constant_identities(model)
    try:
        if args.step == "plan":
            _, tensors, _, _ = make_plan(model)
            onnx.save(augmented(model, tensors), args.out)
            print(json.dumps({"tensors": tensors}))
        else:
            with open(args.ranges) as handle:
                ranges = json.load(handle)
            model = apply_ranges(model, ranges)
            onnx.save(model, args.out)
            counts = {}
            for node in model.graph.node:
                counts[node.op_type] = counts.get(node.op_type, 0) + 1
            print(json.dumps({"nodes": counts}))
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
