"""A canvas to draw or corrupt an input and watch the model reconstruct it.

The drawing is held as a float array in model space (0-1); the painter only
shows it. The inference copy is built from the run in a worker thread (latest
wins); reconstructing one drawing takes 0.2-0.7 ms, so it runs on the
GUI thread, throttled to the next event-loop pass so a fast stroke costs one
forward pass per frame, not per pixel.
"""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)

from ...core.inference import InferenceModel
from ...core.objectives import corrupt
from ...core.spec_rules import input_fits
from ..widgets.image_grid import ImageGrid
from ..widgets.when_shown import WeightsWhenShown, blank
from ..workers import Worker


def build_model_job(token, run) -> InferenceModel:
    return InferenceModel.from_run(run)


class PaintArea(QWidget):
    """An H x W grey image the user paints on with a soft round brush (right button erases)."""

    changed = Signal()

    def __init__(self, height: int = 28, width: int = 28, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("paintArea")
        self.image = np.zeros((height, width), np.float32)
        self.brush_radius = 1.2
        self.setMinimumSize(280, 280)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def resize_image(self, height: int, width: int) -> None:
        self.image = np.zeros((height, width), np.float32)
        self.update()

    def _cell(self, pos: QPointF) -> tuple[float, float]:
        h, w = self.image.shape
        side = min(self.width() / w, self.height() / h)
        return pos.y() / side - 0.5, pos.x() / side - 0.5

    def paint_at(self, row: float, col: float, value: float = 1.0) -> None:
        h, w = self.image.shape
        rr, cc = np.mgrid[0:h, 0:w]
        dist = np.sqrt((rr - row) ** 2 + (cc - col) ** 2)
        strength = np.clip(1.5 - dist / self.brush_radius, 0, 1)  # soft edge, like a pen on paper
        if value > 0:
            np.maximum(self.image, strength * value, out=self.image)
        else:
            self.image *= 1 - strength
        self.update()
        self.changed.emit()

    def set_image(self, image: np.ndarray) -> None:
        self.image = np.clip(np.asarray(image, np.float32), 0, 1).copy()
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.mouseMoveEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        buttons = event.buttons()
        if buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            row, col = self._cell(event.position())
            self.paint_at(row, col, 0.0 if buttons & Qt.MouseButton.RightButton else 1.0)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        h, w = self.image.shape
        grey = (np.clip(self.image, 0, 1) * 255).astype(np.uint8)
        qimage = QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8)
        side = min(self.width() / w, self.height() / h)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202020"))
        painter.drawImage(QRectF(0, 0, w * side, h * side), qimage)
        painter.end()


class DrawCanvas(WeightsWhenShown, QWidget):
    stale_hint = "train it to see it reconstruct your drawing."
    sentToExplorer = Signal(object)  # the drawing as one sample (1, H, W), for the latent explorer

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.state = state
        self.model: InferenceModel | None = None
        self.worker = Worker("canvas-model", self)
        self.worker.done.connect(self._use_model)
        self.worker.failed.connect(lambda message: self.status.setText(f"The model could not be built: {message}"))
        self.paint = PaintArea()
        self.output = ImageGrid(columns=1)
        self.output.setObjectName("canvasReconstruction")
        self.output.setMinimumSize(280, 280)
        self.status = QLabel("Draw with the left mouse button, erase with the right. "
                             "Train a model to see it reconstruct your drawing.")
        self.status.setWordWrap(True)
        self.brush = QDoubleSpinBox()
        self.brush.setRange(0.5, 5.0)
        self.brush.setSingleStep(0.25)
        self.brush.setValue(self.paint.brush_radius)
        self.brush.setPrefix("brush ")
        self.brush.valueChanged.connect(lambda v: setattr(self.paint, "brush_radius", v))
        self.clear_button = QPushButton("Clear")
        self.sample_button = QPushButton("Random sample")
        self.sample_button.setToolTip("Start from a real sample of the current dataset")
        self.noise_kind = QComboBox()
        self.noise_kind.addItems(["gaussian", "masking", "salt_pepper"])
        self.noise_level = QDoubleSpinBox()
        self.noise_level.setRange(0.0, 1.0)
        self.noise_level.setSingleStep(0.05)
        self.noise_level.setValue(0.3)
        self.send_button = QPushButton("Send to explorer")
        self.send_button.setToolTip("Mark the drawing's code on the latent map and make it an interpolation end")
        self.send_button.clicked.connect(lambda: self.sentToExplorer.emit(self.paint.image.copy()[None]))
        self.noise_button = QPushButton("Add noise")
        self.noise_button.setToolTip("Corrupt the drawing the way a denoising autoencoder is trained")
        self.clear_button.clicked.connect(lambda: self.paint.set_image(np.zeros_like(self.paint.image)))
        self.sample_button.clicked.connect(self.load_random_sample)
        self.noise_button.clicked.connect(self.add_noise)
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.reconstruct)
        self.paint.changed.connect(self._timer.start)

        controls = QHBoxLayout()
        for w in (self.brush, self.clear_button, self.sample_button, self.noise_kind, self.noise_level,
                  self.noise_button, self.send_button):
            controls.addWidget(w)
        controls.addStretch(1)
        pictures = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(QLabel("Your input"))
        left.addWidget(self.paint, 1)
        right.addWidget(QLabel("Reconstruction"))
        right.addWidget(self.output, 1)
        pictures.addLayout(left, 1)
        pictures.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(controls)
        layout.addLayout(pictures, 1)
        # The mixin's slots first: a drawing the new data cannot hold says so after "the data changed".
        self.watch_state(state)
        state.datasetChanged.connect(self._fit_to_dataset)
        if state.dataset is not None:
            self._fit_to_dataset(state.dataset)

    def _drawable(self) -> bool:
        ds = self.state.dataset
        return ds is not None and ds.kind == "image" and ds.sample_shape[0] == 1

    def _fit_to_dataset(self, dataset) -> None:
        on = self._drawable()
        for w in (self.paint, self.sample_button, self.noise_button):
            w.setEnabled(on)
        if on:
            _, h, w = dataset.sample_shape
            if self.paint.image.shape != (h, w):
                self.paint.resize_image(h, w)
        else:
            self.status.setText("Drawing needs a single-channel image dataset; this one holds "
                                f"{dataset.kind} samples of shape {list(dataset.sample_shape)}.")

    def use_weights(self, run):
        if not self._drawable() or not input_fits(run.spec, self.state.dataset):
            return False
        self.worker.submit(build_model_job, run)
        return None

    def clear_shown(self, message: str) -> None:
        """The model shown is not the one being edited, or does not take this data: stop using it."""
        self.worker.cancel()
        self._timer.stop()
        self.model = None
        blank(self.output)
        self.status.setText(message)

    def _use_model(self, model: InferenceModel) -> None:
        self.model = model
        self.status.setText("Draw with the left mouse button, erase with the right; the reconstruction follows.")
        self.reconstruct()

    def load_random_sample(self) -> None:
        ds = self.state.dataset
        if ds is None or not self._drawable():
            return
        i = int(np.random.default_rng().integers(len(ds)))
        self.paint.set_image(ds.as_float(np.array([i]))[0, 0])

    def add_noise(self) -> None:
        x = torch.from_numpy(self.paint.image.copy())
        noisy = corrupt(x, self.noise_kind.currentText(), self.noise_level.value())
        self.paint.set_image(noisy.numpy())

    def reconstruct(self) -> None:
        # The drawing's shape is the data's; a model made for other data must never see it.
        if self.model is None or self.model.input_shape != (1, *self.paint.image.shape):
            return
        out = self.model.reconstruct(self.paint.image[None, None])
        self.output.set_samples(out, columns=1, levels=self.model.levels)

    def shutdown(self) -> bool:
        self._timer.stop()
        self.model = None
        return self.worker.shutdown(1.0)
