"""Runs an ONNX graph with PyTorch, for a harness that has torch but no ONNX Runtime.

Only the operators fashion-how's exported graphs use are known; any other is refused by name when the
graph is loaded, never skipped. Needs the `onnx` package to read the file.
"""

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(pads, dims):
    """ONNX [x1_begin, x2_begin, ..., x1_end, x2_end] -> symmetric (begin) when they match."""
    if not pads:
        return [0] * dims, None
    begin, end = list(pads[:dims]), list(pads[dims:])
    if begin == end:
        return begin, None
    explicit = []
    for b, e in reversed(list(zip(begin, end))):
        explicit += [b, e]
    return [0] * dims, explicit


def _conv(x, w, b=None, **a):
    padding, explicit = _pads(a.get("pads"), w.dim() - 2)
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("Conv with auto_pad is not supported")
    if explicit:
        x = F.pad(x, explicit)
    return F.conv2d(
        x,
        w,
        b,
        stride=a.get("strides", 1),
        padding=padding,
        dilation=a.get("dilations", 1),
        groups=a.get("group", 1),
    )


def _pool(kind):
    def run(x, **a):
        padding, explicit = _pads(a.get("pads"), 2)
        if explicit:
            x = F.pad(x, explicit, value=-float("inf") if kind == "max" else 0.0)
        kernel, stride = a["kernel_shape"], a.get("strides", 1)
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            return F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil)
        return F.avg_pool2d(
            x,
            kernel,
            stride,
            padding,
            ceil_mode=ceil,
            count_include_pad=bool(a.get("count_include_pad", 0)),
        )

    return run


def _gemm(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = a.t() if transA else a
    b = b.t() if transB else b
    y = alpha * (a @ b)
    return y + beta * c if c is not None else y


def _batch_norm(x, scale, bias, mean, var, epsilon=1e-5, **_):
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, epsilon)


def _clip(x, low=None, high=None, min=None, max=None):
    low = low if low is not None else min
    high = high if high is not None else max
    return torch.clamp(
        x,
        None if low is None else float(low),
        None if high is None else float(high),
    )


def _reshape(x, shape, allowzero=0):
    shape = [int(s) for s in shape.tolist()]
    shape = [x.shape[i] if s == 0 and not allowzero else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _axes(a, axes):
    return [int(v) for v in (axes.tolist() if axes is not None else a.get("axes", []))]


OPS = {
    "Conv": _conv,
    "BatchNormalization": _batch_norm,
    "Relu": lambda x: F.relu(x),
    "LeakyRelu": lambda x, alpha=0.01: F.leaky_relu(x, alpha),
    "Sigmoid": torch.sigmoid,
    "HardSigmoid": lambda x, alpha=0.2, beta=0.5: torch.clamp(alpha * x + beta, 0, 1),
    "HardSwish": lambda x: F.hardswish(x),
    "Clip": _clip,
    "Tanh": torch.tanh,
    "Erf": torch.erf,
    "Sqrt": torch.sqrt,
    "Pow": torch.pow,
    "Add": torch.add,
    "Sub": torch.sub,
    "Mul": torch.mul,
    "Div": torch.div,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda x: x.mean(dim=(2, 3), keepdim=True),
    "Flatten": lambda x, axis=1: x.reshape(int(np.prod(x.shape[:axis])) if axis else 1, -1),
    "Reshape": _reshape,
    "Gemm": _gemm,
    "MatMul": torch.matmul,
    "Softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
    "LogSoftmax": lambda x, axis=-1: torch.log_softmax(x, dim=axis),
    "Concat": lambda *xs, axis: torch.cat(xs, dim=axis),
    "Identity": lambda x: x,
    "Dropout": lambda x, *_, **__: x,
    "Transpose": lambda x, perm=None: x.permute(*(perm or reversed(range(x.dim())))),
    "Shape": lambda x: torch.tensor(x.shape, dtype=torch.int64),
}


class TorchGraph:
    """An ONNX graph run node by node with torch operators, in float32 on CPU."""

    def __init__(self, path):
        model = onnx.load(path)
        self.graph = model.graph
        self.constants = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant":
                continue
            if node.op_type in ("ReduceMean", "Unsqueeze", "Squeeze", "Gather"):
                continue
            if node.op_type not in OPS:
                raise ValueError(f"operator {node.op_type} is not supported by onnx_torch.py; install onnxruntime")

    def run(self, names, feed):
        values = dict(self.constants)
        for name, array in feed.items():
            values[name] = torch.from_numpy(np.ascontiguousarray(array))
        with torch.no_grad():
            for node in self.graph.node:
                a = _attributes(node)
                inputs = [values[i] if i else None for i in node.input]
                while inputs and inputs[-1] is None:
                    inputs.pop()
                if node.op_type == "Constant":
                    out = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
                elif node.op_type == "ReduceMean":
                    axes = _axes(a, inputs[1] if len(inputs) > 1 else None)
                    out = inputs[0].mean(dim=axes, keepdim=bool(a.get("keepdims", 1)))
                elif node.op_type == "Unsqueeze":
                    out = inputs[0]
                    for axis in sorted(_axes(a, inputs[1] if len(inputs) > 1 else None)):
                        out = out.unsqueeze(axis)
                elif node.op_type == "Squeeze":
                    axes = _axes(a, inputs[1] if len(inputs) > 1 else None)
                    out = inputs[0]
                    for axis in sorted(axes or [], reverse=True):
                        out = out.squeeze(axis)
                    if not axes:
                        out = out.squeeze()
                elif node.op_type == "Gather":
                    out = torch.index_select(inputs[0], a.get("axis", 0), inputs[1].reshape(-1).long()).reshape(
                        inputs[0].shape[: a.get("axis", 0)] + inputs[1].shape + inputs[0].shape[a.get("axis", 0) + 1 :]
                    )
                else:
                    out = OPS[node.op_type](*inputs, **a)
                values[node.output[0]] = out
        return [values[n].numpy() for n in names]
