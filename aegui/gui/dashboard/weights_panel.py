"""Weights and biases: the first layer's filters, and the decoder's output bias.

The filters are what the first layer looks for: for an MLP on images each unit's
weights form an image; for a conv net they are its kernels. Each tile is scaled
to its own range, since what matters is a filter's pattern, not its size.

The output bias is where the decoder starts before any code is added: trained,
it comes to hold the data's mean (through the output link, for a bernoulli
likelihood). With biases off there is none, and the panel says so plainly.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.reports import Report
from ..widgets.image_grid import mosaic, to_display
from .plots import CAUTION, NOTE, fixed_label

WAITING_TEXT = "The first layer's filters and the decoder's output bias appear here once training starts."
NO_BIAS_TEXT = ("No output bias: nothing in the decoder's last layer holds the data's mean; "
                "the decoder must build it from the code.")


def diverging_lut() -> np.ndarray:
    """Blue (negative) through white to red (positive), for signed weights."""
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    blue, white, red = np.array([33, 102, 172]), np.array([247, 247, 247]), np.array([178, 24, 43])
    lut = np.where(t < 0, white + (blue - white) * -t, white + (red - white) * t)
    return lut.astype(np.uint8)


def filter_tiles(filters: np.ndarray) -> np.ndarray:
    """(k, C, H, W) filters as display tiles, each min-max scaled to 0-1."""
    tiles = to_display(filters)
    flat = tiles.reshape(len(tiles), -1)
    lo = flat.min(axis=1)
    span = flat.max(axis=1) - lo
    span[span <= 0] = 1.0
    shape = (len(tiles),) + (1,) * (tiles.ndim - 1)
    return (tiles - lo.reshape(shape)) / span.reshape(shape)


def signed_matrix(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Rows of a non-image array as a matrix, and the symmetric level that fits it."""
    m = np.asarray(a, dtype=np.float32)
    m = m.reshape(len(m), -1) if m.ndim > 1 else m[None, :]
    top = float(np.abs(m).max()) or 1.0
    return m, top


class WeightsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("weightsView")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.filter_view = self.graphics.addViewBox(row=0, col=0, enableMouse=False, invertY=True)
        self.bias_view = self.graphics.addViewBox(row=0, col=1, enableMouse=False, invertY=True)
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        for view in (self.filter_view, self.bias_view):
            view.setMenuEnabled(False)
        self.filter_image = pg.ImageItem(axisOrder="row-major")
        self.bias_image = pg.ImageItem(axisOrder="row-major")
        self.filter_view.addItem(self.filter_image)
        self.bias_view.addItem(self.bias_image)
        self._lut = diverging_lut()
        self.caption = fixed_label(lines=2, look=NOTE)
        self.caption.setObjectName("weightsCaption")
        self.bias_note = fixed_label(lines=2, look=CAUTION)
        self.bias_note.setObjectName("biasNote")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.bias_note)
        self.clear()

    def clear(self) -> None:
        self._filter_shape = self._bias_shape = None
        self.has_bias: bool | None = None
        self.caption.setText(WAITING_TEXT)
        self.bias_note.setText("")

    def draw(self, report: Report) -> None:
        has_bias = report.output_bias is not None
        if has_bias != self.has_bias:
            self.has_bias = has_bias
            self.bias_view.setVisible(has_bias)
            self.bias_note.setText("" if has_bias else NO_BIAS_TEXT)
            self._filter_shape = None  # re-caption: "right: output bias" only when there is one
        if report.filters is not None:
            self._draw_filters(report.filters)
        if has_bias:
            self._draw_bias(report.output_bias)

    def _draw_filters(self, filters: np.ndarray) -> None:
        if filters.ndim == 4:  # images or conv kernels: tiles, each scaled to its own range
            tiles = filter_tiles(filters)
            columns = max(1, math.ceil(math.sqrt(len(tiles))))
            image = np.nan_to_num(mosaic(tiles, columns), nan=0.0)
            self.filter_image.setLookupTable(None)
            self.filter_image.setImage(image, levels=(0.0, 1.0), autoLevels=False)
            kind = f"{len(filters)} filters {filters.shape[-2]}x{filters.shape[-1]}"
        else:  # signals and tables: one row per unit, weights coloured by sign
            image, top = signed_matrix(filters)
            self.filter_image.setLookupTable(self._lut)
            self.filter_image.setImage(image, levels=(-top, top), autoLevels=False)
            kind = f"{len(filters)} units (rows) x inputs, red + blue -"
        if image.shape != self._filter_shape:  # re-fit only when the shape changes: a range change re-lays out
            self._filter_shape = image.shape
            self.filter_view.setAspectLocked(filters.ndim == 4)
            self.filter_view.autoRange(padding=0.01)
            self.caption.setText(f"first layer: {kind}" + (" · right: output bias, which learns the data's mean"
                                                            if self.has_bias else ""))

    def _draw_bias(self, bias: np.ndarray) -> None:
        if bias.ndim == 3:  # (C, H, W): the image the decoder starts from, min-max scaled
            image = to_display(bias[None])[0]
            lo, hi = float(image.min()), float(image.max())
            self.bias_image.setLookupTable(None)
            self.bias_image.setImage(image, levels=(lo, hi if hi > lo else lo + 1.0), autoLevels=False)
        else:  # (T, C) or (D,): a signed strip
            image, top = signed_matrix(bias.T if bias.ndim == 2 else bias)
            self.bias_image.setLookupTable(self._lut)
            self.bias_image.setImage(image, levels=(-top, top), autoLevels=False)
        if image.shape != self._bias_shape:
            self._bias_shape = image.shape
            self.bias_view.setAspectLocked(bias.ndim == 3)
            self.bias_view.autoRange(padding=0.02)
