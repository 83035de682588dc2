"""Fashion-How submission predictor, written by fashion-how's `submission` command.

Runs model.onnx on CPU over the organisers' test CSV (image_name, BBox_xmin, BBox_ymin, BBox_xmax,
BBox_ymax) and writes the season's table: one row per CSV row, in the CSV's order, each task's class
index in its column. The preprocessing is the platform's server's: EXIF orientation, crop to the bbox,
long side resized to the model's side with libvips' linear resize (vips_resample.py, a port of the
server's resampler that gives the same bytes), centred on a square of the pad colour, then
(pixel / 255 - mean) / std, as model.json says. On JPEG photos without an embedded colour profile the
pixels, and so the answers, are the server's; see README.md for the cases that may differ.

    python3 predict.py --csv test.csv --images IMAGE_DIR --out predictions.csv

ONNX Runtime runs the graph when it is installed; otherwise onnx_torch.py runs it with PyTorch.
"""

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vips_resample  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BBOX_COLUMNS = ("BBox_xmin", "BBox_ymin", "BBox_xmax", "BBox_ymax")


def letterbox_geometry(crop_width, crop_height, size):
    """The platform's arithmetic: long side = size, Math.round as floor(x + 0.5), centred."""
    scale = size / max(crop_width, crop_height)
    width = min(size, max(1, math.floor(crop_width * scale + 0.5)))
    height = min(size, max(1, math.floor(crop_height * scale + 0.5)))
    return width, height, (size - width) // 2, (size - height) // 2


def load_rgb(path, pad_value):
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (pad_value, pad_value, pad_value, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")


def letterbox(path, bbox, size, pad_value):
    """Image file + bbox -> the model's view of the item, uint8 (size, size, 3)."""
    image = load_rgb(path, pad_value)
    xmin, ymin, xmax, ymax = bbox
    width, height = image.size
    if not (0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height):
        raise ValueError(f"bbox must lie inside the image, got {tuple(bbox)} for {width}x{height} ({path})")
    crop = np.asarray(image, dtype=np.uint8)[ymin:ymax, xmin:xmax]
    new_width, new_height, left, top = letterbox_geometry(xmax - xmin, ymax - ymin, size)
    canvas = np.full((size, size, 3), pad_value, dtype=np.uint8)
    canvas[top : top + new_height, left : left + new_width] = vips_resample.resize(crop, new_width, new_height)
    return canvas


def normalise(pixels, mean, std):
    """uint8 (size, size, 3) -> float32 (3, size, size): (pixel / 255 - mean) / std."""
    scaled = pixels.astype(np.float64).transpose(2, 0, 1)
    mean = np.asarray(mean, dtype=np.float64).reshape(3, 1, 1)
    std = np.asarray(std, dtype=np.float64).reshape(3, 1, 1)
    return (scaled / (255.0 * std) - mean / std).astype(np.float32)


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class Model:
    def __init__(self, folder, backend="auto"):
        with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
            self.info = json.load(f)
        path = os.path.join(folder, "model.onnx")
        self.backend = backend
        if backend in ("auto", "onnxruntime"):
            try:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                self.backend = "onnxruntime"
            except ImportError:
                if backend == "onnxruntime":
                    raise
                self.backend = "torch"
        if self.backend == "torch":
            sys.path.insert(0, folder)
            from onnx_torch import TorchGraph

            self.session = TorchGraph(path)

    def run(self, batch):
        """float32 (n, 3, size, size) -> per task, probabilities (n, classes)."""
        names = [t["output"] for t in self.info["tasks"]]
        feed = {self.info["input"]["name"]: batch}
        outputs = self.session.run(names, feed)
        outputs = [np.asarray(o, dtype=np.float32) for o in outputs]
        if self.info.get("outputKind") == "logits":
            outputs = [softmax(o.astype(np.float64)).astype(np.float32) for o in outputs]
        return outputs

    def predict(self, tensor):
        """One normalised item -> per task, its probabilities (test-time flip as model.json declares)."""
        batch = tensor[None]
        if self.info.get("testTimeFlip"):
            batch = np.concatenate([batch, batch[:, :, :, ::-1]]).copy()
        outputs = self.run(batch)
        if self.info.get("testTimeFlip"):
            return [(o[0] + o[1]) / np.float32(2) for o in outputs]
        return [o[0] for o in outputs]


def read_rows(csv_path):
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("image_name",) + BBOX_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path} lacks column(s) {', '.join(missing)}")
        return [(row["image_name"], [int(float(row[c])) for c in BBOX_COLUMNS]) for row in reader]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", required=True, help="the test CSV")
    parser.add_argument("--images", required=True, help="folder image_name is under")
    parser.add_argument("--out", required=True, help="the submission table to write")
    parser.add_argument("--backend", choices=["auto", "onnxruntime", "torch"], default="auto")
    parser.add_argument(
        "--details",
        help="also write JSON lines: per item its probabilities and CPU time",
    )
    parser.add_argument(
        "--pixels",
        help="also write each item's letterboxed pixels as PNG into this folder",
    )
    args = parser.parse_args(argv)
    with open(os.path.join(HERE, "season.json"), encoding="utf-8") as f:
        season = json.load(f)
    model = Model(HERE, args.backend)
    spec = model.info["input"]
    rows = read_rows(args.csv)
    details = open(args.details, "w", encoding="utf-8") if args.details else None
    with open(args.out, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(season["columns"])
        for index, (name, bbox) in enumerate(rows):
            started = time.process_time()
            pixels = letterbox(os.path.join(args.images, name), bbox, spec["size"], spec["padValue"])
            probabilities = model.predict(normalise(pixels, spec["mean"], spec["std"]))
            cpu_ms = (time.process_time() - started) * 1000
            writer.writerow([name] + [int(np.argmax(p)) for p in probabilities])
            if args.pixels:
                Image.fromarray(pixels).save(os.path.join(args.pixels, f"{index}.png"))
            if details:
                record = {
                    "index": index,
                    "image_name": name,
                    "probabilities": [p.tolist() for p in probabilities],
                    "cpuMs": cpu_ms,
                    "backend": model.backend,
                }
                details.write(json.dumps(record) + "\n")
    if details:
        details.close()


if __name__ == "__main__":
    main()
