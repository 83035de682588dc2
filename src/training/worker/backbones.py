"""Every backbone registered once, with the facts the rest of the platform reads: how to build it, where
its pooled feature comes out, its stem, the side it was made for, where its ImageNet weights come from
and its size. Training, export, the budget, `trainingCapabilities` and the docs read this table.

Two kinds of stem: "imagenet" networks divide the input by 4 before their first block (a 64 px crop
reaches resnet18's last stage as 2x2), "small" ones keep full resolution through a stride-1 3x3 stem
and no max-pool, for small crops and small data trained from scratch (the compact family; the
torchvision ResNets on request)."""

import dataclasses

import torch
from torch import nn
import torchvision


@dataclasses.dataclass(frozen=True)
class Backbone:
    name: str
    family: str
    # () -> the torchvision-style network, its classifier still in place
    constructor: object
    # dotted path of the classifier layer that becomes Identity, leaving the pooled feature
    classifier: str
    stem: str
    # the input side it was designed for (and its weights trained at)
    default_side: int
    # torchvision's weights enum (its DEFAULT file, hash and URL), or None: trained from scratch only
    weights_enum: str | None
    # parameters of the feature extractor, in millions (checked against the built network by a test)
    parameters_m: float


BACKBONES = {}


def register(name, family, constructor, classifier, stem, default_side, weights_enum, parameters_m):
    BACKBONES[name] = Backbone(name, family, constructor, classifier, stem, default_side, weights_enum, parameters_m)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the input (projected by a 1x1 conv where the shape changes), ReLU."""

    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = (
            nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
        )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CompactResNet(nn.Module):
    """A ResNet for small inputs: a stride-1 3x3 stem, no max-pool, four stages of `depth` basic blocks
    (each after the first halving the side), widths base x multiplier, global average pooling. At 32 px
    the last stage sees 4x4, where resnet18 at 64 px sees 2x2."""

    def __init__(self, widths=(16, 32, 64, 128), depth=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, inputs = [], widths[0]
        for index, width in enumerate(widths):
            for block in range(depth):
                layers.append(BasicBlock(inputs, width, 2 if index > 0 and block == 0 else 1))
                inputs = width
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        # Each residual branch starts as the identity (its last BN's scale 0): trains faster from scratch.
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def forward(self, image):
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(image))), 1))


def compact(widths, depth):
    return lambda: CompactResNet(widths, depth)


def small_input_stem(resnet):
    """A torchvision ResNet with the small-input stem: conv1 becomes a stride-1 3x3 convolution and the
    max-pool goes, so the input is no longer divided by 4 before the first block."""
    resnet.conv1 = nn.Conv2d(3, resnet.conv1.out_channels, 3, 1, 1, bias=False)
    nn.init.kaiming_normal_(resnet.conv1.weight, mode="fan_out", nonlinearity="relu")
    resnet.maxpool = nn.Identity()
    return resnet


models = torchvision.models
# The seed's families and the light ones for CPU.
register("resnet18", "resnet", models.resnet18, "fc", "imagenet", 224, "ResNet18_Weights", 11.18)
register("resnet34", "resnet", models.resnet34, "fc", "imagenet", 224, "ResNet34_Weights", 21.28)
register("resnet50", "resnet", models.resnet50, "fc", "imagenet", 224, "ResNet50_Weights", 23.51)
register("resnet101", "resnet", models.resnet101, "fc", "imagenet", 224, "ResNet101_Weights", 42.5)
register("resnet152", "resnet", models.resnet152, "fc", "imagenet", 224, "ResNet152_Weights", 58.14)
register("densenet121", "densenet", models.densenet121, "classifier", "imagenet", 224, "DenseNet121_Weights", 6.95)
register("densenet161", "densenet", models.densenet161, "classifier", "imagenet", 224, "DenseNet161_Weights", 26.47)
register("mobilenet_v3_small", "mobilenet", models.mobilenet_v3_small, "classifier", "imagenet", 224, "MobileNet_V3_Small_Weights", 0.93)
register("mobilenet_v3_large", "mobilenet", models.mobilenet_v3_large, "classifier", "imagenet", 224, "MobileNet_V3_Large_Weights", 2.97)
register("efficientnet_b0", "efficientnet", models.efficientnet_b0, "classifier", "imagenet", 224, "EfficientNet_B0_Weights", 4.01)
# Modern torchvision backbones, for users who have their ImageNet weights.
register("convnext_tiny", "convnext", models.convnext_tiny, "classifier.2", "imagenet", 224, "ConvNeXt_Tiny_Weights", 27.82)
register("efficientnet_v2_s", "efficientnet", models.efficientnet_v2_s, "classifier", "imagenet", 384, "EfficientNet_V2_S_Weights", 20.18)
register("regnet_y_800mf", "regnet", models.regnet_y_800mf, "fc", "imagenet", 224, "RegNet_Y_800MF_Weights", 5.65)
register("regnet_y_1_6gf", "regnet", models.regnet_y_1_6gf, "fc", "imagenet", 224, "RegNet_Y_1_6GF_Weights", 10.31)
register("swin_t", "swin", models.swin_t, "head", "imagenet", 224, "Swin_T_Weights", 27.52)
# The compact family: small inputs, small data, trained from scratch (~0.3 M to ~11 M parameters).
register("compact_xs", "compact", compact((16, 32, 64, 128), 1), "fc", "small", 32, None, 0.31)
register("compact_s", "compact", compact((16, 32, 64, 128), 2), "fc", "small", 32, None, 0.7)
register("compact_m", "compact", compact((32, 64, 128, 256), 2), "fc", "small", 48, None, 2.8)
register("compact_l", "compact", compact((64, 128, 256, 512), 2), "fc", "small", 64, None, 11.17)


def describe():
    """The registry as plain data (trainingCapabilities shows it)."""
    return [
        {
            "name": b.name,
            "family": b.family,
            "stem": b.stem,
            "defaultImageSize": b.default_side,
            "imagenetWeights": b.weights_enum is not None,
            "parametersMillions": b.parameters_m,
        }
        for b in BACKBONES.values()
    ]


def set_path(module, dotted, value):
    """Replaces the submodule at a dotted path ("classifier.2") with `value`."""
    *parents, last = dotted.split(".")
    for part in parents:
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    if last.isdigit():
        module[int(last)] = value
    else:
        setattr(module, last, value)
