"""Measures on an arm's codes: the latent space of the generative variants, how sensitive and how
prior-shaped the codes are, where the code looks (attention), and what capsule lengths say.

Registered by name like those in ``measures.py`` (importing this module registers them).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..latent import prior_codes, project, traversal
from ..latent_paths import (
    dimension_order, fitted_gaussian_codes, importance, is_variational, posterior_kl, sample_codes, shape_factors,
    strongest_factors,
)
from ..objectives import jacobian_norm
from .measures import (
    SHOWN, ArmContext, Measured, per_sample_mse, provides, spread_index, spread_rows, unit_images,
)

ACTIVE_VARIANCE = 0.01  # a dimension whose posterior mean varies less than this over the data is unused
FACTOR_R = 0.5  # a factor counts as captured when some active dimension correlates with it at least this much
TRAVERSED = 5  # dimensions shown as traversals
TRAVERSAL_STEPS = 7
TRAVERSAL_SPAN = 2.5
SAMPLES = 64  # prior samples measured (the first 16 are shown)
REFERENCES = 2000  # training images the samples' nearest neighbours are looked for among
PERTURBATION = 0.05  # the small input change, as a gaussian sigma of the 0-1 range
SENSITIVITY_SAMPLES = 200
JACOBIAN_SAMPLES = 64
SHIFT_PIXELS = 2  # the deformation a capsule model is said to handle: a shift of the digit
PATCH = 7  # the attention preset's patch size on 28x28: the saliency of other models is pooled alike
INK = 0.1  # a patch holds ink when its mean value is above this


def mean_pairwise_mse(x: np.ndarray) -> float:
    flat = torch.from_numpy(np.ascontiguousarray(x.reshape(len(x), -1), np.float64))
    n = len(flat)
    return float((torch.cdist(flat, flat) ** 2).sum() / max(n * (n - 1), 1) / flat.shape[1])


def nearest_mse(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Per query, the mean squared difference to its nearest reference (torch: see core.latent.project)."""
    q = torch.from_numpy(np.ascontiguousarray(queries.reshape(len(queries), -1), np.float32))
    r = torch.from_numpy(np.ascontiguousarray(references.reshape(len(references), -1), np.float32))
    d2 = torch.cdist(q.double(), r.double()) ** 2
    return (d2.min(dim=1).values / q.shape[1]).numpy()


# --- variational ------------------------------------------------------------------------------------------
@provides("active_dims", "factors_captured", "mean_factor_r", "prior_sample_nn_mse", "fitted_sample_nn_mse",
          "real_nn_mse", "sample_nn_ratio", "sample_diversity", "latent_map", "dim_importance", "traversals",
          "prior_samples")
def latent_space(ctx: ArmContext) -> Measured:
    """The latent map, each dimension's importance and factor, traversals, and prior samples with how
    far they are from any training image (against how far real validation images are)."""
    codes = ctx.val_codes.astype(np.float64)
    m = Measured()
    points, _ = project(codes.astype(np.float32), "pca")
    m.curves["latent_map.x"] = points[:, 0].astype(float).tolist()
    m.curves["latent_map.y"] = points[:, 1].astype(float).tolist()
    if ctx.val_labels is not None:
        m.curves["latent_map.label"] = ctx.val_labels.astype(float).tolist()
    kl = posterior_kl(ctx.model, ctx.val_x) if is_variational(ctx.model) else None
    scores = importance(codes, kl)
    m.curves["dim_importance"] = scores.astype(float).tolist()
    active = codes.var(axis=0) > ACTIVE_VARIANCE
    m.figures["active_dims"] = int(active.sum())
    factors = shape_factors(ctx.dataset, ctx.val_rows)
    per_dim = strongest_factors(codes, *factors) if factors is not None else [("", 0.0)] * codes.shape[1]
    # Per factor, the strongest correlation any used dimension has with it.
    best = dict.fromkeys(factors[1], 0.0) if factors is not None else {}
    for d, (name, r) in enumerate(per_dim):
        if active[d] and name:
            best[name] = max(best[name], r)
    m.figures["factors_captured"] = int(sum(r >= FACTOR_R for r in best.values()))
    m.figures["mean_factor_r"] = float(np.mean(list(best.values()))) if best else 0.0
    order = dimension_order(scores)[:TRAVERSED]
    centre, std = codes.mean(axis=0), codes.std(axis=0)
    strips, captions = [], []
    for d in order:
        path = traversal(centre.astype(np.float32), int(d), float(std[d]) or 1.0, TRAVERSAL_STEPS, TRAVERSAL_SPAN)
        strips.append(ctx.model.decode(path))
        name, r = per_dim[d]
        what = f"{name} (|r| {r:.2f})" if name else "no known factor"
        captions.append(f"dim {d + 1}: {what}, importance {scores[d]:.3g}")
    m.images["traversals"] = unit_images(np.concatenate(strips))
    m.captions["traversals"] = captions
    # Every model decodes draws of N(0, I) (an AAE with a mixture prior, of its mixture): the VAE's prior,
    # which a plain AE has no reason to fill. A gaussian fitted to the codes, the explorer's way of
    # sampling a plain AE, is measured beside it.
    if is_variational(ctx.model) or ctx.spec.objective.adversarial.enabled:
        drawn = sample_codes(ctx.model, codes.astype(np.float32), SAMPLES, ctx.rng(31))
        prior, title = drawn.codes, drawn.title
    else:
        prior, title = prior_codes(SAMPLES, codes.shape[1], ctx.rng(31)), "N(0, I): a plain AE has no prior of its own"
    samples = ctx.model.decode(prior)
    fitted = ctx.model.decode(fitted_gaussian_codes(codes, SAMPLES, ctx.rng(32)))
    m.images["prior_samples"] = unit_images(samples[:16])
    m.captions["prior_samples"] = [title]
    references = ctx.dataset.as_float(spread_rows(ctx.train_rows, REFERENCES))
    real = ctx.val_x[ctx.spread(SAMPLES)]
    sample_nn, real_nn = nearest_mse(samples, references), nearest_mse(real, references)
    m.figures["prior_sample_nn_mse"] = float(sample_nn.mean())
    m.figures["fitted_sample_nn_mse"] = float(nearest_mse(fitted, references).mean())
    m.figures["real_nn_mse"] = float(real_nn.mean())
    m.figures["sample_nn_ratio"] = float(sample_nn.mean() / max(real_nn.mean(), 1e-12))
    # Samples that all decode to one average picture sit close to the data yet are no samples at all.
    m.figures["sample_diversity"] = float(mean_pairwise_mse(samples) / max(mean_pairwise_mse(real), 1e-12))
    m.curves["samples.prior_sample_nn_mse"] = sample_nn.astype(float).tolist()
    return m


# --- adversarial ------------------------------------------------------------------------------------------
def mmd(a: np.ndarray, b: np.ndarray) -> float:
    """Squared maximum mean discrepancy with a gaussian kernel of width sqrt(D) (the scale of
    N(0, I) in D dimensions); the biased estimate, so it is never negative."""
    x = torch.from_numpy(np.asarray(a, np.float64))
    y = torch.from_numpy(np.asarray(b, np.float64))
    width2 = 2.0 * x.shape[1]

    def k(p, q):
        return torch.exp(-torch.cdist(p, q) ** 2 / width2).mean()

    return float(k(x, x) + k(y, y) - 2 * k(x, y))


@provides("mmd_to_prior", "mmd_noise_floor", "code_mean_abs", "code_std_error", "code_plane")
def prior_match(ctx: ArmContext) -> Measured:
    """How far the codes are from N(0, I): MMD (beside the MMD of two prior draws of the same size,
    the floor a perfect match would reach), and the codes' per-dimension mean and spread."""
    codes = ctx.val_codes.astype(np.float64)
    rng = ctx.rng(41)
    prior = rng.standard_normal(codes.shape)
    other = rng.standard_normal(codes.shape)
    m = Measured()
    m.figures["mmd_to_prior"] = mmd(codes, prior)
    m.figures["mmd_noise_floor"] = mmd(other, prior)
    m.figures["code_mean_abs"] = float(np.abs(codes.mean(axis=0)).mean())
    m.figures["code_std_error"] = float(np.abs(codes.std(axis=0) - 1.0).mean())
    points, _ = project(codes.astype(np.float32), "dims", (0, 1))
    m.curves["code_plane.x"] = points[:, 0].astype(float).tolist()
    m.curves["code_plane.y"] = points[:, 1].astype(float).tolist()
    if ctx.val_labels is not None:
        m.curves["code_plane.label"] = ctx.val_labels.astype(float).tolist()
    return m


# --- contractive ------------------------------------------------------------------------------------------
@provides("jacobian_norm", "code_sensitivity", "relative_sensitivity")
def sensitivity(ctx: ArmContext) -> Measured:
    """How far the code moves for a small input change: per unit of input change, and against the
    typical distance between two samples' codes (a code that only shrank would not count as robust)."""
    x = ctx.val_x[ctx.spread(SENSITIVITY_SAMPLES)]
    noise = torch.randn(x.shape, generator=ctx.generator(51)).numpy() * PERTURBATION
    before, after = ctx.model.encode(x).astype(np.float64), ctx.model.encode(x + noise).astype(np.float64)
    moved = np.linalg.norm(after - before, axis=1)
    step = np.linalg.norm(noise.reshape(len(x), -1), axis=1)
    partner = np.roll(np.arange(len(x)), len(x) // 2)  # x runs through the classes: half-way is another
    spread = float(np.linalg.norm(before - before[partner], axis=1).mean())
    m = Measured()
    m.figures["code_sensitivity"] = float((moved / step).mean())
    m.figures["relative_sensitivity"] = float(moved.mean() / max(spread, 1e-12))
    m.curves["samples.relative_sensitivity"] = (moved / max(spread, 1e-12)).tolist()
    sample = torch.from_numpy(np.ascontiguousarray(x[spread_index(len(x), JACOBIAN_SAMPLES)]))
    m.figures["jacobian_norm"] = float(jacobian_norm(ctx.model.model, sample))
    return m


# --- attention --------------------------------------------------------------------------------------------
def patch_sums(maps: np.ndarray, patch: int) -> np.ndarray:
    """(N, H, W) -> (N, H/patch * W/patch) sums over each patch, row by row."""
    n, h, w = maps.shape
    return maps.reshape(n, h // patch, patch, w // patch, patch).sum(axis=(2, 4)).reshape(n, -1)


def token_weights(ctx: ArmContext, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """(N, tokens) where the code looks, each row summing to 1: an attention model's pooling weights,
    otherwise the input-gradient saliency of the code (4 random directions) pooled per patch."""
    model = ctx.model.model
    batch = torch.from_numpy(np.ascontiguousarray(x))
    if ctx.spec.family == "attention":
        with torch.no_grad():
            weights = model.encode(batch).extras["attention"].double().numpy()
        return weights / weights.sum(axis=1, keepdims=True), tuple(model.tokens.grid)
    batch.requires_grad_(True)
    code = model.encode(batch).mean_code
    gen = ctx.generator(61)
    saliency = torch.zeros_like(batch)
    for _ in range(4):
        direction = torch.randn(code.shape[1], generator=gen)
        (grad,) = torch.autograd.grad((code * direction).sum(), batch, retain_graph=True)
        saliency += grad.detach() ** 2
    maps = saliency.sum(dim=1).double().numpy()  # over channels
    h, w = maps.shape[1:]
    patch = PATCH if h % PATCH == 0 and w % PATCH == 0 else 1
    sums = patch_sums(maps, patch)
    return sums / np.maximum(sums.sum(axis=1, keepdims=True), 1e-300), (h // patch, w // patch)


def overlay(x: np.ndarray, weights: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(N, 3, H, W) the grey sample with each patch's weight in red, scaled from the sample's least
    attended patch (no red) to its most attended one (full red): near-even weights still show their order."""
    n, _, h, w = x.shape
    lo, hi = weights.min(axis=1, keepdims=True), weights.max(axis=1, keepdims=True)
    heat = ((weights - lo) / np.maximum(hi - lo, 1e-300)).reshape(n, *grid)
    heat = np.kron(heat, np.ones((h // grid[0], w // grid[1])))
    grey = x.mean(axis=1)
    rgb = np.stack([np.maximum(grey, heat), grey * (1 - 0.6 * heat), grey * (1 - 0.6 * heat)], axis=1)
    return rgb.astype(np.float32)


@provides("ink_focus", "attention_entropy", "attention_maps")
def focus(ctx: ArmContext) -> Measured:
    """Whether the code looks where the digit is: the share of its weight on patches with ink,
    divided by the share of patches with ink (1: no preference), and how spread the weights are."""
    x = ctx.val_x[ctx.spread(SENSITIVITY_SAMPLES)]
    weights, grid = token_weights(ctx, x)
    patch = x.shape[2] // grid[0]
    ink = patch_sums(x.mean(axis=1), patch) / (patch * x.shape[3] // grid[1]) > INK
    share = ink.mean(axis=1)
    per_sample = np.where(share > 0, (weights * ink).sum(axis=1) / np.maximum(share, 1e-12), 1.0)
    entropy = -(weights * np.log(np.maximum(weights, 1e-300))).sum(axis=1) / math.log(weights.shape[1])
    m = Measured()
    m.figures["ink_focus"] = float(per_sample.mean())
    m.figures["attention_entropy"] = float(entropy.mean())
    m.curves["samples.ink_focus"] = per_sample.tolist()
    shown = spread_index(len(x), SHOWN)
    m.images["attention_maps"] = unit_images(overlay(x[shown], weights[shown], grid))
    return m


# --- capsules ---------------------------------------------------------------------------------------------
def capsule_lengths(ctx: ArmContext, x: np.ndarray) -> np.ndarray:
    """(N, K): a capsule model's capsule lengths; for any other model the norms of its code cut into
    as many equal groups as the capsule preset has capsules (10), the nearest thing it has."""
    with torch.no_grad():
        encoded = ctx.model.model.encode(torch.from_numpy(np.ascontiguousarray(x)))
    if "capsule_lengths" in encoded.extras:
        return encoded.extras["capsule_lengths"].double().numpy()
    code = encoded.mean_code.double().numpy()
    groups = 10 if code.shape[1] % 10 == 0 else 1
    return np.linalg.norm(code.reshape(len(code), groups, -1), axis=2)


VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]) / 255.0


def heat_image(values: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) colours for (H, W) values in 0-1, dark blue to yellow (viridis), so small
    differences between similar lengths stay visible."""
    v = np.clip(np.asarray(values, np.float64), 0, 1) * (len(VIRIDIS) - 1)
    low = np.minimum(v.astype(np.int64), len(VIRIDIS) - 2)
    t = (v - low)[..., None]
    rgb = VIRIDIS[low] * (1 - t) + VIRIDIS[low + 1] * t
    return rgb.transpose(2, 0, 1)[None].astype(np.float32)


def centroid_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy of the nearest class mean, fitted on ``train``: how well the features separate classes."""
    classes = np.unique(train_labels)
    centres = np.stack([train[train_labels == c].mean(axis=0) for c in classes])
    d = torch.cdist(torch.from_numpy(test.astype(np.float64)), torch.from_numpy(centres.astype(np.float64)))
    return float((classes[d.argmin(dim=1).numpy()] == test_labels).mean())


@provides("length_class_accuracy", "code_class_accuracy", "shift_mse", "shift_mse_ratio", "capsule_lengths")
def capsules(ctx: ArmContext) -> Measured:
    """Capsule lengths per class (a picture), how well lengths and codes tell the classes apart, and
    the reconstruction error of digits shifted by two pixels (a deformation) against unshifted ones."""
    labels = np.asarray(ctx.dataset.labels)
    train_lengths = capsule_lengths(ctx, ctx.train_x)
    val_lengths = capsule_lengths(ctx, ctx.val_x)
    train_labels, val_labels = labels[ctx.train_rows], labels[ctx.val_rows]
    m = Measured()
    m.figures["length_class_accuracy"] = centroid_accuracy(train_lengths, train_labels, val_lengths, val_labels)
    train_codes = ctx.model.encode(ctx.train_x)
    m.figures["code_class_accuracy"] = centroid_accuracy(train_codes, train_labels, ctx.val_codes, val_labels)
    classes = np.unique(val_labels)
    table = np.stack([val_lengths[val_labels == c].mean(axis=0) for c in classes])
    lo, hi = float(table.min()), float(table.max())
    m.images["capsule_lengths"] = heat_image(np.kron((table - lo) / max(hi - lo, 1e-12), np.ones((12, 12))))
    m.captions["capsule_lengths"] = [f"rows: classes {classes[0]}-{classes[-1]}; dark {lo:.2f} to yellow {hi:.2f}"]
    shifted = np.roll(ctx.val_x, SHIFT_PIXELS, axis=-1)
    errors = per_sample_mse(ctx.model.reconstruct(shifted), shifted)
    m.figures["shift_mse"] = float(errors.mean())
    base = per_sample_mse(ctx.val_recon, ctx.val_x)
    m.figures["shift_mse_ratio"] = float(errors.mean() / max(base.mean(), 1e-12))
    m.curves["samples.shift_mse"] = errors.tolist()
    return m

