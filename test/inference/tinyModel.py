"""Builds a tiny ONNX model for the serving tests: [batch, 3, size, size] in, one output per task.
    python tinyModel.py OUT.onnx SIZE KIND CLASSES...   (KIND: logits | probabilities)"""
import sys

import torch


class Tiny(torch.nn.Module):
    def __init__(self, classes, kind):
        super().__init__()
        torch.manual_seed(0)
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.heads = torch.nn.ModuleList(torch.nn.Linear(4, k) for k in classes)
        self.kind = kind

    def forward(self, image):
        features = self.features(image) * 10
        outputs = [head(features) for head in self.heads]
        return tuple(torch.softmax(o, 1) if self.kind == "probabilities" else o for o in outputs)


out, size, kind, *classes = sys.argv[1:]
classes = [int(k) for k in classes]
names = [f"out_{i}" for i in range(len(classes))]
torch.onnx.export(
    Tiny(classes, kind).eval(),
    torch.zeros(1, 3, int(size), int(size)),
    out,
    input_names=["pixels"],
    output_names=names,
    dynamic_axes={"pixels": {0: "n"}, **{n: {0: "n"} for n in names}},
    opset_version=17,
)
