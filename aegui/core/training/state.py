"""Where a run is, in one object, and every random stream it draws from.

``Position`` is the loop's state that used to live in local variables of
``run()``: the phase and epoch, the step and the batch index inside the epoch,
the epoch's permutation, the best score with its weights and the bad-epoch
count. Together with the model, optimiser, scheduler, scaler, discriminator,
live values and random states (``capture_rng``) it is everything needed to
continue a run bit for bit (``Trainer.state_dict``).
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

STATE_FORMAT = "aegui-training-state"
STATE_VERSION = 1

# Building a model draws its initial weights from the global torch RNG (nn.Module's own
# initialisers take no generator). The lock keeps two runs built at once in one process from
# interleaving their draws; fork_rng leaves the caller's global stream as it was.
_INIT_LOCK = threading.Lock()


@contextmanager
def seeded_global_rng(seed: int):
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@dataclass
class Position:
    phase_index: int = 0  # into Trainer.phases: pretraining stages first, fine-tuning last
    phase_epoch: int = 0  # completed epochs of the current phase
    batch_index: int = 0  # the next batch of the current epoch
    step: int = 0  # fine-tuning optimisation steps
    pretrain_steps: int = 0  # greedy pretraining steps, over all stages
    best_score: float = math.inf
    bad_epochs: int = 0
    stop_reason: str | None = None  # decided at an epoch end (early stopping), carried out after its report
    stop_message: str = ""
    train_seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Position":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def copy_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class WeightBuffer:
    """A copy of a model's weights kept in preallocated tensors: refreshed at every report, so
    copying into place (no allocation) keeps the NaN guard cheap."""

    def __init__(self, model: torch.nn.Module):
        self.tensors = copy_weights(model)

    def refresh(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, value in model.state_dict().items():
                self.tensors[name].copy_(value)

    def restore(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.tensors)


def capture_rng(generator: torch.Generator) -> dict:
    """Every random stream a run may draw from: its own generator (shuffling, noise, sampling)
    and the global torch, numpy and CUDA states (dropout draws from the global torch stream)."""
    state = {"generator": generator.get_state(), "torch": torch.get_rng_state(),
             "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(generator: torch.Generator, state: dict) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        # A run saved on more GPUs than this machine has restores the streams it can.
        torch.cuda.set_rng_state_all(list(cuda)[:torch.cuda.device_count()])


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    try:
        generator = torch.Generator(device=device)
    except RuntimeError:  # a backend without its own generators draws on the CPU
        generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def owned_copy(value):
    """A deep copy of a nested state in which every tensor is a detached CPU clone, so a state
    captured on the training thread stays as it was while training goes on."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: owned_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(owned_copy(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value
