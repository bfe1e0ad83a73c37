"""The in-memory dataset every part of the engine trains on.

A dataset is one array of samples plus optional labels. Images stay uint8
(0-255) so that a whole set lives on the device at a quarter of the float32
size; the trainer converts each batch to float in 0-1. Tables and signals are
float32, already standardised, with the statistics kept so values can be mapped
back to the user's units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

INPUT_KINDS = ("image", "vector", "sequence")


class DataError(ValueError):
    """A dataset could not be loaded or used; the message is meant for the user."""


class LoadCancelled(DataError):
    """The caller asked a long load to stop (the GUI does when a newer load or closing supersedes it)."""


@dataclass
class Dataset:
    """Samples shaped ``(N, *sample_shape)`` with optional integer labels.

    ``sample_shape`` is (C, H, W) for images, (D,) for vectors and (T, C) for
    sequences. ``x`` is uint8 for images (scaled to 0-1 per batch) and float32
    otherwise.
    """

    name: str
    x: np.ndarray
    kind: str
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    # Per-feature mean/std used for standardisation, so inputs can be mapped back.
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    # Names of the columns of a table, for display.
    feature_names: list[str] | None = None
    # Which label values mark anomalies (for ROC AUC), if the set has them.
    anomaly_labels: tuple[int, ...] = ()
    description: str = ""
    credit: str = ""
    meta: dict = field(default_factory=dict)
    # Where the samples came from: a built-in name, a file or folder path, or "torchvision:Name".
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise DataError(f"dataset kind must be one of {', '.join(INPUT_KINDS)}, not {self.kind!r}")
        if self.x.ndim < 2:
            raise DataError(f"dataset '{self.name}' must hold samples as rows; got an array of shape {self.x.shape}")
        if self.x.dtype not in (np.uint8, np.float32):
            raise DataError(f"dataset '{self.name}' must be uint8 or float32, not {self.x.dtype}")
        if self.labels is not None and len(self.labels) != len(self.x):
            raise DataError(
                f"dataset '{self.name}' has {len(self.x)} samples but {len(self.labels)} labels"
            )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def is_uint8(self) -> bool:
        return self.x.dtype == np.uint8

    @property
    def value_range(self) -> tuple[float, float]:
        """The range of the values the model sees, after per-batch scaling."""
        if self.is_uint8:
            return (0.0, 1.0)
        return (float(self.x.min()), float(self.x.max()))

    @property
    def in_unit_range(self) -> bool:
        """True when every value the model sees lies in 0-1 (what a bernoulli output needs)."""
        lo, hi = self.value_range
        return self.is_uint8 or (lo >= 0.0 and hi <= 1.0)

    def __len__(self) -> int:
        return len(self.x)

    def as_float(self, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Samples as float32 in model space (0-1 for images)."""
        x = self.x if index is None else self.x[index]
        if self.is_uint8:
            return x.astype(np.float32) / 255.0
        return np.asarray(x, dtype=np.float32)

    def label_name(self, label: int) -> str:
        """What label ``label`` is called: its name where the set has names, else the number."""
        names = self.label_names
        return names[label] if names and 0 <= label < len(names) else str(label)

    def find_label(self, text: str) -> int | None:
        """The label a person means by ``text`` (its name or its number), or None if there is none."""
        if self.labels is None:
            return None
        present = np.unique(self.labels).tolist()
        for label in present:
            if text == self.label_name(label) or text == str(label):
                return int(label)
        return None

    def without_label(self, label: int) -> "Dataset":
        """Every sample but those of one class: anomaly experiments train on the rest and score all."""
        return self.subset(np.flatnonzero(self.labels != label), name=f"{self.name} without {self.label_name(label)}")

    def subset(self, index: np.ndarray, name: str | None = None) -> "Dataset":
        """A new dataset holding the given rows; metadata is shared."""
        index = np.asarray(index)
        return Dataset(
            name=name or self.name,
            x=self.x[index],
            kind=self.kind,
            labels=None if self.labels is None else self.labels[index],
            label_names=self.label_names,
            feature_mean=self.feature_mean,
            feature_std=self.feature_std,
            feature_names=self.feature_names,
            anomaly_labels=self.anomaly_labels,
            description=self.description,
            credit=self.credit,
            meta=_subset_meta(self.meta, index, len(self.x)),
            source=self.source,
        )


def _subset_meta(meta: dict, index: np.ndarray, n: int) -> dict:
    """Copy ``meta``, taking the same rows of any per-sample array (such as shape factors)."""
    out = {}
    for key, value in meta.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            out[key] = value[index]
        else:
            out[key] = value
    return out


def per_feature_standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(z, mean, std)`` with ``z = (x - mean) / std`` per feature, as float32.

    Features are the last axis: columns of a (N, D) table, channels of (N, T, C)
    sequences. A constant feature gets std 1 rather than 0, so it maps to 0
    instead of to NaN and still maps back exactly.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise DataError(f"standardising needs samples as rows; got an array of shape {x.shape}")
    axes = tuple(range(x.ndim - 1))
    # Statistics in float64: float32 sums over a million rows lose digits.
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
    # Map in float32: a float64 copy of a large set would double the memory.
    z = np.asarray(x, dtype=np.float32) - mean32
    z /= std32
    return z, mean32, std32


def unstandardise(dataset: Dataset, z: np.ndarray) -> np.ndarray:
    """Map model-space values (inputs or reconstructions) back to the user's units.

    Images come back as 0-255 floats; standardised tables and signals as
    ``z * std + mean``; anything else unchanged.
    """
    z = np.asarray(z, dtype=np.float32)
    if dataset.is_uint8:
        return z * 255.0
    if dataset.feature_mean is None or dataset.feature_std is None:
        return z
    return z * dataset.feature_std + dataset.feature_mean


def require_two_samples(n: int, where: str) -> None:
    """Training splits off a validation part, so one sample (or none) can never train."""
    if n < 2:
        what = "no samples" if n == 0 else "only 1 sample"
        raise DataError(f"{where}: holds {what}; training needs at least 2 (one to train on, one to validate)")


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


DEFAULT_BUDGET_BYTES = 1 << 30


def check_budget(where: str, n: int, sample_shape: tuple[int, ...], what: str,
                 budget_bytes: int | None, limit: int | None = None) -> None:
    """Refuse before decoding when the samples would not fit the memory budget.

    The estimate is float32, the size the trainer works in, so that the refusal
    comes here, with advice, rather than as an out-of-memory crash mid-training.
    ``what`` is e.g. "this folder holds 120,000 images".
    """
    if budget_bytes is None:
        return
    per_sample = 4 * math.prod(int(s) for s in sample_shape)  # Python ints: no overflow
    kept = n if limit is None else min(n, limit)
    total = kept * per_sample
    if total <= budget_bytes:
        return
    fits = int(budget_bytes // max(per_sample, 1))
    shape = "x".join(str(s) for s in sample_shape)
    message = f"{where}: {what} of {shape}, {format_bytes(n * per_sample)} as float32, "
    if kept != n:
        message += f"and the {kept:,} that --limit {limit:,} keeps take {format_bytes(total)}, "
    message += f"over the {format_bytes(budget_bytes)} budget; "
    if fits >= 2:
        message += f"use --limit {fits:,} (or fewer) to load a stratified subsample"
    else:
        message += "even 2 samples do not fit: choose a smaller image size or a larger budget"
    raise DataError(message)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/validation indices; the same seed always gives the same split.

    At least one sample goes to each side when ``n >= 2`` and ``val_fraction > 0``.
    """
    if n < 2:
        raise DataError(f"a dataset needs at least 2 samples to split into training and validation; it has {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def check_labels_budget(where: str, n: int, budget_bytes: int | None) -> None:
    """Refuse when the labels of all ``n`` samples, which a stratified --limit reads whole, would not fit.

    The data budget counts only the samples --limit keeps, but choosing them by class needs every
    label; a header can declare a billion of them, so they are held to the budget too (as int64).
    """
    if budget_bytes is None or 8 * n <= budget_bytes:
        return
    raise DataError(
        f"{where}: holds {n:,} labels, which choosing a stratified --limit reads whole ({format_bytes(8 * n)} "
        f"as int64), over the {format_bytes(budget_bytes)} budget; split the file or raise the budget"
    )


def stratified_positions(counts: np.ndarray, limit: int, seed: int) -> list[np.ndarray]:
    """For classes of these sizes (in ascending label order), the positions within each class that a
    stratified subsample of ``limit`` keeps, sorted.

    This is ``stratified_limit`` without the labels themselves, so that an importer which streams
    its rows can count the classes in one pass and keep the chosen rows in the next.
    """
    counts = np.asarray(counts, dtype=np.int64)
    rng = np.random.default_rng(seed)
    quota = np.floor(counts / counts.sum() * limit).astype(int)
    # Hand out the rounding remainder to the largest classes so the total is exact.
    for i in np.argsort(-counts)[: limit - int(quota.sum())]:
        quota[i] += 1
    return [np.sort(rng.choice(int(cnt), size=min(int(q), int(cnt)), replace=False)) for q, cnt in zip(quota, counts)]


def stratified_limit(labels: np.ndarray | None, n: int, limit: int, seed: int) -> np.ndarray:
    """Indices of ``limit`` samples, keeping each label's share where labels exist."""
    if limit >= n:
        return np.arange(n)
    if labels is None:
        return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    classes, counts = np.unique(labels, return_counts=True)
    picked = [np.flatnonzero(labels == c)[positions]
              for c, positions in zip(classes, stratified_positions(counts, limit, seed))]
    return np.sort(np.concatenate(picked))
