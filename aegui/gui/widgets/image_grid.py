"""A grid of small images drawn as one mosaic in a single ImageItem.

One ImageItem updated with ``setImage(..., levels=...)`` is far cheaper than
dozens of items, and fixed levels skip pyqtgraph's per-frame min/max scan.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg


def to_display(samples: np.ndarray) -> np.ndarray:
    """(N, ...) samples as (N, H, W) or (N, H, W, 3) arrays for display."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 4:  # (N, C, H, W)
        if a.shape[1] == 1:
            return a[:, 0]
        if a.shape[1] == 3:
            return np.moveaxis(a, 1, -1)
        return a.mean(axis=1)
    if a.ndim == 3:  # (N, T, C) sequences: show as (C, T) strips
        return np.moveaxis(a, 1, 2)
    if a.ndim == 2:  # vectors: a square-ish tile when possible, else one row
        side = int(math.isqrt(a.shape[1]))
        if side * side == a.shape[1]:
            return a.reshape(len(a), side, side)
        return a[:, None, :]
    raise ValueError(f"cannot display samples of shape {a.shape}")


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tiles (N, H, W[, 3]) arranged row by row into one image with ``gap`` pixels between."""
    n, h, w = tiles.shape[:3]
    rows = max(1, math.ceil(n / columns))
    extra = tiles.shape[3:]
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, *extra), fill, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    return out


class ImageGrid(pg.GraphicsLayoutWidget):
    """Shows rows of sample images; ``set_rows`` takes several equally long batches."""

    def __init__(self, parent=None, columns: int = 8, levels: tuple[float, float] | None = (0.0, 1.0)):
        super().__init__(parent)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.columns = columns
        self.levels = levels
        self._labels: list[pg.TextItem] = []
        self._shape: tuple[int, ...] | None = None
        self.setMinimumHeight(80)
        self.image.setLookupTable(None)

    def set_rows(self, batches: list[np.ndarray], labels: list[str] | None = None,
                 levels: tuple[float, float] | None = None) -> None:
        tiles = np.concatenate([to_display(b)[: self.columns] for b in batches if b is not None])
        columns = min(self.columns, len(to_display(batches[0])))
        image = mosaic(tiles, columns)
        lv = levels or self.levels
        if lv is None:
            finite = image[np.isfinite(image)]
            lv = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if lv[0] == lv[1]:
                lv = (lv[0] - 1, lv[1] + 1)
        image = np.nan_to_num(image, nan=lv[0])
        self._show(image, lv)
        self._set_labels(labels, tiles.shape[1:3], columns)

    def set_samples(self, samples: np.ndarray, labels: list[str] | None = None, columns: int | None = None,
                    levels: tuple[float, float] | None = None) -> None:
        if columns:
            self.columns = columns
        tiles = to_display(samples)
        image = mosaic(tiles, self.columns)
        lv = levels or self.levels or (float(np.nanmin(image)), float(np.nanmax(image)) + 1e-6)
        self._show(np.nan_to_num(image, nan=lv[0]), lv)
        self._set_labels(labels, tiles.shape[1:3], self.columns)

    def _show(self, image: np.ndarray, levels) -> None:
        self.image.setImage(image, levels=levels, autoLevels=False)
        # Re-fit the view only when the mosaic's size changes: a range change re-lays out the scene.
        if image.shape[:2] != self._shape:
            self._shape = image.shape[:2]
            self.view.autoRange(padding=0.01)

    def _set_labels(self, labels, tile_shape, columns) -> None:
        if not labels and not self._labels:
            return
        for item in self._labels:
            self.view.removeItem(item)
        self._labels = []
        if not labels:
            return
        h, w = tile_shape
        for i, text in enumerate(labels):
            r, c = divmod(i, columns)
            item = pg.TextItem(text, color="#f0c040", anchor=(0, 0))
            item.setPos(c * (w + 1), r * (h + 1))
            self.view.addItem(item)
            self._labels.append(item)
