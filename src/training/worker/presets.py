"""Preprocessing, in one place, identical in geometry to serving (src/data/image.ts):
auto-oriented RGB, crop to the bbox, long side resized to `size` (bilinear), pasted centred on a
white square, normalised with the model's mean and std."""
import math

import torch
from PIL import Image, ImageOps


def letterbox_geometry(crop_width, crop_height, size):
    """Same arithmetic as letterboxGeometry() in TypeScript; floor(x + 0.5) is JavaScript's Math.round."""
    scale = size / max(crop_width, crop_height)
    width = min(size, max(1, math.floor(crop_width * scale + 0.5)))
    height = min(size, max(1, math.floor(crop_height * scale + 0.5)))
    return width, height, (size - width) // 2, (size - height) // 2


def load_rgb(path, pad_value=255):
    """Opens an image as RGB with EXIF orientation applied and transparency composited onto the pad colour."""
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


class Preprocess:
    """Image path + bbox -> normalised CHW float tensor."""

    def __init__(self, size, pad_value, mean, std):
        self.size = size
        self.pad_value = pad_value
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, path, bbox):
        square = letterbox(load_rgb(path, self.pad_value), bbox, self.size, self.pad_value)
        pixels = torch.frombuffer(bytearray(square.tobytes()), dtype=torch.uint8).view(self.size, self.size, 3)
        return (pixels.permute(2, 0, 1).float().div_(255) - self.mean) / self.std
