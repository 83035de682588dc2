"""AdamW and its learning-rate schedules: linear warmup over the first `warmup_fraction` of the steps,
then linear or cosine decay to 0; or one cycle (cosine up from lr/25 over 30 % of the steps, cosine down
to lr/250,000, as torch's OneCycleLR). Each schedule is a factor object whose total_steps a time budget
may re-plan (stretch_schedule)."""
import math

import torch


def warmup_steps(total_steps, warmup_fraction):
    return max(1, round(total_steps * warmup_fraction))


class WarmupLinearDecay:
    """The learning-rate factor for optimizer step s (0-based): (s + 1) / w during warmup, then
    (total - s) / (total - w), so the last step still learns and the factor reaches 0 after it. An object,
    not a closure, so that LambdaLR's state_dict keeps total_steps: a re-planned schedule survives a resume."""

    def __init__(self, total_steps, warmup_fraction):
        self.total_steps = total_steps
        self.warmup = warmup_steps(total_steps, warmup_fraction)

    def __call__(self, step):
        if step < self.warmup:
            return (step + 1) / self.warmup
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - self.warmup))


class WarmupCosineDecay(WarmupLinearDecay):
    """(s + 1) / w during warmup, then half a cosine from 1 down to 0 at step `total` (so the last step
    still learns, like the linear decay)."""

    def __call__(self, step):
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class OneCycle:
    """Cosine from 1/25 up to 1 over the first 30 % of the steps, then cosine down to 1/(25 x 10^4), as
    torch's OneCycleLR with its defaults (pct_start 0.3, div_factor 25, final_div_factor 10^4)."""

    RISE, START, END = 0.3, 1 / 25, 1 / (25 * 1e4)

    def __init__(self, total_steps, warmup_fraction=None):
        self.total_steps = total_steps

    def __call__(self, step):
        peak = max(1.0, self.RISE * self.total_steps - 1)
        if step <= peak:
            return self.START + (1 - self.START) * 0.5 * (1 - math.cos(math.pi * step / peak))
        progress = min(1.0, (step - peak) / max(1.0, self.total_steps - 1 - peak))
        return self.END + (1 - self.END) * 0.5 * (1 + math.cos(math.pi * progress))


SCHEDULES = {"linear": WarmupLinearDecay, "cosine": WarmupCosineDecay, "onecycle": OneCycle}


def warmup_linear_decay(total_steps, warmup_fraction):
    return WarmupLinearDecay(total_steps, warmup_fraction)


def stretch_schedule(scheduler, total_steps):
    """Re-plans a running schedule to end at `total_steps` (the warmup as it was): the decay from the
    current step on is the new plan's, and the learning rate of the next step is set from it."""
    for factor in scheduler.lr_lambdas:
        factor.total_steps = total_steps
    step = scheduler.last_epoch
    for group, base_lr, factor in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base_lr * factor(step)


def build_optimizer(model, lr, weight_decay, backbone_lr_multiplier=1.0):
    """AdamW; no weight decay on biases and normalisation parameters (the usual practice), and the
    backbone's parameters (names starting "backbone.") at lr x backbone_lr_multiplier, for fine-tuning
    pretrained weights more gently than the new heads."""
    groups = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            key = (name.startswith("backbone."), parameter.ndim > 1)
            groups.setdefault(key, []).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": params, "weight_decay": weight_decay if decays else 0.0, "lr": lr * (backbone_lr_multiplier if backbone else 1.0)}
            for (backbone, decays), params in sorted(groups.items(), key=lambda group: (group[0][0], not group[0][1]))
        ],
        lr=lr,
    )


def build_scheduler(optimizer, total_steps, warmup_fraction, kind="linear"):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, SCHEDULES[kind](total_steps, warmup_fraction))
