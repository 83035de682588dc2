"""The training worker: one run of one (backbone, head) combination.

Reads its config as JSON on stdin and the items from the file the runner wrote, trains, exports, and
reports through JSON lines on stdout (see events.py): started, progress, epoch, artifact, done | error.
Laid out like torchvision's references/classification: train_one_epoch, evaluate, main.
"""
import json
import math
import os
import sys
import time
import traceback

# DataLoader processes share the CPUs with torch's compute threads; spinning OpenMP threads then wait
# on a preempted sibling. Passive waiting measured 0.74 -> 0.96 of a bare loop's speed on 2 CPUs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# A time budget counts from the worker's start: decoding the images into the cache is part of the run.
STARTED = time.perf_counter()

import torch  # noqa: E402

from batches import CachedBatches, build_loaders  # noqa: E402
from config import ConfigError, check_config, choose_device, data_loader_workers, read_items, seed_everything  # noqa: E402
from cache import CacheError, PixelCache  # noqa: E402
from checkpoint import load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from events import Events  # noqa: E402
from export import write_artifact  # noqa: E402
from models import FashionNet  # noqa: E402
from weights import WeightsError, WeightsStore  # noqa: E402
from optim import build_optimizer, build_scheduler  # noqa: E402
from presets import normalise  # noqa: E402
from budget import SHAPE_KEYS, choose_shape, plan_epochs, replan  # noqa: E402
from epoch import train_one_epoch  # noqa: E402
from recipe import BestEpoch, await_rung, selection_score  # noqa: E402
from ema import WeightAverage  # noqa: E402
from scoring import calibrate_batchnorm, class_frequencies, evaluate, read_teacher, soft_cross_entropy  # noqa: E402
from transforms import BatchCutMix, BatchMixUp  # noqa: E402


class Trainer:
    def __init__(self, config, hyper, events):
        self.config = config
        self.events = events
        self.hyper = hyper
        self.run_dir = config["runDir"]
        self.class_counts = [len(t["classes"]) for t in config["tasks"]]
        self.parent = os.getppid()
        self.device, self.amp_dtype, self.channels_last = choose_device(hyper)

        items = read_items(config["itemsFile"])
        self.train_items = [i for i in items if i["split"] == "TRAIN"]
        self.val_items = [i for i in items if i["split"] == "VALIDATION"]
        if not self.train_items:
            raise ConfigError("the dataset has no TRAIN items")
        p = config["preprocess"]
        self.mean = torch.tensor(p["mean"], dtype=torch.float32, device=self.device)
        self.std = torch.tensor(p["std"], dtype=torch.float32, device=self.device)
        self.checkpoint_path = os.path.join(self.run_dir, "checkpoint.pt")
        # A resumed run continues its first attempt's plan, the side and batch it chose included.
        self.saved = read_checkpoint(self.checkpoint_path, self.device) if config.get("resume") else None
        self.budget = self.saved.get("budget") if self.saved else None

        # Distillation: the teacher's probabilities per item (computed once by the platform), softened
        # by the temperature, travel with the labels through CutMix.
        teacher = config.get("teacher")
        self.distill = (teacher["temperature"], teacher["alpha"]) if teacher else None
        teacher_rows = read_teacher(teacher, self.class_counts) if teacher else None

        # Reported with the "started" event, right after the model is built.
        self.warnings = []
        self.model = FashionNet(
            config["backbone"],
            config["head"],
            self.class_counts,
            hyper.hiddenSize,
            hyper.dropout,
            hyper.pretrained,
            weights=WeightsStore(config.get("weights")),
            on_progress=lambda file, done, total: events.emit("downloading", file=file, done=done, total=total),
            on_warning=self.warnings.append,
            small_stem=hyper.smallInputStem,
        )
        self.parameter_count = sum(p.numel() for p in self.model.parameters())
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.train_model = self.model
        if hyper.compile:
            if not hasattr(torch, "compile"):
                raise ConfigError(f"compile needs torch 2.0 or later; this worker has torch {torch.__version__}")
            # Only the training forward is compiled: checkpoints, BatchNorm calibration, evaluation
            # and the ONNX export use the eager module, which shares the parameters.
            self.train_model = torch.compile(self.model)

        frequencies = class_frequencies(self.train_items, self.class_counts)
        total = len(self.train_items)
        self.class_weights = [
            (total / (n * f.clamp_min(1))).to(self.device) if hyper.classWeightedLoss else None for n, f in zip(self.class_counts, frequencies)
        ]
        self.log_priors = [(f.clamp_min(1) / total).log().to(self.device) if hyper.logitAdjustment else None for f in frequencies]

        if hyper.timeBudgetSeconds:
            self.choose_shape()
        p = config["preprocess"]
        # Every image is decoded, cropped and letterboxed once per spec, ever; training reads uint8 rows.
        self.cache = PixelCache(config.get("cacheDir") or os.path.join(self.run_dir, "cache"), p["size"], p["padValue"])
        rows, self.cache_summary = self.cache.prepare(
            self.train_items + self.val_items,
            processes=len(os.sched_getaffinity(0)),
            on_progress=lambda done, total: events.emit("preparing", done=done, total=total),
            on_wait=lambda: events.emit("preparing", done=0, total=None, waiting=True),
        )
        events.emit("cache", **self.cache_summary)
        # The rows this run uses, not the file's current length: another run may be appending rows it
        # has not committed (and a later recovery may cut them), so the file's size is no promise.
        shape = (int(rows.max()) + 1, p["size"], p["size"], 3)
        train_rows, val_rows = rows[: len(self.train_items)], rows[len(self.train_items) :]

        def batches(chosen, chosen_rows, copies=0):
            labels = [i["labels"] for i in chosen]
            extra = [t[[teacher_rows["index"][i["id"]] for i in chosen]] for t in teacher_rows["targets"]] if teacher_rows else ()
            return CachedBatches(self.cache.pixels_path, shape, chosen_rows, labels, self.class_counts, copies, hyper.cutmixAlpha, hyper.seed, extra)

        self.workers = data_loader_workers(hyper.dataLoaderWorkers, self.device)
        self.train_loader, self.val_loader, self.calibration_loader, generator = build_loaders(
            hyper, batches, (self.train_items, train_rows), (self.val_items, val_rows), frequencies, self.workers, self.device.type == "cuda"
        )

        limit = hyper.maxStepsPerEpoch or math.inf
        self.steps_per_epoch = int(min(len(self.train_loader), limit))
        self.total_steps = self.steps_per_epoch * hyper.epochs
        self.optimizer = build_optimizer(self.model, hyper.learningRate, hyper.weightDecay, hyper.backboneLrMultiplier)
        self.freeze_steps = hyper.freezeBackboneSteps
        self.backbone_frozen = False
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, hyper.warmupFraction, hyper.lrSchedule)
        self.scaler = torch.cuda.amp.GradScaler() if self.amp_dtype == torch.float16 else None
        self.cutmix = BatchCutMix(hyper.cutmixAlpha, hyper.cutmixProbability, generator) if hyper.cutmix == "online" else None
        mixup = hyper.mixupProbability
        self.mixup = BatchMixUp(hyper.mixupAlpha, mixup, torch.Generator().manual_seed(hyper.seed + 3)) if mixup > 0 else None
        self.start_epoch = 0
        self.epochs = hyper.epochs
        self.flip_generator = torch.Generator().manual_seed(hyper.seed + 2) if hyper.horizontalFlip else None
        self.augment_generator = torch.Generator().manual_seed(hyper.seed + 4)
        # Shifts fill with the letterbox colour, normalised like the pixels.
        self.fill = (p["padValue"] / 255.0 - self.mean) / self.std
        # Made after the model moved to its device and memory format, so the average lives there too.
        self.ema = WeightAverage(self.model, hyper.emaDecay) if hyper.emaDecay > 0 else None
        self.best = BestEpoch(hyper.selectionMetric, hyper.earlyStoppingPatience)
        self.deadline = None
        self.stopped = None
        # A sweep's trial waits for a verdict after these epochs (ASHA rungs).
        self.rung_epochs = set(config.get("rungEpochs") or [])

    def autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(device_type="cpu", enabled=False)
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def to_device(self, pixels):
        """uint8 (B, S, S, 3) -> normalised float (B, 3, S, S) on the device, converted there. NHWC bytes
        already are channels_last; on CPU the model wants plain NCHW."""
        images = normalise(pixels.to(self.device, non_blocking=True), self.mean, self.std)
        return images if self.channels_last else images.contiguous()

    def loss(self, logits, targets):
        """Mean over tasks of the cross-entropy with the labels; when distilling, mixed with the
        temperature-softened cross-entropy against the teacher (Hinton et al., 2015: scaled by T^2)."""
        tasks = len(self.class_counts)
        losses = [
            soft_cross_entropy(l, t.to(self.device, non_blocking=True), w, p, self.hyper.labelSmoothing)
            for l, t, w, p in zip(logits, targets[:tasks], self.class_weights, self.log_priors)
        ]
        loss = torch.stack(losses).mean()
        if not self.distill:
            return loss
        temperature, alpha = self.distill
        taught = [soft_cross_entropy(l / temperature, t.to(self.device, non_blocking=True)) * temperature**2 for l, t in zip(logits, targets[tasks:])]
        return (1 - alpha) * loss + alpha * torch.stack(taught).mean()

    def resume(self):
        load_checkpoint(self)

    def save_checkpoint(self, epoch):
        save_checkpoint(self, epoch)

    def set_epochs(self, epochs):
        """Trains for `epochs` epochs, with the learning-rate schedule stretched over them."""
        self.epochs = epochs
        self.total_steps = self.steps_per_epoch * epochs
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, self.hyper.warmupFraction, self.hyper.lrSchedule)

    def choose_shape(self):
        """With a time budget, before any image is decoded: the side and the batch (budget.py), applied to
        the hyperparameters and the preprocessing, so model.json declares the side trained at. A resumed
        run keeps its first attempt's choice."""
        hyper = self.hyper
        self.shape = choose_shape(self, STARTED) if self.budget is None else {k: self.budget[k] for k in SHAPE_KEYS if k in self.budget}
        hyper.imageSize = self.config["preprocess"]["size"] = self.shape.get("imageSize", hyper.imageSize)
        hyper.batchSize = self.shape.get("batchSize", hyper.batchSize)
        hyper.learningRate = self.shape.get("learningRate", hyper.learningRate)

    def plan_budget(self):
        """With a time budget: as many epochs (at most hyper.epochs) as fit, from this host's speed at
        the chosen side and batch; the run stops at the budget in any case."""
        epochs, plan = plan_epochs(self, STARTED)
        self.budget = {**self.shape, **plan}
        self.set_epochs(epochs)

    def replan_budget(self, epochs_done, epoch_seconds):
        replan(self, STARTED, epochs_done, epoch_seconds)
        self.events.emit("progress", epoch=epochs_done, step=epochs_done * self.steps_per_epoch, totalSteps=self.total_steps, budget=self.budget)

    def set_backbone_trainable(self, trainable):
        for parameter in self.model.backbone.parameters():
            parameter.requires_grad_(trainable)
        self.backbone_frozen = not trainable

    def check_parent(self):
        # The runner died (server killed): stop instead of training for nobody.
        if os.getppid() != self.parent:
            sys.exit(3)

    def train_one_epoch(self, epoch):
        return train_one_epoch(self, epoch)

    def calibrate_batchnorm(self, model=None):
        limit = min(self.hyper.bnCalibrationImages, self.steps_per_epoch * self.hyper.batchSize)
        calibrate_batchnorm(model or self.model, self.calibration_loader, limit, self.autocast, self.to_device)

    def evaluate(self, model=None):
        flip = self.hyper.testTimeFlip
        return evaluate(model or self.model, self.val_loader, self.config["tasks"], self.class_counts, self.autocast, self.to_device, flip)

    def validate_epoch(self):
        """Calibrates and validates the trained weights and, with an average, the averaged ones: returns
        (which: "model" or "ema", its module, validation, probabilities) of the better by the selection
        metric (the trained weights on a tie)."""
        self.calibrate_batchnorm()
        candidates = [("model", self.model, *self.evaluate())]
        if self.ema is not None:
            self.calibrate_batchnorm(self.ema.model)
            candidates.append(("ema", self.ema.model, *self.evaluate(self.ema.model)))
        return max(candidates, key=lambda c: (selection_score(c[2], self.best.metric), c[0] == "model"))

    def check_inputs(self):
        count = min(self.config.get("checkItems", 8), len(self.val_items) or len(self.train_items))
        dataset = self.val_loader.dataset if self.val_items else self.calibration_loader.dataset
        pixels, _ = dataset[list(range(count))]
        return normalise(pixels, self.mean.cpu(), self.std.cpu()).contiguous()

    def run(self):
        if self.config.get("resume"):
            self.resume()
        if self.hyper.timeBudgetSeconds:
            if self.budget is None:
                self.plan_budget()
            # Training steps stop here, leaving the export reserve and the last calibration and validation.
            self.deadline = STARTED + self.budget["seconds"] - self.budget["reserveSeconds"] - self.budget.get("sideSeconds", 0)
        self.events.emit(
            "started",
            # The config as run: the typed hyperparameters with their defaults and the budget's choices.
            config={**self.config, "hyper": self.hyper.as_dict()},
            device=str(self.device) + (f" ({torch.cuda.get_device_name(self.device)})" if self.device.type == "cuda" else ""),
            torchVersion=torch.__version__,
            parameterCount=self.parameter_count,
            pretrained=self.model.weights_source is not None,
            weightsSource=self.model.weights_source,
            warnings=self.warnings,
            mixedPrecision=str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
            channelsLast=self.channels_last,
            compiled=self.train_model is not self.model,
            dataLoaderWorkers=self.workers,
            trainItems=len(self.train_items),
            trainExamples=len(self.train_loader.dataset),
            validationItems=len(self.val_items),
            stepsPerEpoch=self.steps_per_epoch,
            totalSteps=self.total_steps,
            resumedFromEpoch=self.start_epoch if self.start_epoch > 0 else None,
            budget=self.budget,
        )
        probabilities, weights, module = None, "model", self.model
        epoch_seconds = 0.0
        epoch = self.start_epoch
        epoch_times = []
        while epoch < self.epochs:
            started = time.perf_counter()
            train_loss = self.train_one_epoch(epoch)
            weights, module, validation, probabilities = self.validate_epoch()
            best = self.best.update(epoch + 1, validation, module, probabilities, weights)
            self.save_checkpoint(epoch)
            epoch_seconds = time.perf_counter() - started
            self.events.emit("epoch", epoch=epoch + 1, trainLoss=train_loss, validation=validation, seconds=epoch_seconds, best=best, weights=weights)
            epoch_times.append(epoch_seconds)
            if self.budget is not None:
                self.replan_budget(epoch + 1, epoch_times)
            if self.best.should_stop():
                self.stopped = "early"
            elif (
                epoch + 1 in self.rung_epochs
                and epoch + 1 < self.epochs
                and not await_rung(self.run_dir, epoch + 1, self.config.get("rungWaitSeconds", 300), self.check_parent)
            ):
                self.stopped = "pruned"
            elif self.deadline is not None and epoch + 1 < self.epochs and time.perf_counter() + 0.5 * epoch_seconds > self.deadline:
                # Not even half of another epoch fits. (A later epoch cut short at the deadline is still
                # evaluated, and the best epoch's weights are exported either way.)
                self.stopped = "budget"
            if self.stopped:
                break
            epoch += 1
        epoch = min(epoch, self.epochs - 1)
        if probabilities is None:
            weights, module, _, probabilities = self.validate_epoch()
        if not self.hyper.keepBestEpoch and module is not self.model:
            # The last epoch's better copy is the average: the artifact holds it.
            self.model.load_state_dict(module.state_dict())
        last_epoch = epoch + 1 if self.epochs > self.start_epoch else self.start_epoch
        if self.hyper.keepBestEpoch and self.best.state is not None:
            # The artifact is the best epoch's weights (by the validation metric), not the last one's.
            self.best.restore(self.model)
            probabilities = self.best.probabilities
        training = {
            "selectionMetric": self.best.metric,
            "bestEpoch": self.best.epoch if self.hyper.keepBestEpoch else last_epoch,
            "bestScore": self.best.score if self.best.state is not None else None,
            "epochsRun": last_epoch,
            "stopped": self.stopped,
            "weights": self.best.weights if self.hyper.keepBestEpoch and self.best.state is not None else weights,
        }
        with open(os.path.join(self.run_dir, "validation-predictions.json"), "w") as handle:
            json.dump({"itemIds": [i["id"] for i in self.val_items], "probabilities": [p.tolist() for p in probabilities]}, handle)
        self.model.to(memory_format=torch.contiguous_format)
        onnx_path, info = write_artifact(self.model, self.config, self.hyper, self.run_dir, self.check_inputs(), self.parameter_count, training)
        self.events.emit(
            "artifact",
            onnxPath=onnx_path,
            modelJsonPath=os.path.join(self.run_dir, "model.json"),
            predictionsPath=os.path.join(self.run_dir, "validation-predictions.json"),
            checkDir=os.path.join(self.run_dir, "check"),
            sizeBytes=info["sizeBytes"],
            sha256=info["sha256"],
            parameterCount=self.parameter_count,
            exportCheck=info["exportCheck"],
            training=training,
        )
        self.events.emit("done")


def main():
    events = Events()
    try:
        config = json.load(sys.stdin)
        hyper = check_config(config)
        os.makedirs(config["runDir"], exist_ok=True)
        seed_everything(hyper.seed)
        Trainer(config, hyper, events).run()
    except (ConfigError, CacheError, WeightsError, KeyError, json.JSONDecodeError) as error:
        # What the user can fix (a setting, an image, a download): the message alone, no traceback.
        message = f"missing config field {error}" if isinstance(error, KeyError) else str(error)
        events.error(message)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - every failure must reach the runner as an event
        traceback.print_exc(file=sys.stderr)
        events.error(f"{type(error).__name__}: {error}")
        sys.exit(1)


if __name__ == "__main__":
    main()
