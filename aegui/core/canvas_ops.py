"""The Draw tab's numbers, without Qt: noise layers, quality metrics, MNIST-style preprocessing, undo.

Noise is a layer on top of the clean drawing, never written into it, so the clean
drawing stays the reference that PSNR and SSIM compare against. The noise itself
is made by ``objectives.corrupt`` from draws kept in the layer: the canvas shows
exactly the corruption the denoising model was trained on (gaussian σ = level of
the value range, salt-and-pepper with half the flips to each end, masking to the
range's low end), and a fixed seed keeps the pattern still while the level moves.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .objectives import corrupt

NOISE_KINDS = ("gaussian", "salt_pepper", "masking")


# --- noise as a layer ------------------------------------------------------------


@dataclass(frozen=True)
class NoiseLayer:
    """One seeded noise pattern for a drawing of ``shape``; ``draw`` holds the random values
    ``corrupt`` turns into noise (standard normal for gaussian, uniform on [0, 1) otherwise)."""

    kind: str
    level: float
    seed: int
    block: int
    draw: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.draw.shape


def noise_layer(shape: tuple[int, ...], kind: str, level: float, seed: int, block: int = 1) -> NoiseLayer:
    """The noise layer ``seed`` gives: the same seed always gives the same layer, "new noise" is a
    new seed. ``block`` (masking only) masks squares of block×block values over the last two axes
    (the last axis of a 1-d drawing), each square kept or masked as one."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    shape = tuple(int(n) for n in shape)
    generator = torch.Generator().manual_seed(int(seed))
    if kind == "gaussian":
        draw = torch.randn(shape, generator=generator)
    elif kind == "masking" and block > 1:
        draw = _block_uniform(shape, block, generator)
    else:
        draw = torch.rand(shape, generator=generator)
    return NoiseLayer(kind, float(level), int(seed), int(block), draw.numpy())


def _block_uniform(shape: tuple[int, ...], block: int, generator: torch.Generator) -> torch.Tensor:
    """One uniform value per block, repeated over the block's values and cut to ``shape``."""
    spatial = min(2, len(shape))
    lead, grid = shape[:-spatial], shape[-spatial:]
    coarse = torch.rand(lead + tuple(math.ceil(n / block) for n in grid), generator=generator)
    for axis in range(len(shape) - spatial, len(shape)):
        coarse = coarse.repeat_interleave(block, dim=axis)
    return coarse[tuple(slice(0, n) for n in shape)].contiguous()


def apply_noise(clean: np.ndarray, layer: NoiseLayer, mask: np.ndarray | None = None,
                value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """The noisy copy of ``clean`` under ``layer``, clipped to ``value_range``; ``clean`` is left alone.

    ``mask`` (boolean, or 0..1 for a soft brush edge) confines the noise to where a noise brush
    stroked: the result is clean where the mask is 0 and fully noisy where it is 1.
    """
    clean = np.asarray(clean)
    if clean.shape != layer.shape:
        raise ValueError(f"drawing shape {clean.shape} does not match the noise layer's {layer.shape}")
    x = torch.as_tensor(clean, dtype=torch.float32)
    draw = torch.as_tensor(layer.draw)
    if layer.kind == "gaussian":
        noisy = corrupt(x, layer.kind, layer.level, value_range, normal=draw)
    else:
        noisy = corrupt(x, layer.kind, layer.level, value_range, uniform=draw)
    noisy = noisy.numpy()
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask), clean.shape)
        if mask.dtype == bool:  # exact: a stroked value is the noisy one, an untouched one the clean one
            noisy = np.where(mask, noisy, clean)
        else:
            weight = mask.astype(np.float32)
            noisy = clean + weight * (noisy - clean)
    return np.array(noisy, dtype=np.float32)


# --- metrics ---------------------------------------------------------------------


def mse(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error over all values."""
    reference, test = _pair(reference, test)
    return float(np.mean((reference - test) ** 2))


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, 10·log10(range² / MSE); infinite for identical inputs."""
    error = mse(reference, test)
    return math.inf if error == 0 else 10.0 * math.log10(data_range ** 2 / error)


def correlation(reference: np.ndarray, test: np.ndarray) -> float:
    """Pearson correlation over all values; NaN when either side is constant (it is undefined)."""
    reference, test = _pair(reference, test)
    a, b = reference.ravel() - reference.mean(), test.ravel() - test.mean()
    scale = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / scale if scale > 0 else math.nan


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0,
         gaussian_weights: bool = True) -> float:
    """Mean structural similarity of two images, (H, W) or (C, H, W) averaged over channels.

    Matches scikit-image's ``structural_similarity``: with ``gaussian_weights`` (the default
    here) as called with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` —
    the 11×11 gaussian window and population covariance of Wang et al. 2004; without it, as
    skimage's own defaults (7×7 uniform window, sample covariance). K1 = 0.01, K2 = 0.03. As in
    skimage, the mean is over the positions where the whole window fits, so padding never counts.
    """
    reference, test = _pair(reference, test)
    if reference.ndim not in (2, 3):
        raise ValueError(f"ssim takes (H, W) or (C, H, W) images, got shape {reference.shape}")
    if gaussian_weights:
        sigma, radius = 1.5, int(3.5 * 1.5 + 0.5)  # scipy.ndimage's truncate=3.5, as skimage
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        cov_norm = 1.0
    else:
        taps = np.ones(7)
        cov_norm = 49 / 48
    taps = taps / taps.sum()
    size = len(taps)
    if min(reference.shape[-2:]) < size:
        raise ValueError(f"ssim needs images at least {size}×{size}, got {reference.shape[-2:]}")
    # The window is separable: a row pass then a column pass, over all five maps in one batch
    # (2 convolutions instead of 5 two-dimensional ones: 3×64×64 went from 5.9 ms to 1.3 ms).
    kernel = torch.as_tensor(taps)
    x = torch.as_tensor(reference.reshape(-1, 1, *reference.shape[-2:]))
    y = torch.as_tensor(test.reshape(-1, 1, *test.shape[-2:]))
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    channels = maps.shape[1]
    maps = F.conv2d(maps, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    ux, uy, uxx, uyy, uxy = F.conv2d(maps, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1),
                                     groups=channels).unbind(dim=1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    index = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(index.mean(dim=(1, 2)).mean())


def _pair(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as float64 arrays of one shape (float64 as skimage computes)."""
    reference, test = np.asarray(reference, dtype=np.float64), np.asarray(test, dtype=np.float64)
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {test.shape}")
    return reference, test


# --- MNIST-style preprocessing ------------------------------------------------------


def mnist_preprocess(drawing: np.ndarray, size: int = 28, threshold: float = 0.05) -> np.ndarray:
    """A drawing (H, W) in 0..1 made the way LeCun's MNIST digits were: cropped to its ink (values
    above ``threshold``), scaled to fit a 20×20 box (20/28 of ``size``) keeping its aspect ratio,
    and placed in a size×size frame with its centre of mass on the frame's centre.

    Convention: pixel i's centre is at coordinate i, and the centre of mass goes to size / 2 = 14.0
    for 28, where MNIST's own digits have it (measured on 500 embedded digits: mean 13.97 down,
    13.99 across; 13.5 would shift every real digit by half a pixel). The shift is whole pixels,
    as MNIST's was, so the centre of mass lands within 0.5 px of 14.0 on each axis. An empty
    drawing comes back unchanged (as a copy).
    """
    drawing = np.asarray(drawing, dtype=np.float32)
    if drawing.ndim != 2:
        raise ValueError(f"mnist_preprocess takes an (H, W) drawing, got shape {drawing.shape}")
    rows, cols = np.nonzero(drawing > threshold)
    if rows.size == 0:
        return drawing.copy()
    crop = drawing[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    fit = round(size * 20 / 28)
    scale = fit / max(crop.shape)
    height, width = (max(1, round(n * scale)) for n in crop.shape)
    # Antialiasing averages over the source area when shrinking a big canvas, so thin strokes
    # fade into grey rather than breaking up; when enlarging it is plain bilinear.
    scaled = F.interpolate(torch.from_numpy(np.ascontiguousarray(crop))[None, None], size=(height, width),
                           mode="bilinear", align_corners=False, antialias=True)[0, 0].clamp(0, 1).numpy()
    mass = float(scaled.sum())
    centre_y = float((scaled.sum(axis=1) * np.arange(height)).sum()) / mass
    centre_x = float((scaled.sum(axis=0) * np.arange(width)).sum()) / mass
    middle = size / 2
    top, left = int(np.floor(middle - centre_y + 0.5)), int(np.floor(middle - centre_x + 0.5))
    frame = np.zeros((size, size), dtype=np.float32)
    # A lopsided drawing can put part of its crop past the frame's edge: that part is cut.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, size), min(left + width, size)
    if y1 > y0 and x1 > x0:
        frame[y0:y1, x0:x1] = scaled[y0 - top:y1 - top, x0 - left:x1 - left]
    return frame


# --- undo / redo -----------------------------------------------------------------


def _owned(state):
    """An owned copy of a layer, or of a tuple of layers (the clean layer and the noise-brush mask)."""
    if isinstance(state, tuple):
        return tuple(np.array(part, copy=True) for part in state)
    return np.array(state, copy=True)


class StrokeHistory:
    """Undo and redo of strokes, as owned snapshots of the layer (or a tuple of layers: the Draw
    tab keeps the clean layer with its noise-brush mask) before each stroke. At most ``depth``
    steps are kept (the oldest are dropped), so a 280×280 float32 canvas holds at most
    100 × 306 KiB ≈ 30 MiB."""

    def __init__(self, depth: int = 100):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = depth
        self._undo: deque = deque(maxlen=depth)
        self._redo: deque = deque(maxlen=depth)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def push(self, before: np.ndarray) -> None:
        """Record the layer as it was before a stroke; a new stroke ends the redo branch."""
        self._undo.append(_owned(before))
        self._redo.clear()

    def undo(self, current: np.ndarray) -> np.ndarray:
        """The layer before the last stroke (``current`` itself when there is nothing to undo)."""
        if not self._undo:
            return current
        self._redo.append(_owned(current))
        return self._undo.pop()

    def redo(self, current: np.ndarray) -> np.ndarray:
        """The layer with the last undone stroke reapplied (``current`` when there is none)."""
        if not self._redo:
            return current
        self._undo.append(_owned(current))
        return self._redo.pop()

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
