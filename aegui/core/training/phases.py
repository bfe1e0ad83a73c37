"""What one step trains, for each phase of a run.

A run is a list of phases driven by one loop (``Trainer.run``): each greedy
pretraining stage of a stacked model, then fine-tuning of the whole network.
They share the loop's pause, stop, live-value, NaN and report code; a phase only
says how one batch is trained, which loss terms it reports, and which optimiser
its learning rate lives in.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from .. import objectives as obj
from ..models.common import Encoded
from ..spec_rules import active_threshold
from ..step import make_optimizer, param_groups
from .accumulators import Accumulators

if TYPE_CHECKING:
    from .loop import Trainer


def backward_and_step(trainer: "Trainer", loss: torch.Tensor, optimizer, params, acc: Accumulators) -> None:
    """zero_grad, backward (scaled under fp16), clipping or the once-per-report gradient norm, step."""
    scaler = trainer.scaler
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    clip = trainer.spec.train.regularization.grad_clip
    if clip > 0 or acc.want_grad_norm:
        if clip > 0:
            acc.grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
        else:  # the norm alone: clipping at infinity would still rescale every gradient by 1
            grads = [p.grad for p in params if p.grad is not None]
            acc.grad_norm = torch.nn.utils.get_total_norm(grads) if grads else None
        acc.want_grad_norm = False
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


class FineTuning:
    """The whole network on the spec's full objective; validated, scheduled and early-stopped."""

    stage = stages = 0
    validates = True

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer
        self.epochs = trainer.spec.train.epochs
        self.optimizer = trainer.optimizer
        self.acc = Accumulators(trainer.terms, trainer.model.code_dim, trainer.device, code_stats=True,
                                active_threshold=active_threshold(trainer.spec))

    def step(self, x: torch.Tensor) -> None:
        self.trainer.train_step(x)  # looked up each time: tests wrap a trainer's train_step

    def count_step(self) -> None:
        self.trainer.pos.step += 1

    def steps_done(self) -> int:
        return self.trainer.pos.step

    def report_step(self, epoch_end: bool) -> int:
        return self.trainer.pos.step

    def message(self, paused: bool) -> str:
        return ""

    def label(self) -> str:
        return "train"

    def nan_message(self, step: int) -> str:
        return self.trainer.nan_message(step) + "; the last good weights were restored"


class PretrainStage:
    """Greedy layer-wise pretraining: encoder layer k and its mirror decoder layer as a shallow
    autoencoder of the layer below's (frozen) output; the first pair reconstructs the data."""

    validates = False

    def __init__(self, trainer: "Trainer", k: int, enc, dec, stages: int):
        self.trainer = trainer
        self.index, self.enc, self.dec = k, enc, dec
        self.stage, self.stages = k + 1, stages
        self.epochs = trainer.spec.objective.stacked.epochs_per_layer
        self.params = list({id(p): p for p in list(enc.parameters()) + list(dec.parameters())}.values())
        # The run's own optimiser, decay and clipping settings, as fine-tuning uses them.
        spec = trainer.spec
        self.optimizer = make_optimizer(spec, param_groups(spec, self.params), trainer.live["lr"])
        self.acc = Accumulators(("total", "recon"), 0, trainer.device, code_stats=False)

    def loss(self, x: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        """The stage's loss on the rows ``x``; ``x_in`` is their corrupted copy, the first stage's input."""
        trainer, k = self.trainer, self.index
        with torch.no_grad():
            below = x.reshape(x.shape[0], -1)
            for block in trainer.model.encoder_blocks[:k]:
                below = block(below)
        inp = x_in.reshape(x.shape[0], -1) if k == 0 else below
        h = self.enc(inp)
        if isinstance(h, Encoded):
            h = h.code
        out = self.dec(h)
        if k == 0:
            return obj.reconstruction_loss(out.reshape(x.shape).float(), x, trainer.spec.likelihood)
        return F.mse_loss(out.float(), below, reduction="none").sum(dim=1).mean()

    def step(self, x: torch.Tensor) -> None:
        """One step on the global batch ``x`` (a distributed run's process trains on its rows of it)."""
        trainer = self.trainer
        # Only the data itself is corrupted: hidden activations have no natural range to clamp to. The
        # noise is drawn for the whole batch, so the run's stream advances as one process's would.
        x_in = trainer.corrupt(x) if self.index == 0 else x
        x, x_in = trainer.dist.shard(x), trainer.dist.shard(x_in)
        # In a distributed run, a DDP of this stage's two layers: only they are trained here.
        loss_of = trainer.lockstep.wrapped(("pretrain", self.index), self.loss, self.enc, self.dec)
        with trainer.autocast():
            loss = loss_of(x, x_in)
        backward_and_step(trainer, loss, self.optimizer, self.params, self.acc)
        trainer.dist.check_all_used(loss_of)
        loss = loss.detach()
        self.acc.add({"total": loss, "recon": loss})

    def count_step(self) -> None:
        self.trainer.pos.pretrain_steps += 1

    def steps_done(self) -> int:
        return self.trainer.pos.pretrain_steps

    def report_step(self, epoch_end: bool) -> int:
        # Within the stage's epoch: the dashboard draws pretraining by epochs, left of fine-tuning's epoch 0.
        return self.trainer.steps_per_epoch if epoch_end else self.trainer.pos.batch_index

    def message(self, paused: bool) -> str:
        if paused:
            return f"paused while pretraining layer {self.stage} of {self.stages}"
        return f"greedy pretraining of layer {self.stage} of {self.stages}"

    def label(self) -> str:
        return f"pretrain {self.stage}/{self.stages}"

    def nan_message(self, step: int) -> str:
        return (self.trainer.nan_message(step) + f" (pretraining layer {self.stage}); "
                "the last good weights were restored")
