"""ONNX export of a trained model, its model.json, and the tensors the runner uses to check the graph
against PyTorch through ONNX Runtime."""
import inspect
import json
import os

import torch

from digest import sha256_of
from models import Probabilities

OPSET = 17
MODEL_FORMAT = "fashion-how/model@1"


def export_onnx(net, size, path):
    """Exports with the TorchScript-based exporter on torch 1.13 and 2.x alike (2.x defaults to dynamo)."""
    wrapper = Probabilities(net).eval().float().cpu()
    output_names = [f"probs_{i}" for i in range(len(net.heads))]
    options = dict(
        input_names=["image"],
        output_names=output_names,
        dynamic_axes={"image": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
        opset_version=OPSET,
        do_constant_folding=True,
    )
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(wrapper, torch.zeros(1, 3, size, size), tmp, **options)
    try:
        import onnx

        onnx.checker.check_model(tmp)
    except ImportError:
        pass
    os.replace(tmp, path)
    return output_names


def onnxruntime_check(path, inputs, expected):
    """Max |onnxruntime - torch| over the check items, or None where Python has no onnxruntime
    (Debian ships none; the TypeScript runner then checks with onnxruntime-node)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"image": inputs.numpy()})
    return max(float(abs(torch.from_numpy(o) - e).max()) for o, e in zip(outputs, expected))


def write_artifact(net, config, hyper, run_dir, check_inputs, parameter_count, training=None):
    """Writes model.onnx, model.json and check/ (inputs as raw float32 NCHW, PyTorch's probabilities).
    `training` says how the weights were chosen (best epoch, selection metric, why training stopped)."""
    size = config["preprocess"]["size"]
    onnx_path = os.path.join(run_dir, "model.onnx")
    output_names = export_onnx(net, size, onnx_path)
    with torch.no_grad():
        expected = [p.float() for p in Probabilities(net).eval().float().cpu()(check_inputs)]
    check_dir = os.path.join(run_dir, "check")
    os.makedirs(check_dir, exist_ok=True)
    with open(os.path.join(check_dir, "inputs.f32"), "wb") as handle:
        handle.write(check_inputs.contiguous().numpy().astype("<f4").tobytes())
    with open(os.path.join(check_dir, "outputs.json"), "w") as handle:
        json.dump({"shape": list(check_inputs.shape), "probabilities": [e.tolist() for e in expected]}, handle)
    max_abs_diff = onnxruntime_check(onnx_path, check_inputs, expected)
    info = {
        "format": MODEL_FORMAT,
        "input": {
            "name": "image",
            "layout": "NCHW",
            "size": size,
            "padValue": config["preprocess"]["padValue"],
            "mean": config["preprocess"]["mean"],
            "std": config["preprocess"]["std"],
            "resize": "bilinear",
        },
        "outputKind": "probabilities",
        # fashion-how quantize writes "int8" (with the preprocessing its ranges were calibrated under).
        "precision": "fp32",
        # Serving averages each image with its mirror, as the run's validation did.
        "testTimeFlip": hyper.testTimeFlip,
        "tasks": [{"name": task["name"], "classes": task["classes"], "output": name} for task, name in zip(config["tasks"], output_names)],
        "backbone": config["backbone"],
        "head": config["head"],
        "parameterCount": parameter_count,
        "pretrained": net.weights_source is not None,
        "weights": net.weights_source,
        "opset": OPSET,
        "torchVersion": torch.__version__,
        "sizeBytes": os.path.getsize(onnx_path),
        "sha256": sha256_of(onnx_path),
        "exportCheck": {
            "items": int(check_inputs.shape[0]),
            "maxAbsDiff": max_abs_diff,
            "checkedBy": "onnxruntime-python" if max_abs_diff is not None else None,
        },
        **({"training": training} if training else {}),
    }
    with open(os.path.join(run_dir, "model.json"), "w") as handle:
        json.dump(info, handle, indent=2)
    return onnx_path, info
