"""Baseline (c) of bench/serve.ts: the same model served by a plain PyTorch eager loop on CPU.
    python serve_torch.py RUN_DIR ITEMS_JSON BATCH [--with-preprocessing-only]
Prints one JSON line: images/s with preprocessing (PIL, as the worker) and for the model alone (not
with --with-preprocessing-only)."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "training", "worker"))
from models import FashionNet, Probabilities  # noqa: E402
from presets import Preprocess  # noqa: E402

run_dir, items_file, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
model_only_too = "--with-preprocessing-only" not in sys.argv[4:]
info = json.load(open(os.path.join(run_dir, "model.json")))
items = json.load(open(items_file))
torch.set_num_threads(len(os.sched_getaffinity(0)))
net = FashionNet(info["backbone"], info["head"], [len(t["classes"]) for t in info["tasks"]], pretrained="none")
net.load_state_dict(torch.load(os.path.join(run_dir, "checkpoint.pt"), map_location="cpu")["model"])
model = Probabilities(net).eval()
p = info["input"]
preprocess = Preprocess(p["size"], p["padValue"], p["mean"], p["std"])

with torch.no_grad():
    model(torch.zeros(batch, 3, p["size"], p["size"]))  # warm-up
    started = time.perf_counter()
    tensors = []
    for start in range(0, len(items), batch):
        chunk = torch.stack([preprocess(i["path"], i["bbox"]) for i in items[start : start + batch]])
        tensors.append(chunk)
        model(chunk)
    with_preprocessing = len(items) / (time.perf_counter() - started)
    result = {"withPreprocessing": with_preprocessing}
    if model_only_too:
        started = time.perf_counter()
        for chunk in tensors:
            model(chunk)
        result["modelOnly"] = len(items) / (time.perf_counter() - started)
print(json.dumps(result))
