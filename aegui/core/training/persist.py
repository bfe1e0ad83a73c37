"""A trainer's whole state out and back in: the substance of ``Trainer.state_dict``.

What is captured: the model, the optimisers (fine-tuning's and each pretraining
stage's), the LR scheduler, the AMP grad scaler, the discriminator and its
optimiser, the loop position (phase, epoch, step, batch index, the epoch's
permutation, best score and bad epochs, a pending early stop), the best and the
last good weights, the live values, the current epoch's device-side sums, the
history, and every random stream. Everything is an owned CPU copy of plain
values and tensors, so ``core.io.save_state`` can write it without pickle.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..spec import AutoencoderSpec
from .state import STATE_FORMAT, STATE_VERSION, Position, capture_rng, owned_copy, restore_rng

if TYPE_CHECKING:
    from .loop import Trainer


class StateMismatch(ValueError):
    """A saved training state that does not belong to this trainer's model; the message is for the user."""


def _comparable(spec: AutoencoderSpec) -> str:
    # The epoch total may change: "continue training" runs a finished run on to a new total.
    # The device may change too: a run saved on a GPU continues on the CPU and back.
    spec = spec.copy()
    spec.train.epochs = 0
    spec.train.device = "auto"
    return spec.to_json()


def capture(trainer: "Trainer") -> dict:
    phases = trainer.phases
    state = {
        "format": STATE_FORMAT, "version": STATE_VERSION,
        "spec": trainer.spec.to_json(),
        "position": trainer.pos.to_json(),
        "order": trainer._order,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "stage_optimizers": [phase.optimizer.state_dict() for phase in phases[:-1]],
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
        "disc": trainer.disc.state_dict() if trainer.disc is not None else None,
        "disc_optimizer": trainer.disc_optimizer.state_dict() if trainer.disc_optimizer is not None else None,
        "best_weights": trainer.best_weights,
        "good_weights": trainer.good.tensors,
        "live": dict(trainer.live),
        "accumulators": trainer.phase.acc.state_dict(),
        "history": [dict(row) for row in trainer.history],
        "rng": capture_rng(trainer.generator),
    }
    return owned_copy(state)


def restore(trainer: "Trainer", state: dict) -> None:
    if state.get("format") != STATE_FORMAT:
        raise StateMismatch("this is not a saved training state")
    if int(state.get("version", 0)) > STATE_VERSION:
        raise StateMismatch(f"this training state was written by a newer version (state {state['version']})")
    saved = AutoencoderSpec.from_json(state["spec"])
    if _comparable(saved) != _comparable(trainer.spec):
        raise StateMismatch("the saved training state belongs to a different model or training set-up")
    if len(state["stage_optimizers"]) != len(trainer.phases) - 1:
        raise StateMismatch("the saved training state has a different number of pretraining stages")
    device = trainer.device
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    for phase, opt_state in zip(trainer.phases[:-1], state["stage_optimizers"]):
        phase.optimizer.load_state_dict(opt_state)
    if trainer.scheduler is not None and state["scheduler"] is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.scaler is not None and state["scaler"] is not None:
        trainer.scaler.load_state_dict(state["scaler"])
    if trainer.disc is not None and state["disc"] is not None:
        trainer.disc.load_state_dict(state["disc"])
        trainer.disc_optimizer.load_state_dict(state["disc_optimizer"])
    trainer.pos = Position.from_json(state["position"])
    order = state["order"]
    trainer._order = order.to(device) if order is not None else None
    best = state["best_weights"]
    trainer.best_weights = {k: v.to(device) for k, v in best.items()} if best is not None else None
    for name, value in state["good_weights"].items():
        trainer.good.tensors[name].copy_(value)
    trainer.live.update({k: float(v) for k, v in state["live"].items()})
    trainer.phase.acc.load_state_dict(state["accumulators"])
    trainer.history = [dict(row) for row in state["history"]]
    # A new epoch total: fine-tuning (and a cosine schedule's horizon stays as it was saved).
    trainer.phases[-1].epochs = trainer.spec.train.epochs
    if trainer.spec.train.epochs > saved.train.epochs and trainer.pos.stop_reason:
        # Asked to go on past an early stop: the user has seen the plateau and wants more epochs,
        # so patience starts afresh from the best score so far.
        trainer.pos.stop_reason, trainer.pos.stop_message, trainer.pos.bad_epochs = None, "", 0
    trainer._val_cache = None
    restore_rng(trainer.generator, state["rng"])
