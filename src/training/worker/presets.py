"""Preprocessing, in one place, identical in geometry to serving (src/data/image.ts):
auto-oriented RGB, crop to the bbox, long side resized to `size` (bilinear), pasted centred on a
white square (letterbox_pixels: uint8, what the pixel cache keeps), then normalised with the model's
mean and std (normalise: on the training device, inside the step)."""
import math

import numpy as np
import torch
from PIL import Image, ImageOps


def letterbox_geometry(crop_width, crop_height, size):
    """Same arithmetic as letterboxGeometry() in TypeScript; floor(x + 0.5) is JavaScript's Math.round."""
    scale = size / max(crop_width, crop_height)
    width = min(size, max(1, math.floor(crop_width * scale + 0.5)))
    height = min(size, max(1, math.floor(crop_height * scale + 0.5)))
    return width, height, (size - width) // 2, (size - height) // 2


def load_rgb(path, pad_value=255):
    """Opens an image as RGB with EXIF orientation applied and transparency composited onto the pad colour.
    `path` may also be a file object (the cache hashes and decodes the same bytes)."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (pad_value, pad_value, pad_value, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")


def letterbox(image, bbox, size, pad_value=255):
    xmin, ymin, xmax, ymax = bbox
    width, height = image.size
    if not (0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height):
        raise ValueError(f"bbox must lie inside the image, got {tuple(bbox)} for {width}x{height}")
    crop = image.crop((xmin, ymin, xmax, ymax))
    new_width, new_height, left, top = letterbox_geometry(xmax - xmin, ymax - ymin, size)
    canvas = Image.new("RGB", (size, size), (pad_value, pad_value, pad_value))
    canvas.paste(crop.resize((new_width, new_height), Image.BILINEAR), (left, top))
    return canvas


def letterbox_pixels(source, bbox, size, pad_value=255):
    """Image file (path or file object) + bbox -> the model's view of the item as uint8 (size, size, 3)."""
    return np.asarray(letterbox(load_rgb(source, pad_value), bbox, size, pad_value), dtype=np.uint8)


def normalise(pixels, mean, std):
    """uint8 images (N, H, W, 3) -> float (N, 3, H, W), (pixel / 255 - mean) / std, on pixels' device.
    The result is a channels_last tensor (the NHWC bytes are not moved): callers wanting NCHW call
    .contiguous()."""
    images = pixels.permute(0, 3, 1, 2).float().div_(255)
    return images.sub_(mean.view(1, 3, 1, 1)).div_(std.view(1, 3, 1, 1))


class Preprocess:
    """Image path + bbox -> normalised CHW float tensor (one item, no cache: parity checks and tools)."""

    def __init__(self, size, pad_value, mean, std):
        self.size = size
        self.pad_value = pad_value
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)

    def __call__(self, path, bbox):
        pixels = torch.from_numpy(letterbox_pixels(path, bbox, self.size, self.pad_value).copy())
        return normalise(pixels[None], self.mean, self.std)[0].contiguous()
