"""Attention maps of the attention variant, and capsule lengths of the capsule variant.

Attention: how much the pooled code attends to each token (patch) of the
snapshot's inputs. For images the map is upsampled to the image and laid over
it in red, so the attended strokes light up; for signals it is a matrix of
samples (rows) by time patches (columns).

Capsules: each latent capsule's length is the probability that its entity is
present; a matrix of samples (rows) by capsules (columns) shows which capsules
each sample switches on.

Both matrices are drawn on a fixed 0..1 scale with a colour bar beside them:
attention weights and capsule lengths are both between 0 and 1, and scaling a
matrix to its own maximum made a uniform attention (every weight 1/tokens) look
as saturated as a sharp one.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.reports import Report
from ..widgets.image_grid import mosaic, to_display
from .plots import NOTE, fixed_label, health_line, small_font

OVERLAY_SAMPLES = 8
OVERLAY_COLUMNS = 4  # two rows of four: bigger tiles in the narrow right-hand column
HEAT = np.array([1.0, 0.15, 0.0], dtype=np.float32)  # the overlay colour: red-orange
# Full red where a patch gets this many times its uniform share of attention. Scaled by
# the uniform share rather than each map's maximum, so an attention that has not yet
# learnt to focus (nearly uniform) shows faint everywhere instead of saturated everywhere.
FULL_AT_UNIFORM_MULTIPLE = 4.0


def heat_lut() -> np.ndarray:
    """Dark blue through green to yellow (a viridis-like ramp) for 0-1 matrices."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)
    x = np.linspace(0, len(stops) - 1, 256)
    return np.stack([np.interp(x, np.arange(len(stops)), stops[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def heat_colormap() -> pg.ColorMap:
    """heat_lut as a ColorMap, for the colour bar."""
    lut = heat_lut()
    return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)


def attention_overlay(inputs: np.ndarray, attention: np.ndarray, grid: tuple[int, int],
                      levels: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """(N, H, W, 3) images: the grey input with each sample's attention over it in red."""
    n = min(len(inputs), len(attention))
    grey = to_display(inputs[:n])
    if grey.ndim == 4:  # colour input: its brightness is the backdrop
        grey = grey.mean(axis=-1)
    lo, hi = levels
    grey = np.clip((grey - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    gh, gw = grid
    h, w = grey.shape[1:]
    maps = attention[:n].reshape(n, gh, gw)
    maps = np.clip(maps * (gh * gw) / FULL_AT_UNIFORM_MULTIPLE, 0.0, 1.0)
    maps = np.repeat(np.repeat(maps, h // gh, axis=1), w // gw, axis=2)
    alpha = 0.75 * maps[..., None]
    return (grey[..., None] * (1.0 - alpha) + HEAT * alpha).astype(np.float32)


class AttentionPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("attentionView")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view = self.graphics.addViewBox(row=0, col=0, enableMouse=False, invertY=True)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self._lut = heat_lut()
        # The matrices' scale: fixed at 0..1, not linked to the image (it would set the image's levels).
        self.colour_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=heat_colormap(), width=10,
                                          interactive=False, colorMapMenu=False)
        self.colour_bar.axis.setStyle(tickFont=small_font(), tickTextOffset=2)
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        self.colour_bar.setVisible(False)
        self.caption = fixed_label(look=NOTE)
        self.caption.setObjectName("attentionCaption")
        self.graphics.setToolTip(f"Red: how much the code attends to each patch; full red at "
                                 f"{FULL_AT_UNIFORM_MULTIPLE:g}x a uniform share, faint when it is spread evenly")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(health_line("attention"))
        self.clear()

    def clear(self) -> None:
        self._shape = None
        self.mode = ""
        self.caption.setText("")
        self.levels = (0.0, 1.0)

    def draw(self, report: Report) -> None:
        if report.attention is not None and report.inputs is not None:
            self._draw_attention(report)
        elif report.capsule_lengths is not None:
            lengths = report.capsule_lengths
            self._show(lengths, self._lut, (0.0, 1.0), "capsules",
                       f"capsule lengths 0..1: samples x {lengths.shape[1]} capsules", aspect=False)

    def _draw_attention(self, report: Report) -> None:
        grid = tuple(report.token_grid or ())
        inputs = report.inputs
        if inputs.ndim == 4 and len(grid) == 2 and report.attention.shape[1] == grid[0] * grid[1]:
            tiles = attention_overlay(inputs[:OVERLAY_SAMPLES], report.attention[:OVERLAY_SAMPLES], grid,
                                      self.levels)
            image = mosaic(tiles, min(OVERLAY_COLUMNS, len(tiles)), fill=0.0)
            self._show(image, None, (0.0, 1.0), "overlay",
                       f"attention over {grid[0]}x{grid[1]} patches (red)",
                       aspect=True)
        else:
            att = report.attention
            tokens = att.shape[1]
            self._show(att, self._lut, (0.0, 1.0), "matrix",
                       f"attention 0..1 (even: {1 / max(tokens, 1):.2g}): samples x {tokens} tokens",
                       aspect=False)

    def _show(self, image: np.ndarray, lut, levels, mode: str, caption: str, aspect: bool) -> None:
        if mode != self.mode:
            self.mode = mode
            self.image.setLookupTable(lut)
            self.caption.setText(caption)
            self.colour_bar.setVisible(mode != "overlay")  # the overlay's red is explained by its tooltip
        self.image.setImage(image, levels=levels, autoLevels=False)
        if (mode, image.shape) != self._shape:  # re-fit only when the shape changes
            self._shape = (mode, image.shape)
            self.view.setAspectLocked(aspect)
            self.view.autoRange(padding=0.01)
