"""Greedy layer-wise pretraining for stacked autoencoders.

Each encoder layer is trained with its mirror-image decoder layer as a shallow
autoencoder of the layer below's (frozen) output; the first pair reconstructs
the data itself. Fine-tuning of the whole network follows in the trainer.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Iterator

import torch
from torch.nn import functional as F

from . import objectives as obj
from .models.common import Encoded
from .reports import EPOCH, PAUSED, PROGRESS, Report
from .step import all_finite, make_optimizer, param_groups

if TYPE_CHECKING:
    from .trainer import Trainer


def _stage_loss(trainer: "Trainer", k: int, enc, dec, x: torch.Tensor) -> torch.Tensor:
    model = trainer.model
    with torch.no_grad():
        below = x.reshape(x.shape[0], -1)
        for block in model.encoder_blocks[:k]:
            below = block(below)
    # Only the data itself is corrupted: hidden activations have no natural range to clamp to.
    inp = trainer.corrupt(x).reshape(x.shape[0], -1) if k == 0 else below
    h = enc(inp)
    if isinstance(h, Encoded):
        h = h.code
    out = dec(h)
    if k == 0:
        return obj.reconstruction_loss(out.reshape(x.shape).float(), x, trainer.spec.likelihood)
    return F.mse_loss(out.float(), below, reduction="none").sum(dim=1).mean()


def pretrain_stages(trainer: "Trainer") -> Iterator[Report]:
    """Train each (encoder layer, decoder layer) pair in turn, yielding reports like the trainer's.

    A report whose ``stop_reason`` is set ends the whole run: the loss diverged,
    and the weights from the last good report are back in place.
    """
    model, spec = trainer.model, trainer.spec
    stages = model.stages()
    epochs = spec.objective.stacked.epochs_per_layer
    good_state = trainer._copy_state()
    done_steps = 0  # steps over all stages, for the divergence message
    for k, (enc, dec) in enumerate(stages):
        phase = f"pretrain {k + 1}/{len(stages)}"
        params = list({id(p): p for p in list(enc.parameters()) + list(dec.parameters())}.values())
        # The run's own optimiser, decay and clipping settings, as fine-tuning uses them.
        optimizer = make_optimizer(spec, param_groups(spec, params), trainer.live["lr"])
        clip = spec.train.regularization.grad_clip
        for epoch in range(epochs):
            order = torch.randperm(trainer.n_train, generator=trainer.generator, device=trainer.generator.device)
            order = order.to(trainer.device)
            acc = torch.zeros((), device=trainer.device)
            start = last = time.perf_counter()
            steps = 0

            def report(kind: str, b: int, now: float, value: float, message: str, stop_reason=None) -> Report:
                return Report(
                    kind=kind, stage=k + 1, stages=len(stages), step=b, epoch=epoch + (kind == EPOCH),
                    epoch_progress=epoch + b / trainer.steps_per_epoch, epochs_total=epochs,
                    steps_per_epoch=trainer.steps_per_epoch,
                    samples_per_s=steps * trainer.batch_size / max(now - start, 1e-9),
                    elapsed_s=now - trainer._t0, losses={"total": value, "recon": value} if steps else {},
                    lr=trainer.live["lr"], message=message, stop_reason=stop_reason,
                    live_changes=trainer.take_pending_changes(),
                )

            for b in range(trainer.steps_per_epoch):
                if trainer.control.stopped:
                    return
                if trainer.control.paused:
                    now = time.perf_counter()
                    value = float(acc) / steps if steps else math.nan
                    yield report(PAUSED, b, now, value, f"paused while pretraining layer {k + 1} of {len(stages)}")
                    if not trainer.control.wait_while_paused():
                        return
                trainer._apply_live_changes()  # a new learning rate applies at the next step here too
                if optimizer.param_groups[0]["lr"] != trainer.live["lr"]:
                    for group in optimizer.param_groups:
                        group["lr"] = trainer.live["lr"]
                idx = order[b * trainer.batch_size:(b + 1) * trainer.batch_size]
                loss = _stage_loss(trainer, k, enc, dec, trainer.to_float(trainer.train_x[idx]))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                acc += loss.detach()
                steps += 1
                done_steps += 1
                now = time.perf_counter()
                last_step = b == trainer.steps_per_epoch - 1
                if now - last >= spec.train.report_interval_s or last_step:
                    value = float(acc) / steps  # one host sync per report, as in the trainer
                    if not (math.isfinite(value) and all_finite(params)):
                        model.load_state_dict(good_state)
                        message = (trainer._nan_message(done_steps) + f" (pretraining layer {k + 1}); "
                                   "the last good weights were restored")
                        yield report(PROGRESS, b + 1, now, value, message, stop_reason="non_finite")
                        return
                    good_state = trainer._good_state = trainer._copy_state()  # fine-tuning starts from here
                    out = report(EPOCH if last_step else PROGRESS, b + 1, now, value,
                                 f"greedy pretraining of layer {k + 1} of {len(stages)}")
                    trainer._fill_snapshot(out)
                    if last_step:
                        trainer.history.append({"phase": phase, "epoch": epoch + 1, "train_total": value,
                                                "time_s": round(now - trainer._t0, 3)})
                    yield out
                    acc.zero_()
                    steps, start, last = 0, time.perf_counter(), time.perf_counter()
