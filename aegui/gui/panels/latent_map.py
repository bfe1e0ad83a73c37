"""The latent explorer's map: the jobs that make it (in a worker) and the plot that draws it.

``make_map`` encodes the rows, reconstructs them (for the hover pane and, without
labels, the colours), projects the codes, reads a VAE's posterior spread for a
subset and times one decode, all off the GUI thread. ``MapPlot`` draws the result:
one scatter per class (or per error band) so each can be hidden, a large drag
handle, the manifold grid as one ImageItem under the points, error bars, and
markers for the pinned point and the interpolation ends. ``SampleCanvas`` draws
one sample of any kind: an image, a signal's curves, or a table row's bars.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTransform
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ...core.inference import InferenceModel
from ...core.latent import Projection, embed, encode_posterior, encode_rows, grid_codes, project, spread_on_map
from ..widgets.image_grid import mosaic, to_display

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
ERROR_COLOURS = ["#fde725", "#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989"][::-1]
MAP_SAMPLES = 5000
SPREAD_SAMPLES = 300  # points that get their posterior's error bars: more would hide the map
# A decode slower than this goes to a worker while dragging; faster ones are done on the GUI
# thread, where they cost less than the hop to a thread and back.
INLINE_DECODE_MS = 8.0
# The handle: magenta with a thick white-and-black edge reads on the white and the dark theme.
HANDLE_COLOUR = "#ff00d0"


@dataclass
class LatentMap:
    """What the map job hands back: everything the panel draws and decodes from."""

    model: InferenceModel
    codes: np.ndarray  # (N, D)
    points: np.ndarray  # (N, 2)
    projection: object  # a core Projection or Embedding: points() and code_at()
    labels: np.ndarray | None  # (N,), None when the data has none
    rows: np.ndarray  # the dataset rows of the codes
    which: str  # what the rows are, for the map's title
    reconstructions: np.ndarray | None = None  # (N, *input_shape)
    errors: np.ndarray | None = None  # (N,) mean squared reconstruction error
    spread_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # rows of codes with a spread
    spread: np.ndarray | None = None  # (len(spread_index), D) posterior standard deviations
    decode_ms: float = 0.0  # one code through the decoder, measured in the job


def projected(codes: np.ndarray, kind: str, dims: tuple[int, int]):
    """(points, projection) of ``codes`` for a map ``kind`` (see core.latent.projection_choices)."""
    if kind in ("umap", "tsne") and codes.shape[1] > 2:
        embedding = embed(codes, kind)
        return embedding.embedded.copy(), embedding
    if kind == "dims" and (codes.shape[1] <= 2 or dims[0] == dims[1] or max(dims) >= codes.shape[1]):
        kind = "pca"  # the dimensions chosen for another model's code
    return project(codes, "dims" if kind == "dims" else "pca", dims)


def make_map(token, run, dataset, rows: np.ndarray, which: str, kind: str = "pca",
             dims: tuple[int, int] = (0, 1)) -> LatentMap:
    """Worker job: a model copy from the run, the codes of ``rows``, their map and what the panel
    shows beside it."""
    model = InferenceModel.from_run(run)
    codes = encode_rows(model, dataset, rows, cancel=token.is_set)
    x = dataset.as_float(rows)
    reconstructions = model.reconstruct(x, cancel=token.is_set)
    errors = ((reconstructions - x) ** 2).reshape(len(x), -1).mean(axis=1)
    spread_index = np.linspace(0, len(rows) - 1, min(SPREAD_SAMPLES, len(rows))).astype(int)
    _, spread = encode_posterior(model, x[spread_index])
    model.decode(codes[:1])  # the first call pays for allocations a drag never sees
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        model.decode(codes[:1])
        timings.append((time.perf_counter() - start) * 1e3)
    decode_ms = min(timings)
    points, projection = projected(codes, kind, dims)
    labels = dataset.labels[rows].copy() if dataset.labels is not None else None
    return LatentMap(model, codes, points, projection, labels, rows, which, reconstructions, errors,
                     spread_index, spread, decode_ms)


def reproject(token, latent_map: LatentMap, kind: str, dims: tuple[int, int]) -> LatentMap:
    """Worker job: the same codes on another map."""
    points, projection = projected(latent_map.codes, kind, dims)
    return LatentMap(**{**latent_map.__dict__, "points": points, "projection": projection})


def grid_job(token, model: InferenceModel, projection: Projection, x_range, y_range, n: int, base):
    """Worker job: the manifold grid's mosaic (row 0 at the top) and its view rect."""
    images = model.decode(grid_codes(projection, x_range, y_range, n, base), cancel=token.is_set)
    return mosaic(to_display(images), n, gap=0), (x_range, y_range), n


def auto_levels(values: np.ndarray, levels) -> tuple[float, float]:
    if levels is not None:
        return levels
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return (lo, hi if hi > lo else lo + 1.0)


class SampleCanvas(pg.PlotWidget):
    """One sample, drawn as what it is: (C, H, W) an image, (T, C) a signal's curves, (F,) a table
    row's bars. The items are made once and updated."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(parent, title=title)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#4e79a7")
        self.curves: list[pg.PlotDataItem] = []
        self.addItem(self.image)
        self.addItem(self.bars)
        self.kind = ""
        self.shown_at = 0.0  # perf_counter of the latest update, for the drag benchmark
        self._show_axes(False)  # nothing to measure yet: empty axes read as a broken plot

    def _show_axes(self, on: bool) -> None:
        for side in ("left", "bottom"):
            self.getPlotItem().showAxis(side, on)

    def _use(self, kind: str) -> None:
        if kind == self.kind:
            return
        self.kind = kind
        image = kind == "image"
        self.getPlotItem().invertY(image)
        self.getPlotItem().setAspectLocked(image)
        self._show_axes(not image)
        self.image.setVisible(image)
        self.bars.setVisible(kind == "table")
        for curve in self.curves:
            curve.setVisible(kind == "signal")

    def show_sample(self, sample: np.ndarray, levels=None) -> None:
        sample = np.asarray(sample, np.float32)
        if sample.ndim == 3:
            self._use("image")
            tile = to_display(sample[None])[0]
            self.image.setImage(tile, levels=auto_levels(tile, levels), autoLevels=False)
            self.getPlotItem().setRange(xRange=(0, tile.shape[1]), yRange=(0, tile.shape[0]), padding=0.02)
        elif sample.ndim == 2:
            self._use("signal")
            while len(self.curves) < sample.shape[1]:
                self.curves.append(self.plot(pen=pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=2)))
            for c, curve in enumerate(self.curves):
                curve.setData(sample[:, c] if c < sample.shape[1] else [])
        else:
            self._use("table")
            self.bars.setOpts(x=np.arange(len(sample)), height=sample, width=0.8)
        self.shown_at = time.perf_counter()

    def clear_sample(self) -> None:
        self.image.clear()
        self.bars.setOpts(x=[], height=[])
        for curve in self.curves:
            curve.setData([])
        self.kind = ""
        self._show_axes(False)


class MapPlot(pg.PlotWidget):
    """The scatter of codes, the handle, the manifold grid and the markers. Owns no data: ``draw``
    takes a LatentMap and the names of its groups."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("latentMap")
        self.scatters: list[pg.ScatterPlotItem] = []
        self.legend = QListWidget()
        self.legend.setObjectName("latentLegend")
        self.legend.setToolTip("Untick a class to hide its points")
        self.legend.setMaximumWidth(170)
        self.legend.itemChanged.connect(self._toggle_group)
        self.grid_image = pg.ImageItem(axisOrder="row-major")
        self.grid_image.setZValue(-10)
        self.grid_image.setOpacity(0.9)
        self.addItem(self.grid_image)
        # Faint: 300 bars drawn over the points must leave them readable.
        self.spread_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), pen=pg.mkPen(136, 136, 136, 90, width=1))
        self.spread_bars.setVisible(False)
        self.addItem(self.spread_bars)
        self.markers = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#000000", width=2), brush=None, symbol="s")
        self.markers.setZValue(15)
        self.addItem(self.markers)
        # A drawing sent from the Draw tab.
        self.drawing_marker = pg.ScatterPlotItem(size=22, pen=pg.mkPen("#000000", width=1.5),
                                                 brush=pg.mkBrush("#ffd400"), symbol="star")
        self.drawing_marker.setZValue(16)
        self.addItem(self.drawing_marker)
        self.handle = pg.TargetItem(pos=(0, 0), size=22, movable=True, symbol="crosshair",
                                    pen=pg.mkPen(HANDLE_COLOUR, width=4), hoverPen=pg.mkPen("#ffffff", width=5),
                                    brush=pg.mkBrush(255, 0, 208, 90), label="drag me",
                                    labelOpts={"color": HANDLE_COLOUR, "offset": (14, -14)})
        self.handle.setZValue(20)
        self.addItem(self.handle)

    def clear_points(self) -> None:
        for item in self.scatters:
            self.removeItem(item)
        self.scatters = []
        self.legend.clear()
        self.grid_image.clear()
        self.spread_bars.setData(x=np.zeros(0), y=np.zeros(0))
        self.markers.setData([])
        self.drawing_marker.setData([])

    def draw(self, latent_map: LatentMap, groups: list[tuple[str, np.ndarray, str]]) -> None:
        """``groups``: (name, index into the map's rows, colour), one scatter item each: pyqtgraph renders
        each distinct brush once, so one item per colour keeps 5,000 points cheap."""
        hidden = {self.legend.item(i).text() for i in range(self.legend.count())
                  if self.legend.item(i).checkState() == Qt.CheckState.Unchecked}
        for item in self.scatters:
            self.removeItem(item)
        self.scatters = []
        self.legend.blockSignals(True)
        self.legend.clear()
        for name, index, colour in groups:
            item = pg.ScatterPlotItem(latent_map.points[index, 0], latent_map.points[index, 1], data=index, size=6,
                                      pen=None, brush=pg.mkBrush(colour), hoverable=True,
                                      hoverPen=pg.mkPen("#000000", width=2), hoverSize=10)
            item.setVisible(f"■ {name}" not in hidden)
            self.addItem(item)
            self.scatters.append(item)
            entry = QListWidgetItem(f"■ {name}")
            entry.setForeground(QColor(colour))
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Unchecked if f"■ {name}" in hidden else Qt.CheckState.Checked)
            self.legend.addItem(entry)
        self.legend.blockSignals(False)

    def _toggle_group(self, entry: QListWidgetItem) -> None:
        row = self.legend.row(entry)
        if 0 <= row < len(self.scatters):
            self.scatters[row].setVisible(entry.checkState() == Qt.CheckState.Checked)

    def show_spread(self, latent_map: LatentMap | None, on: bool) -> None:
        if not on or latent_map is None or latent_map.spread is None or not hasattr(latent_map.projection,
                                                                                    "components"):
            self.spread_bars.setVisible(False)
            return
        spread = spread_on_map(latent_map.projection, latent_map.spread)
        at = latent_map.points[latent_map.spread_index]
        self.spread_bars.setData(x=at[:, 0], y=at[:, 1], width=2 * spread[:, 0], height=2 * spread[:, 1])
        self.spread_bars.setVisible(True)

    def show_grid(self, image: np.ndarray, x_range, y_range, levels) -> None:
        """The mosaic over the rect it was decoded for; its row 0 is the top, where y is largest."""
        image = np.nan_to_num(image, nan=0.0)
        self.grid_image.setImage(image, levels=auto_levels(image, levels), autoLevels=False)
        height, width = image.shape[:2]
        transform = QTransform()
        transform.translate(x_range[0], y_range[1])
        transform.scale((x_range[1] - x_range[0]) / width, -(y_range[1] - y_range[0]) / height)
        self.grid_image.setTransform(transform)
        self.grid_image.setVisible(True)

    def view_ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (x0, x1), (y0, y1) = self.getPlotItem().getViewBox().viewRange()
        return (x0, x1), (y0, y1)

