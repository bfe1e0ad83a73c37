"""The Draw tab: draw an input, lay noise over it and watch the model recover the clean input.

The user edits a clean layer in model space; noise is a separate seeded layer (``core.canvas_ops``)
applied on top, never written into it, so the clean input stays the reference that the readouts
compare against. Which editor holds the clean layer follows the data: a paint area for images
(``canvas_panels.ImageEditor``), a curve for sequences (``canvas_curve.CurveEditor``), a bar per
feature for tables (``canvas_table.RowEditor``). Every editor has the same small interface:

    changed, strokeStarted          signals (strokeStarted comes before a stroke changes anything)
    values                          the clean layer, the data's sample shape
    reset(sample_shape, value_range, names)   a blank layer for new data
    set_values(values)              replace the layer
    show_result(noisy, restored)    draw the noisy input, the reconstruction and its error
    picture()                       the widget "Save PNG" grabs

The inference copy is built from the run in a worker thread; one reconstruction then takes well
under a millisecond for the MLP presets and about one for the conv ones (benchmarks/canvas_latency.py),
so it runs on the GUI thread, at most once a frame: the first change after a quiet frame is
served at once, later ones in that frame wait for its end and are served together, the latest
input winning.
"""
from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from ...core.atomic import atomic_path
from ...core.canvas_ops import StrokeHistory, apply_noise, correlation, mnist_preprocess, mse, noise_layer, psnr, ssim
from ...core.inference import InferenceModel
from ...core.spec_rules import input_fits
from ..widgets.when_shown import WeightsWhenShown, run_matches
from ..workers import Worker
from .canvas_controls import CanvasControls

FRAME_MS = 8  # at most one reconstruction per frame of a 120 Hz screen
SSIM_MIN_SIDE = 11  # the 11×11 gaussian window must fit
READY = "Draw with the left mouse button, erase with the right; the reconstruction follows."
EDITOR_KINDS = {"image": "an image", "sequence": "a curve", "vector": "a table row"}


def build_model_job(token, run) -> InferenceModel:
    return InferenceModel.from_run(run)


def make_editor(kind: str, parent: QWidget) -> QWidget:
    """The editor for a dataset kind, imported when first needed (each pulls in its own plots)."""
    if kind == "image":
        from .canvas_panels import ImageEditor
        return ImageEditor(parent)
    if kind == "sequence":
        from .canvas_curve import CurveEditor
        return CurveEditor(parent)
    from .canvas_table import RowEditor
    return RowEditor(parent)


def display_range(dataset, sample_rows: int = 2000) -> tuple[float, float]:
    """The value range an editor shows: the data's own for images; for standardised signals and
    tables the 0.5-99.5 percentiles of up to 2,000 samples, widened to hold ±2, since a few
    outliers (transactions reach 36 σ) would flatten every ordinary row into the axis."""
    if dataset.kind == "image":
        return dataset.value_range
    rows = np.linspace(0, len(dataset) - 1, min(sample_rows, len(dataset))).astype(int)
    lo, hi = np.percentile(dataset.as_float(rows), [0.5, 99.5])
    return float(min(lo, -2.0)), float(max(hi, 2.0))


def readout(kind: str, reference: np.ndarray, noisy: np.ndarray, restored: np.ndarray | None,
            value_range: tuple[float, float]) -> str:
    """One line: how far the noisy input, and the reconstruction, are from the clean input. Images
    in PSNR (dB) and SSIM, signals and rows in MSE and correlation."""
    span = float(value_range[1] - value_range[0]) or 1.0
    if kind == "image":
        with_ssim = min(reference.shape[-2:]) >= SSIM_MIN_SIDE

        def text(test):
            db = psnr(reference, test, span)
            line = "∞ dB" if math.isinf(db) else f"{db:.1f} dB"
            return line + (f" / SSIM {ssim(reference, test, span):.3f}" if with_ssim else "")

        def gain():
            before, after = psnr(reference, noisy, span), psnr(reference, restored, span)
            return f" ({after - before:+.1f} dB)" if math.isfinite(before) and math.isfinite(after) else ""
    else:
        def text(test):
            r = correlation(reference, test)
            return f"MSE {mse(reference, test):.4f} / r {'n/a' if math.isnan(r) else f'{r:.3f}'}"

        def gain():
            before, after = mse(reference, noisy), mse(reference, restored)
            return f" (MSE ×{after / before:.2f})" if before > 0 else ""
    line = f"noisy input: {text(noisy)}"
    if restored is not None:
        line += f"  →  reconstruction: {text(restored)}{gain()}"
    return line


class DrawCanvas(WeightsWhenShown, QWidget):
    stale_hint = "train it to see it reconstruct your drawing."
    sentToExplorer = Signal(object)  # the input as fed, one sample of the data's shape, for the explorer

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.state = state
        self.model: InferenceModel | None = None
        self.kind: str | None = None
        self.editors: dict[str, QWidget] = {}
        self.history = StrokeHistory()
        self.noise_seed = 0
        self.fed: np.ndarray | None = None  # the clean input as fed (preprocessed when MNIST-style)
        self.noisy: np.ndarray | None = None
        self.restored: np.ndarray | None = None
        self.shown_at = 0.0  # perf_counter at the end of the last reconstruction shown (benchmarks)
        self._last_run = -1.0
        self._layer, self._layer_key = None, None  # the noise layer, kept while its settings stay
        self.worker = Worker("canvas-model", self)
        self.worker.done.connect(self._use_model)
        self.worker.failed.connect(lambda message: self.status.setText(f"The model could not be built: {message}"))

        self.status = QLabel("Draw with the left mouse button, erase with the right. "
                             "Train a model to see it reconstruct your drawing.")
        self.status.setWordWrap(True)
        self.controls = CanvasControls(self)
        self.stack = QStackedWidget(self)
        self.readout = QLabel("", self)
        self.readout.setObjectName("canvasReadout")
        self.note = QLabel("", self)  # what a file action did, or why it could not
        self.note.setWordWrap(True)
        self.controls.connect_to(self)

        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.reconstruct)
        for keys, slot in (("Ctrl+Z", self.undo), ("Ctrl+Shift+Z", self.redo)):
            shortcut = QShortcut(QKeySequence(keys), self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.controls)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.note)
        # The mixin's slots first: a drawing the new data cannot hold says so after "the data changed".
        self.watch_state(state)
        state.datasetChanged.connect(self._fit_to_dataset)
        self._use_editor("image")
        if state.dataset is not None:
            self._fit_to_dataset(state.dataset)

    # --- the editor for the data ------------------------------------------------------------

    @property
    def editor(self) -> QWidget:
        return self.editors[self.kind]

    @property
    def paint(self):
        """The image editor's paint area (the clean layer of an image drawing)."""
        return self.editors["image"].paint if "image" in self.editors else None

    @property
    def output(self):
        """The image editor's reconstruction panel."""
        return self.editors["image"].output if "image" in self.editors else None

    def _use_editor(self, kind: str) -> None:
        if kind not in self.editors:
            editor = make_editor(kind, self.stack)
            editor.changed.connect(self.schedule)
            editor.strokeStarted.connect(self._remember)
            self.editors[kind] = editor
            self.stack.addWidget(editor)
        self.kind = kind
        self.stack.setCurrentWidget(self.editors[kind])
        self.controls.show_for(kind)

    def _fit_to_dataset(self, dataset) -> None:
        kind = dataset.kind if dataset.kind in EDITOR_KINDS else None
        channels = dataset.sample_shape[0] if dataset.kind == "image" else 1
        if kind == "image" and channels not in (1, 3):
            kind = None
        for widget in (self.controls, self.stack):
            widget.setEnabled(kind is not None)
        if kind is None:
            self.status.setText("The canvas edits images of one or three channels, curves and table rows; "
                                f"this dataset holds {dataset.kind} samples of shape {list(dataset.sample_shape)}.")
            return
        self._use_editor(kind)
        if kind == "image":
            self.controls.colour_button.setVisible(channels == 3)
        shape = tuple(dataset.sample_shape)
        if self.editor.values.shape != shape or kind == "vector":  # a table's features have names
            self.editor.reset(shape, display_range(dataset), getattr(dataset, "feature_names", None))
            if kind == "vector" and getattr(dataset, "feature_std", None) is not None:
                self.editor.set_units(dataset.feature_mean, dataset.feature_std)
            self.history.clear()
            self.fed = self.noisy = self.restored = None
            self.schedule()

    def use_weights(self, run):
        if self.kind is None or not input_fits(run.spec, self.state.dataset):
            return False
        self.worker.submit(build_model_job, run)
        return None

    def clear_shown(self, message: str) -> None:
        """The model shown is not the one being edited, or does not take this data: stop using it."""
        self.worker.cancel()
        self._timer.stop()
        self.model = None
        self.restored = None
        for editor in self.editors.values():
            editor.show_result(None, None)
        self.readout.setText("")
        self.status.setText(message)

    def _use_model(self, model: InferenceModel) -> None:
        self.model = model
        self.status.setText(READY)
        self.reconstruct()

    # --- editing: every change of the layers is one undoable step --------------------------

    def _layers(self):
        editor = self.editor
        return editor.layers() if hasattr(editor, "layers") else editor.values

    def _set_layers(self, layers) -> None:
        editor = self.editor
        editor.set_layers(layers) if hasattr(editor, "layers") else editor.set_values(layers)

    def _remember(self) -> None:
        self.history.push(self._layers())

    def _replace_values(self, values: np.ndarray) -> None:
        self._remember()
        self.editor.set_values(values)

    def clear(self) -> None:
        self._remember()
        values = np.zeros_like(self.editor.values)
        if hasattr(self.editor, "layers"):
            self.editor.set_layers((values, np.zeros_like(self.editor.layers()[1])))
        else:
            self.editor.set_values(values)

    def undo(self) -> None:
        if self.history.can_undo:
            self._set_layers(self.history.undo(self._layers()))

    def redo(self) -> None:
        if self.history.can_redo:
            self._set_layers(self.history.redo(self._layers()))

    def load_random_sample(self) -> None:
        """A validation sample of the run shown (any row when no run describes this data)."""
        ds = self.state.dataset
        if ds is None or self.kind is None or tuple(ds.sample_shape) != self.editor.values.shape:
            return
        run = self.shown_run
        rows = run.validation_rows(ds) if run is not None and run_matches(run, ds) and len(run.val_index) else None
        rng = np.random.default_rng()
        i = int(rng.choice(rows)) if rows is not None else int(rng.integers(len(ds)))
        self._replace_values(ds.as_float(np.array([i]))[0])

    def add_noise(self) -> None:
        """New noise: a new seed for the noise layer; the clean input is untouched."""
        self.noise_seed += 1
        self.schedule()

    def send_to_explorer(self) -> None:
        # Fed from the layer as it is now: the last reconstruction may be a frame behind it.
        self.sentToExplorer.emit(self._fed(self.editor.values).copy())

    # --- the pictures: at most one reconstruction a frame ------------------------------------

    def schedule(self, *_) -> None:
        if self._timer.isActive():
            return  # the frame's reconstruction is already due; it will read the latest input
        wait_ms = FRAME_MS - (time.perf_counter() - self._last_run) * 1e3
        if wait_ms <= 0:
            self.reconstruct()
        else:
            self._timer.start(int(math.ceil(wait_ms)))

    def _fed(self, clean: np.ndarray) -> np.ndarray:
        if self.kind == "image" and self.controls.mnist_check.isChecked() and clean.shape[0] == 1 \
                and clean.shape[1] == clean.shape[2]:
            return mnist_preprocess(clean[0], size=clean.shape[1])[None]
        return clean

    def reconstruct(self) -> None:
        """Noise the clean layer, show it, and, with a model for this data, its reconstruction."""
        self._last_run = time.perf_counter()
        if self.kind is None:
            return
        editor, settings = self.editor, self.controls
        clean = editor.values
        fed = self._fed(clean)
        mnist = fed is not clean
        self.fed = fed.copy()
        value_range = self.state.dataset.value_range if self.state.dataset is not None else (0.0, 1.0)
        key = (fed.shape, settings.noise_kind.currentText(), settings.noise_level.value(), self.noise_seed,
               settings.block.value())
        if self._layer_key != key:  # the draws change with the settings or "New noise", not with a stroke
            self._layer, self._layer_key = noise_layer(*key), key
        layer = self._layer
        # The brush's mask is in the drawing's pixels; MNIST-style moves them, so it then noises everything.
        mask = None if mnist or not hasattr(editor, "noise_mask") else editor.noise_mask()
        self.noisy = apply_noise(fed, layer, mask, value_range)
        restored = None
        # The input's shape is the data's; a model made for other data must never see it.
        if self.model is not None and tuple(self.model.input_shape) == fed.shape:
            restored = self.model.reconstruct(self.noisy[None])[0]
            if self.kind == "image":  # compared on the drawing's range: a gaussian output may stray past it
                restored = np.clip(restored, *value_range).astype(np.float32)
        self.restored = restored
        if self.kind == "image":
            editor.show_result(self.noisy, restored, reference=fed)
        else:
            editor.show_result(self.noisy, restored)
        self.readout.setText(readout(self.kind, fed, self.noisy, restored, value_range))
        self.shown_at = time.perf_counter()

    # --- files ----------------------------------------------------------------------------

    def save_png(self, path: str) -> bool:
        return self._write(path, lambda tmp: self.editor.picture().grab().save(str(tmp)),
                           "the picture" if self.kind != "image" else "the four panels")

    def save_drawing(self, path: str) -> bool:
        return self._write(path, lambda tmp: np.save(tmp, self.editor.values.astype(np.float32)) or True,
                           "the drawing")

    def _write(self, path: str, write, what: str) -> bool:
        try:
            with atomic_path(path, keep_suffix=True) as tmp:
                if not write(tmp):
                    raise OSError("the image writer refused it")
        except OSError as exc:
            self.note.setText(f"Could not save {path}: {exc}")
            return False
        self.note.setText(f"Saved {what} to {path}")
        return True

    def load_drawing(self, path: str) -> bool:
        try:
            drawing = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            self.note.setText(f"Could not read {path}: {exc}")
            return False
        expected = self.editor.values.shape
        if not isinstance(drawing, np.ndarray) or drawing.shape != expected:
            self.note.setText(f"Not loaded: {path} holds an array of shape {list(getattr(drawing, 'shape', []))}; "
                              f"this canvas takes {list(expected)}.")
            return False
        if not np.issubdtype(drawing.dtype, np.floating) or not np.all(np.isfinite(drawing)):
            self.note.setText(f"Not loaded: {path} holds {drawing.dtype} values; a drawing is finite floats.")
            return False
        self._replace_values(drawing)
        self.note.setText(f"Loaded the drawing from {path}")
        return True

    def shutdown(self) -> bool:
        self._timer.stop()
        self.model = None
        return self.worker.shutdown(1.0)
