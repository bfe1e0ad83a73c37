"""The latent-space explorer: a map of codes you can drag through and decode.

Codes of the run's validation samples (evenly spread, up to 1,000) are projected to 2-D (PCA, or the code itself
when it has two dimensions). Dragging the target decodes the point under it;
the buttons show prior samples, a traversal of one code dimension, and an
interpolation between two real samples.

The numbers come from ``core.latent``. Building the model copy, encoding the
samples and projecting them runs in a worker thread (latest wins: a newer run
snapshot supersedes a map still being made), and so do the gallery's decodes;
the panel draws when the result arrives. Only the target's single decode runs
on the GUI thread, as the mouse drags it: one code through the decoder took
0.1-0.4 ms for the stock vae, ae and conv-vae (2-core machine), well inside a frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ...core.inference import InferenceModel
from ...core.latent import Projection, encode_rows, lerp, prior_codes, project, slerp, traversal
from ...core.spec_rules import input_fits
from ..widgets.image_grid import ImageGrid
from ..widgets.when_shown import WeightsWhenShown, blank, run_matches
from ..workers import Worker

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
MAP_SAMPLES = 1000
GALLERY = 9  # images in a traversal or interpolation row


@dataclass
class LatentMap:
    """What the map job hands back: everything the panel draws and decodes from."""

    model: InferenceModel
    codes: np.ndarray  # (N, D)
    points: np.ndarray  # (N, 2)
    projection: Projection
    labels: np.ndarray  # (N,), zeros when the data has none
    which: str = "samples"  # what the rows are, for the map's title


def make_map(token, run, dataset, rows: np.ndarray, which: str = "samples") -> LatentMap:
    """Worker job: a model copy from the run, the codes of ``rows`` and their 2-D map."""
    model = InferenceModel.from_run(run)
    codes = encode_rows(model, dataset, rows, cancel=token.is_set)
    points, projection = project(codes)
    labels = dataset.labels[rows].copy() if dataset.labels is not None else np.zeros(len(rows), int)
    return LatentMap(model, codes, points, projection, labels, which)


def decode_job(token, model: InferenceModel, codes: np.ndarray, caption: str):
    return model.decode(codes, cancel=token.is_set), caption


TITLE = "Codes of validation samples"


class LatentExplorer(WeightsWhenShown, QWidget):
    stale_hint = "train it to explore its latent space."

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latentExplorer")
        self.state = state
        self.map: LatentMap | None = None
        self.map_worker = Worker("latent-map", self)
        self.map_worker.done.connect(self._show_map)
        self.map_worker.failed.connect(self._map_failed)
        self.gallery_worker = Worker("latent-decode", self)
        self.gallery_worker.done.connect(self._show_gallery)
        self.status = QLabel("Train a model to explore its latent space: the map fills in after the first epoch.")
        self.status.setWordWrap(True)
        self.map_plot = pg.PlotWidget(title=TITLE)
        self.map_plot.setObjectName("latentMap")
        # One item per label with one brush: pyqtgraph renders each distinct brush once,
        # so per-point brushes would re-render a symbol for every point.
        self.scatters: list[pg.ScatterPlotItem] = []
        self.target = pg.TargetItem(pos=(0, 0), size=14, movable=True)
        self.target.sigPositionChanged.connect(self._decode_target)
        self.map_plot.addItem(self.target)
        self.decoded = ImageGrid(columns=1)
        self.decoded.setObjectName("latentDecoded")
        self.decoded.setMinimumWidth(220)
        self.gallery = ImageGrid(columns=GALLERY)
        self.gallery.setObjectName("latentGallery")
        self.gallery_caption = QLabel()
        self.prior_button = QPushButton("Prior samples")
        self.prior_button.setToolTip("Decode random codes from N(0, I): meaningful for a VAE or AAE")
        self.dim_spin = QSpinBox()
        self.dim_spin.setPrefix("dimension ")
        self.traverse_button = QPushButton("Traverse")
        self.traverse_button.setToolTip("Vary one code dimension from -3 to +3 standard deviations")
        self.path_combo = QComboBox()
        self.path_combo.addItem("straight line", "lerp")
        self.path_combo.addItem("great circle (slerp)", "slerp")
        self.path_combo.setToolTip("A straight line between two codes, or an arc that keeps their length "
                                   "(for a VAE, the line's middle falls where the prior has little mass)")
        self.interp_button = QPushButton("Interpolate")
        self.interp_button.setToolTip("Decode a path between the codes of two random samples")
        self.prior_button.clicked.connect(self.show_prior_samples)
        self.traverse_button.clicked.connect(self.show_traversal)
        self.interp_button.clicked.connect(self.show_interpolation)

        top = QHBoxLayout()
        top.addWidget(self.map_plot, 3)
        top.addWidget(self.decoded, 1)
        buttons = QHBoxLayout()
        for w in (self.prior_button, self.dim_spin, self.traverse_button, self.path_combo, self.interp_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.gallery_caption)
        layout.addWidget(self.gallery, 1)
        self._set_enabled(False)
        self.watch_state(state)

    @property
    def model(self) -> InferenceModel | None:
        return self.map.model if self.map is not None else None

    def _set_enabled(self, on: bool) -> None:
        for w in (self.prior_button, self.dim_spin, self.traverse_button, self.path_combo, self.interp_button,
                  self.target):
            w.setEnabled(on)

    def clear_shown(self, message: str) -> None:
        """The run's model no longer describes the spec or the data: its map, the decoded image and
        the gallery go with it, and a map or gallery still being made is never drawn."""
        self.map_worker.cancel()
        self.gallery_worker.cancel()
        self.map = None
        self._clear_scatters()
        blank(self.decoded)
        blank(self.gallery)
        self.gallery_caption.setText("")
        self.map_plot.setTitle(TITLE)
        for side in ("bottom", "left"):  # the old projection's axis names and scale go with it
            self.map_plot.setLabel(side, "")
        self.map_plot.getPlotItem().setRange(xRange=(-1, 1), yRange=(-1, 1))
        self.target.setPos(0, 0)
        self._set_enabled(False)
        self.status.setText(message)

    def _clear_scatters(self) -> None:
        for item in self.scatters:
            self.map_plot.removeItem(item)
        self.scatters = []

    # --- a run's weights: the map is made in the worker ---------------------------------------------
    def use_weights(self, run):
        dataset = self.state.dataset
        if dataset is None or not input_fits(run.spec, dataset):
            return False
        rows, which = np.arange(len(dataset)), "samples"
        if run_matches(run, dataset) and len(run.val_index) >= 2:
            rows, which = run.validation_rows(dataset), "validation samples"
        rows = rows[np.linspace(0, len(rows) - 1, min(MAP_SAMPLES, len(rows))).astype(int)]
        if self.map is None:
            self.status.setText(f"Encoding {len(rows):,} samples…")
        self.map_worker.submit(make_map, run, dataset, rows, which)

    def _map_failed(self, message: str) -> None:
        self.status.setText(f"The latent map could not be made: {message}")

    def _show_map(self, result: LatentMap) -> None:
        self.map = result
        self._clear_scatters()
        for value in np.unique(result.labels):
            mask = result.labels == value
            item = pg.ScatterPlotItem(result.points[mask, 0], result.points[mask, 1], size=5, pen=None,
                                      brush=pg.mkBrush(PALETTE[int(value) % len(PALETTE)]))
            self.map_plot.addItem(item)
            self.scatters.append(item)
        x_name, y_name = result.projection.axis_names
        self.map_plot.setLabel("bottom", x_name)
        self.map_plot.setLabel("left", y_name)
        dim = result.model.code_dim
        self.dim_spin.setRange(0, dim - 1)
        how = ("shown by their first two principal components" if result.projection.kind == "pca"
               else "drawn as they are")
        self.map_plot.setTitle(f"Codes of {len(result.codes):,} {result.which}")
        self.status.setText(f"{len(result.codes):,} {result.which} encoded into {dim}-D codes, {how}. "
                            "Drag the target to decode any point.")
        self._set_enabled(True)
        self._decode_target()

    def code_at(self, x: float, y: float) -> np.ndarray:
        return self.map.projection.code_at(x, y)

    def _decode_target(self) -> None:
        if self.map is None:
            return
        pos = self.target.pos()
        # One code through the decoder: well under a millisecond, so it keeps up with the mouse here.
        image = self.model.decode(self.code_at(pos.x(), pos.y())[None])
        self.decoded.set_samples(image, columns=1, levels=self.model.levels)

    # --- the gallery: codes chosen here, decoded in the worker --------------------------------------
    def _decode_gallery(self, codes: np.ndarray, caption: str) -> None:
        self.gallery_worker.submit(decode_job, self.model, codes, caption)

    def _show_gallery(self, result) -> None:
        images, caption = result
        if self.map is None:
            return
        self.gallery.set_samples(images, columns=GALLERY, levels=self.model.levels)
        self.gallery_caption.setText(caption)

    def show_prior_samples(self) -> None:
        if self.map is None:
            return
        self._decode_gallery(prior_codes(2 * GALLERY, self.model.code_dim), "Decoded samples from the prior N(0, I)")

    def show_traversal(self) -> None:
        if self.map is None:
            return
        dim = self.dim_spin.value()
        codes = self.map.codes
        std = float(codes[:, dim].std())
        self._decode_gallery(traversal(codes.mean(axis=0), dim, std, GALLERY),
                             f"Code dimension {dim} from -3 to +3 standard deviations around the mean code")

    def show_interpolation(self) -> None:
        if self.map is None:
            return
        codes = self.map.codes
        if len(codes) < 2:
            return
        a, b = codes[np.random.default_rng().choice(len(codes), 2, replace=False)]
        if self.path_combo.currentData() == "slerp":
            path, caption = slerp(a, b, GALLERY), "An arc in code space between two real samples (slerp)"
        else:
            path, caption = lerp(a, b, GALLERY), "A straight line in code space between two real samples"
        self._decode_gallery(path, caption)

    def shutdown(self) -> bool:
        """The window is closing: cancel and join the map and gallery work."""
        self.map = None
        ok = self.map_worker.shutdown(1.0)
        return self.gallery_worker.shutdown(1.0) and ok
