"""The run's config, checked before anything starts, and the choices it implies (seeds, items, DataLoader processes)."""

import json
import os
import random

import torch

from hyper import HyperError, read_hyper
from models import BACKBONES, HEADS


class ConfigError(ValueError):
    pass


def check_config(config):
    """The config's problems as a ConfigError; returns its hyperparameters as a Hyper."""
    try:
        hyper = read_hyper(config["hyper"])
    except HyperError as error:
        raise ConfigError(str(error)) from None
    if config["backbone"] not in BACKBONES:
        raise ConfigError(f'Unsupported backbone "{config["backbone"]}". Choose one of: {", ".join(BACKBONES)}')
    if config["head"] not in HEADS:
        raise ConfigError(f'Unsupported head "{config["head"]}". Choose one of: {", ".join(HEADS)}')
    if hyper.smallInputStem and BACKBONES[config["backbone"]].family != "resnet":
        resnets = ", ".join(name for name, b in BACKBONES.items() if b.family == "resnet")
        raise ConfigError(
            f'smallInputStem applies to the torchvision ResNets ({resnets}); "{config["backbone"]}" has a {BACKBONES[config["backbone"]].stem} stem of its own'
        )
    if not config["tasks"]:
        raise ConfigError("the label schema has no tasks")
    if hyper.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but torch sees no CUDA device")
    return hyper


def seed_everything(seed):
    random.seed(seed)
    torch.manual_seed(seed)


def read_items(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def data_loader_workers(asked, device):
    """DataLoader processes: as asked, else on CUDA most of the cores (the GPU must never wait for a
    batch), on CPU none: reading cached uint8 rows costs microseconds per image, and a worker process
    would only take a core from torch's compute threads (measured in bench/train_throughput.py)."""
    if asked is not None:
        return asked
    if device.type == "cuda":
        return max(2, min(16, len(os.sched_getaffinity(0)) - 2))
    return 0


def choose_device(hyper):
    """The device, the autocast dtype (None: full precision) and whether to train channels-last."""
    wants_cuda = hyper.device == "cuda" or (hyper.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if wants_cuda else "cpu")
    # Some torch builds (Debian's 1.13) default to one thread; use every CPU this process may run on.
    torch.set_num_threads(hyper.threads or len(os.sched_getaffinity(0)))
    precision = hyper.mixedPrecision
    if device.type != "cuda" or precision == "off":
        amp_dtype = None
    elif precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        amp_dtype = torch.float16
    else:
        amp_dtype = torch.bfloat16
    return device, amp_dtype, device.type == "cuda" and hyper.channelsLast
