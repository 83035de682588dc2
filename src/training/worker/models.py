"""A registered backbone (backbones.py) with one head per task on the pooled feature."""
import os
import re

import torch
from torch import nn

from backbones import BACKBONES, set_path, small_input_stem
from safe_load import safe_load
from weights import WeightsError, WeightsStore

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


def fitting_state(model, state, classifier):
    """The part of a state dict that fits the model, and the model's keys it leaves unset (besides its
    classifier's). Tensors whose shape differs (a small-input stem's conv1) are left out, not loaded."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in fitting and not k.startswith(classifier)]
    return fitting, missing


def build_backbone(name, pretrained="auto", weights=None, on_progress=None, on_warning=None, small_stem=False):
    """Returns (module producing pooled features, feature size, record of the initial weights or None
    for random init). weights: a WeightsStore (default: torch hub's cache, torchvision's host).
    small_stem: a ResNet's small-input stem (its ImageNet conv1 is then left out of the weights)."""
    if name not in BACKBONES:
        raise ValueError(f'Unsupported backbone "{name}". Choose one of: {", ".join(BACKBONES)}')
    spec = BACKBONES[name]
    if small_stem and spec.family != "resnet":
        resnets = ", ".join(b.name for b in BACKBONES.values() if b.family == "resnet")
        raise ValueError(f"smallInputStem applies to the torchvision ResNets ({resnets}); {name} has a {spec.stem} stem of its own")

    def construct():
        model = spec.constructor()
        return small_input_stem(model) if small_stem else model

    model = construct()
    record = None
    if spec.weights_enum is None:
        if pretrained not in ("auto", "none") and on_warning:
            on_warning(f"{name} has no ImageNet weights (it is trained from scratch); pretrained {pretrained!r} was not used")
    else:
        path, record = (weights or WeightsStore()).resolve(name, pretrained, on_progress, on_warning)
        if path:
            # A state dict is tensors; a user's file (pretrained: a file name) must not run code when read.
            state = safe_load(path)
            if spec.family == "densenet":
                state = renamed_densenet_keys(state)
            state, missing = fitting_state(model, state, spec.classifier)
            # A small-input stem replaces conv1, so ImageNet's conv1 cannot fit it; everything else must.
            if [k for k in missing if not (small_stem and k.startswith("conv1."))]:
                message = f"the weights in {os.path.basename(path)} do not fit {name} (missing {', '.join(missing[:3])}, ...)"
                if pretrained != "auto":
                    raise WeightsError(message)
                if on_warning:
                    on_warning(f"{message}; training {name} from random init instead")
                model, record = construct(), None
            else:
                model.load_state_dict(state, strict=False)
    set_path(model, spec.classifier, nn.Identity())
    with torch.no_grad():
        features = model.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
    return model, features, record


class FashionNet(nn.Module):
    """One backbone, one head per task; forward returns a list of logits, one tensor per task."""

    def __init__(
        self, backbone, head, class_counts, hidden=512, dropout=0.2, pretrained="auto", weights=None, on_progress=None, on_warning=None, small_stem=False
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f'Unsupported head "{head}". Choose one of: {", ".join(HEADS)}')
        self.backbone, features, self.weights_source = build_backbone(backbone, pretrained, weights, on_progress, on_warning, small_stem)
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
