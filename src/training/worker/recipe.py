"""The recipe's run-level choices: keeping the best epoch by the validation metric (with early stopping),
horizontal flips as augmentation, and a sweep's rungs. (What a time budget chooses is budget.py's.)"""

import copy
import json
import math
import os
import sys
import time

import torch

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
        # Which copy the best weights are: "model" (as trained) or "ema" (the weight average).
        self.weights = "model"

    def update(self, epoch, validation, model, probabilities, weights="model"):
        score = selection_score(validation, self.metric)
        if score > self.score:
            self.epoch, self.score, self.since_best, self.weights = epoch, score, 0, weights
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
