"""The latent-space explorer: a map of codes you can drag through and decode.

Codes of validation samples are projected to 2-D (PCA, or the code itself when
it has two dimensions). Dragging the target decodes the point under it; the
buttons show prior samples, a traversal of one code dimension, and an
interpolation between two real samples.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..inference import InferenceModel, pca_2d
from ..widgets.image_grid import ImageGrid
from ..widgets.when_shown import WeightsWhenShown

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
MAP_SAMPLES = 1000


class LatentExplorer(WeightsWhenShown, QWidget):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latentExplorer")
        self.state = state
        self.model: InferenceModel | None = None
        self._mean = self._components = self._codes = None
        self.status = QLabel("Train a model to explore its latent space: the map fills in after the first epoch.")
        self.status.setWordWrap(True)
        self.map_plot = pg.PlotWidget(title="Codes of validation samples (PCA)")
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
        self.gallery = ImageGrid(columns=9)
        self.gallery.setObjectName("latentGallery")
        self.gallery_caption = QLabel()
        self.prior_button = QPushButton("Prior samples")
        self.prior_button.setToolTip("Decode random codes from N(0, I): meaningful for a VAE or AAE")
        self.dim_spin = QSpinBox()
        self.dim_spin.setPrefix("dimension ")
        self.traverse_button = QPushButton("Traverse")
        self.traverse_button.setToolTip("Vary one code dimension from -3 to +3 standard deviations")
        self.interp_button = QPushButton("Interpolate")
        self.interp_button.setToolTip("Decode the straight line between the codes of two random samples")
        self.prior_button.clicked.connect(self.show_prior_samples)
        self.traverse_button.clicked.connect(self.show_traversal)
        self.interp_button.clicked.connect(self.show_interpolation)

        top = QHBoxLayout()
        top.addWidget(self.map_plot, 3)
        top.addWidget(self.decoded, 1)
        buttons = QHBoxLayout()
        for w in (self.prior_button, self.dim_spin, self.traverse_button, self.interp_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.gallery_caption)
        layout.addWidget(self.gallery, 1)
        self._set_enabled(False)
        state.specChanged.connect(lambda _: self._forget())

    def _set_enabled(self, on: bool) -> None:
        for w in (self.prior_button, self.dim_spin, self.traverse_button, self.interp_button, self.target):
            w.setEnabled(on)

    def _forget(self) -> None:
        """The spec changed: the old model's map no longer describes it."""
        if self.model is not None and not self.state.locked:
            self.model = None
            self.forget_weights()
            self._clear_scatters()
            self.status.setText("The model changed; train it to explore its latent space.")
            self._set_enabled(False)

    def _clear_scatters(self) -> None:
        for item in self.scatters:
            self.map_plot.removeItem(item)
        self.scatters = []

    def use_weights(self, spec, state_dict) -> None:
        dataset = self.state.dataset
        if dataset is None or tuple(spec.input.shape) != dataset.sample_shape:
            return
        self.model = InferenceModel(spec, state_dict)
        pick = np.linspace(0, len(dataset) - 1, min(MAP_SAMPLES, len(dataset))).astype(int)
        self._codes = self.model.encode(dataset.as_float(pick))
        points, self._mean, self._components = pca_2d(self._codes)
        labels = dataset.labels[pick] if dataset.labels is not None else np.zeros(len(pick), int)
        self._clear_scatters()
        for value in np.unique(labels):
            mask = labels == value
            item = pg.ScatterPlotItem(points[mask, 0], points[mask, 1], size=5, pen=None,
                                      brush=pg.mkBrush(PALETTE[int(value) % len(PALETTE)]))
            self.map_plot.addItem(item)
            self.scatters.append(item)
        self.dim_spin.setRange(0, self.model.code_dim - 1)
        self.status.setText(f"{len(pick)} samples encoded into {self.model.code_dim}-D codes, shown by their "
                            "first two principal components. Drag the target to decode any point.")
        self._set_enabled(True)
        self._decode_target()

    def code_at(self, x: float, y: float) -> np.ndarray:
        return (self._mean + x * self._components[0] + y * self._components[1]).astype(np.float32)

    def _decode_target(self) -> None:
        if self.model is None:
            return
        pos = self.target.pos()
        image = self.model.decode(self.code_at(pos.x(), pos.y())[None])
        self.decoded.set_samples(image, columns=1, levels=self._levels())

    def _levels(self):
        return (0.0, 1.0) if self.model.spec.likelihood == "bernoulli" else None

    def show_prior_samples(self) -> None:
        if self.model is None:
            return
        codes = np.random.default_rng().standard_normal((18, self.model.code_dim)).astype(np.float32)
        self.gallery.set_samples(self.model.decode(codes), columns=9, levels=self._levels())
        self.gallery_caption.setText("Decoded samples from the prior N(0, I)")

    def show_traversal(self) -> None:
        if self.model is None:
            return
        dim = self.dim_spin.value()
        std = float(self._codes[:, dim].std()) or 1.0
        codes = np.repeat(self._codes.mean(axis=0, keepdims=True), 9, axis=0)
        codes[:, dim] += np.linspace(-3, 3, 9) * std
        self.gallery.set_samples(self.model.decode(codes), columns=9, levels=self._levels())
        self.gallery_caption.setText(f"Code dimension {dim} from -3 to +3 standard deviations around the mean code")

    def show_interpolation(self) -> None:
        if self.model is None:
            return
        rng = np.random.default_rng()
        a, b = self._codes[rng.choice(len(self._codes), 2, replace=False)]
        t = np.linspace(0, 1, 9)[:, None]
        self.gallery.set_samples(self.model.decode((1 - t) * a + t * b), columns=9, levels=self._levels())
        self.gallery_caption.setText("A straight line in code space between two real samples")

    def shutdown(self) -> None:
        self.model = None
