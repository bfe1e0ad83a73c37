"""The latent-space explorer: a map of codes to hover, pin, drag through and tile with decodings.

Up to 5,000 codes of the run's validation split (or of the whole set, on request)
are drawn on a map: PCA, any two code dimensions, the code itself when it is 2-D,
or UMAP / t-SNE when installed. Points are coloured by class (each class can be
hidden from the legend) or, without labels, by reconstruction error. Hovering a
point shows its input and reconstruction; clicking pins it; shift-clicking picks
interpolation ends. The handle decodes the code under it, large, beside the map;
the manifold grid tiles the visible region with decodings.

Everything slow runs in workers (latest wins): the map job (model copy, encode,
reconstruct, project), re-projections, the grid. Dragging is coalesced to at most
one decode per frame; a decode measured under ``INLINE_DECODE_MS`` in the map job
(one code through an MLP decoder: 0.1-0.4 ms) runs on the GUI thread, a slower one
goes to its own latest-wins worker.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
    QWidget,
)

from ...core.latent import projection_choices
from ...core.spec_rules import input_fits
from ..widgets.when_shown import WeightsWhenShown, run_matches
from ..workers import Worker
from .latent_map import (
    ERROR_COLOURS, INLINE_DECODE_MS, MAP_SAMPLES, PALETTE, LatentMap, MapPlot, SampleCanvas, grid_job, make_map,
    reproject,
)
from .latent_neighbours import NeighbourStrip
from .latent_tools import LatentTools


FRAME_MS = 8  # at most one drag decode per frame of a 120 Hz screen (a 60 Hz frame made moves wait 8-16 ms)
GRID_THROTTLE_MS = 150  # pan and zoom redo the manifold grid at most this often
PROJECTIONS = {"code": "the code itself", "pca": "PCA", "dims": "two dimensions", "umap": "UMAP",
               "tsne": "t-SNE"}


def decode_one(token, model, code: np.ndarray):
    return model.decode(code[None])[0]


class LatentExplorer(WeightsWhenShown, QWidget):
    stale_hint = "train it to explore its latent space."

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latentExplorer")
        self.state = state
        self.map: LatentMap | None = None
        self.code: np.ndarray | None = None  # the full code under the handle (the sliders' code)
        self.pinned: int | None = None
        self.ends: list[int | None] = [None, None]
        self._next_end = 0
        self._pending_drawing: np.ndarray | None = None
        self._drawing: np.ndarray | None = None  # the last drawing placed: it follows new weights
        self._run = None
        self._pending_xy: tuple[float, float] | None = None
        self._last_decode = 0.0
        self._moving_handle = False
        self.map_worker = self._worker("latent-map", self._show_map)
        self.map_worker.failed.connect(self._map_failed)
        self.grid_worker = self._worker("latent-grid", self._show_grid)
        self.drag_worker = self._worker("latent-drag", self._show_decoded)
        self.drag_timer = QTimer(self, singleShot=True)
        self.drag_timer.timeout.connect(self._decode_pending)
        self.grid_timer = QTimer(self, singleShot=True, interval=GRID_THROTTLE_MS)
        self.grid_timer.timeout.connect(self.refresh_grid)

        self.status = QLabel("Train a model to explore its latent space: the map fills in after the first epoch.")
        self.status.setWordWrap(True)
        self.plot = MapPlot()
        self.plot.handle.sigPositionChanged.connect(self._handle_moved)
        self.plot.getPlotItem().getViewBox().sigRangeChanged.connect(self._view_moved)
        self.decoded = SampleCanvas("Decoded at the handle")
        self.decoded.setObjectName("latentDecoded")
        self.decoded.setMinimumSize(140, 140)  # grows with the window; small screens (768 px) must fit it
        self.hover_input = SampleCanvas("Input")
        self.hover_recon = SampleCanvas("Reconstruction")
        self.hover_caption = QLabel("Hover a point to see it; click to pin it, shift-click to pick "
                                    "interpolation ends.")
        self.hover_caption.setWordWrap(True)

        self.which_combo = QComboBox()
        self.which_combo.addItem("validation split", "val")
        self.which_combo.addItem("whole set", "all")
        self.projection_combo = QComboBox()
        self.dim_x, self.dim_y = QSpinBox(), QSpinBox()
        for spin, prefix in ((self.dim_x, "x: dim "), (self.dim_y, "y: dim ")):
            spin.setPrefix(prefix)
            spin.valueChanged.connect(self._projection_chosen)
        self.grid_check = QCheckBox("Manifold grid")
        self.grid_spin = QSpinBox(minimum=5, maximum=30, value=12, prefix="n = ")
        self.spread_check = QCheckBox("Posterior spread")
        self.spread_check.setToolTip(f"Error bars of ±1 posterior standard deviation for {300} points (VAE)")
        self.progress = QProgressBar(maximum=0)  # busy: encodes and embeddings report no fraction
        self.cancel_button = QPushButton("Cancel")
        self.which_combo.currentIndexChanged.connect(self._reload)
        self.projection_combo.currentIndexChanged.connect(self._projection_chosen)
        self.grid_check.toggled.connect(self._grid_toggled)
        self.grid_spin.valueChanged.connect(lambda _: self.refresh_grid())
        self.spread_check.toggled.connect(lambda on: self.plot.show_spread(self.map, on))
        self.cancel_button.clicked.connect(self._cancel_map)

        controls = QHBoxLayout()
        for w in (QLabel("Codes of"), self.which_combo, QLabel("map:"), self.projection_combo, self.dim_x,
                  self.dim_y, self.grid_check, self.grid_spin, self.spread_check, self.progress,
                  self.cancel_button):
            controls.addWidget(w)
        controls.addStretch(1)
        hover = QHBoxLayout()
        hover.addWidget(self.hover_input)
        hover.addWidget(self.hover_recon)
        side = QVBoxLayout()
        side.addWidget(self.decoded, 3)
        side.addWidget(self.hover_caption)
        side.addLayout(hover, 2)
        # A drawing's nearest training samples go under the legend and the map, not under the side column,
        # which needs its height; the columns stretch as a row of legend, map (3) and side (2) would.
        self.neighbours = NeighbourStrip()
        top = QGridLayout()
        top.addWidget(self.plot.legend, 0, 0)
        top.addWidget(self.plot, 0, 1)
        top.addLayout(side, 0, 2, 2, 1)
        top.addWidget(self.neighbours, 1, 0, 1, 2)
        top.setColumnStretch(1, 3)
        top.setColumnStretch(2, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(controls)
        layout.addLayout(top, 3)
        # Sliders, traversals, interpolation, arithmetic and sampling: their own widget, fed the map's codes.
        self.tools = LatentTools(self)
        self.tools.codeChanged.connect(self._slider_moved)
        layout.addWidget(self.tools, 2)
        # The sampling strip is what the window's tests and menus call the explorer's gallery.
        self.gallery = self.tools.views["sampling"]
        self.gallery_caption = self.tools.captions["sampling"]
        self.prior_button = self.tools.new_samples
        self._busy(False)
        self._set_enabled(False)
        self.watch_state(state)

    def _worker(self, name: str, done) -> Worker:
        worker = Worker(name, self)
        worker.done.connect(done)
        return worker

    @property
    def scatters(self) -> list:
        return self.plot.scatters

    @property
    def model(self):
        return self.map.model if self.map is not None else None

    def _busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.projection_combo, self.dim_x, self.dim_y, self.grid_check, self.grid_spin,
                  self.spread_check, self.plot.handle):
            w.setEnabled(on)

    def clear_shown(self, message: str) -> None:
        """The run's model no longer describes the spec or the data: everything drawn from it goes,
        and a map, grid or decode still being made is never drawn."""
        for worker in (self.map_worker, self.grid_worker, self.drag_worker):
            worker.cancel()
        self.drag_timer.stop()
        self.grid_timer.stop()
        self.map, self.code, self._run, self.pinned, self.ends = None, None, None, None, [None, None]
        self._pending_drawing = self._drawing = None
        self.neighbours.clear()
        self.plot.clear_points()
        for view in (self.decoded, self.hover_input, self.hover_recon):
            view.clear_sample()
        self.plot.setTitle("")
        for side in ("bottom", "left"):  # the old projection's axis names and scale go with it
            self.plot.setLabel(side, "")
        self.plot.getPlotItem().setRange(xRange=(-1, 1), yRange=(-1, 1))
        self.tools.clear(message)
        self._busy(False)
        self._set_enabled(False)
        self.status.setText(message)

    # --- a run's weights: the map is made in the worker ---------------------------------------------
    def use_weights(self, run):
        dataset = self.state.dataset
        if dataset is None or not input_fits(run.spec, dataset):
            return False
        self._run = run
        self.neighbours.use_run(run)
        self._submit_map()

    def _submit_map(self) -> None:
        dataset, run = self.state.dataset, self._run
        rows, which = np.arange(len(dataset)), "samples of the whole set"
        if self.which_combo.currentData() == "val" and run_matches(run, dataset) and len(run.val_index) >= 2:
            rows, which = run.validation_rows(dataset), "validation samples"
        total = len(rows)
        rows = rows[np.linspace(0, total - 1, min(MAP_SAMPLES, total)).astype(int)]
        if len(rows) < total:
            which = f"{which} (evenly spread, of {total:,})"
        if self.map is None:
            self.status.setText(f"Encoding {len(rows):,} {which}…")
        self._busy(True)
        # The job falls back to the code itself when the code has two dimensions or fewer.
        kind = self.projection_combo.currentData() or "pca"
        self.map_worker.submit(make_map, run, dataset, rows, which, kind, (self.dim_x.value(), self.dim_y.value()))

    def _reload(self) -> None:
        if self._run is not None:
            self._submit_map()

    def _cancel_map(self) -> None:
        self.map_worker.cancel()
        self._busy(False)
        self.status.setText("Map cancelled." + (" The last one stays." if self.map is not None else ""))

    def _chosen_projection(self, code_dim: int) -> tuple[str, tuple[int, int]]:
        kind = self.projection_combo.currentData()
        if kind not in projection_choices(code_dim):
            kind = "code" if code_dim <= 2 else "pca"
        return kind, (self.dim_x.value(), self.dim_y.value())

    def _projection_chosen(self) -> None:
        if self.map is None or self.projection_combo.signalsBlocked():
            return
        kind, dims = self._chosen_projection(self.map.model.code_dim)
        self.dim_x.setVisible(kind == "dims")
        self.dim_y.setVisible(kind == "dims")
        if kind == "dims" and dims[0] == dims[1]:
            self.status.setText("Pick two different dimensions.")
            return
        self._busy(True)
        self.map_worker.submit(reproject, self.map, kind, dims)

    def _map_failed(self, message: str) -> None:
        self._busy(False)
        self.status.setText(f"The latent map could not be made: {message}")

    def _fill_projection_choices(self, code_dim: int, current: str) -> None:
        self.projection_combo.blockSignals(True)
        self.projection_combo.clear()
        for kind in projection_choices(code_dim):
            self.projection_combo.addItem(PROJECTIONS[kind], kind)
        self.projection_combo.setCurrentIndex(max(0, self.projection_combo.findData(current)))
        self.projection_combo.blockSignals(False)
        for spin in (self.dim_x, self.dim_y):
            spin.blockSignals(True)
            spin.setRange(0, max(0, code_dim - 1))
            spin.blockSignals(False)
        if self.dim_x.value() == self.dim_y.value():  # a fresh panel: dimensions 0 and 1
            self.dim_y.blockSignals(True)
            self.dim_y.setValue(1 if self.dim_x.value() != 1 else 0)
            self.dim_y.blockSignals(False)
        dims = current == "dims"
        self.dim_x.setVisible(dims)
        self.dim_y.setVisible(dims)

    def _groups(self, result: LatentMap) -> tuple[list, str]:
        if result.labels is not None:
            groups = [(self.state.dataset.label_name(int(v)), np.flatnonzero(result.labels == v),
                       PALETTE[int(i) % len(PALETTE)]) for i, v in enumerate(np.unique(result.labels))]
            return groups, "coloured by class"
        # No labels: eight bands of reconstruction error, dark (well reconstructed) to bright.
        edges = np.quantile(result.errors, np.linspace(0, 1, len(ERROR_COLOURS) + 1))
        band = np.clip(np.searchsorted(edges, result.errors, side="right") - 1, 0, len(ERROR_COLOURS) - 1)
        groups = [(f"error {edges[b]:.3g}–{edges[b + 1]:.3g}", np.flatnonzero(band == b), ERROR_COLOURS[b])
                  for b in range(len(ERROR_COLOURS)) if np.any(band == b)]
        return groups, "coloured by reconstruction error (no labels), dark = well reconstructed"

    def _show_map(self, result: LatentMap) -> None:
        first = self.map is None or self.map.model.code_dim != result.model.code_dim
        self.map = result
        self._busy(False)
        kind = getattr(result.projection, "kind", "pca")
        self._fill_projection_choices(result.model.code_dim, kind)
        groups, colours = self._groups(result)
        self.plot.draw(result, groups)
        for item in self.plot.scatters:
            item.sigHovered.connect(self._hovered)
            item.sigClicked.connect(self._clicked)
        x_name, y_name = result.projection.axis_names
        self.plot.setLabel("bottom", x_name)
        self.plot.setLabel("left", y_name)
        self.plot.setTitle(f"Codes of {len(result.codes):,} {result.which}: {PROJECTIONS[kind]}")
        dim = result.model.code_dim
        means = " (posterior means)" if result.spread is not None else ""
        self.status.setText(f"{len(result.codes):,} {result.which} encoded into {dim}-D codes{means}, "
                            f"{colours}. Drag the handle to decode any point.")
        self.spread_check.setEnabled(result.spread is not None)
        self.plot.show_spread(result, self.spread_check.isChecked())
        self._set_enabled(True)
        self.spread_check.setEnabled(result.spread is not None)
        if first or self.code is None:
            self.code = result.codes.mean(axis=0)
            self.plot.getPlotItem().autoRange()
        self.tools.set_context(result.model, result.codes, result.labels,
                                   [self.state.dataset.label_name(int(v)) for v in np.unique(result.labels)]
                                   if result.labels is not None else [], self.state.dataset, result.rows)
        self._place_handle(self.code)
        self._decode_code(self.code)
        if self._pending_drawing is not None:  # sent from the Draw tab before this map existed
            drawing, self._pending_drawing = self._pending_drawing, None
            self.receive_drawing(drawing)
        else:
            self._follow_drawing()
        self.refresh_grid()

    # --- hover and pick --------------------------------------------------------------------------
    def _hovered(self, item, points, event) -> None:
        if self.map is None or len(points) == 0:
            return
        self.show_point(int(points[0].data()))

    def show_point(self, index: int) -> None:
        """The hover pane: the input of the map's ``index``-th code and its reconstruction."""
        row = int(self.map.rows[index])
        levels = self.model.levels
        self.hover_input.show_sample(self.state.dataset.as_float(np.array([row]))[0], levels)
        self.hover_recon.show_sample(self.map.reconstructions[index], levels)
        label = self.map.labels
        name = f", {self.state.dataset.label_name(int(label[index]))}" if label is not None else ""
        self.hover_caption.setText(f"Sample {row}{name}: reconstruction error {self.map.errors[index]:.4g}")

    def _clicked(self, item, points, event) -> None:
        if self.map is None or len(points) == 0:
            return
        self.pick(int(points[0].data()), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))

    def pick(self, index: int, as_end: bool = False) -> None:
        """Pin the map's ``index``-th code (the handle goes to it and decodes it), or make it the next
        interpolation end."""
        code = self.map.codes[index]
        if as_end:
            self.ends[self._next_end] = index
            self.tools.set_endpoint(self._next_end, code.copy())
            self._next_end = 1 - self._next_end
        else:
            self.pinned = index
            self.tools.set_pinned(code.copy())
            self.code = code.copy()
            self._place_handle(self.code)
            self._decode_code(self.code)
        # The pinned point a black square, the interpolation ends blue diamonds: told apart at a glance.
        marks = [(i, "s", "#000000") for i in (self.pinned,) if i is not None] + \
                [(i, "d", "#1f5fbf") for i in self.ends if i is not None]
        rows = [i for i, _, _ in marks]
        self.plot.markers.setData(self.map.points[rows, 0], self.map.points[rows, 1],
                                  symbol=[m for _, m, _ in marks], pen=[pg.mkPen(c, width=2.5) for _, _, c in marks])
        self.show_point(index)

    def receive_drawing(self, drawing: np.ndarray) -> bool:
        """A drawing sent from the Draw tab: its code becomes the next interpolation end, the handle goes
        to it and decodes it, a star marks it on the map, and the strip under the map finds its nearest
        training samples. One sample's encode is a single small forward (well under a frame), so it runs here."""
        if self.map is None or self.model is None:
            self._pending_drawing = np.array(drawing, np.float32)  # used when the map arrives
            self.status.setText("Your drawing will be placed on the map as soon as it is made "
                                "(train a model first if there is none).")
            return False
        if tuple(self.model.input_shape) != tuple(np.shape(drawing)):
            self.status.setText(f"The drawing ({'x'.join(map(str, np.shape(drawing)))}) is not what this model "
                                f"takes ({'x'.join(map(str, self.model.input_shape))}).")
            return False
        self._drawing = np.array(drawing, np.float32)
        code = self.model.encode(self._drawing[None])[0]
        self.tools.set_endpoint(self._next_end, code.copy())
        self._next_end = 1 - self._next_end
        self.code = code.copy()
        self._place_handle(self.code)
        self._decode_code(self.code)
        pos = self.plot.handle.pos()
        self.plot.drawing_marker.setData([pos.x()], [pos.y()])
        self.neighbours.find(self._run, self.state.dataset, drawing)
        self.status.setText("Your drawing is the star on the map and an interpolation end below; its nearest "
                            "training samples are under the map.")
        return True

    def _follow_drawing(self) -> None:
        """New weights (every few seconds while training): the drawing's star and its neighbours move
        to where the new model puts it; the interpolation ends stay as they were set."""
        drawing = self._drawing
        if drawing is None or self.model is None or tuple(self.model.input_shape) != drawing.shape:
            return
        x, y = self._map_xy(self.model.encode(drawing[None])[0])
        self.plot.drawing_marker.setData([x], [y])
        self.neighbours.find(self._run, self.state.dataset, drawing)

    # --- the handle: coalesced, at most one decode per frame -----------------------------------------
    def _map_xy(self, code: np.ndarray) -> tuple[float, float]:
        x, y = self.map.projection.points(code[None])[0] if hasattr(self.map.projection, "components") \
            else self.map.points[np.argmin(((self.map.codes - code) ** 2).sum(axis=1))]
        return float(x), float(y)

    def _place_handle(self, code: np.ndarray) -> None:
        x, y = self._map_xy(code)
        self._moving_handle = True
        self.plot.handle.setPos(float(x), float(y))
        self._moving_handle = False

    def _handle_moved(self) -> None:
        if self.map is None or self._moving_handle:
            return
        pos = self.plot.handle.pos()
        self._pending_xy = (pos.x(), pos.y())
        if not self.drag_timer.isActive():
            wait = FRAME_MS - (time.perf_counter() - self._last_decode) * 1e3
            self.drag_timer.start(max(0, int(wait)))

    def _decode_pending(self) -> None:
        if self.map is None or self._pending_xy is None:
            return
        x, y = self._pending_xy
        self._pending_xy = None
        self.code = self.map.projection.code_at(x, y, self.code)
        self.tools.set_code(self.code.copy())
        self._decode_code(self.code)

    def _decode_code(self, code: np.ndarray) -> None:
        self._last_decode = time.perf_counter()
        if self.map.decode_ms < INLINE_DECODE_MS:
            self._show_decoded(self.model.decode(code[None])[0])
        else:
            self.drag_worker.submit(decode_one, self.model, code.copy())

    def _show_decoded(self, sample: np.ndarray) -> None:
        if self.map is not None:
            self.decoded.show_sample(sample, self.model.levels)

    def _slider_moved(self, code) -> None:
        if self.map is None:
            return
        self.code = np.asarray(code, np.float32).copy()
        self._place_handle(self.code)
        self._decode_code(self.code)
        if self.grid_check.isChecked():
            self.grid_timer.start()  # the grid's off-plane directions are the sliders' too

    # --- the manifold grid -------------------------------------------------------------------------
    def _grid_toggled(self, on: bool) -> None:
        if on:
            self.refresh_grid()
        else:
            self.grid_worker.cancel()
            self.plot.grid_image.setVisible(False)

    def _view_moved(self) -> None:
        if self.grid_check.isChecked() and self.map is not None and not self.grid_timer.isActive():
            self.grid_timer.start()

    def refresh_grid(self) -> None:
        if self.map is None or not self.grid_check.isChecked():
            return
        x_range, y_range = self.plot.view_ranges()
        self.grid_worker.submit(grid_job, self.model, self.map.projection, x_range, y_range, self.grid_spin.value(),
                                self.code)

    def _show_grid(self, result) -> None:
        image, (x_range, y_range), n = result
        if self.map is not None and self.grid_check.isChecked():
            self.grid_n = n
            self.plot.show_grid(image, x_range, y_range, self.model.levels)

    # --- the strips below the map -------------------------------------------------------------
    def show_prior_samples(self) -> None:
        """Bring up the sampling strip: drawn now, or as soon as the tools know the codes."""
        self.tools.tabs.setCurrentIndex(self.tools.STRIPS.index("sampling"))
        self.tools.refresh("sampling")

    def shutdown(self) -> bool:
        """The window is closing: cancel and join the map, grid, decode and neighbour work."""
        self.map = None
        self.drag_timer.stop()
        self.grid_timer.stop()
        joined = [self.tools.shutdown(), self.neighbours.shutdown()]  # every one, before any verdict
        return all([w.shutdown(1.0) for w in (self.map_worker, self.grid_worker, self.drag_worker)] + joined)
