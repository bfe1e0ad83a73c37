"""What the trainer tells its listeners, about ten times a second.

A Report holds only host-side numpy copies that nobody else references, so a
GUI thread may keep it while training goes on. Sizes are bounded: a fixed
snapshot batch, at most ``MAX_FILTERS`` filters, one value per code unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch

MAX_FILTERS = 64


class ReportKind(str, Enum):
    """What a report marks. A str enum, so ``report.kind == "epoch"`` still reads naturally."""

    PROGRESS = "progress"
    EPOCH = "epoch"
    PAUSED = "paused"
    FINISHED = "finished"

    def __str__(self) -> str:
        return self.value


class StopReason(str, Enum):
    """Why a run ended; written to run folders and shown to the user."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    EARLY_STOPPING = "early_stopping"
    NON_FINITE = "non_finite"
    FAILED = "failed"  # the run raised; set by whoever ran it, never by the trainer

    def __str__(self) -> str:
        return self.value


PROGRESS, EPOCH, PAUSED, FINISHED = ReportKind.PROGRESS, ReportKind.EPOCH, ReportKind.PAUSED, ReportKind.FINISHED


def to_numpy(t: torch.Tensor | None, limit: int | None = None) -> np.ndarray | None:
    """An owned float32 copy on the host (never a view of a model tensor)."""
    if t is None:
        return None
    t = t.detach()
    if limit is not None:
        t = t[:limit]
    return t.to("cpu", dtype=torch.float32, copy=True).numpy()


@dataclass
class Report:
    kind: ReportKind
    step: int
    epoch: int  # completed epochs of the current phase
    epoch_progress: float  # fractional epochs, e.g. 2.25
    epochs_total: int
    steps_per_epoch: int
    samples_per_s: float
    elapsed_s: float
    # Training loss terms averaged over the steps since the previous report:
    # total, recon, and where the objective has them kl, sparsity, contractive, adv_gen, adv_disc.
    losses: dict[str, float] = field(default_factory=dict)
    # Validation terms (epoch reports): total, recon, recon_mse and objective terms.
    val_losses: dict[str, float] | None = None
    device: str = "cpu"
    lr: float = 0.0
    beta: float | None = None
    noise_level: float | None = None
    sparsity_weight: float | None = None
    grad_norm: float | None = None
    # Per-unit mean activation of the code over the reporting interval, and the
    # codes of the snapshot batch (for histograms).
    code_mean: np.ndarray | None = None
    # Per unit: the fraction of samples in the interval where |activation| > active_threshold
    # (spec_rules.active_threshold: 0.5 for sigmoid and tanh codes, 0.01 otherwise).
    # A unit that is never active is dead.
    code_active: np.ndarray | None = None
    active_threshold: float | None = None
    sparsity_target: float | None = None  # KL sparsity's rate rho; L1 sparsity has none
    code_sample: np.ndarray | None = None
    kl_per_dim: np.ndarray | None = None
    # The fixed snapshot batch: clean inputs, what the model saw, and its output.
    inputs: np.ndarray | None = None
    corrupted: np.ndarray | None = None
    reconstructions: np.ndarray | None = None
    filters: np.ndarray | None = None
    output_bias: np.ndarray | None = None
    attention: np.ndarray | None = None  # (snapshot, tokens) attention of the code over tokens
    token_grid: tuple[int, ...] | None = None
    capsule_lengths: np.ndarray | None = None  # (snapshot, capsules)
    live_changes: dict[str, float] = field(default_factory=dict)  # applied since the last report
    message: str = ""
    stop_reason: StopReason | None = None  # set on the finished report, or on one that diverged
    # Greedy layer-wise pretraining is stage k of K (1-based); fine-tuning is stage 0 of 0.
    stage: int = 0
    stages: int = 0

    @property
    def pretraining(self) -> bool:
        return self.stage > 0

    @property
    def phase(self) -> str:
        """For people: "train", or "pretrain k/K" during greedy pretraining. Code reads stage/stages."""
        return f"pretrain {self.stage}/{self.stages}" if self.stage else "train"

    @property
    def total_loss(self) -> float | None:
        return self.losses.get("total")

    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))
