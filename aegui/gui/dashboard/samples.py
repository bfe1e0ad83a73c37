"""Showing a few samples, whatever their kind: images as a mosaic, signals and table rows as traces.

Images go to the ImageGrid (one ImageItem). A 128-step signal or a 10-column
table row would be a one-pixel-high strip as an image, so those are drawn as
line traces instead: each batch (input, corrupted input, output) is ONE curve
item covering every sample, its samples laid out in a grid of cells and kept
apart by NaN gaps, so a refresh is one ``setData`` per batch, not one per sample.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QStackedWidget, QWidget

from ..widgets.image_grid import ImageGrid
from .plots import pen

TRACE_COLOURS = ("#555555", "#f28e2b", "#4e79a7")  # input, corrupted input, output
CELL_GAP = 0.15  # of a cell's width and height


def as_traces(samples: np.ndarray) -> np.ndarray:
    """(N, ...) non-image samples as (N, channels, length) traces."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2:  # vectors: one trace over the features
        return a[:, None, :]
    if a.ndim == 3:  # (N, T, C) sequences: one trace per channel
        return np.moveaxis(a, 1, 2)
    return a.reshape(len(a), 1, -1)


def trace_paths(batch: np.ndarray, columns: int, levels: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every trace of ``batch`` in grid cells of size 1 x 1, NaN between traces."""
    traces = as_traces(batch)
    n, channels, length = traces.shape
    lo, hi = levels
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    t = np.linspace(0.0, 1.0 - CELL_GAP, length, dtype=np.float64)
    cols = np.arange(n) % columns
    rows = np.arange(n) // columns
    x = cols[:, None, None] + t[None, None, :]
    y = -rows[:, None, None] + (np.clip((traces - lo) * scale, 0, 1) * (1.0 - CELL_GAP))
    x = np.broadcast_to(x, (n, channels, length))
    gap = np.full((n, channels, 1), np.nan)
    return (np.concatenate([x, gap], axis=2).ravel(), np.concatenate([y, gap], axis=2).ravel())


class TraceGrid(pg.GraphicsLayoutWidget):
    """Overlaid traces of up to three batches (e.g. input, corrupted input, output) per cell."""

    def __init__(self, parent: QWidget | None = None, columns: int = 4, rows: int = 2):
        super().__init__(parent)
        self.columns = columns
        self.rows = rows  # at most this many rows of cells
        self.view = self.addViewBox(enableMouse=False)
        self.view.setMenuEnabled(False)
        self.curves = []
        for colour in TRACE_COLOURS:
            curve = pg.PlotCurveItem(pen=pen(colour), connect="finite")
            self.view.addItem(curve)
            self.curves.append(curve)
        self._shape = None
        self._captions: list[pg.TextItem] = []
        self.setMinimumHeight(60)

    def set_captions(self, captions: list[str] | None) -> None:
        """A caption in the top-left corner of each cell, such as each sample's label (static previews;
        a live view would move existing items rather than make new ones)."""
        for item in self._captions:
            self.view.removeItem(item)
        self._captions = []
        for i, text in enumerate((captions or [])[: self.columns * self.rows]):
            item = pg.TextItem(text, color="#b07a00", anchor=(0, 0))
            item.setPos(i % self.columns, 1 - i // self.columns)
            self.view.addItem(item)
            self._captions.append(item)

    def set_rows(self, batches: list[np.ndarray | None], levels: tuple[float, float]) -> None:
        n = 0
        for curve, batch in zip(self.curves, batches + [None] * len(self.curves)):
            if batch is None:
                curve.setVisible(False)
                continue
            batch = batch[: self.columns * self.rows]
            n = max(n, len(batch))
            curve.setData(*trace_paths(batch, self.columns, levels))
            curve.setVisible(True)
        rows = max(1, -(-n // self.columns))
        if (rows, self.columns) != self._shape:  # re-range only when the grid's shape changes
            self._shape = (rows, self.columns)
            self.view.setRange(xRange=(0, self.columns), yRange=(-rows + 1, 1), padding=0.02)


class SampleView(QStackedWidget):
    """An ImageGrid for images, a TraceGrid for signals and tables; ``set_rows`` picks."""

    def __init__(self, columns: int = 8, trace_columns: int = 4, parent: QWidget | None = None):
        super().__init__(parent)
        self.images = ImageGrid(columns=columns)
        self.traces = TraceGrid(columns=trace_columns)
        self.addWidget(self.images)
        self.addWidget(self.traces)

    def set_rows(self, batches: list[np.ndarray | None], levels: tuple[float, float]) -> None:
        first = next(b for b in batches if b is not None)
        if first.ndim == 4:  # (N, C, H, W)
            if self.currentWidget() is not self.images:
                self.setCurrentWidget(self.images)
            self.images.set_rows([b for b in batches if b is not None], levels=levels)
        else:
            if self.currentWidget() is not self.traces:
                self.setCurrentWidget(self.traces)
            self.traces.set_rows(batches, levels)


def display_levels(samples: np.ndarray, unit_range: bool) -> tuple[float, float]:
    """Fixed display levels: 0-1 for images in model space, else the 1st-99th percentile."""
    if unit_range:
        return (0.0, 1.0)
    lo, hi = np.percentile(np.asarray(samples, dtype=np.float32), [1, 99])
    return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
