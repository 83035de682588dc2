"""Training-throughput benchmark: the real worker (train.py: pixel cache, CutMix, uint8 batches,
normalisation on the device) against a bare PyTorch loop over the same model, batch, precision and
optimizer on tensors already in memory. worker / bare is what the data pipeline costs (target >= 0.9).

    python3 bench/train_throughput.py [--backbone resnet18] [--size 224] [--batch 16] [--steps 30]
        [--device auto] [--workers N] [--cutmix offline] [--data crops,photos] [--items 600] [--compile]
        [--csv DIR/train.csv --images DIR/images]

Without --csv it generates its own JPEGs with PIL (Node is not needed, the CUDA machine has none):
"crops" are 100-150 px garment-sized images, "photos" are 1280x960 camera-sized ones with the item's
bbox inside. The pixel cache is built before the first training step, so its rate is reported apart
(images/s); the worker's rate is taken between progress events after warm-up. --compile adds
torch.compile'd runs of both loops (torch 2.x). On CUDA use --backbone resnet50 --size 224 --batch 128
for the seed-sized check; `npm run bench:train` runs it here on CPU.
"""
import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import torch

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "training", "worker")
sys.path.insert(0, WORKER)
from models import FashionNet  # noqa: E402
from optim import build_optimizer, build_scheduler  # noqa: E402
from scoring import soft_cross_entropy  # noqa: E402

CLASS_COUNTS = [7, 6, 3]
TASKS = [{"name": n, "classes": [str(i) for i in range(k)]} for n, k in zip(["Daily", "Gender", "Embellishment"], CLASS_COUNTS)]
SHAPES = {"crops": ((100, 150), (100, 150)), "photos": ((1280, 1280), (960, 960))}


def draw_image(job):
    """One JPEG of a smooth random colour field with noise (so it compresses like a photo, not like a
    flat colour), from its own seed: any process makes the same file."""
    import numpy as np
    from PIL import Image

    path, width, height, seed = job
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(field, dtype=np.int16) + rng.integers(-24, 25, (height, width, 3), dtype=np.int16)
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(path, quality=90)


def generate_items(kind, count, folder, validation):
    """`count` images of a kind, each with a bbox covering a random part of it (the whole image for
    crops). Sizes, boxes and labels come from a generator per image, so a second run finds the same
    files and boxes; missing files are drawn on every core."""
    import multiprocessing

    (wmin, wmax), (hmin, hmax) = SHAPES[kind]
    os.makedirs(folder, exist_ok=True)
    items, jobs = [], []
    for i in range(count):
        rng = random.Random(f"{kind}:{i}")
        width, height = rng.randint(wmin, wmax), rng.randint(hmin, hmax)
        path = os.path.join(folder, f"{kind}-{i}.jpg")
        if kind == "photos":
            x0, y0 = rng.randrange(width // 3), rng.randrange(height // 3)
            bbox = [x0, y0, x0 + rng.randint(width // 4, width // 2), y0 + rng.randint(height // 3, height // 2)]
        else:
            bbox = [0, 0, width, height]
        items.append(item(i, path, bbox, [rng.randrange(k) for k in CLASS_COUNTS], validation))
        if not os.path.exists(path):
            jobs.append((path, width, height, rng.randrange(2**32)))
    with multiprocessing.get_context("fork").Pool(len(os.sched_getaffinity(0))) as pool:
        pool.map(draw_image, jobs, chunksize=8)
    return items


def item(index, path, bbox, labels, validation):
    return {"id": index, "path": path, "bbox": bbox, "labels": labels, "split": "VALIDATION" if index < validation else "TRAIN"}


def read_items(csv_path, image_root, validation):
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        item(
            i,
            os.path.join(image_root, row["image_name"]),
            [int(row[k]) for k in ("BBox_xmin", "BBox_ymin", "BBox_xmax", "BBox_ymax")],
            [int(row[t["name"]]) for t in TASKS],
            validation,
        )
        for i, row in enumerate(rows)
    ]


def hyper(args, steps, compiled):
    return {
        "epochs": 1,
        "batchSize": args.batch,
        "learningRate": 1e-3,
        "weightDecay": 1e-4,
        "warmupFraction": 0.05,
        "hiddenSize": 512,
        "dropout": 0.2,
        "cutmix": args.cutmix,
        "cutmixAlpha": 1.0,
        "cutmixProbability": 0.5,
        "cutmixCopies": 4,
        "classWeightedLoss": False,
        "balancedSampling": False,
        "logitAdjustment": False,
        "seed": 1,
        "device": args.device,
        "mixedPrecision": args.amp,
        "dataLoaderWorkers": args.workers,
        "bnCalibrationImages": 0,
        "threads": 0,
        "maxStepsPerEpoch": steps,
        "pretrained": "none",
        "timeLimitSeconds": 3600,
        "compile": compiled,
    }


def run_worker(args, items, run_dir, cache_dir, compiled=False):
    items_file = os.path.join(run_dir, "items.jsonl")
    with open(items_file, "w") as handle:
        handle.writelines(json.dumps(i) + "\n" for i in items)
    config = {
        "runDir": run_dir,
        "itemsFile": items_file,
        "cacheDir": cache_dir,
        "tasks": TASKS,
        "backbone": args.backbone,
        "head": args.head,
        "preprocess": {"size": args.size, "padValue": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "hyper": hyper(args, args.warmup + args.steps, compiled),
        "resume": False,
        "checkItems": 8,
    }
    process = subprocess.Popen([sys.executable, "-u", os.path.join(WORKER, "train.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=WORKER)
    process.stdin.write(json.dumps(config))
    process.stdin.close()
    progress, events = [], {}
    for line in process.stdout:
        event = json.loads(line)
        events[event["event"]] = event
        if event["event"] == "progress":
            progress.append((time.perf_counter(), event["step"]))
        elif event["event"] == "error":
            raise SystemExit(f"worker failed: {event['message']}")
    process.wait()
    # Throughput between the first progress event after warmup and the last one of the epoch.
    after = [(t, s) for t, s in progress if s > args.warmup]
    (t0, s0), (t1, s1) = after[0], after[-1]
    return (s1 - s0) * args.batch / (t1 - t0), events


def run_bare(args, device, amp_dtype, channels_last, compiled=False):
    torch.manual_seed(1)
    torch.set_num_threads(len(os.sched_getaffinity(0)))  # as the worker does
    model = FashionNet(args.backbone, args.head, CLASS_COUNTS, 512, 0.2, "none").to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model
    total = args.warmup + args.steps
    optimizer = build_optimizer(model, 1e-3, 1e-4)
    scheduler = build_scheduler(optimizer, total, 0.05)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = [torch.nn.functional.one_hot(torch.randint(k, (args.batch,)), k).float().to(device) for k in CLASS_COUNTS]
    scaler = torch.cuda.amp.GradScaler() if amp_dtype == torch.float16 else None
    started = None
    for step in range(total):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = torch.stack([soft_cross_entropy(l, t) for l, t in zip(forward(images), targets)]).mean()
        optimizer.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        loss.item()  # the worker reads the loss every step too
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", help="a Fashion-How CSV to use instead of generated images")
    parser.add_argument("--images", help="its image root (with --csv)")
    parser.add_argument("--data", default="crops,photos", help="generated kinds to run: crops, photos")
    parser.add_argument("--items", type=int, default=600, help="generated images per kind")
    parser.add_argument("--out", default=None, help="folder for generated images and the cache (default: a temporary one)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--head", default="feedforward")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the worker's own choice)")
    parser.add_argument("--cutmix", default="offline", choices=["off", "online", "offline"])
    parser.add_argument("--compile", action="store_true", help="also run both loops under torch.compile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        if args.csv:
            datasets = {"csv": read_items(args.csv, args.images or os.path.join(os.path.dirname(args.csv), "images"), validation=16)}
        else:
            datasets = {}
            for kind in args.data.split(","):
                started = time.perf_counter()
                datasets[kind] = generate_items(kind, args.items, os.path.join(out, "images"), validation=16)
                print(f"generated {args.items} {kind} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        variants = [False, True] if args.compile else [False]
        rows, bare, header = [], {}, None
        for kind, items in datasets.items():
            for compiled in variants:
                with tempfile.TemporaryDirectory() as run_dir:
                    rate, events = run_worker(args, items, run_dir, os.path.join(out, "cache"), compiled)
                started, cache = events["started"], events["cache"]
                if compiled not in bare:
                    device = torch.device("cuda" if started["device"].startswith("cuda") else "cpu")
                    amp = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(started["mixedPrecision"])
                    bare[compiled] = run_bare(args, device, amp, started["channelsLast"], compiled)
                header = header or started
                build = f"{cache['imagesPerSecond']:.0f}" if cache["imagesPerSecond"] else f"reused ({cache['reused']})"
                rows.append((kind, "compiled" if compiled else "eager", rate, bare[compiled], build, cache["bytes"] / 2**20))

    print(
        f"device: {header['device']}, torch {torch.__version__}, {os.cpu_count()} CPUs; {args.backbone}+{args.head} at {args.size} px, batch {args.batch}, "
        f"mixed precision {header['mixedPrecision']}, channels_last {header['channelsLast']}, {header['dataLoaderWorkers']} DataLoader workers, cutmix {args.cutmix}"
    )
    print("| images | mode | bare loop images/s | worker images/s | worker / bare | cache build images/s | cache MiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, mode, rate, bare_rate, build, mib in rows:
        print(f"| {kind} | {mode} | {bare_rate:.1f} | {rate:.1f} | **{rate / bare_rate:.2f}** | {build} | {mib:.1f} |")
    print("target: worker / bare >= 0.90")


if __name__ == "__main__":
    main()
