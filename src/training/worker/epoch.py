"""One pass over the training split: each batch augmented (flips, shifts, CutMix or MixUp, erasing),
one optimiser step and the weight average's update, progress reported about once a second, and a stop at
the budget's deadline."""

import time

from recipe import flip_batch
from transforms import erase_batch, shift_batch


def train_one_epoch(trainer, epoch):
    trainer.model.train()
    total_loss, seen = 0.0, 0
    window_start, window_images, last_report = time.perf_counter(), 0, 0.0
    for step, (images, targets) in enumerate(trainer.train_loader):
        if step >= trainer.steps_per_epoch:
            break
        # Frozen-backbone warm-up: the new heads learn first, on features the backbone keeps.
        frozen = epoch * trainer.steps_per_epoch + step < trainer.freeze_steps
        if frozen != trainer.backbone_frozen:
            trainer.set_backbone_trainable(not frozen)
        images = trainer.to_device(images)
        if trainer.flip_generator is not None:
            images = flip_batch(images, trainer.flip_generator)
        if trainer.hyper.randomShift > 0:
            images = shift_batch(images, round(trainer.hyper.randomShift * images.shape[-1]), trainer.fill, trainer.augment_generator)
        mixed = images
        if trainer.cutmix:
            mixed, targets = trainer.cutmix(images, targets)
        # A batch is cut-mixed or blended, never both: MixUp takes only the batches CutMix left alone.
        if trainer.mixup and mixed is images:
            mixed, targets = trainer.mixup(images, targets)
        images = mixed
        if trainer.hyper.randomErasing > 0:
            images = erase_batch(images, trainer.hyper.randomErasing, trainer.augment_generator)
        with trainer.autocast():
            loss = trainer.loss(trainer.train_model(images), targets)
        trainer.optimizer.zero_grad(set_to_none=True)
        if trainer.scaler:
            trainer.scaler.scale(loss).backward()
            trainer.scaler.step(trainer.optimizer)
            trainer.scaler.update()
        else:
            loss.backward()
            trainer.optimizer.step()
        if trainer.ema is not None:
            trainer.ema.update(trainer.model)
        lr = trainer.optimizer.param_groups[0]["lr"]
        trainer.scheduler.step()
        batch = images.shape[0]
        loss_value = loss.item()
        total_loss += loss_value * batch
        seen += batch
        window_images += batch
        now = time.perf_counter()
        if now - last_report >= 1.0 or step == trainer.steps_per_epoch - 1:
            trainer.check_parent()
            trainer.events.emit(
                "progress",
                epoch=epoch + 1,
                step=epoch * trainer.steps_per_epoch + step + 1,
                totalSteps=trainer.total_steps,
                loss=loss_value,
                imagesPerSecond=window_images / max(now - window_start, 1e-9),
                lr=lr,
            )
            window_start, window_images, last_report = now, 0, now
        if trainer.deadline is not None and now > trainer.deadline:
            trainer.stopped = "budget"  # out of time mid-epoch: evaluate what there is and export it
            break
    return total_loss / max(seen, 1)
