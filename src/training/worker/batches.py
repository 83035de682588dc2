"""Training, calibration and validation batches read from the pixel cache (cache.py) as uint8.

A dataset here is indexed by a list of example indices (a BatchSampler is its sampler, the DataLoader's
batch_size is None): one vectorised read per batch instead of one Python call per image. Images stay
uint8 (B, S, S, 3) until the training step turns them into normalised floats on the device (4x fewer
bytes through worker queues, pinned memory and the host-to-device copy)."""
import random

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, WeightedRandomSampler

from transforms import cutmix_box, pasted_fraction


class CachedBatches(Dataset):
    """Items of the cache with soft targets per task. With `copies` > 0 it is the seed's offline CutMix:
    examples n .. n * (1 + copies) - 1 are mixed copies of item (index % n), each pasted with a box from
    another item chosen by a generator seeded per copy, so every epoch sees the same mixed set the
    seed wrote to disk (14,000 -> 70,000 with copies = 4), without writing it."""

    def __init__(self, cache_path, shape, rows, labels, class_counts, copies=0, alpha=1.0, seed=0, extra_targets=()):
        """extra_targets: more soft targets per item (N, C) mixed like the labels and returned after them
        (a teacher's probabilities, for distillation)."""
        self.cache_path = cache_path
        self.shape = tuple(shape)
        self.rows = np.asarray(rows, dtype=np.int64)
        labels = torch.as_tensor(labels, dtype=torch.long).view(len(self.rows), len(class_counts))
        self.targets = [torch.nn.functional.one_hot(labels[:, t], n).float() for t, n in enumerate(class_counts)] + list(extra_targets)
        self.copies = copies
        self.alpha = alpha
        self.seed = seed
        self._pixels = None

    @property
    def pixels(self):
        # Opened on first use in each process: a DataLoader worker maps the file itself rather than
        # receiving a pickled copy of it.
        if self._pixels is None:
            self._pixels = np.memmap(self.cache_path, dtype=np.uint8, mode="r", shape=self.shape)
        return self._pixels

    def __getstate__(self):
        return {**self.__dict__, "_pixels": None}

    def __len__(self):
        return len(self.rows) * (1 + self.copies)

    def __getitem__(self, indices):
        n = len(self.rows)
        sources = np.asarray(indices, dtype=np.int64) % n
        images = self.pixels[self.rows[sources]]  # fancy indexing copies: writable
        targets = [t[sources] for t in self.targets]
        for slot, index in enumerate(indices):
            if index >= n:
                self._mix_copy(images, targets, slot, index, int(sources[slot]))
        return torch.from_numpy(images), targets

    def _mix_copy(self, images, targets, slot, index, source):
        n = len(self.rows)
        rng = random.Random(f"{self.seed}:{index}")
        partner = rng.randrange(n - 1) if n > 1 else 0
        if n > 1 and partner >= source:
            partner += 1  # any item but the source itself
        lam = rng.betavariate(self.alpha, self.alpha)
        height, width = images.shape[1:3]
        box = cutmix_box(width, height, lam, rng.randrange(width), rng.randrange(height))
        x1, y1, x2, y2 = box
        images[slot, y1:y2, x1:x2] = self.pixels[self.rows[partner], y1:y2, x1:x2]
        kept = 1.0 - pasted_fraction(box, width, height)
        for task, t in enumerate(targets):
            t[slot] = kept * t[slot] + (1.0 - kept) * self.targets[task][partner]


def batch_sampler(dataset, batch_size, order="sequential", generator=None, weights=None, drop_last=False):
    """order: "sequential", "shuffled" or "weighted" (with replacement, by `weights` per example)."""
    if order == "weighted":
        sampler = WeightedRandomSampler(weights, num_samples=len(dataset), replacement=True, generator=generator)
    elif order == "shuffled":
        sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = SequentialSampler(dataset)
    return BatchSampler(sampler, batch_size, drop_last)


def train_steps(hyper, items):
    """Batches in a training epoch over `items` TRAIN items, as build_loaders' training loader has them
    (offline CutMix copies included, the remainder dropped once there is a full batch)."""
    examples = items * (1 + (hyper.cutmixCopies if hyper.cutmix == "offline" else 0))
    return examples // hyper.batchSize if examples > hyper.batchSize else 1


def build_loaders(hyper, batches, train, val, frequencies, workers, pin):
    """The run's three loaders over the cache: training (shuffled, or weighted by class frequency with
    balancedSampling; offline CutMix copies included), validation, and plain training images in a fixed
    order for BatchNorm calibration. `batches(items, rows, copies)` makes a CachedBatches. Also returns the
    training loader's generator, which online CutMix draws from too."""
    (train_items, train_rows), (val_items, val_rows) = train, val
    generator = torch.Generator().manual_seed(hyper.seed)
    copies = hyper.cutmixCopies if hyper.cutmix == "offline" else 0
    train_set = batches(train_items, train_rows, copies)
    order, weights = "shuffled", None
    if hyper.balancedSampling:
        # Each item weighs the mean over tasks of 1 / (its class's frequency): rare classes of
        # every task come up more often.
        item_weights = [sum(1.0 / frequencies[t][k].clamp_min(1).item() for t, k in enumerate(i["labels"])) / len(frequencies) for i in train_items]
        order, weights = "weighted", [item_weights[j % len(item_weights)] for j in range(len(train_set))]
    # A last batch of one image breaks BatchNorm in training mode (one value per channel): drop the
    # remainder whenever there is at least one full batch.
    train_loader = DataLoader(
        train_set,
        sampler=batch_sampler(train_set, hyper.batchSize, order, generator, weights, drop_last=len(train_set) > hyper.batchSize),
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=workers > 0 and hyper.epochs > 1,
        # The loader draws its base seed from this generator before the sampler shuffles, as the
        # per-image loader did: the same seed gives the same batches as before the cache (every
        # epoch without workers; the first one with persistent workers, which draw it once).
        generator=generator,
    )
    val_set = batches(val_items, val_rows)
    # Validation and BatchNorm calibration are short passes: a few workers, none kept between epochs.
    side_workers = min(workers, 4)
    val_loader = DataLoader(val_set, sampler=batch_sampler(val_set, hyper.batchSize), batch_size=None, num_workers=side_workers, pin_memory=pin)
    # Plain training images (no CutMix) in a fixed shuffled order, for recalibrating BatchNorm.
    calibration_set = batches(train_items, train_rows)
    calibration_generator = torch.Generator().manual_seed(hyper.seed + 1)
    calibration_loader = DataLoader(
        calibration_set,
        sampler=batch_sampler(calibration_set, hyper.batchSize, "shuffled", calibration_generator, drop_last=len(train_items) > hyper.batchSize),
        batch_size=None,
        num_workers=side_workers,
        pin_memory=pin,
        generator=calibration_generator,
    )
    return train_loader, val_loader, calibration_loader, generator
