"""A canvas to draw an input, lay noise over it and watch the model recover the clean drawing.

The user draws on the clean layer (``paint.image``, model space 0-1). Noise is a separate seeded
layer (``core.canvas_ops``) applied on top, never written into the drawing, so the clean drawing
stays the reference the PSNR and SSIM readouts compare against. The inference copy is built from
the run in a worker thread; reconstructing one drawing then takes well under a millisecond (MLP
0.1-0.2 ms, conv under 1 ms, measured on the 2-core CPU machine), so it runs on the GUI thread,
coalesced by a single-shot timer: a stroke's many mouse moves make one reconstruction per frame,
of the latest drawing.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox,
    QVBoxLayout, QWidget,
)

from ...core.atomic import atomic_path
from ...core.canvas_ops import NOISE_KINDS, StrokeHistory, apply_noise, mnist_preprocess, noise_layer, psnr, ssim
from ...core.inference import InferenceModel
from ...core.spec_rules import input_fits
from ..widgets.when_shown import WeightsWhenShown, blank, run_matches
from ..workers import Worker
from .canvas_panels import PaintArea, PanelRow, heat_lookup_table, image_panel, show_image

FRAME_MS = 8  # at most one reconstruction per frame while a stroke goes on
SSIM_MIN_SIDE = 11  # the 11×11 gaussian window must fit


def build_model_job(token, run) -> InferenceModel:
    return InferenceModel.from_run(run)


def quality(reference: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of ``test`` against ``reference``; SSIM is NaN on images too small for it."""
    small = min(reference.shape[-2:]) < SSIM_MIN_SIDE
    return psnr(reference, test), (math.nan if small else ssim(reference, test))


def describe(noisy: tuple[float, float], restored: tuple[float, float] | None) -> str:
    def text(pair):
        db = "∞ dB" if math.isinf(pair[0]) else f"{pair[0]:.1f} dB"
        return db + ("" if math.isnan(pair[1]) else f" / {pair[1]:.2f} SSIM")
    line = f"noisy: {text(noisy)}"
    if restored is not None:
        line += f" → reconstruction: {text(restored)}"
        if math.isfinite(noisy[0]) and math.isfinite(restored[0]):
            line += f" ({restored[0] - noisy[0]:+.1f} dB)"
    return line


class DrawCanvas(WeightsWhenShown, QWidget):
    stale_hint = "train it to see it reconstruct your drawing."
    sentToExplorer = Signal(object)  # the drawing as one sample (1, H, W), for the latent explorer

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.state = state
        self.model: InferenceModel | None = None
        self.history = StrokeHistory()
        self.noise_seed = 0
        self.fed: np.ndarray | None = None  # the clean drawing as fed (preprocessed when MNIST-style)
        self.noisy: np.ndarray | None = None
        self.restored: np.ndarray | None = None
        self.worker = Worker("canvas-model", self)
        self.worker.done.connect(self._use_model)
        self.worker.failed.connect(lambda message: self.status.setText(f"The model could not be built: {message}"))

        self.paint = PaintArea()
        self.noisy_view = image_panel("canvasNoisy")
        self.output = image_panel("canvasReconstruction")
        self.error_view = image_panel("canvasError", heat_lookup_table())
        self.row = PanelRow([self.paint, self.noisy_view, self.output, self.error_view],
                            ["clean (draw here)", "noisy input", "reconstruction", "|reconstruction − clean|"])
        self.status = QLabel("Draw with the left mouse button, erase with the right. "
                             "Train a model to see it reconstruct your drawing.")
        self.status.setWordWrap(True)
        self.readout = QLabel("")
        self.readout.setObjectName("canvasReadout")
        self.note = QLabel("")  # what a file action did, or why it could not
        self.note.setWordWrap(True)
        self._build_controls()

        self._timer = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._timer.timeout.connect(self.reconstruct)
        self.paint.changed.connect(self._timer.start)
        self.paint.strokeStarted.connect(lambda: self.history.push(self.paint.image))
        for keys, slot in (("Ctrl+Z", self.undo), ("Ctrl+Shift+Z", self.redo)):
            shortcut = QShortcut(QKeySequence(keys), self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(self.controls)
        layout.addLayout(self.noise_controls)
        layout.addLayout(self.file_controls)
        layout.addWidget(self.row, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.note)
        # The mixin's slots first: a drawing the new data cannot hold says so after "the data changed".
        self.watch_state(state)
        state.datasetChanged.connect(self._fit_to_dataset)
        if state.dataset is not None:
            self._fit_to_dataset(state.dataset)

    def _build_controls(self) -> None:
        self.brush = QDoubleSpinBox(prefix="brush ", minimum=0.5, maximum=5.0, singleStep=0.25,
                                    value=self.paint.brush_radius)
        self.brush.valueChanged.connect(lambda v: setattr(self.paint, "brush_radius", v))
        self.noise_kind = QComboBox()
        self.noise_kind.addItems(list(NOISE_KINDS))
        self.noise_level = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.3)
        self.noise_level.setToolTip("σ for gaussian, flip rate p for salt-and-pepper, masked fraction for masking")
        self.block = QSpinBox(prefix="block ", minimum=1, maximum=8, value=1)
        self.block.setToolTip("Masking hides squares of block × block pixels")
        self.mnist_check = QCheckBox("MNIST-style")
        self.mnist_check.setToolTip("Feed the drawing cropped to its ink, fitted to 20×20 and centred by its "
                                    "centre of mass in 28×28, as the MNIST digits were made")
        for control, signal in ((self.noise_kind, "currentIndexChanged"), (self.noise_level, "valueChanged"),
                                (self.block, "valueChanged"), (self.mnist_check, "toggled")):
            getattr(control, signal).connect(self._settings_changed)
        self.noise_button = QPushButton("New noise", toolTip="Draw a new noise pattern (a new seed)")
        self.noise_button.clicked.connect(self.add_noise)
        self.undo_button = QPushButton("Undo", toolTip="Undo the last stroke (Ctrl+Z)")
        self.redo_button = QPushButton("Redo", toolTip="Redo the stroke undone (Ctrl+Shift+Z)")
        self.clear_button = QPushButton("Clear")
        self.sample_button = QPushButton("Load sample", toolTip="Start from a validation sample of the run")
        self.send_button = QPushButton("Send to explorer")
        self.send_button.setToolTip("Mark the drawing's code on the latent map and make it an interpolation end")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.clear_button.clicked.connect(self.clear)
        self.sample_button.clicked.connect(self.load_random_sample)
        self.send_button.clicked.connect(lambda: self.sentToExplorer.emit(self.paint.image.copy()[None]))
        # Three short rows, not one long one: a row's width is the window's minimum (laptops are 1366 px).
        self.controls = QHBoxLayout()
        for w in (self.brush, self.undo_button, self.redo_button, self.clear_button, self.sample_button,
                  self.mnist_check):
            self.controls.addWidget(w)
        self.controls.addStretch(1)
        self.noise_controls = QHBoxLayout()
        for w in (self.noise_kind, self.noise_level, self.block, self.noise_button):
            self.noise_controls.addWidget(w)
        self.noise_controls.addStretch(1)
        self.png_button = QPushButton("Save PNG…", toolTip="Save the four panels as one picture")
        self.save_button = QPushButton("Save drawing…", toolTip="Save the clean drawing as a .npy array")
        self.load_button = QPushButton("Load drawing…", toolTip="Load a drawing saved as .npy")
        self.png_button.clicked.connect(lambda: self._ask_path(self.save_png, save=True, kind="PNG image (*.png)"))
        self.save_button.clicked.connect(lambda: self._ask_path(self.save_drawing, save=True,
                                                                kind="NumPy array (*.npy)"))
        self.load_button.clicked.connect(lambda: self._ask_path(self.load_drawing, save=False,
                                                                kind="NumPy array (*.npy)"))
        self.file_controls = QHBoxLayout()
        for w in (self.png_button, self.save_button, self.load_button, self.send_button):
            self.file_controls.addWidget(w)
        self.file_controls.addStretch(1)

    def _ask_path(self, action, save: bool, kind: str) -> None:
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self, "Save" if save else "Open", "", kind)
        if path:
            action(path)

    # --- data and model -----------------------------------------------------------

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
                self.history.clear()
                self._timer.start()
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
        self.restored = None
        blank(self.output)
        blank(self.error_view)
        self.readout.setText("")
        self.status.setText(message)

    def _use_model(self, model: InferenceModel) -> None:
        self.model = model
        self.status.setText("Draw with the left mouse button, erase with the right; the reconstruction follows.")
        self.reconstruct()

    # --- editing ------------------------------------------------------------------

    def _replace_drawing(self, image: np.ndarray) -> None:
        """Put ``image`` on the clean layer as one undoable step."""
        self.history.push(self.paint.image)
        self.paint.set_image(image)

    def clear(self) -> None:
        self._replace_drawing(np.zeros_like(self.paint.image))

    def undo(self) -> None:
        if self.history.can_undo:
            self.paint.set_image(self.history.undo(self.paint.image))

    def redo(self) -> None:
        if self.history.can_redo:
            self.paint.set_image(self.history.redo(self.paint.image))

    def load_random_sample(self) -> None:
        """A validation sample of the run shown (any row when no run describes this data)."""
        ds = self.state.dataset
        if ds is None or not self._drawable():
            return
        run = self.shown_run
        rows = run.val_index if run is not None and run_matches(run, ds) and len(run.val_index) else None
        rng = np.random.default_rng()
        i = int(rng.choice(rows)) if rows is not None else int(rng.integers(len(ds)))
        self._replace_drawing(ds.as_float(np.array([i]))[0, 0])

    def add_noise(self) -> None:
        """New noise: a new seed for the noise layer; the clean drawing is untouched."""
        self.noise_seed += 1
        self._settings_changed()

    def _settings_changed(self, *_) -> None:
        self.row.captions[0].setText("clean (draw here; fed MNIST-style)" if self.mnist_check.isChecked()
                                     else "clean (draw here)")
        self._timer.start()

    # --- the pictures -------------------------------------------------------------

    def noise(self, shape: tuple[int, ...]):
        return noise_layer(shape, self.noise_kind.currentText(), self.noise_level.value(), self.noise_seed,
                           self.block.value())

    def reconstruct(self) -> None:
        """Noise the clean layer, show it, and, with a model for this data, its reconstruction."""
        clean = self.paint.image
        fed = mnist_preprocess(clean, size=clean.shape[0]) if (self.mnist_check.isChecked()
                                                               and clean.shape[0] == clean.shape[1]) else clean
        self.fed = fed.copy()
        self.noisy = apply_noise(fed, self.noise(fed.shape))
        show_image(self.noisy_view, self.noisy)
        noisy_quality = quality(fed, self.noisy)
        # The drawing's shape is the data's; a model made for other data must never see it.
        if self.model is None or self.model.input_shape != (1, *clean.shape):
            self.readout.setText(describe(noisy_quality, None))
            return
        out = self.model.reconstruct(self.noisy[None, None])[0, 0]
        # Compared on the drawing's 0-1 range: a gaussian-likelihood output may stray past it.
        self.restored = np.clip(out, 0, 1).astype(np.float32)
        show_image(self.output, out, self.model.levels or (0.0, 1.0))
        show_image(self.error_view, np.abs(self.restored - fed))
        self.readout.setText(describe(noisy_quality, quality(fed, self.restored)))

    # --- files --------------------------------------------------------------------

    def save_png(self, path: str) -> bool:
        try:
            with atomic_path(path, keep_suffix=True) as tmp:
                if not self.row.grab().save(str(tmp)):
                    raise OSError("the image writer refused it")
        except OSError as exc:
            self.note.setText(f"Could not save {path}: {exc}")
            return False
        self.note.setText(f"Saved the four panels to {path}")
        return True

    def save_drawing(self, path: str) -> bool:
        try:
            with atomic_path(path, keep_suffix=True) as tmp:
                np.save(tmp, self.paint.image.astype(np.float32))
        except OSError as exc:
            self.note.setText(f"Could not save {path}: {exc}")
            return False
        self.note.setText(f"Saved the drawing to {path}")
        return True

    def load_drawing(self, path: str) -> bool:
        try:
            drawing = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            self.note.setText(f"Could not read {path}: {exc}")
            return False
        expected = self.paint.image.shape
        if not isinstance(drawing, np.ndarray) or drawing.shape != expected:
            self.note.setText(f"Not loaded: {path} holds an array of shape {getattr(drawing, 'shape', '?')}; "
                              f"this canvas takes {expected[0]}×{expected[1]}.")
            return False
        if not np.issubdtype(drawing.dtype, np.floating) or not np.all(np.isfinite(drawing)):
            self.note.setText(f"Not loaded: {path} holds {drawing.dtype} values; a drawing is finite floats 0-1.")
            return False
        self._replace_drawing(drawing)
        self.note.setText(f"Loaded the drawing from {path}")
        return True

    def shutdown(self) -> bool:
        self._timer.stop()
        self.model = None
        return self.worker.shutdown(1.0)
