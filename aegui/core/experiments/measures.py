"""The figures and pictures an experiment measures on one trained arm, by name.

Each measure is a function of an ``ArmContext`` (the trained run, a CPU copy of its model,
the data and the arm's validation rows) registered with ``@provides(names...)``: an
experiment's ``figures`` and ``views`` name what it wants, and ``measure`` calls each
function that provides one of those names once. ``basic`` runs for every arm: the
reconstruction error, the parameter count, the time, the per-epoch curves.

Everything here is seeded from the context's seed, so two runs of one seed measure the
same numbers (the clock's figures, ``seconds`` and ``samples_per_s``, aside).
Measures on codes live in ``measures_codes.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
import torch

from ..canvas_ops import apply_noise, noise_layer, psnr, ssim
from ..inference import InferenceModel
from ..models import count_parameters
from ..objectives import output_from_logits
from ..reports import StopReason
from ..spec_rules import active_threshold

MAX_EVAL = 1000  # validation (and training) samples a measure looks at: enough for a mean, bounded cost
SHOWN = 8  # samples in a picture's row
NOISE_LEVELS = (0.1, 0.2, 0.3, 0.5)  # gaussian sigma, as a fraction of the 0-1 range
SHOWN_NOISE = 0.3  # the denoising preset's own level
PSNR_CAP = 100.0  # dB: an exact copy would be infinite, and a figure must be a finite number


@dataclass
class Measured:
    figures: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    captions: dict[str, list[str]] = field(default_factory=dict)

    def update(self, other: "Measured") -> None:
        for mine, theirs in ((self.figures, other.figures), (self.curves, other.curves),
                             (self.images, other.images), (self.captions, other.captions)):
            mine.update(theirs)


@dataclass
class ArmContext:
    """What a measure may look at for one arm. Rows index ``dataset``; both lists are capped at
    MAX_EVAL, spread evenly over the split so every class is in them."""

    run: object  # RunArtifact
    model: InferenceModel
    dataset: object  # Dataset
    val_rows: np.ndarray
    train_rows: np.ndarray
    seed: int
    seconds: float
    history: list[dict]

    @property
    def spec(self):
        return self.model.spec

    @cached_property
    def val_x(self) -> np.ndarray:
        return self.dataset.as_float(self.val_rows)

    @cached_property
    def train_x(self) -> np.ndarray:
        return self.dataset.as_float(self.train_rows)

    @cached_property
    def val_labels(self) -> np.ndarray | None:
        labels = self.dataset.labels
        return None if labels is None else np.asarray(labels)[self.val_rows]

    @cached_property
    def val_codes(self) -> np.ndarray:
        return self.model.encode(self.val_x)

    @cached_property
    def val_recon(self) -> np.ndarray:
        return self.model.reconstruct(self.val_x)

    def spread(self, n: int) -> np.ndarray:
        """Indices of at most ``n`` validation samples spread over all of them: the split keeps the
        data's order, which for the digits is by class, so the first few would all be zeros."""
        return spread_index(len(self.val_rows), n)

    def generator(self, offset: int) -> torch.Generator:
        """A fresh seeded stream for one measure, so measures do not shift each other's draws."""
        return torch.Generator().manual_seed(derived_seed(self.seed, offset))

    def rng(self, offset: int) -> np.random.Generator:
        return np.random.default_rng(derived_seed(self.seed, offset))


def derived_seed(seed: int, offset: int) -> int:
    """A seed for stream ``offset`` of a run seeded ``seed``, below 2**63 for any seed a spec allows."""
    return int(np.random.SeedSequence([seed, offset]).generate_state(1, np.uint64)[0]) >> 1


def spread_index(count: int, n: int) -> np.ndarray:
    """At most ``n`` indices evenly spread over ``range(count)``."""
    return np.unique(np.linspace(0, count - 1, min(n, count)).round().astype(np.int64))


def spread_rows(rows: np.ndarray, limit: int = MAX_EVAL) -> np.ndarray:
    """At most ``limit`` of ``rows``, evenly spaced (the split is shuffled, so these are a fair sample)."""
    rows = np.asarray(rows)
    if len(rows) <= limit:
        return rows
    return rows[np.linspace(0, len(rows) - 1, limit).round().astype(np.int64)]


# --- the registry -------------------------------------------------------------------------------------
Provider = Callable[[ArmContext], Measured]
PROVIDERS: dict[str, Provider] = {}  # figure or view name -> the measure that gives it


def provides(*names: str):
    def register(fn: Provider) -> Provider:
        for name in names:
            if name in PROVIDERS:
                raise ValueError(f"two measures provide {name!r}")
            PROVIDERS[name] = fn
        fn.provided = names
        return fn
    return register


def measure(ctx: ArmContext, wanted: tuple[str, ...]) -> Measured:
    """``basic`` and every measure that provides one of ``wanted``, each called once, in order."""
    out = Measured()
    done = set()
    for name in ("val_recon_mse", *wanted):
        fn = PROVIDERS.get(name)
        if fn is None:
            raise ValueError(f"no measure provides {name!r}")
        if fn not in done:
            done.add(fn)
            out.update(fn(ctx))
    return out


def finite(value: float, cap: float = PSNR_CAP) -> float:
    value = float(value)
    if math.isnan(value):
        return 0.0
    return max(-cap, min(cap, value)) if math.isinf(value) else value


def unit_images(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x, np.float32), 0.0, 1.0)


def per_sample_mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).reshape(len(a), -1).mean(axis=1)


# --- every arm ------------------------------------------------------------------------------------------
def fine_tuning_rows(history: list[dict]) -> list[dict]:
    return [row for row in history if row.get("phase", "train") == "train"]


@provides("val_recon_mse", "train_recon_mse", "generalisation_gap", "params", "seconds", "samples_per_s", "epochs",
          "diverged", "train_loss", "val_loss", "reconstructions")
def basic(ctx: ArmContext) -> Measured:
    """Reconstruction error on validation and training samples (their gap is overfitting), the
    parameter count, the time, whether the NaN guard stopped the run, and the per-epoch curves."""
    val_errors = per_sample_mse(ctx.val_recon, ctx.val_x)
    train_errors = ctx.model.errors(ctx.train_x)
    result = ctx.run.result
    rows = fine_tuning_rows(ctx.history)
    m = Measured()
    m.figures.update({
        "val_recon_mse": float(val_errors.mean()),
        "train_recon_mse": float(train_errors.mean()),
        "generalisation_gap": float(val_errors.mean() - train_errors.mean()),
        "params": int(count_parameters(ctx.model.model)),
        "seconds": round(float(ctx.seconds), 3),
        "samples_per_s": round(float(result.samples_per_s), 1) if result is not None else 0.0,
        "epochs": len(rows),
        "diverged": 1 if result is not None and result.stop_reason == StopReason.NON_FINITE else 0,
    })
    for curve, column in (("train_loss", "train_total"), ("val_loss", "val_total"), ("val_recon_mse", "val_recon_mse")):
        m.curves[curve] = [float(row[column]) for row in rows
                           if isinstance(row.get(column), (int, float)) and math.isfinite(row[column])]
    m.curves["samples.val_mse"] = val_errors.tolist()
    if ctx.dataset.kind == "image":
        shown = ctx.spread(SHOWN)
        m.images["reconstructions"] = unit_images(np.concatenate([ctx.val_x[shown], ctx.val_recon[shown]]))
    return m


# --- biases ---------------------------------------------------------------------------------------------
@provides("mean_intensity", "data_mean_intensity", "intensity_gap", "val_mse_epoch1", "decoder_bias")
def intensity(ctx: ArmContext) -> Measured:
    """The reconstructions' mean value against the data's (does the model capture the mean?), how far
    the first epoch got, and the output bias as an image."""
    recon_means = ctx.val_recon.reshape(len(ctx.val_recon), -1).mean(axis=1)
    data_means = ctx.val_x.reshape(len(ctx.val_x), -1).mean(axis=1)
    rows = fine_tuning_rows(ctx.history)
    m = Measured()
    m.figures.update({
        "mean_intensity": float(recon_means.mean()),
        "data_mean_intensity": float(data_means.mean()),
        "intensity_gap": float(abs(recon_means.mean() - data_means.mean())),
        # A run the NaN guard stopped in its first epoch has no epoch row: its restored weights' error.
        "val_mse_epoch1": (float(rows[0]["val_recon_mse"]) if rows
                           else float(per_sample_mse(ctx.val_recon, ctx.val_x).mean())),
    })
    m.curves["samples.intensity_error"] = np.abs(recon_means - data_means).tolist()
    with torch.no_grad():
        bias = ctx.model.model.output_bias_image()
        missing = bias is None
        if missing:  # no bias is an offset of 0: the picture shows what the link makes of 0
            bias = torch.zeros(ctx.model.input_shape)
        image = output_from_logits(bias.float(), ctx.spec.likelihood).numpy()
    lo, hi = float(image.min()), float(image.max())
    if hi - lo > 1e-6:
        # Stretched to its own range: a bias that learnt a faint average digit still shows it.
        m.images["decoder_bias"] = unit_images(((image - lo) / (hi - lo))[None])
        m.captions["decoder_bias"] = [f"after the link, black {lo:.3f} to white {hi:.3f}"]
    else:
        m.images["decoder_bias"] = unit_images(np.clip(image, 0, 1)[None])
        m.captions["decoder_bias"] = ["no output bias: the output layer adds 0 everywhere" if missing
                                      else f"the same {lo:.3f} everywhere"]
    return m


# --- sparsity -------------------------------------------------------------------------------------------
def hoyer(codes: np.ndarray) -> np.ndarray:
    """Per sample, Hoyer's sparsity of |code|: 0 when every unit is equally active, 1 when one unit is."""
    a = np.abs(np.asarray(codes, np.float64))
    n = a.shape[1]
    l1, l2 = a.sum(axis=1), np.sqrt((a * a).sum(axis=1))
    ratio = np.where(l2 > 0, l1 / np.maximum(l2, 1e-300), math.sqrt(n))
    return (math.sqrt(n) - ratio) / (math.sqrt(n) - 1) if n > 1 else np.zeros(len(a))


def structure_order(filters: np.ndarray) -> np.ndarray:
    """Filter indices, most structured first: by the correlation of horizontally neighbouring weights,
    near 0 for a filter still at its random start (a unit that never learnt) and high for a stroke."""
    f = np.asarray(filters, np.float64)
    f = f - f.mean(axis=(-2, -1), keepdims=True)
    var = (f * f).mean(axis=(1, 2, 3))
    neighbours = (f[..., :, 1:] * f[..., :, :-1]).mean(axis=(1, 2, 3))
    return np.argsort(-(neighbours / np.maximum(var, 1e-30)), kind="stable")


def normalised_filters(filters: np.ndarray, limit: int = 32) -> np.ndarray:
    """The ``limit`` most structured filters, each scaled to its own 0-1 range so weak and strong
    filters are both visible."""
    f = np.asarray(filters, np.float32)
    f = f[structure_order(f)[:limit]] if f.ndim == 4 and f.shape[-1] > 1 else f[:limit]
    flat = f.reshape(len(f), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    scaled = (flat - lo[:, None]) / np.maximum(hi - lo, 1e-12)[:, None]
    return scaled.reshape(f.shape)


@provides("hoyer_sparsity", "active_fraction", "dead_units", "units_near_rho", "rho", "mean_activation",
          "unit_mean_activation", "filters")
def sparsity(ctx: ArmContext) -> Measured:
    """Per-unit mean activation against rho, how sparse each sample's code is, and the filters."""
    codes = ctx.val_codes.astype(np.float64)
    threshold = active_threshold(ctx.spec)
    rho = float(ctx.spec.objective.sparsity.target)
    unit_means = codes.mean(axis=0)
    active = np.abs(codes) > threshold
    per_sample_hoyer = hoyer(codes)
    m = Measured()
    m.figures.update({
        "hoyer_sparsity": float(per_sample_hoyer.mean()),
        "active_fraction": float(active.mean()),
        "dead_units": float((~active.any(axis=0)).mean()),
        "units_near_rho": float(((unit_means >= rho / 2) & (unit_means <= 2 * rho)).mean()),
        "rho": rho,
        "mean_activation": float(unit_means.mean()),
    })
    m.curves["unit_mean_activation"] = unit_means.tolist()
    m.curves["samples.hoyer"] = per_sample_hoyer.tolist()
    with torch.no_grad():
        filters = ctx.model.model.first_layer_filters()
    if filters is not None and filters.dim() == 4:
        m.images["filters"] = normalised_filters(filters.numpy())
    return m


# --- denoising ------------------------------------------------------------------------------------------
def level_key(level: float) -> str:
    return f"{round(level * 100):d}"


def sample_psnr(clean: np.ndarray, test: np.ndarray) -> np.ndarray:
    return np.array([finite(psnr(c, t)) for c, t in zip(clean, test)])


@provides(*[f"psnr_at_{level_key(v)}" for v in NOISE_LEVELS], f"psnr_noisy_at_{level_key(SHOWN_NOISE)}",
          f"psnr_gain_at_{level_key(SHOWN_NOISE)}", "psnr_by_noise", "psnr_noisy_by_noise", "denoised")
def denoising(ctx: ArmContext) -> Measured:
    """PSNR against the clean digit of the model's output on noisy validation digits, at each noise
    level, beside the PSNR of the noisy input itself. Every arm sees the same noise (one seed)."""
    clean = ctx.val_x
    m = Measured()
    outputs, noisy_psnr = [], []
    for k, level in enumerate(NOISE_LEVELS):
        layer = noise_layer(clean.shape, "gaussian", level, seed=derived_seed(ctx.seed, 17 + k))
        noisy = apply_noise(clean, layer)
        out = ctx.model.reconstruct(noisy)
        out_psnr, in_psnr = sample_psnr(clean, out), sample_psnr(clean, noisy)
        key = level_key(level)
        m.figures[f"psnr_at_{key}"] = float(out_psnr.mean())
        outputs.append(float(out_psnr.mean()))
        noisy_psnr.append(float(in_psnr.mean()))
        if level == SHOWN_NOISE:
            m.figures[f"psnr_noisy_at_{key}"] = float(in_psnr.mean())
            m.figures[f"psnr_gain_at_{key}"] = float(out_psnr.mean() - in_psnr.mean())
            m.curves[f"samples.psnr_at_{key}"] = out_psnr.tolist()
            shown = ctx.spread(SHOWN)
            m.images["denoised"] = unit_images(np.concatenate([clean[shown], noisy[shown], out[shown]]))
    m.curves["psnr_by_noise"] = outputs
    m.curves["psnr_by_noise.x"] = list(NOISE_LEVELS)
    m.curves["psnr_noisy_by_noise"] = noisy_psnr
    m.curves["psnr_noisy_by_noise.x"] = list(NOISE_LEVELS)
    return m


# --- convolutional ----------------------------------------------------------------------------------------
@provides("ssim")
def structure(ctx: ArmContext) -> Measured:
    """Mean structural similarity of reconstructions to their inputs (at most 300 images: SSIM is
    a few milliseconds an image)."""
    values = np.array([ssim(ctx.val_x[i], ctx.val_recon[i]) for i in ctx.spread(300)])
    m = Measured()
    m.figures["ssim"] = float(values.mean())
    m.curves["samples.ssim"] = values.tolist()
    return m
