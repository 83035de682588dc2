"""Backbones (torchvision) with one head per task on the pooled feature."""
import os
import re

import torch
from torch import nn
import torchvision

from safe_load import safe_load
from weights import WeightsError, WeightsStore

# name -> (constructor, name of the classifier attribute replaced by Identity)
BACKBONES = {
    "resnet18": (torchvision.models.resnet18, "fc"),
    "resnet34": (torchvision.models.resnet34, "fc"),
    "resnet50": (torchvision.models.resnet50, "fc"),
    "resnet101": (torchvision.models.resnet101, "fc"),
    "resnet152": (torchvision.models.resnet152, "fc"),
    "densenet121": (torchvision.models.densenet121, "classifier"),
    "densenet161": (torchvision.models.densenet161, "classifier"),
    "mobilenet_v3_small": (torchvision.models.mobilenet_v3_small, "classifier"),
    "mobilenet_v3_large": (torchvision.models.mobilenet_v3_large, "classifier"),
    "efficientnet_b0": (torchvision.models.efficientnet_b0, "classifier"),
}
HEADS = ("feedforward", "residual")


class FeedForwardHead(nn.Module):
    """dropout -> linear(hidden) -> ReLU -> linear(classes)"""

    def __init__(self, features, hidden, classes, dropout):
        super().__init__()
        self.layers = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.layers(x)


class ResidualHead(nn.Module):
    """long path linear -> ReLU -> linear, short path linear, ReLU(long + short) -> linear(classes)"""

    def __init__(self, features, hidden, classes, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.long = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden))
        self.short = nn.Linear(features, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.dropout(x)
        return self.out(torch.relu(self.long(x) + self.short(x)))


# torchvision's DenseNet files predate its module names: "denselayer1.norm.1.weight" is now
# "denselayer1.norm1.weight" (torchvision renames them the same way when it loads them itself).
DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


def renamed_densenet_keys(state):
    renamed = {}
    for key, value in state.items():
        match = DENSENET_OLD_KEY.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    return renamed


def build_backbone(name, pretrained="auto", weights=None, on_progress=None, on_warning=None):
    """Returns (module producing pooled features, feature size, record of the initial weights or None
    for random init). weights: a WeightsStore (default: torch hub's cache, torchvision's host)."""
    if name not in BACKBONES:
        raise ValueError(f'Unsupported backbone "{name}". Choose one of: {", ".join(BACKBONES)}')
    constructor, classifier = BACKBONES[name]
    model = constructor()
    path, record = (weights or WeightsStore()).resolve(name, pretrained, on_progress, on_warning)
    if path:
        # A state dict is tensors; a user's file (pretrained: a file name) must not run code when read.
        state = safe_load(path)
        if name.startswith("densenet"):
            state = renamed_densenet_keys(state)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if [k for k in missing if not k.startswith(classifier)]:
            message = f"the weights in {os.path.basename(path)} do not fit {name} (missing {', '.join(missing[:3])}, ...)"
            if pretrained != "auto":
                raise WeightsError(message)
            if on_warning:
                on_warning(f"{message}; training {name} from random init instead")
            model, record = constructor(), None
    setattr(model, classifier, nn.Identity())
    with torch.no_grad():
        features = model.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
    return model, features, record


class FashionNet(nn.Module):
    """One backbone, one head per task; forward returns a list of logits, one tensor per task."""

    def __init__(self, backbone, head, class_counts, hidden=512, dropout=0.2, pretrained="auto", weights=None, on_progress=None, on_warning=None):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f'Unsupported head "{head}". Choose one of: {", ".join(HEADS)}')
        self.backbone, features, self.weights_source = build_backbone(backbone, pretrained, weights, on_progress, on_warning)
        head_class = FeedForwardHead if head == "feedforward" else ResidualHead
        self.heads = nn.ModuleList(head_class(features, hidden, n, dropout) for n in class_counts)

    def forward(self, image):
        features = self.backbone(image)
        return [head(features) for head in self.heads]


class Probabilities(nn.Module):
    """What is exported: image in, one probability vector per task out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        return tuple(torch.softmax(logits, dim=1) for logits in self.net(image))
