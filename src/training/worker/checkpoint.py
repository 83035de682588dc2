"""A run's epoch checkpoint: the weights, optimizer, schedule, random state, the budget's plan, the
weight average and the best epoch so far, written atomically after every epoch so that a run resumes where it stopped (on this
host or, through the artifact store, on another)."""

import os

import torch

from safe_load import safe_load


def read_checkpoint(path, device):
    """The checkpoint's contents, or None when the run has none yet."""
    if not os.path.exists(path):
        return None
    # The file is this run's own, written here or fetched from the store by its sha256; it is read
    # without running code all the same (a store is only as safe as whoever else can write to it).
    return safe_load(path, device)


def load_checkpoint(trainer):
    """Continues from `trainer.saved` (read_checkpoint's, before the model and data were set up: the
    budget's plan there chose the side and batch)."""
    state = trainer.saved
    if state is None:
        return
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.scaler and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.start_epoch = state["epoch"] + 1
    torch.set_rng_state(state["rng"])
    if state.get("budget"):
        # The plan of the first attempt stands: its schedule is the one the checkpoint continues.
        trainer.set_epochs(trainer.budget.get("replanned", trainer.budget)["epochs"])
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state.get("best"):
        trainer.best.epoch, trainer.best.score = state["best"]["epoch"], state["best"]["score"]
        trainer.best.state = state["best"]["state"]
        trainer.best.probabilities = state["best"]["probabilities"]
        trainer.best.weights = state["best"].get("weights", "model")
    if trainer.ema is not None and state.get("ema"):
        trainer.ema.load_state_dict(state["ema"])
    trainer.saved = None  # the weights are loaded: the copy need not stay in memory


def save_checkpoint(trainer, epoch):
    state = {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict() if trainer.scaler else None,
        "epoch": epoch,
        "rng": torch.get_rng_state(),
        "budget": trainer.budget,
        "best": {
            "epoch": trainer.best.epoch,
            "score": trainer.best.score,
            "state": trainer.best.state,
            "probabilities": trainer.best.probabilities,
            "weights": trainer.best.weights,
        }
        if trainer.best.state is not None
        else None,
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
    }
    tmp = trainer.checkpoint_path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, trainer.checkpoint_path)
