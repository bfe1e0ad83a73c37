"""Paths and samples through a model's code, for the explorer's sliders and strips, as numbers.

- ``posterior_kl``: a VAE's KL per dimension from its posterior means and log-variances;
- ``importance`` and ``dimension_order``: how much each dimension matters (KL for a VAE,
  the codes' variance otherwise), most first;
- ``slider_ranges``: each dimension's mean +- 3 standard deviations over the codes;
- ``strongest_factors``: on data with known factors (``shapes``), each dimension's factor
  with the largest absolute correlation;
- ``interpolation``: linear or great-circle paths (``core.latent``'s lerp and slerp);
- ``attribute_vector`` and ``attribute_codes``: mean of class A minus mean of class B, added
  to a pinned code at several strengths;
- ``sample_codes``: the prior of a VAE or AAE (per component for the AAE's mixture), or a
  gaussian fitted to the codes of a plain autoencoder, which has no prior.

No Qt: the widget calls these in a worker, and tests call them directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .inference import CHUNK, InferenceModel, check_cancel
from .latent import lerp, prior_codes, slerp
from .objectives import kl_per_dim, mixture_means

SPAN_STD = 3.0  # sliders reach this many standard deviations either side of the mean
MIXTURE_SPREAD = 0.5  # the AAE mixture's component width (objectives.sample_prior)


def is_variational(model: InferenceModel) -> bool:
    return bool(model.spec.objective.variational.enabled)


def posterior_kl(model: InferenceModel, x: np.ndarray, chunk: int = CHUNK, cancel=None) -> np.ndarray:
    """(D,) KL(q(z|x) || N(0, I)) per dimension, averaged over ``x`` (float inputs in model space).
    ``InferenceModel.encode`` keeps only the means, so this reads the encoder's log-variances too."""
    total = np.zeros(model.code_dim, np.float64)
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            check_cancel(cancel)
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + chunk], dtype=np.float32))
            encoded = model.model.encode(batch)
            if encoded.mu is None or encoded.logvar is None:
                raise ValueError("the model is not variational: it has no posterior variances")
            total += kl_per_dim(encoded.mu, encoded.logvar).double().numpy() * len(batch)
    return (total / max(1, len(x))).astype(np.float32)


def importance(codes: np.ndarray, kl: np.ndarray | None = None) -> np.ndarray:
    """(D,) how much each dimension matters: its KL when given (a VAE's unused dimensions have
    near-zero KL however their means spread), else the codes' variance."""
    if kl is not None:
        return np.asarray(kl, np.float32)
    return np.asarray(codes, np.float64).var(axis=0).astype(np.float32)


def dimension_order(scores: np.ndarray) -> np.ndarray:
    """Dimension indices, most important first (ties keep index order)."""
    return np.argsort(-np.asarray(scores, np.float64), kind="stable")


def slider_ranges(codes: np.ndarray, span: float = SPAN_STD) -> tuple[np.ndarray, np.ndarray]:
    """(low, high), each (D,): mean -+ ``span`` standard deviations; a constant dimension gets
    +-``span`` around its value so its slider can still move."""
    codes = np.asarray(codes, np.float64)
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return (mean - span * std).astype(np.float32), (mean + span * std).astype(np.float32)


def strongest_factors(codes: np.ndarray, factors: np.ndarray, names: list[str]) -> list[tuple[str, float]]:
    """For each code dimension, (name, |r|) of the factor it correlates with most (Pearson, over
    the rows of ``codes`` and ``factors``). A constant dimension or factor counts as r = 0."""
    c = np.asarray(codes, np.float64)
    f = np.asarray(factors, np.float64)
    c = c - c.mean(axis=0)
    f = f - f.mean(axis=0)
    c_norm, f_norm = np.linalg.norm(c, axis=0), np.linalg.norm(f, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs((c.T @ f) / np.outer(c_norm, f_norm))
    r = np.nan_to_num(r, nan=0.0, posinf=0.0)
    best = r.argmax(axis=1)
    return [(names[j], float(r[i, j])) for i, j in enumerate(best)]


def shape_factors(dataset, rows: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """(factors of ``rows``, factor names) when the dataset carries known factors, else None."""
    meta = getattr(dataset, "meta", None) or {}
    factors, names = meta.get("factors"), meta.get("factor_names")
    if factors is None or names is None:
        return None
    return np.asarray(factors)[np.asarray(rows)], list(names)


def interpolation(a: np.ndarray, b: np.ndarray, how: str = "lerp", steps: int = 9) -> np.ndarray:
    """(steps, D) codes from ``a`` to ``b``, both included: a straight line or a great circle."""
    if how not in ("lerp", "slerp"):
        raise ValueError(f"unknown interpolation {how!r}: lerp or slerp")
    return (slerp if how == "slerp" else lerp)(a, b, steps)


def attribute_vector(codes: np.ndarray, labels: np.ndarray, class_a: int, class_b: int) -> np.ndarray:
    """(D,) the mean code of class A minus the mean code of class B."""
    labels = np.asarray(labels)
    for c in (class_a, class_b):
        if not np.any(labels == c):
            raise ValueError(f"class {c} has no codes to average")
    codes = np.asarray(codes, np.float64)
    return (codes[labels == class_a].mean(axis=0) - codes[labels == class_b].mean(axis=0)).astype(np.float32)


def attribute_codes(pinned: np.ndarray, vector: np.ndarray, strength: float, steps: int = 9) -> np.ndarray:
    """(steps, D) ``pinned + t * vector`` for t from 0 to ``strength``: the strip starts at the
    pinned point itself and ends with the full attribute added."""
    t = np.linspace(0.0, strength, steps)[:, None]
    return (np.asarray(pinned, np.float64) + t * np.asarray(vector, np.float64)).astype(np.float32)


@dataclass
class Samples:
    """Codes to decode as a sampling grid, and what they were drawn from."""

    codes: np.ndarray  # (N, D)
    kind: str  # "prior", "mixture" or "fitted gaussian"
    title: str  # what the user reads above the grid
    captions: list[str]  # one per row of the grid (a mixture component each), or empty
    columns: int


FITTED_NOTE = ("A plain autoencoder has no prior: nothing made its codes fill a known shape, so these codes are "
               "drawn from a gaussian fitted to the codes (their mean and covariance). Much of that gaussian "
               "lies where no training code fell, and the decoder never learnt what to draw there: expect "
               "blurrier, stranger samples than a VAE's, whose KL term pulls every code towards N(0, I).")


def sample_codes(model: InferenceModel, codes: np.ndarray, n: int = 64, rng: np.random.Generator | None = None) -> Samples:
    """Codes for a sampling grid of about ``n`` pictures, from what the model's objective says its
    codes follow: N(0, I) for a VAE or a gaussian-prior AAE, each mixture component in its own
    row for a mixture-prior AAE, and a gaussian fitted to ``codes`` for every other model."""
    rng = rng or np.random.default_rng()
    d = model.code_dim
    adversarial = model.spec.objective.adversarial
    columns = 8
    if adversarial.enabled and adversarial.prior == "mixture":
        means = mixture_means(d, adversarial.mixture_components).numpy()
        per = max(1, n // len(means))
        out = np.concatenate([m + MIXTURE_SPREAD * prior_codes(per, d, rng) for m in means])
        return Samples(out.astype(np.float32), "mixture",
                       f"Prior: {len(means)}-component gaussian mixture, one row per component",
                       [f"component {i}" for i in range(len(means))], per)
    if is_variational(model) or adversarial.enabled:
        what = "VAE" if is_variational(model) else "AAE"
        return Samples(prior_codes(n, d, rng), "prior", f"Prior N(0, I) of the {what}", [], columns)
    return Samples(fitted_gaussian_codes(codes, n, rng), "fitted gaussian",
                   "Gaussian fitted to the codes (no prior: a plain autoencoder)", [], columns)


def fitted_gaussian_codes(codes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, D) draws from N(mean, covariance) of ``codes``."""
    codes = np.asarray(codes, np.float64)
    mean = codes.mean(axis=0)
    cov = np.atleast_2d(np.cov(codes, rowvar=False)) if len(codes) > 1 else np.eye(codes.shape[1])
    # A tiny ridge: codes that fill fewer dimensions than D give a singular covariance.
    cov = cov + 1e-6 * np.eye(len(cov))
    return rng.multivariate_normal(mean, cov, size=n, method="eigh").astype(np.float32)
