"""Training-throughput benchmark: the real worker (train.py, data pipeline included) against a bare
PyTorch loop over the same model, batch, precision and optimizer on tensors already in memory.
The ratio worker / bare is what the data pipeline costs (target: >= 0.9).

    python3 bench/train_throughput.py --csv DIR/train.csv --images DIR/images [--backbone resnet18]
        [--size 224] [--batch 16] [--steps 30] [--device auto] [--workers 2] [--cutmix offline]

Runs anywhere torch does, Node not needed (the CUDA machine has none): on CUDA use
--backbone resnet50 --size 224 --batch 128 for the seed-sized check (bf16/fp16 AMP and channels_last
are the worker's defaults there). `npm run bench:train` makes a synthetic dataset and runs this on CPU.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "training", "worker")
sys.path.insert(0, WORKER)
from models import FashionNet  # noqa: E402
from optim import build_optimizer, build_scheduler  # noqa: E402
from train import soft_cross_entropy  # noqa: E402

CLASS_COUNTS = [7, 6, 3]
TASKS = [{"name": n, "classes": [str(i) for i in range(k)]} for n, k in zip(["Daily", "Gender", "Embellishment"], CLASS_COUNTS)]


def read_items(csv_path, image_root, validation):
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {
            "id": i,
            "path": os.path.join(image_root, row["image_name"]),
            "bbox": [int(row[k]) for k in ("BBox_xmin", "BBox_ymin", "BBox_xmax", "BBox_ymax")],
            "labels": [int(row[t["name"]]) for t in TASKS],
            "split": "VALIDATION" if i < validation else "TRAIN",
        }
        for i, row in enumerate(rows)
    ]


def hyper(args, steps):
    return {
        "epochs": 1, "batchSize": args.batch, "learningRate": 1e-3, "weightDecay": 1e-4, "warmupFraction": 0.05,
        "hiddenSize": 512, "dropout": 0.2, "cutmix": args.cutmix, "cutmixAlpha": 1.0, "cutmixProbability": 0.5,
        "cutmixCopies": 4, "classWeightedLoss": False, "balancedSampling": False, "logitAdjustment": False, "seed": 1,
        "device": args.device, "mixedPrecision": args.amp, "dataLoaderWorkers": args.workers, "bnCalibrationImages": 1024, "threads": 0,
        "maxStepsPerEpoch": steps, "pretrained": "none", "timeLimitSeconds": 3600,
    }


def run_worker(args, items, run_dir):
    items_file = os.path.join(run_dir, "items.jsonl")
    with open(items_file, "w") as handle:
        handle.writelines(json.dumps(i) + "\n" for i in items)
    config = {
        "runDir": run_dir, "itemsFile": items_file, "tasks": TASKS, "backbone": args.backbone, "head": args.head,
        "preprocess": {"size": args.size, "padValue": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "hyper": hyper(args, args.warmup + args.steps), "resume": False, "checkItems": 8,
    }
    process = subprocess.Popen([sys.executable, "-u", os.path.join(WORKER, "train.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=WORKER)
    process.stdin.write(json.dumps(config))
    process.stdin.close()
    progress, started, artifact = [], None, None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress":
            progress.append((time.perf_counter(), event["step"]))
        elif event["event"] == "started":
            started = event
        elif event["event"] == "artifact":
            artifact = event
        elif event["event"] == "error":
            raise SystemExit(f"worker failed: {event['message']}")
    process.wait()
    # Throughput between the first progress event after warmup and the last one of the epoch.
    after = [(t, s) for t, s in progress if s > args.warmup]
    (t0, s0), (t1, s1) = after[0], after[-1]
    return (s1 - s0) * args.batch / (t1 - t0), started, artifact


def run_bare(args, device, amp_dtype, channels_last):
    torch.manual_seed(1)
    torch.set_num_threads(len(os.sched_getaffinity(0)))  # as the worker does
    model = FashionNet(args.backbone, args.head, CLASS_COUNTS, 512, 0.2, "none").to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
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
            loss = torch.stack([soft_cross_entropy(l, t) for l, t in zip(model(images), targets)]).mean()
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
    parser.add_argument("--csv", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--head", default="feedforward")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cutmix", default="offline", choices=["off", "online", "offline"])
    args = parser.parse_args()

    items = read_items(args.csv, args.images, validation=16)
    with tempfile.TemporaryDirectory() as run_dir:
        worker_rate, started, artifact = run_worker(args, items, run_dir)
    device = torch.device("cuda" if (args.device == "auto" and torch.cuda.is_available()) or args.device == "cuda" else "cpu")
    amp = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(started["mixedPrecision"])
    bare_rate = run_bare(args, device, amp, started["channelsLast"])

    print(f"device: {started['device']}, torch {torch.__version__}, {os.cpu_count()} CPUs; {args.backbone}+{args.head} at {args.size} px, batch {args.batch}, "
          f"mixed precision {started['mixedPrecision']}, channels_last {started['channelsLast']}, {args.workers} DataLoader workers, cutmix {args.cutmix}")
    print("| loop | images/s |")
    print("|---|---:|")
    print(f"| bare PyTorch loop, tensors in memory | {bare_rate:.1f} |")
    print(f"| fashion-how worker (decode + crop + pad + CutMix in DataLoader) | {worker_rate:.1f} |")
    print(f"worker / bare = {worker_rate / bare_rate:.2f} (target >= 0.90)")
    check = artifact["exportCheck"] if artifact else None
    print(f"export check: {check}")


if __name__ == "__main__":
    main()
