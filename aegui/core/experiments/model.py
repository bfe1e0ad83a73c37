"""What an experiment is and what running one gives, as plain dataclasses (no torch, no Qt).

An ``Experiment`` is data: a dataset, a base preset, the arms (spec paths and the values
they take), the figures to measure on each trained arm and the pictures to show. Running it
(``runner.run_experiment``) gives an ``ExperimentResult``: one ``ArmResult`` per arm and the
``Finding``s its verdict draws from this run's numbers.

How a view is drawn is one table, ``VIEWS``: the report and the window both read it.
- "line": ``curves[name]`` per arm, one line each, over ``curves[name + ".x"]`` (epochs 1..n
  when absent); ``reference`` names a curve of the first arm drawn once, dashed.
- "bars": ``curves[name]`` per arm, one bar per unit or dimension; ``reference`` names a
  figure drawn as a horizontal line (the sparsity target rho, say).
- "scatter": ``curves[name + ".x"]``, ``curves[name + ".y"]`` and ``curves[name + ".label"]``.
- "images": ``images[name]``, (N, C, H, W) floats in 0-1, ``columns`` a row; optional
  ``ArmResult.captions[name]``, one line per row of the grid.
Curves named ``samples.*`` hold one value per validation sample, in the same order for every
arm (the arms share their split), so the verdicts can compare arms sample by sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # numpy and the run only for the annotations: this module imports nothing heavy
    import numpy as np

    from ..run import RunArtifact

BUDGET_NAMES = ("tiny", "default", "full")
# Figures measured by the clock: they differ between two runs of one seed, every other figure does not.
WALL_CLOCK_FIGURES = ("seconds", "samples_per_s")


@dataclass(frozen=True)
class Budget:
    """How long an experiment trains: ``epochs`` per arm on at most ``limit`` samples (None: all),
    ``batch_size`` None keeps each preset's own."""

    epochs: int
    limit: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class FromData:
    """An override value that depends on the data, resolved when the arm is built:
    "output_mean_logit" is the output bias that makes the decoder start at the data's mean
    value (its logit for a Bernoulli likelihood, the mean itself for a gaussian one)."""

    what: str


@dataclass(frozen=True)
class Arm:
    label: str  # "with biases", "lr 0.1", ...
    overrides: dict[str, object]  # spec path -> value; "encoder.layers[*].bias" reaches every layer
    preset: str | None = None  # start from this preset instead of the experiment's base


@dataclass
class Finding:
    claim: str  # what the tutorial claims
    holds: bool | None  # True / False (this run contradicts it) / None (inconclusive: within noise)
    evidence: str  # the measured numbers, in one sentence

    def to_json(self) -> dict:
        return {"claim": self.claim, "holds": self.holds, "evidence": self.evidence}


@dataclass(frozen=True)
class Experiment:
    name: str  # "biases" (CLI name, lowercase, dashes)
    title: str
    description: str  # one line for `main.py experiments`
    question: str  # the claim under test, in one sentence
    explanation: str  # 1-3 short paragraphs: what to watch and what the result means
    dataset: str  # built-in dataset name
    base: str  # base preset name
    arms: tuple[Arm, ...]
    figures: tuple[str, ...]  # measured per arm (keys of ArmResult.figures)
    views: tuple[str, ...]  # pictures the result view shows (keys of VIEWS)
    budgets: dict[str, Budget]
    verdict: Callable[["ExperimentResult"], list[Finding]]


@dataclass
class ArmResult:
    label: str
    figures: dict[str, float]  # flat, JSON-safe numbers: at least val_recon_mse, seconds, params
    curves: dict[str, list[float]]  # per-epoch series and per-unit values (see VIEWS)
    images: dict[str, "np.ndarray"]  # (N, C, H, W) float arrays in 0-1
    run: "RunArtifact | None"  # the trained run, so the window can put it in the Runs tab
    captions: dict[str, list[str]] = field(default_factory=dict)  # per image view: one line per grid row
    message: str = ""  # the trainer's last word (the NaN guard's, when the run diverged)


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class ExperimentResult:
    name: str
    budget: str
    seed: int
    arms: list[ArmResult]
    findings: list[Finding]

    def arm(self, label: str) -> ArmResult:
        for arm in self.arms:
            if arm.label == label:
                return arm
        raise KeyError(label)

    def to_json(self) -> dict:
        """{"name", "budget", "seed", "arms": [{"label", **figures}], "findings": [...]};
        a non-finite figure is null."""
        return {
            "name": self.name, "budget": self.budget, "seed": self.seed,
            "arms": [{"label": a.label, **{k: _json_number(v) for k, v in a.figures.items()}} for a in self.arms],
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True)
class ExperimentProgress:
    arm_index: int  # 0-based
    arm_count: int
    arm_label: str
    epoch: int  # completed epochs of this arm
    epochs: int
    message: str  # "lr 0.1: epoch 3/8, val MSE 0.031", "measuring lr 0.1"


@dataclass(frozen=True)
class ViewInfo:
    kind: str  # "line", "bars", "scatter" or "images"
    title: str
    x_label: str = ""
    y_label: str = ""
    log_y: bool = False
    reference: str | None = None  # see the module docstring
    columns: int = 8  # images a row


VIEWS: dict[str, ViewInfo] = {
    "train_loss": ViewInfo("line", "Training loss per epoch", "epoch", "training loss", log_y=True),
    "val_loss": ViewInfo("line", "Validation loss per epoch", "epoch", "validation loss", log_y=True),
    "val_recon_mse": ViewInfo("line", "Validation reconstruction error per epoch", "epoch", "MSE", log_y=True),
    "reconstructions": ViewInfo("images", "Validation samples (first row) and their reconstructions (second row)"),
    "decoder_bias": ViewInfo("images", "The decoder's output bias after the output link, each stretched to its "
                                       "own range", columns=1),
    "filters": ViewInfo("images", "The 32 most structured first-layer filters (each scaled to its own range)"),
    "unit_mean_activation": ViewInfo("bars", "Mean activation of each code unit on validation data", "code unit",
                                     "mean activation", reference="rho"),
    "psnr_by_noise": ViewInfo("line", "PSNR of the output against the clean digit, by noise level",
                              "gaussian noise sigma", "PSNR (dB)", reference="psnr_noisy_by_noise"),
    "denoised": ViewInfo("images", "Clean, noisy (sigma 0.3) and the model's output"),
    "latent_map": ViewInfo("scatter", "Validation codes, first two principal components", "PC 1", "PC 2"),
    "code_plane": ViewInfo("scatter", "Validation codes in code dimensions 1 and 2 (the prior is N(0, 1))",
                           "z1", "z2"),
    "dim_importance": ViewInfo("bars", "Importance per dimension: KL (nats) for a VAE, code variance for the AE",
                               "dimension", "importance"),
    "traversals": ViewInfo("images", "Traversals of the five most important dimensions, -2.5 to +2.5 std",
                           columns=7),
    "prior_samples": ViewInfo("images", "Decoded draws from the prior, N(0, I) (a plain AE has none of its own)"),
    "attention_maps": ViewInfo("images", "Where the code looks, per 7x7 patch: attention (plain AE: gradient "
                                         "saliency), least to most in black to red"),
    "capsule_lengths": ViewInfo("images", "Mean capsule length (columns) per class (rows); plain AE: the norm of "
                                          "each group of 8 code units", columns=1),
}


def view_info(name: str) -> ViewInfo:
    """How to draw view ``name``; an unknown name is a bug in the catalogue, so it raises."""
    return VIEWS[name]
