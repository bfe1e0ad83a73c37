"""A row of decodings drawn as the data is: pictures for images, curves for 1-d signals and bar rows
for tables. The latent explorer's strips (traversal, interpolation, arithmetic, samples) use it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QStackedWidget

from ..widgets.image_grid import ImageGrid
from ..widgets.when_shown import blank
from .samples import TraceGrid, display_levels

STRIP = 9  # decodings in a strip
TRACE_COLUMNS = 3


class BarRows(pg.GraphicsLayoutWidget):
    """Table rows as bars, one row of bars per sample in a grid of cells: one BarGraphItem in all."""

    def __init__(self, columns: int = STRIP, parent=None):
        super().__init__(parent)
        self.columns = columns
        self.view = self.addViewBox(enableMouse=False)
        self.view.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.1, brush="#4e79a7", pen=None)
        self.view.addItem(self.bars)
        self.setMinimumHeight(60)

    def set_samples(self, samples: np.ndarray, levels: tuple[float, float], columns: int) -> None:
        rows = np.asarray(samples, np.float32).reshape(len(samples), -1)
        n, f = rows.shape
        lo, hi = levels
        scale = 0.85 / (hi - lo) if hi > lo else 1.0
        col, row = np.arange(n) % columns, np.arange(n) // columns
        x = col[:, None] + (np.arange(f)[None, :] + 0.5) * (0.9 / f)
        base = -row[:, None] + 0.5 + np.zeros((1, f))  # bars grow from each cell's middle
        height = np.clip(rows, lo, hi) * scale
        self.bars.setOpts(x=x.ravel(), y0=base.ravel(), height=height.ravel(), width=0.8 / f)
        self.view.setRange(xRange=(0, columns), yRange=(-(n - 1) // columns - 0.5, 1.5), padding=0.02)


class StripView(QStackedWidget):
    """Decodings as pictures for images, curves for signals and bar rows for tables."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images = ImageGrid(columns=STRIP)
        self.traces = TraceGrid(columns=STRIP, rows=8)
        self.bars = BarRows()
        for w in (self.images, self.traces, self.bars):
            self.addWidget(w)
        self.setMinimumHeight(80)

    def show_samples(self, samples: np.ndarray, kind: str, levels, columns: int = STRIP,
                     captions: list[str] | None = None) -> None:
        lv = levels or display_levels(samples, False)
        if kind == "image":
            self.setCurrentWidget(self.images)
            self.images.set_samples(samples, labels=captions, columns=columns, levels=lv)
        elif kind == "sequence":
            # Nine 128-step curves side by side read as one long signal: a strip wraps in rows of three.
            columns = TRACE_COLUMNS if columns == STRIP else columns
            self.setCurrentWidget(self.traces)
            self.traces.columns, self.traces.rows = columns, max(1, -(-len(samples) // columns))
            self.traces.set_rows([None, None, samples], lv)  # drawn in the output colour
        else:
            # Nine rows of bars side by side read as one long row, as curves do: wrap them in rows of three.
            columns = TRACE_COLUMNS if columns == STRIP else columns
            self.setCurrentWidget(self.bars)
            self.bars.set_samples(samples, lv, columns)

    def clear(self) -> None:
        blank(self)  # the images and the traces
        self.bars.bars.setOpts(x=[], y0=[], height=[])  # y0 too: bars of unequal lengths fail to paint
