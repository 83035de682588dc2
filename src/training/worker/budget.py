"""What a time budget chooses on this host: the input side (the largest whose epochs still fit the
budget `minEpochs` times), the batch (kept unless twice it trains measurably faster), how many epochs
fit, and the plan made again after every epoch from what the epochs really took."""

import copy
import dataclasses
import math
import time

import torch

from batches import train_steps
from optim import build_optimizer, stretch_schedule

# A larger batch is taken only when it trains this much faster per image: below that the gain is noise
# on shared CPUs, and the learning rate scaled with the batch (Goyal et al., 2017) is a change of recipe.
BATCH_GAIN = 1.15
# What choose_shape decides; a checkpoint's budget carries them to a resumed attempt.
SHAPE_KEYS = ("imageSize", "batchSize", "learningRate")


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


def candidate_sides(largest, ladder):
    """The sides a budget may choose from: the ladder's below the largest the request allows, and that one."""
    return sorted({s for s in (ladder or []) if s < largest} | {largest})


def choose_side(budget_seconds, elapsed_seconds, measure, sides, steps_per_epoch, side_images, min_epochs):
    """The largest side at which `min_epochs` epochs still fit the budget (the smallest when none does),
    and the figures per side. `measure(side)` -> (seconds per step, images per second); sides are
    measured from the smallest up, and measuring stops at the first that does not fit (larger ones are
    slower still). Epochs come first because they measured worth more than pixels: on the realistic
    benchmark, in the same 30 minutes, 49 epochs at 64 px (best epoch 31) reached mean top-1 / ACSA
    0.836 / 0.765 and 14 epochs at 160 px 0.719 / 0.580 (Embellishment still at its majority class)."""
    tried, chosen = [], sides[0]
    for side in sides:
        per_step, images_per_second = measure(side)
        epochs, plan = budget_epochs(budget_seconds, time_so_far(elapsed_seconds), per_step, steps_per_epoch, side_images, images_per_second, math.inf)
        tried.append({"size": side, "secondsPerStep": round(per_step, 4), "epochs": epochs})
        if epochs < min_epochs:
            break
        chosen = side
    fitting = [t for t in tried if t["epochs"] >= min_epochs]
    if len(sides) == 1:
        reason = f"{chosen} px: the only size asked for"
    elif fitting:
        reason = f"{chosen} px: the largest size at which {min_epochs} epoch(s) fit (" + ", ".join(f"{t['size']} px: {t['epochs']}" for t in tried) + ")"
    else:
        reason = f"{chosen} px: the smallest size; even there fewer than {min_epochs} epoch(s) fit ({tried[0]['epochs']})"
    return chosen, {"imageSize": chosen, "sizes": tried, "sizeReason": reason}


def time_so_far(elapsed):
    """`elapsed` is a number of seconds, or a function giving it now (the probe itself takes time)."""
    return elapsed() if callable(elapsed) else elapsed


def choose_batch(batch, measure, max_batch):
    """The batch: twice the request's when that trains at least BATCH_GAIN x the images per second (a GPU
    with room to spare), else the request's. `measure(batch)` -> images per second; returns the batch, the
    learning-rate factor (linear scaling) and the record."""
    if batch * 2 > max_batch:
        return batch, 1.0, {"batchSize": batch, "batchReason": f"batch {batch} kept: twice it leaves fewer than 8 steps an epoch"}
    base, doubled = measure(batch), measure(batch * 2)
    gain = doubled / max(base, 1e-9)
    if gain >= BATCH_GAIN:
        reason = f"batch {batch * 2}: {gain:.2f}x the images per second of {batch}; learning rate x2 (linear scaling)"
        return batch * 2, 2.0, {"batchSize": batch * 2, "batchReason": reason, "batchGain": round(gain, 3)}
    reason = f"batch {batch} kept: {batch * 2} trains {gain:.2f}x as fast per image (below {BATCH_GAIN}x)"
    return batch, 1.0, {"batchSize": batch, "batchReason": reason, "batchGain": round(gain, 3)}


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


def timed_steps(model, optimizer, batches, step, sync):
    """Seconds per step and images per second over `batches` (an iterable of (pixels, targets)); the
    first step pays for allocations and kernel selection, the median of the rest is the steady state."""
    model.train()
    times, images = [], 0
    for pixels, targets in batches:
        begun = time.perf_counter()
        images += step(model, optimizer, pixels, targets)
        sync()
        times.append(time.perf_counter() - begun)
    steady = sorted(times[1:] or times)
    per_step = steady[len(steady) // 2]
    return per_step, (images / len(times)) / per_step


def probe_copy(trainer):
    """A copy of the run's model with its own optimizer: probing leaves the run's weights untouched."""
    model = copy.deepcopy(trainer.model)
    return model, build_optimizer(model, trainer.hyper.learningRate, trainer.hyper.weightDecay)


def train_step(trainer):
    def step(model, optimizer, pixels, targets):
        batch = trainer.to_device(pixels)
        with trainer.autocast():
            loss = trainer.loss(model(batch), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return batch.shape[0]

    return step


def sync_of(trainer):
    return torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)


def measure_training_speed(trainer, steps=6):
    """Seconds per training step and images per second on this host, on the run's own batches."""
    model, optimizer = probe_copy(trainer)
    batches = (b for i, b in zip(range(min(steps, trainer.steps_per_epoch)), trainer.train_loader))
    return timed_steps(model, optimizer, batches, train_step(trainer), sync_of(trainer))


def random_batches(trainer, side, batch, steps):
    """Uniform noise pixels with random one-hot labels (and teacher targets when distilling): a step's
    cost does not depend on what the pixels show, so sides are measured before any image is decoded."""
    generator = torch.Generator().manual_seed(0)
    copies = 2 if trainer.distill else 1
    for _ in range(steps):
        pixels = torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8, generator=generator)
        labels = [torch.randint(0, k, (batch,), generator=generator) for k in trainer.class_counts]
        targets = [torch.nn.functional.one_hot(t, k).float() for t, k in zip(labels, trainer.class_counts)] * copies
        yield pixels, targets


def measure_side(trainer, side, batch, steps=4):
    """Seconds per step and images per second at `side` px and `batch`, on noise, on a copy of the model."""
    model, optimizer = probe_copy(trainer)
    return timed_steps(model, optimizer, random_batches(trainer, side, batch, steps), train_step(trainer), sync_of(trainer))


def side_images(trainer):
    """Images of an epoch's side passes: BatchNorm calibration and validation, twice with a weight
    average (its copy is calibrated and validated too)."""
    copies = 2 if trainer.hyper.emaDecay > 0 else 1
    return copies * (len(trainer.val_items) + min(trainer.hyper.bnCalibrationImages, len(trainer.train_items)))


def choose_shape(trainer, started):
    """The batch (probed on CUDA; on CPU images per second are flat in it: resnet18 at 64 px trained 1.08x
    as fast per image at batch 64 as at 32, 0.99x at 128 px), then the largest side at which
    budgetMinEpochs epochs fit at that batch. `started` is the worker's start (the budget counts from it)."""
    hyper = trainer.hyper
    sides = candidate_sides(hyper.imageSize, hyper.budgetImageSizes)
    batch, factor = hyper.batchSize, 1.0
    record = {"batchSize": batch, "batchReason": f"batch {batch} kept: on CPU a larger batch trains no faster per image"}
    if trainer.device.type == "cuda":
        batch, factor, record = choose_batch(batch, lambda b: measure_side(trainer, sides[0], b)[1], len(trainer.train_items) // 8)
    steps = int(min(train_steps(dataclasses.replace(hyper, batchSize=batch), len(trainer.train_items)), hyper.maxStepsPerEpoch or math.inf))
    min_epochs = min(hyper.budgetMinEpochs, hyper.epochs)
    _, sizes = choose_side(
        hyper.timeBudgetSeconds,
        lambda: time.perf_counter() - started,
        lambda side: measure_side(trainer, side, batch),
        sides,
        steps,
        side_images(trainer),
        min_epochs,
    )
    return {**sizes, **record, "learningRate": hyper.learningRate * factor}


def plan_epochs(trainer, started):
    """The epochs that fit at the chosen side and batch, measured on the run's own batches."""
    per_step, images_per_second = measure_training_speed(trainer)
    hyper = trainer.hyper
    elapsed = time.perf_counter() - started
    return budget_epochs(hyper.timeBudgetSeconds, elapsed, per_step, trainer.steps_per_epoch, side_images(trainer), images_per_second, hyper.epochs)


def replan(trainer, started, epochs_done, epoch_seconds):
    """The budget's plan again after an epoch, from the median time of this attempt's epochs; the
    schedule is stretched (or shrunk) to it."""
    median = sorted(epoch_seconds)[len(epoch_seconds) // 2]
    elapsed = time.perf_counter() - started
    epochs, trainer.budget["replanned"] = replan_epochs(trainer.budget, epochs_done, elapsed, median, trainer.hyper.epochs)
    if epochs != trainer.epochs:
        trainer.epochs, trainer.total_steps = epochs, trainer.steps_per_epoch * epochs
        stretch_schedule(trainer.scheduler, trainer.total_steps)
