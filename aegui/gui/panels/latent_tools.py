"""Sliders, traversals, interpolation, attribute arithmetic and sampling for the latent explorer.

The map (panels/latent.py) embeds ``LatentTools`` and hands it its model and codes with
``set_context``. The widget holds the current full code: one slider per dimension for the
32 that matter most (KL for a VAE, variance otherwise; on ``shapes`` each named after the
factor it follows), moved, reset or randomised, and ``codeChanged`` carries the whole code.
Below, one strip at a time: a traversal of a dimension, an interpolation between two
endpoints, class A minus class B added to a pinned code, and a sampling grid.

The numbers are ``core.latent_paths``. Working out the importance (a VAE's KL means
encoding every row) and every multi-image decode run on latest-wins Workers; only the
visible strip is made, a moment after the last change, so a slider drag starts one decode.
"""
from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSlider,
    QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from ...core import latent_paths as lp
from ...core.atomic import atomic_path
from ...core.latent import traversal
from ..dashboard.strip_view import STRIP, StripView
from ..workers import Worker

MAX_SLIDERS = 32
SLIDER_STEPS = 1000
SAMPLES = 64
REFRESH_MS = 80  # a strip is made this long after the last change: a drag starts one decode, not hundreds
ANIMATE_MS = 100  # ~10 frames a second
ANIMATE_STEP = 2 * np.pi / 40  # a full sweep in 4 s


def context_job(token, model, codes: np.ndarray, dataset, rows: np.ndarray) -> dict:
    """Worker: importance (a VAE's KL needs its posterior variances, so the rows are encoded again),
    slider ranges and, on data with known factors, each dimension's strongest factor."""
    kl = None
    if lp.is_variational(model) and dataset is not None and len(rows):
        kl = lp.posterior_kl(model, dataset.as_float(np.asarray(rows)), cancel=token.is_set)
    low, high = lp.slider_ranges(codes)
    known = lp.shape_factors(dataset, rows) if dataset is not None else None
    factors = lp.strongest_factors(codes, *known) if known is not None else None
    scores = lp.importance(codes, kl)
    return {"scores": scores, "by": "KL" if kl is not None else "variance", "order": lp.dimension_order(scores),
            "low": low, "high": high, "mean": codes.mean(axis=0).astype(np.float32),
            "std": codes.std(axis=0).astype(np.float32), "factors": factors}


def strip_job(token, model, codes: np.ndarray, dataset=None, ends=None, how: str = "lerp") -> tuple:
    """Worker: decode a strip's codes; for an interpolation, first the codes of the sample endpoints
    (``ends`` holds a code, or a dataset row to encode, per end)."""
    if ends is not None:
        a, b = (e if isinstance(e, np.ndarray) else model.encode(dataset.as_float(np.array([e])))[0] for e in ends)
        codes = lp.interpolation(a, b, how, STRIP)
    return codes, model.decode(codes, cancel=token.is_set)


def sampling_job(token, model, codes: np.ndarray, rng: np.random.Generator) -> tuple:
    """Worker: draw the sampling grid's codes (a fitted gaussian's covariance is a matrix product over
    every code, and numpy's products can stall for 150+ ms once torch has run) and decode them."""
    samples = lp.sample_codes(model, codes, SAMPLES, rng)
    return samples, model.decode(samples.codes, cancel=token.is_set)


class LatentTools(QWidget):
    codeChanged = Signal(object)  # the full (D,) float32 code, after a slider move, randomise or reset
    ready = Signal()  # the sliders fit a new context
    stripShown = Signal(str)  # a strip ("traversal", "interpolation", "arithmetic", "sampling") is drawn

    STRIPS = ("traversal", "interpolation", "arithmetic", "sampling")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = None
        self.codes = self.labels = self.rows = self.dataset = None
        self.label_names: list[str] = []
        self.context: dict | None = None
        self.code: np.ndarray | None = None
        self.endpoints: list[np.ndarray | None] = [None, None]
        self.pinned: np.ndarray | None = None
        self.shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # strip -> (codes, decodings)
        self._sampling: lp.Samples | None = None  # what the sampling grid shown was drawn from
        self.rng = np.random.default_rng()
        self.context_worker = Worker("latent-tools", self)
        self.context_worker.done.connect(self._apply_context)
        self.context_worker.failed.connect(self._say)
        self.strip_workers = {name: Worker(f"latent-{name}", self) for name in self.STRIPS}
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)
        self.animate_timer = QTimer(self, interval=ANIMATE_MS)
        self.animate_timer.timeout.connect(self._animate_step)
        self._phase = 0.0

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.sliders: list[tuple[int, QSlider, QLabel, QLabel]] = []  # (dimension, slider, name, value)
        self.slider_box = QWidget()
        self.slider_grid = QGridLayout(self.slider_box)
        self.slider_grid.setVerticalSpacing(2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.slider_box)
        scroll.setMinimumWidth(260)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Every dimension back to the mean code")
        self.randomise_button = QPushButton("Randomise")
        self.randomise_button.setToolTip("Each dimension drawn from a gaussian with its codes' mean and spread")
        self.reset_button.clicked.connect(self.reset)
        self.randomise_button.clicked.connect(self.randomise)

        self.tabs = QTabWidget()
        self.views = {name: StripView() for name in self.STRIPS}
        self.captions = {name: QLabel() for name in self.STRIPS}
        self.dim_combo = QComboBox()
        self.dim_combo.setToolTip("The dimension to traverse, most important first")
        self.animate = QCheckBox("Animate")
        self.animate.setToolTip("Sweep the dimension back and forth, about 10 frames a second")
        self.animate.toggled.connect(self._set_animating)
        self.path_combo = QComboBox()
        self.path_combo.addItem("linear", "lerp")
        self.path_combo.addItem("slerp", "slerp")
        self.sample_spins = [QSpinBox(), QSpinBox()]
        for i, spin in enumerate(self.sample_spins):
            spin.setPrefix(f"{'AB'[i]}: sample ")
            spin.setToolTip("Used when no point is picked on the map")
            spin.valueChanged.connect(lambda _v, i=i: self.set_endpoint(i, None))
        self.class_combos = [QComboBox(), QComboBox()]
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=300, value=100)
        self.strength.setToolTip("How much of (mean of A - mean of B) is added at the strip's end")
        self.new_samples = QPushButton("New samples")
        self.note = QLabel(lp.FITTED_NOTE)
        self.note.setWordWrap(True)
        self.new_samples.clicked.connect(lambda: self.refresh("sampling"))
        controls = {"traversal": [QLabel("dimension"), self.dim_combo, self.animate],
                    "interpolation": [self.path_combo, *self.sample_spins],
                    "arithmetic": [self.class_combos[0], QLabel("minus"), self.class_combos[1], QLabel("strength"),
                                   self.strength],
                    "sampling": [self.new_samples]}
        for w in (self.dim_combo, self.path_combo, *self.class_combos):
            w.currentIndexChanged.connect(self.schedule_refresh)
        self.strength.valueChanged.connect(self.schedule_refresh)
        for name in self.STRIPS:
            page = QWidget()
            box = QVBoxLayout(page)
            row = QHBoxLayout()
            for w in controls[name]:
                row.addWidget(w)
            row.addStretch(1)
            export = QPushButton("Export PNG…")
            export.clicked.connect(self._export_dialog)
            row.addWidget(export)
            box.addLayout(row)
            box.addWidget(self.captions[name])
            if name == "sampling":
                box.addWidget(self.note)
            box.addWidget(self.views[name], 1)
            self.tabs.addTab(page, name.capitalize())
        self.tabs.currentChanged.connect(self.schedule_refresh)

        left = QVBoxLayout()
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.randomise_button)
        left.addLayout(buttons)
        left.addWidget(scroll, 1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(self.tabs, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(body, 1)
        self.clear("Train a model to explore its code dimensions.")

    # --- the map's interface ------------------------------------------------------------------
    def set_context(self, model, codes, labels, label_names, dataset, rows) -> None:
        self.model, self.dataset = model, dataset
        self.codes = np.array(codes, np.float32)
        self.labels = None if labels is None else np.asarray(labels).copy()
        self.label_names = list(label_names or [])
        self.rows = np.asarray(rows).copy()
        self.status.setText(f"Working out which of the {model.code_dim} dimensions matter…")
        self.context_worker.submit(context_job, model, self.codes, dataset, self.rows)

    def clear(self, reason: str) -> None:
        self.refresh_timer.stop()
        self.animate.setChecked(False)
        self.context_worker.cancel()
        for worker in self.strip_workers.values():
            worker.cancel()
        self.model = self.context = self.code = self.pinned = None
        self.endpoints = [None, None]
        self.shown.clear()
        self._build_sliders([])
        for name in self.STRIPS:
            self.views[name].clear()
            self.captions[name].setText("")
        self.note.setVisible(False)
        self.status.setText(reason)
        self._enable_tools(False)

    def set_code(self, code) -> None:
        """Show ``code`` on the sliders without emitting ``codeChanged``."""
        self.code = np.array(code, np.float32).reshape(-1)
        for dim, slider, _, value in self.sliders:
            slider.blockSignals(True)
            slider.setValue(self._to_slider(dim, self.code[dim]))
            slider.blockSignals(False)
            value.setText(f"{self.code[dim]:+.2f}")
        self.schedule_refresh()

    def set_endpoint(self, which: int, code) -> None:
        """An interpolation end from the map; None goes back to the sample chosen by index."""
        self.endpoints[which] = None if code is None else np.array(code, np.float32).reshape(-1)
        self.schedule_refresh()

    def set_pinned(self, code) -> None:
        self.pinned = None if code is None else np.array(code, np.float32).reshape(-1)
        self.schedule_refresh()

    def shutdown(self, timeout: float = 2.0) -> bool:
        self.refresh_timer.stop()
        self.animate_timer.stop()
        workers = [self.context_worker, *self.strip_workers.values()]
        for worker in workers:
            worker.cancel()  # all at once, so the joins overlap
        return all([worker.shutdown(timeout) for worker in workers])

    # --- sliders ----------------------------------------------------------------------------
    def _enable_tools(self, on: bool) -> None:
        for w in (self.reset_button, self.randomise_button, self.tabs):
            w.setEnabled(on)

    def _apply_context(self, context: dict) -> None:
        if self.model is None:
            return
        self.context = context
        dims = [int(d) for d in context["order"][:MAX_SLIDERS]]
        self._build_sliders(dims)
        self.dim_combo.blockSignals(True)
        self.dim_combo.clear()
        for dim in dims:
            self.dim_combo.addItem(self._dim_name(dim), dim)
        self.dim_combo.blockSignals(False)
        self._fill_classes()
        for i, spin in enumerate(self.sample_spins):
            spin.blockSignals(True)  # an endpoint the map sent stays
            spin.setRange(0, max(0, len(self.dataset) - 1 if self.dataset is not None else 0))
            if i == 1 and spin.value() == 0:
                spin.setValue(min(1, spin.maximum()))
            spin.blockSignals(False)
        d = self.model.code_dim
        more = f"; the first {MAX_SLIDERS} of {d} are shown" if d > MAX_SLIDERS else ""
        self.status.setText(f"{d} code dimensions, ordered by {context['by']}{more}.")
        self._enable_tools(True)
        self.set_code(context["mean"] if self.code is None or len(self.code) != d else self.code)
        self.ready.emit()

    def _dim_name(self, dim: int) -> str:
        factors = self.context["factors"] if self.context else None
        if factors is None:
            return f"dim {dim}"
        name, r = factors[dim]
        return f"dim {dim} · {name} ({r:.2f})"

    def _build_sliders(self, dims: list[int]) -> None:
        scores = self.context["scores"] if self.context else None
        if dims and dims == [d for d, *_ in self.sliders]:
            # The map sends new codes every few seconds in training: the same order keeps the same
            # sliders (one being dragged stays under the mouse), relabelled with the new numbers.
            for dim, _, name, _ in self.sliders:
                name.setText(self._dim_name(dim))
                name.setToolTip(f"{self.context['by']}: {scores[dim]:.3g}")
            return
        for _, slider, name, value in self.sliders:
            for w in (slider, name, value):
                self.slider_grid.removeWidget(w)
                w.deleteLater()
        self.sliders = []
        for row in range(self.slider_grid.rowCount()):
            self.slider_grid.setRowStretch(row, 0)
        for row, dim in enumerate(dims):
            name = QLabel(self._dim_name(dim))
            name.setToolTip(f"{self.context['by']}: {scores[dim]:.3g}")
            slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=SLIDER_STEPS)
            slider.setObjectName(f"dimSlider{dim}")
            value = QLabel()
            value.setMinimumWidth(44)
            slider.valueChanged.connect(lambda v, dim=dim: self._slider_moved(dim, v))
            self.slider_grid.addWidget(name, row, 0)
            self.slider_grid.addWidget(slider, row, 1)
            self.slider_grid.addWidget(value, row, 2)
            self.sliders.append((dim, slider, name, value))
        self.slider_grid.setRowStretch(self.slider_grid.rowCount(), 0)
        self.slider_grid.setRowStretch(len(dims), 1)  # a few sliders sit at the top, not spread out

    def _to_slider(self, dim: int, x: float) -> int:
        lo, hi = self.context["low"][dim], self.context["high"][dim]
        return int(round(np.clip((x - lo) / (hi - lo), 0.0, 1.0) * SLIDER_STEPS))

    def _slider_moved(self, dim: int, position: int) -> None:
        lo, hi = self.context["low"][dim], self.context["high"][dim]
        self.code[dim] = lo + (hi - lo) * position / SLIDER_STEPS
        self._emit_code()

    def reset(self) -> None:
        if self.context is not None:
            self.set_code(self.context["mean"])
            self._emit_code()

    def randomise(self) -> None:
        if self.context is not None:
            c = self.context
            self.set_code(np.clip(self.rng.normal(c["mean"], c["std"]), c["low"], c["high"]))
            self._emit_code()

    def _emit_code(self) -> None:
        for dim, slider, _, value in self.sliders:
            value.setText(f"{self.code[dim]:+.2f}")
        self.codeChanged.emit(self.code.copy())
        self.schedule_refresh()

    # --- strips -------------------------------------------------------------------------------
    def current_strip(self) -> str:
        return self.STRIPS[self.tabs.currentIndex()]

    def schedule_refresh(self, *_) -> None:
        if self.context is not None:
            self.refresh_timer.start()

    def refresh(self, name: str | None = None) -> None:
        """Start making a strip (the visible one by default) on its worker."""
        name = name or self.current_strip()
        if self.context is None or self.code is None:
            return
        model, worker = self.model, self.strip_workers[name]
        done = partial(self._show_strip, name)
        if name == "traversal":
            dim = self.dim_combo.currentData()
            codes = traversal(self.code, dim, float(self.context["std"][dim]) or 1.0, STRIP)
            self.captions[name].setText(f"{self._dim_name(dim)} from -3 to +3 standard deviations")
            worker.submit(strip_job, model, codes, on_done=done)
        elif name == "interpolation":
            ends = [e if e is not None else int(s.value()) for e, s in zip(self.endpoints, self.sample_spins)]
            words = [("a point from the map" if isinstance(e, np.ndarray) else f"sample {e}") for e in ends]
            self.captions[name].setText(f"From {words[0]} to {words[1]}, {self.path_combo.currentText()}")
            worker.submit(strip_job, model, None, self.dataset, ends, self.path_combo.currentData(), on_done=done)
        elif name == "arithmetic":
            self._submit_arithmetic(worker, done)
        else:
            worker.submit(sampling_job, model, self.codes, self.rng, on_done=done)

    def _fill_classes(self) -> None:
        present = np.unique(self.labels) if self.labels is not None else []
        for i, combo in enumerate(self.class_combos):
            combo.blockSignals(True)
            combo.clear()
            for label in present:
                text = self.label_names[label] if 0 <= label < len(self.label_names) else str(label)
                combo.addItem(text, int(label))
            combo.setCurrentIndex(min(i, combo.count() - 1))
            combo.blockSignals(False)

    def _submit_arithmetic(self, worker, done) -> None:
        a, b = (combo.currentData() for combo in self.class_combos)
        caption = self.captions["arithmetic"]
        if a is None or b is None:
            caption.setText("Attribute arithmetic needs labelled data.")
            return
        pinned = self.pinned if self.pinned is not None else self.code
        strength = self.strength.value() / 100
        vector = lp.attribute_vector(self.codes, self.labels, a, b)
        where = "the pinned point" if self.pinned is not None else "the sliders' code"
        caption.setText(f"{where} + t × (mean {self.class_combos[0].currentText()} − mean "
                        f"{self.class_combos[1].currentText()}), t from 0 to {strength:.2f}")
        worker.submit(strip_job, self.model, lp.attribute_codes(pinned, vector, strength, STRIP), on_done=done)

    def _show_strip(self, name: str, result: tuple) -> None:
        """``result`` is (the strip's codes, or for the sampling grid the Samples they came from; decodings)."""
        codes, decoded = result
        if self.model is None:
            return
        columns, captions = STRIP, None
        if name == "sampling":
            samples = self._sampling = codes
            codes, columns = samples.codes, samples.columns
            self.captions[name].setText(samples.title)
            self.note.setVisible(samples.kind == "fitted gaussian")
            if samples.kind == "mixture":  # each row's component named at its start
                captions = [c if i % columns == 0 else "" for i, c in enumerate(np.repeat(samples.captions, columns))]
        self.shown[name] = (codes, decoded)
        self.views[name].show_samples(decoded, self.model.spec.input.kind, self.model.levels, columns, captions)
        self.stripShown.emit(name)

    # --- animation and export -------------------------------------------------------------------
    def _set_animating(self, on: bool) -> None:
        if on and self.context is not None and self.isVisible():
            self._phase = 0.0
            self.animate_timer.start()
        else:
            self.animate_timer.stop()
            if on:
                self.animate.setChecked(False)

    def _animate_step(self) -> None:
        dim = self.dim_combo.currentData()
        if self.context is None or dim is None:
            self.animate.setChecked(False)
            return
        self._phase += ANIMATE_STEP
        c = self.context
        self.code[dim] = c["mean"][dim] + lp.SPAN_STD * (c["std"][dim] or 1.0) * np.sin(self._phase)
        for d, slider, _, _ in self.sliders:
            if d == dim:
                slider.blockSignals(True)
                slider.setValue(self._to_slider(dim, self.code[dim]))
                slider.blockSignals(False)
        self._emit_code()

    def hideEvent(self, event) -> None:
        self.animate.setChecked(False)  # no sweeping where nobody sees it
        super().hideEvent(event)

    def export_strip(self, path, name: str | None = None) -> None:
        """The strip (the visible one by default) as a PNG, written atomically."""
        view = self.views[name or self.current_strip()]
        with atomic_path(path, keep_suffix=True) as tmp:
            if not view.grab().save(str(tmp), "PNG"):
                raise OSError(f"could not write {path}")

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export strip", f"{self.current_strip()}.png", "PNG (*.png)")
        if path:
            try:
                self.export_strip(path)
            except OSError as exc:
                self._say(f"Export failed: {exc}")

    def _say(self, message: str) -> None:
        self.status.setText(message)
