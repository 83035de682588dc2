"""A practitioner's first script, the baseline bench:defaults holds the platform to. Deliberately independent
of the worker (its own crops, network, loop and weight average): PIL crops letterboxed to a small side, a
compact ResNet (stride-1 3x3 stem, no max-pool, 4 stages of 2 basic blocks, widths 16-32-64-128), AdamW
with a one-cycle schedule sized to the budget after one timed epoch, label smoothing 0.1, an exponential
moving average of the weights (the average is validated and kept), flips and +-4 px shifts, the best
epoch by validation mean top-1, flip averaging at test time.

  python3 bench/plain_baseline.py ITEMS.jsonl OUT.json --budget 300 [--side 32]
ITEMS.jsonl: one {"id", "path", "bbox": [x0, y0, x1, y1], "labels": [...], "split"} per line; OUT.json gets
the TEST items' predicted probabilities per task."""

import argparse
import copy
import json
import math
import time

import torch
from torch import nn
import torch.nn.functional as F
from PIL import Image, ImageOps

parser = argparse.ArgumentParser()
parser.add_argument("items")
parser.add_argument("out")
parser.add_argument("--budget", type=float, default=300)
parser.add_argument("--side", type=int, default=32)
parser.add_argument("--classes", default="7,6,3")
args = parser.parse_args()
started = time.time()
torch.manual_seed(0)
torch.set_num_threads(2)
classes = [int(c) for c in args.classes.split(",")]


def crop(path, box, side):
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB").crop(tuple(box))
    scale = side / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8).view(side, side, 3).permute(2, 0, 1)


items = [json.loads(line) for line in open(args.items)]
data = {}
for split in ("TRAIN", "VALIDATION", "TEST"):
    chosen = [i for i in items if i["split"] == split]
    x = torch.stack([crop(i["path"], i["bbox"], args.side) for i in chosen]).float() / 255
    data[split] = (x, torch.tensor([i["labels"] for i in chosen]), [i["id"] for i in chosen])
mean, std = data["TRAIN"][0].mean((0, 2, 3), keepdim=True), data["TRAIN"][0].std((0, 2, 3), keepdim=True)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a, self.b = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.na, self.nb = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)
        self.skip = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.nb(self.b(F.relu(self.na(self.a(x))))) + self.skip(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        widths, layers, cin = (16, 32, 64, 128), [], 16
        for i, w in enumerate(widths):
            layers += [Block(cin, w, 2 if i else 1), Block(w, w, 1)]
            cin = w
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = nn.ModuleList(nn.Linear(128, n) for n in classes)

    def forward(self, x):
        f = self.body(x)
        return [h(f) for h in self.heads]


def augment(x):
    x = torch.where(torch.rand(x.shape[0], 1, 1, 1) < 0.5, x.flip(3), x)
    padded = F.pad(x, (4, 4, 4, 4), value=1.0)
    dx, dy = torch.randint(0, 9, (2,)).tolist()
    return padded[:, :, dy : dy + args.side, dx : dx + args.side]


@torch.no_grad()
def predict(model, x):
    model.eval()
    out = []
    for i in range(0, len(x), 256):
        b = (x[i : i + 256] - mean) / std
        out.append([(F.softmax(a, 1) + F.softmax(c, 1)) / 2 for a, c in zip(model(b), model(b.flip(3)))])
    return [torch.cat([o[t] for o in out]) for t in range(len(classes))]


def mean_top1(probs, y):
    return sum((p.argmax(1) == y[:, t]).float().mean().item() for t, p in enumerate(probs)) / len(probs)


model = Net()
ema = copy.deepcopy(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
x, y, _ = data["TRAIN"]
batch, steps_per_epoch = 64, math.ceil(len(x) / 64)
scheduler, best, epoch, epochs, step = None, (-1.0, None), 0, 1, 0
while epoch < epochs:
    epoch_started = time.time()
    model.train()
    for index in torch.randperm(len(x)).split(batch):
        logits = model((augment(x[index]) - mean) / std)
        loss = sum(F.cross_entropy(l, y[index, t], label_smoothing=0.1) for t, l in enumerate(logits)) / len(classes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler:
            scheduler.step()
        step += 1
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                e.copy_(e * d + m * (1 - d)) if e.dtype.is_floating_point else e.copy_(m)
    epoch += 1
    score = mean_top1(predict(ema, data["VALIDATION"][0]), data["VALIDATION"][1])
    if score > best[0]:
        best = (score, copy.deepcopy(ema.state_dict()))
    if scheduler is None:
        # One timed epoch sizes the one-cycle schedule to what is left of the budget.
        epochs = max(2, int((args.budget - (time.time() - started)) / (time.time() - epoch_started)))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=(epochs - 1) * steps_per_epoch + 1)
    print(json.dumps({"epoch": epoch, "of": epochs, "validationMeanTop1": round(score, 4), "seconds": round(time.time() - started)}), flush=True)
ema.load_state_dict(best[1])
probabilities = predict(ema, data["TEST"][0])
with open(args.out, "w") as handle:
    json.dump({"itemIds": data["TEST"][2], "probabilities": [p.tolist() for p in probabilities], "seconds": time.time() - started, "epochs": epochs}, handle)
