#!/usr/bin/env bash
# The CUDA checks of the training pipeline, for a GPU machine without Node (see DESIGN.md / README
# "Training speed"): the worker against a bare loop for resnet50 at 224 px, batch 128, on garment
# crops and on camera-sized photos, eager first, then torch.compile'd. Each part writes its own file
# under $OUT (or ./gpu-check), so a part that fails or runs out of time leaves the others' figures.
set -u
out="${OUT:-gpu-check}"
mkdir -p "$out"
images="$(mktemp -d)"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'; nproc; } > "$out/machine.txt" 2>&1
common=(--backbone resnet50 --size 224 --batch 128 --warmup 10 --steps 120 --data crops,photos --items 3000 --out "$images")
python3 bench/train_throughput.py "${common[@]}" > "$out/eager.md" 2> "$out/eager.log"
echo "eager exit $?" >> "$out/eager.log"
python3 bench/train_throughput.py "${common[@]}" --compile > "$out/compiled.md" 2> "$out/compiled.log"
echo "compiled exit $?" >> "$out/compiled.log"
tail -n 20 "$out"/*.md
