"""Weights and biases: the first layer's filters, and the decoder's output bias.

The filters are what the first layer looks for: for an MLP on images each unit's
weights form an image; for a conv net they are its kernels. Each tile is scaled
to its own range, since what matters is a filter's pattern, not its size.

Tiles are kept apart by gaps in a colour no filter pixel has (the filters are
grey), and kernels smaller than ``MIN_TILE`` pixels are enlarged first: a mosaic
of 3x3 kernels with one-pixel dark gaps read as one checkerboard.

The output bias is where the decoder starts before any code is added: trained,
it comes to hold the data's mean (through the output link, for a bernoulli
likelihood). An MLP's bias has a value per output pixel and is drawn as an
image; a conv decoder's has one value per channel (the model broadcasts it over
the image, which drew as a flat square), so it is drawn as one bar per channel
with the values in the caption. With biases off there is none, and the panel
says so plainly.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.reports import Report
from ..widgets.image_grid import mosaic, to_display
from .plots import CAUTION, NOTE, bar_curve, fixed_label, health_line, set_bars, small_plot

GAP_RGB = (0.30, 0.55, 0.85)  # between filter tiles: a blue no grey filter pixel has
GAP_VALUE = 2.0  # a grey mosaic's gap pixels: above the tiles' 0..1, the lookup table's last entry
GREY_LEVELS = (0.0, 257 / 255)  # 256 entries: 0..1 map to the 255 greys, GAP_VALUE clips to the last
MIN_TILE = 9  # pixels: smaller kernels are enlarged (nearest) to this or more, so a gap is thin beside them

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


def per_channel_bias(bias: np.ndarray) -> np.ndarray | None:
    """The bias's one value per channel when it is constant over the image or sequence (a conv
    decoder's: (C, H, W) or (T, C) broadcast from C values); None when it varies (an MLP's)."""
    b = np.asarray(bias, dtype=np.float32)
    if b.ndim == 3:
        flat = b.reshape(b.shape[0], -1)  # (C, H*W)
    elif b.ndim == 2:
        flat = b.T  # (C, T)
    else:
        return None
    if flat.shape[1] < 2 or not np.allclose(flat, flat[:, :1], rtol=0, atol=1e-7):
        return None
    return flat[:, 0].copy()


def separated_mosaic(tiles: np.ndarray) -> np.ndarray:
    """(N, H, W) grey or (N, H, W, 3) colour tiles (0-1) as one image, enlarged if small, with gaps
    between the tiles and in empty cells: GAP_VALUE in a grey image (see grey_gap_lut), GAP_RGB in colour."""
    scale = -(-MIN_TILE // max(tiles.shape[1], 1))  # 3x3 kernels: 3 times, to 9x9
    if scale > 1:
        tiles = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
    columns = max(1, math.ceil(math.sqrt(len(tiles))))
    image = mosaic(tiles, columns)  # NaN in the gaps and empty cells
    if image.ndim == 2:  # grey: the gaps get GAP_VALUE, which grey_gap_lut draws in GAP_RGB
        return np.nan_to_num(image, nan=GAP_VALUE)
    image[np.isnan(image).any(axis=-1)] = GAP_RGB
    return image


def grey_gap_lut() -> np.ndarray:
    """A grey ramp for 0..1 at GREY_LEVELS, whose last entry (reached only by GAP_VALUE) is GAP_RGB.
    A grey image through a lookup table draws as fast as before; float RGB cost ~2 ms more a draw."""
    lut = np.repeat(np.linspace(0, 255, 255)[:, None], 3, axis=1)
    return np.vstack([lut, np.asarray(GAP_RGB)[None] * 255]).round().astype(np.uint8)


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
        # A conv decoder's bias: one bar per channel, swapped into the bias's cell when needed.
        self.channel_plot = small_plot(self.graphics.ci, "bias per channel", row=1, col=1, left=40)
        self.channel_bars = bar_curve(self.channel_plot, "#9c755f")
        self.graphics.ci.removeItem(self.channel_plot)
        self.channel_plot.setVisible(False)
        self.per_channel = False
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        for view in (self.filter_view, self.bias_view):
            view.setMenuEnabled(False)
        self.filter_image = pg.ImageItem(axisOrder="row-major")
        self.bias_image = pg.ImageItem(axisOrder="row-major")
        self.filter_view.addItem(self.filter_image)
        self.bias_view.addItem(self.bias_image)
        self._lut = diverging_lut()
        self._gap_lut = grey_gap_lut()
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
        layout.addWidget(health_line("weights"))
        self.clear()

    def clear(self) -> None:
        self._filter_shape = self._bias_shape = None
        self._channel_range = None
        self._caption_head = "first layer"
        self.has_bias: bool | None = None
        self.caption.setText(WAITING_TEXT)
        self.bias_note.setText("")

    def draw(self, report: Report) -> None:
        if report.filters is None and report.output_bias is None:
            return  # a report without pictures says nothing about them: "no output bias" would be wrong
        has_bias = report.output_bias is not None
        channels = per_channel_bias(report.output_bias) if has_bias else None
        if has_bias != self.has_bias or (channels is not None) != self.per_channel:
            self.has_bias = has_bias
            self._set_per_channel(channels is not None)
            self.bias_view.setVisible(has_bias and not self.per_channel)
            self.channel_plot.setVisible(has_bias and self.per_channel)
            self.bias_note.setText("" if has_bias else NO_BIAS_TEXT)
            self._filter_shape = None  # re-caption: "right: output bias" only when there is one
        if report.filters is not None:
            self._draw_filters(report.filters)
        if channels is not None:
            self._draw_channel_bias(channels)
        elif has_bias:
            self._draw_bias(report.output_bias)

    def _set_per_channel(self, on: bool) -> None:
        """Put the bar plot (a conv decoder) or the image (an MLP) in the bias's cell: a one-off per run."""
        if on == self.per_channel:
            return
        self.per_channel = on
        layout = self.graphics.ci
        old, new = (self.bias_view, self.channel_plot) if on else (self.channel_plot, self.bias_view)
        layout.removeItem(old)
        old.setVisible(False)
        layout.addItem(new, row=0, col=1)
        self._channel_range = None

    def _draw_channel_bias(self, values: np.ndarray) -> None:
        set_bars(self.channel_bars, values)
        lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
        pad = 0.15 * (hi - lo) or 0.1
        span = (lo - (pad if lo < 0 else 0.0), hi + (pad if hi > 0 else 0.0))
        keep = self._channel_range
        # Re-range only when the bars leave the range or use under a third of it (no per-frame re-tick).
        if (keep is None or keep[0] != len(values) or span[0] < keep[1] or span[1] > keep[2]
                or (span[1] - span[0]) < (keep[2] - keep[1]) / 3):
            self._channel_range = (len(values), *span)
            self.channel_plot.setXRange(-0.5, len(values) - 0.5, padding=0)
            step = max(1, len(values) // 4)  # channel numbers, not -0.4 .. 0.4
            self.channel_plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(0, len(values), step)]])
            self.channel_plot.setYRange(*span, padding=0)
        numbers = ", ".join(f"{v:.2g}" for v in values[:4]) + (", …" if len(values) > 4 else "")
        text = self._caption_head + f" · right: output bias, one per channel ({numbers})"
        if text != self.caption.text():
            self.caption.setText(text)

    def _draw_filters(self, filters: np.ndarray) -> None:
        if filters.ndim == 4:  # images or conv kernels: tiles, each scaled to its own range, gaps in blue
            image = separated_mosaic(filter_tiles(filters))
            grey = image.ndim == 2
            self.filter_image.setLookupTable(self._gap_lut if grey else None)
            self.filter_image.setImage(image, levels=GREY_LEVELS if grey else (0.0, 1.0), autoLevels=False)
            noun = "kernels" if filters.shape[-1] < MIN_TILE else "filters"
            kind = f"{len(filters)} {noun} {filters.shape[-2]}x{filters.shape[-1]}"
        else:  # signals and tables: one row per unit, weights coloured by sign
            image, top = signed_matrix(filters)
            self.filter_image.setLookupTable(self._lut)
            self.filter_image.setImage(image, levels=(-top, top), autoLevels=False)
            kind = f"{len(filters)} units (rows) x inputs, red + blue -"
        if image.shape != self._filter_shape:  # re-fit only when the shape changes: a range change re-lays out
            self._filter_shape = image.shape
            self.filter_view.setAspectLocked(filters.ndim == 4)
            self.filter_view.autoRange(padding=0.01)
            self._caption_head = f"first layer: {kind}"
            if not self.per_channel:  # the per-channel caption carries the values, set as they come
                self.caption.setText(self._caption_head + (" · right: output bias (learns the data's mean)"
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
