"""The recipe's run-level choices: keeping the best epoch by the validation metric (with early stopping),
horizontal flips as augmentation, how many epochs a time budget allows on this host, and a sweep's rungs."""

import copy
import json
import math
import os
import sys
import time

import torch

from optim import build_optimizer

SELECTION_METRICS = ("MEAN_TOP1", "MEAN_ACSA")


def selection_score(validation, metric):
    """The validation figure epochs are ranked by: the mean over tasks of top-1 or of ACSA."""
    key = "top1" if metric == "MEAN_TOP1" else "acsa"
    return sum(v[key] for v in validation) / max(1, len(validation))


class BestEpoch:
    """The best epoch so far by the selection metric, with a copy of its weights and predictions; ties
    keep the earlier epoch (fewer steps for the same figure)."""

    def __init__(self, metric, patience):
        self.metric = metric
        self.patience = patience
        self.epoch = None
        self.score = -math.inf
        self.state = None
        self.probabilities = None
        self.since_best = 0

    def update(self, epoch, validation, model, probabilities):
        score = selection_score(validation, self.metric)
        if score > self.score:
            self.epoch, self.score, self.since_best = epoch, score, 0
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.probabilities = [p.clone() for p in probabilities]
            return True
        self.since_best += 1
        return False

    def should_stop(self):
        """Early stopping: `patience` epochs in a row without a better score (0 never stops)."""
        return self.patience > 0 and self.since_best >= self.patience

    def restore(self, model):
        model.load_state_dict(copy.deepcopy(self.state))


def flip_batch(images, generator):
    """Mirrors a random half of the batch left to right (NCHW or channels-last NCHW alike)."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    if not flip.any():
        return images
    flipped = images.clone()
    index = flip.nonzero().flatten().to(images.device)
    flipped[index] = images[index].flip(3)
    return flipped


def budget_epochs(budget_seconds, elapsed_seconds, seconds_per_step, steps_per_epoch, side_images, images_per_second, max_epochs):
    """Epochs that fit in what is left of the budget, and the figures the choice came from. An epoch is its
    training steps plus the side passes (BatchNorm calibration and validation, forward only: about a third
    of a training step per image); the export keeps a reserve of 3 % of the budget, at least 5 s. An epoch
    of which at least 85 % fits is taken: the estimate errs long (the probe's steps include warm-up), and
    the deadline still ends the run in time if it does not."""
    reserve = max(5.0, 0.03 * budget_seconds)
    side_seconds = side_images / max(3 * images_per_second, 1e-9)
    epoch_seconds = steps_per_epoch * seconds_per_step + side_seconds
    available = budget_seconds - elapsed_seconds - reserve
    fits = available / epoch_seconds
    epochs = int(max(1, min(max_epochs, math.floor(fits + 0.15))))
    return epochs, {
        "seconds": budget_seconds,
        "elapsedBeforeTraining": round(elapsed_seconds, 2),
        "secondsPerStep": round(seconds_per_step, 4),
        "epochSeconds": round(epoch_seconds, 2),
        "sideSeconds": round(side_seconds, 2),
        "reserveSeconds": round(reserve, 1),
        "epochs": epochs,
        "reason": f"{available:.0f} s left after setup and a {reserve:.0f} s export reserve, at {epoch_seconds:.1f} s an epoch on this host: "
        f"{epochs} epoch(s)" + (f" (capped at {max_epochs})" if math.floor(fits + 0.15) > max_epochs else ""),
    }


def replan_epochs(budget, epochs_done, elapsed_seconds, epoch_seconds, max_epochs):
    """After an epoch: the epochs that fit by what the epochs so far really took (`epoch_seconds`, their
    median: the probe's estimate, or one epoch, can be off when another process shares the CPUs), never
    fewer than already ran. Returns the epochs and the record of the re-plan."""
    left = budget["seconds"] - budget["reserveSeconds"] - elapsed_seconds
    more = max(0, math.floor(left / max(epoch_seconds, 1e-9) + 0.15))
    epochs = int(min(max_epochs, max(epochs_done, epochs_done + more)))
    return epochs, {
        "afterEpoch": epochs_done,
        "measuredEpochSeconds": round(epoch_seconds, 2),
        "epochs": epochs,
        "reason": f"after epoch {epochs_done}: an epoch takes {epoch_seconds:.1f} s (median so far; estimated {budget['epochSeconds']:.1f} s); "
        f"{left:.0f} s left: {epochs} epoch(s) in all, the learning-rate schedule stretched to match",
    }


def measure_training_speed(trainer, steps=6):
    """Seconds per training step and images per second on this host: a few steps on a copy of the
    model (the run's own weights and optimizer are untouched). The first step pays for allocations and
    kernel selection; the median of the rest is the steady state."""
    model = copy.deepcopy(trainer.model)
    optimizer = build_optimizer(model, trainer.hyper["learningRate"], trainer.hyper["weightDecay"])
    model.train()
    times, images = [], 0
    for step, (pixels, targets) in enumerate(trainer.train_loader):
        if step >= min(steps, trainer.steps_per_epoch):
            break
        begun = time.perf_counter()
        batch = trainer.to_device(pixels)
        with trainer.autocast():
            loss = trainer.loss(model(batch), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - begun)
        images += batch.shape[0]
    steady = sorted(times[1:] or times)
    per_step = steady[len(steady) // 2]
    return per_step, (images / len(times)) / per_step


def await_rung(run_dir, epoch, timeout_seconds, check_parent):
    """A sweep's rung (ASHA): the platform compares this trial with the others that reached the epoch
    and writes its verdict into the run folder; True to go on. Without a verdict in time the trial goes
    on (a sweep never stalls on a slow database)."""
    verdict_path = os.path.join(run_dir, f"rung-{epoch}.json")
    waited = time.perf_counter()
    while not os.path.exists(verdict_path):
        check_parent()
        if time.perf_counter() - waited > timeout_seconds:
            print(f"no verdict for the rung at epoch {epoch} within {timeout_seconds} s: going on", file=sys.stderr)
            return True
        time.sleep(0.05)
    with open(verdict_path) as handle:
        return bool(json.load(handle)["promoted"])
