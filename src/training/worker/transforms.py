"""Label handling and CutMix. Targets are soft (one probability vector per task) so that mixed images
carry mixed labels; labels are mixed by the area actually pasted, after the box is clipped to the
image (the seed's slide computed y2 from r_y instead of r_h; this does not)."""
import math

import torch


def one_hot(labels, class_counts):
    """labels: list of class indices, one per task -> list of float one-hot vectors."""
    return [torch.nn.functional.one_hot(torch.tensor(k), n).float() for k, n in zip(labels, class_counts)]


def cutmix_box(width, height, lam, cx, cy):
    """The box CutMix pastes for mixing ratio `lam` centred at (cx, cy), clipped to the image.
    Returns (x1, y1, x2, y2) with exclusive maxima."""
    cut_ratio = math.sqrt(1.0 - lam)
    cut_w = int(width * cut_ratio)
    cut_h = int(height * cut_ratio)
    x1 = min(max(cx - cut_w // 2, 0), width)
    x2 = min(max(cx + cut_w // 2, 0), width)
    y1 = min(max(cy - cut_h // 2, 0), height)
    y2 = min(max(cy + cut_h // 2, 0), height)
    return x1, y1, x2, y2


def pasted_fraction(box, width, height):
    x1, y1, x2, y2 = box
    return (x2 - x1) * (y2 - y1) / float(width * height)


def mix_targets(targets_a, targets_b, kept):
    """Per task: kept * a + (1 - kept) * b, where `kept` is the share of image a left visible."""
    return [kept * a + (1.0 - kept) * b for a, b in zip(targets_a, targets_b)]


def paste(image_a, image_b, box):
    """A copy of image_a (C, H, W or N, C, H, W) with `box` taken from image_b."""
    x1, y1, x2, y2 = box
    mixed = image_a.clone()
    mixed[..., y1:y2, x1:x2] = image_b[..., y1:y2, x1:x2]
    return mixed


def cutmix_pair(image_a, targets_a, image_b, targets_b, lam, cx, cy):
    height, width = image_a.shape[-2:]
    box = cutmix_box(width, height, lam, cx, cy)
    kept = 1.0 - pasted_fraction(box, width, height)
    return paste(image_a, image_b, box), mix_targets(targets_a, targets_b, kept)


class BatchMix:
    """What on-line CutMix and MixUp share: with probability `p` a batch is mixed with a shuffled copy of
    itself, by a weight lam ~ Beta(alpha, alpha); `mix` says how."""

    def __init__(self, alpha, p, generator=None):
        self.beta = torch.distributions.Beta(alpha, alpha)
        self.p = p
        self.generator = generator

    def __call__(self, images, targets):
        if torch.rand(1, generator=self.generator).item() >= self.p:
            return images, targets
        lam = float(self.beta.sample())
        order = torch.randperm(images.shape[0], generator=self.generator)
        return self.mix(images, targets, lam, order)

    def mix(self, images, targets, lam, order):
        raise NotImplementedError


class BatchCutMix(BatchMix):
    """On-line CutMix: a box of each batch image's partner pasted in, labels mixed by the pasted area."""

    def __init__(self, alpha=1.0, p=0.5, generator=None):
        super().__init__(alpha, p, generator)

    def mix(self, images, targets, lam, order):
        height, width = images.shape[-2:]
        cx = int(torch.randint(width, (1,), generator=self.generator))
        cy = int(torch.randint(height, (1,), generator=self.generator))
        shuffled = [t[order] for t in targets]
        return cutmix_pair(images, targets, images[order], shuffled, lam, cx, cy)


class BatchMixUp(BatchMix):
    """On-line MixUp (Zhang et al., 2018): a batch becomes lam x itself plus (1 - lam) x its shuffled copy,
    its soft targets blended alike."""

    def __init__(self, alpha=0.2, p=0.5, generator=None):
        super().__init__(alpha, p, generator)

    def mix(self, images, targets, lam, order):
        mixed = lam * images + (1.0 - lam) * images[order.to(images.device)]
        return mixed, mix_targets(targets, [t[order] for t in targets], lam)


def shift_batch(images, max_shift, fill, generator):
    """Moves each image of a normalised batch (N, C, H, W) by its own whole-pixel offset, drawn from
    [-max_shift, max_shift] on each axis; what moves in is `fill` (C,), the letterbox colour."""
    if max_shift < 1:
        return images
    n, c, h, w = images.shape
    m = max_shift
    offsets = torch.randint(-m, m + 1, (n, 2), generator=generator).tolist()
    padded = fill.view(1, c, 1, 1).to(images.dtype).expand(n, c, h + 2 * m, w + 2 * m).clone()
    padded[:, :, m : m + h, m : m + w] = images
    shifted = torch.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        # out[y, x] = in[y - dy, x - dx]: the image moves down by dy and right by dx.
        shifted[i] = padded[i, :, m - dy : m - dy + h, m - dx : m - dx + w]
    return shifted


def erase_batch(images, probability, generator, scale=(0.02, 0.33), ratio=(0.3, 3.3)):
    """Random erasing (Zhong et al., 2017, as torchvision's RandomErasing with its defaults): in each image
    with `probability`, a rectangle of `scale` of the area and aspect in `ratio` (log-uniform) is set to
    0, the mean colour of normalised pixels; up to 10 draws find a rectangle that fits."""
    n, _, h, w = images.shape
    chosen = (torch.rand(n, generator=generator) < probability).nonzero().flatten().tolist()
    if not chosen:
        return images
    erased = images.clone()
    for i in chosen:
        for _ in range(10):
            draw = torch.rand(4, generator=generator).tolist()
            area = h * w * (scale[0] + (scale[1] - scale[0]) * draw[0])
            aspect = math.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * draw[1])
            eh, ew = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < eh < h and 0 < ew < w:
                y, x = int(draw[2] * (h - eh + 1)), int(draw[3] * (w - ew + 1))
                erased[i, :, y : y + eh, x : x + ew] = 0
                break
    return erased
