"""Anomaly view: per-sample reconstruction error on the validation split, as a detector.

An autoencoder reconstructs what it was trained on and fails on the unusual,
so its per-sample error is an anomaly score. The histogram shows the errors
(anomalies in red where labels mark them), the threshold slider picks a cut-off
by quantile and says how many samples it flags (with precision and recall when
labels exist), ROC AUC scores the whole ranking, and the worst samples are
shown beside their reconstructions.

The panel scores the rows the run itself validated on (``RunArtifact.validation_rows``),
plus every sample of a class the run was trained without, with an InferenceModel
built from the newest run snapshot, never the training model. Scoring up to
5,000 samples takes longer than a frame, so it runs in a worker thread (latest
wins: a newer snapshot supersedes a scoring still under way), and only while
the panel is on screen: a snapshot that arrives while it is hidden waits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ...core.evaluate import anomaly_mask, roc_auc
from ...core.inference import CHUNK, InferenceModel
from ...core.spec_rules import input_fits
from ..widgets.when_shown import WeightsWhenShown, blank, run_matches
from ..workers import Worker
from .plots import BOLD, NOTE, bar_curve, fix_axes, fixed_label, health_line, pen
from .samples import SampleView, display_levels

NEUTRAL_X = (-3.0, 0.0)  # log10 of 0.001 .. 1: the axis before any errors are drawn
MAX_SAMPLES = 5000  # validation samples scored (evenly spread) per snapshot
WORST = 8
BINS = 50


# --- the error axis: log-scaled, labelled in plain numbers ---------------------------------------------
# Candidate label sets: every n-th decade, then mantissas within each decade (1, 2, 5 ...), then finer
# steps for a range narrower than a decade. The axis labels the fitting set with the most labels.
DECADE_STEPS = (8, 4, 3, 2)
MANTISSAS = ((1,), (1, 3), (1, 2, 5), (1, 2, 4, 6, 8), tuple(range(1, 10)),
             *(tuple(np.round(np.arange(1, 10, q), 2)) for q in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01)))
LABEL_GAP_PX = 8  # empty space between two labels
MINOR_GAP_PX = 4  # closer than this, unlabelled ticks would blur into a bar


def plain_number(value: float) -> str:
    """0.04, 0.1, 2.5, 300: the number as written by hand (six significant digits at most)."""
    value = float(f"{value:.6g}")
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return np.format_float_positional(value, trim="-")
    mantissa, exponent = f"{value:.6g}".split("e")
    return f"{mantissa}e{int(exponent)}"


def log_tick_sets(lo: float, hi: float, most: int):
    """Candidate tick values between 10**lo and 10**hi, one array per set, roughly sparsest first;
    sets of more than ``most`` values are left out (no axis has the pixels for them)."""
    first, last = int(np.floor(lo)), int(np.ceil(hi))
    decades = np.arange(first, last + 1)
    for step in DECADE_STEPS:
        yield 10.0 ** decades[decades % step == 0]
    for mantissas in MANTISSAS:
        if len(mantissas) * (hi - lo) > most:
            return  # the next sets are denser still
        values = (np.asarray(mantissas, float)[None, :] * 10.0 ** decades[:, None]).ravel()
        logs = np.log10(values)
        yield values[(logs >= lo - 1e-9) & (logs <= hi + 1e-9)]


class LogAxis(pg.AxisItem):
    """An axis whose coordinates are log10 of the value, labelled with the values as plain numbers.

    pyqtgraph's log axis writes 0.04 as "4·10¹" under a "(x0.001)" SI prefix, and for a range
    narrower than a decade it labels every minor tick, so they run together. Here the labels are
    the densest set of round numbers (decades, then 1-2-5, then every mantissa, then finer) whose
    labels fit side by side in the axis's pixels; the next denser set gets unlabelled ticks.
    """

    def __init__(self, orientation: str = "bottom", **kwargs):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def _widths(self, values: np.ndarray) -> np.ndarray:
        """Each label's extent along the axis, in pixels."""
        metrics = QFontMetrics(self.style["tickFont"] or self.font())
        if self.orientation in ("left", "right"):
            return np.full(len(values), float(metrics.height()))
        return np.array([metrics.horizontalAdvance(plain_number(v)) for v in values], float)

    def choose(self, lo: float, hi: float, size: float) -> tuple[np.ndarray, np.ndarray]:
        """(labelled values, unlabelled values) for log10 range lo..hi drawn over ``size`` pixels."""
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo or size <= 0:
            return np.array([]), np.array([])
        per_decade = size / (hi - lo)
        labelled, ticks = np.array([]), np.array([])
        for values in log_tick_sets(lo, hi, int(size / MINOR_GAP_PX) + 1):
            inside = values[(np.log10(values) >= lo - 1e-9) & (np.log10(values) <= hi + 1e-9)]
            gaps = np.diff(np.log10(inside)) * per_decade
            if len(inside) > len(ticks) and (len(inside) < 2 or gaps.min() >= MINOR_GAP_PX):
                ticks = inside
            if len(inside) <= len(labelled) or len(inside) * LABEL_GAP_PX > size:
                continue
            # Neighbouring labels, centred on their ticks, must not touch.
            widths = self._widths(inside)
            if len(inside) < 2 or np.all(gaps >= (widths[:-1] + widths[1:]) / 2 + LABEL_GAP_PX):
                labelled = inside
        if len(labelled) == 0:  # narrower than the finest step: name the middle of the range
            labelled = np.array([float(f"{10 ** ((lo + hi) / 2):.3g}")])
        minor = np.setdiff1d(ticks, labelled)
        return labelled, minor

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 - pyqtgraph's names
        labelled, minor = self.choose(min(minVal, maxVal), max(minVal, maxVal), size)
        levels = [(1.0, list(np.log10(labelled)))]
        if len(minor):
            levels.append((None, list(np.log10(minor))))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if spacing is None:
            return [""] * len(values)  # the minor ticks: marks without labels
        return [plain_number(10.0 ** v) for v in values]

    def labels(self, lo: float, hi: float, size: float) -> list[str]:
        """The label texts this axis draws for log10 range lo..hi over ``size`` pixels."""
        (_, values), *_ = self.tickValues(lo, hi, size)
        return self.tickStrings(values, 1.0, 1.0)


@dataclass
class Scores:
    """What the scoring job hands back."""

    index: np.ndarray  # rows of the dataset scored
    errors: np.ndarray  # their reconstruction errors
    worst: np.ndarray  # the WORST rows' inputs, worst first
    worst_recon: np.ndarray  # and their reconstructions
    scored: str  # which samples, with which weights, in words


def score_job(token, run, dataset, rows: np.ndarray, scored: str) -> Scores:
    """Worker job: a model copy from the run, then each row's error, a chunk at a time."""
    model = InferenceModel.from_run(run)
    errors = np.empty(len(rows))
    for start in range(0, len(rows), CHUNK):
        part = rows[start:start + CHUNK]
        errors[start:start + len(part)] = model.errors(dataset.as_float(part), cancel=token.is_set)
    worst = rows[np.argsort(errors)[::-1][:WORST]]
    x = dataset.as_float(worst)
    return Scores(rows, errors, x, model.reconstruct(x), scored)


class AnomalyPanel(WeightsWhenShown, QWidget):
    stale_hint = "train it to see its reconstruction errors here."

    def __init__(self, state=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.status = fixed_label("Train a model: the errors appear after its first epoch.", lines=2)
        self.status.setObjectName("anomalyStatus")
        self.combo = QComboBox()
        self.combo.setObjectName("anomalyClass")
        self.combo.setToolTip("Which samples count as anomalies. A class of an ordinary dataset is a fair test "
                              "only for a model trained without it.")
        self.auc_label = fixed_label(look=BOLD)
        self.auc_label.setObjectName("rocAucLabel")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("anomalyThreshold")
        self.slider.setRange(0, 1000)
        self.slider.setValue(950)
        self.threshold_label = fixed_label()
        self.threshold_label.setObjectName("anomalyThresholdLabel")
        # The errors are drawn at their log10 (PathItems are not mapped by a log axis); LogAxis labels
        # them as plain numbers and picks labels that fit.
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": LogAxis("bottom")})
        self.plot_widget.setObjectName("errorHistogram")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        fix_axes(self.plot, left=44)
        self.plot.setRange(xRange=NEUTRAL_X, yRange=(0, 1), padding=0.02)
        self.plot.setLabel("bottom", "reconstruction error (MSE per sample)")
        self.normal_bars = bar_curve(self.plot, "#4e79a7")
        self.anomaly_bars = bar_curve(self.plot, "#e15759")
        self.anomaly_bars.setOpacity(0.7)
        # Red reads on a light or a dark background alike.
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pen("#d9534f", Qt.PenStyle.DashLine))
        self.plot.addItem(self.line)
        self.line.setVisible(False)  # until there are errors to cut
        self.worst = SampleView(columns=WORST, trace_columns=4)
        self.worst.setObjectName("worstSamples")
        self.worst_caption = fixed_label(look=NOTE)
        top = QHBoxLayout()
        top.addWidget(QLabel("anomalies:"))
        top.addWidget(self.combo, 1)
        top.addWidget(self.auc_label, 1)
        threshold = QHBoxLayout()
        threshold.addWidget(QLabel("threshold:"))
        threshold.addWidget(self.slider, 1)
        threshold.addWidget(self.threshold_label, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 3)
        layout.addLayout(threshold)
        self.worst_label = fixed_label("Worst reconstructed samples")
        layout.addWidget(self.worst_label)
        layout.addWidget(self.worst, 2)
        layout.addWidget(self.worst_caption)
        layout.addWidget(health_line("anomaly"))
        self.errors: np.ndarray | None = None
        self.index: np.ndarray | None = None
        self.is_anomaly: np.ndarray | None = None
        self.auc: float | None = None
        self.worker = Worker("anomaly-scores", self)
        self.worker.done.connect(self._show_scores)
        self.worker.failed.connect(lambda message: self.status.setText(f"Scoring failed: {message}"))
        self.slider.valueChanged.connect(self._draw_threshold)
        self.combo.currentIndexChanged.connect(lambda _: self._score())
        if state is not None:
            self.watch_state(state)  # first: scores of another model or other data go before the combo refills
            state.datasetChanged.connect(self._on_dataset)
            state.holdoutChanged.connect(self._on_holdout)
        self._fill_combo()

    def clear_shown(self, message: str) -> None:
        """The scores came from a model or data that are no longer current: none of them stays up."""
        self.worker.cancel()
        self.errors = self.index = self.is_anomaly = self.auc = None
        self.status.setText(message)
        for label in (self.auc_label, self.threshold_label, self.worst_caption):
            label.setText("")
        self.worst_label.setText("Worst reconstructed samples")
        for bars in (self.normal_bars, self.anomaly_bars):
            bars.setData([], [])
        self.line.setVisible(False)
        self.plot.setRange(xRange=NEUTRAL_X, yRange=(0, 1), padding=0.02)  # not the old errors' span
        blank(self.worst)

    # --- what counts as an anomaly ----------------------------------------------------------
    def _on_dataset(self, _dataset) -> None:
        """The classes to pick from are the new data's; scores that still apply are re-read with them."""
        self._fill_combo()
        self._score()

    def _on_holdout(self, label) -> None:
        """The class kept out of training is the natural anomaly: select it."""
        if label is not None:
            index = self.combo.findData(int(label))
            if index >= 0:
                self.combo.setCurrentIndex(index)

    def _fill_combo(self) -> None:
        ds = self.state.dataset if self.state is not None else None
        self.combo.blockSignals(True)
        self.combo.clear()
        if ds is not None and ds.labels is not None:
            if ds.anomaly_labels:
                names = ", ".join(ds.label_name(i) for i in ds.anomaly_labels)
                self.combo.addItem(f"labelled anomalies ({names})", None)
            for value in np.unique(ds.labels):
                self.combo.addItem(f"class {ds.label_name(int(value))} as the anomaly", int(value))
        else:
            self.combo.addItem("no labels: ROC AUC needs labelled anomalies", None)
        self.combo.blockSignals(False)
        self.combo.setEnabled(ds is not None and ds.labels is not None)

    # --- weights: scored in the worker ---------------------------------------------------------
    def use_weights(self, run):
        ds = self.state.dataset if self.state is not None else None
        if ds is None or not input_fits(run.spec, ds) or not run_matches(run, ds):
            self.status.setText("The current dataset is not the one the model was trained on; load that "
                                "data to score it.")
            return False
        val = run.validation_rows(ds)
        held_label = run.dataset.excluded_label
        if held_label is None or ds.labels is None:
            where = "validation"
            if len(val) == 0:
                val, where = np.arange(len(ds)), "all"
            scored = f"{min(len(val), MAX_SAMPLES):,} {where} samples of {ds.name}"
        else:
            # Trained without one class: score the run's own validation rows and every sample of
            # the class it never saw; none of them was trained on.
            held = np.flatnonzero(ds.labels == held_label)
            n_val = len(val)
            val = np.sort(np.concatenate([val, held]))
            scored = (f"{len(val):,} samples of {ds.name} ({n_val:,} validation, {len(held):,} of "
                      f"class {ds.label_name(held_label)}, held out of training)")
        if len(val) > MAX_SAMPLES:
            val = val[np.linspace(0, len(val) - 1, MAX_SAMPLES).astype(int)]
        self.worker.submit(score_job, run, ds, val, f"{scored} scored with the weights of {run.spec.name}")
        return None

    def _show_scores(self, scores: Scores) -> None:
        ds = self.state.dataset if self.state is not None else None
        self.index, self.errors = scores.index, scores.errors
        levels = display_levels(scores.worst, ds.is_uint8 if ds is not None else False)
        self.worst.set_rows([scores.worst, None, scores.worst_recon], levels)  # no corrupted row
        self.worst_label.setText("Worst reconstructed: " + ("top input, bottom reconstruction"
                                 if scores.worst.ndim == 4 else "input in black, reconstruction in blue"))
        self.worst_caption.setText("errors: " + ", ".join(f"{e:.3g}" for e in np.sort(self.errors)[::-1][:WORST]))
        self.status.setText(f"{scores.scored} (updated after every epoch).")
        self._score()

    def shutdown(self) -> bool:
        return self.worker.shutdown(1.0)

    # --- scores ---------------------------------------------------------------------------------
    def _score(self) -> None:
        if self.errors is None:
            return
        ds = self.state.dataset if self.state is not None else None
        self.is_anomaly, self.auc = None, None
        if ds is not None and ds.labels is not None and len(ds) > int(self.index.max()):
            choice = self.combo.currentData()
            try:
                mask = anomaly_mask(ds, choice)[self.index]
                self.auc = roc_auc(self.errors, mask)
                self.is_anomaly = mask
            except ValueError as exc:
                self.auc_label.setText(str(exc)[:60])
        if self.auc is not None:
            self.auc_label.setText(f"ROC AUC {self.auc:.3f} ({int(self.is_anomaly.sum())} anomalies)")
        elif self.is_anomaly is None and (ds is None or ds.labels is None):
            self.auc_label.setText("ROC AUC: no labels")
        self._draw_histogram()
        self._draw_threshold()

    def _draw_histogram(self) -> None:
        errors = np.maximum(self.errors, 1e-12)
        edges = np.logspace(np.log10(errors.min()), np.log10(errors.max() * 1.001), BINS + 1)
        mask = self.is_anomaly if self.is_anomaly is not None else np.zeros(len(errors), bool)
        normal, _ = np.histogram(errors[~mask], bins=edges)
        anomalous, _ = np.histogram(errors[mask], bins=edges)
        # The axis is logarithmic; PathItems are not mapped by it, so they get log10 edges.
        self.normal_bars.setData(np.log10(edges), normal.astype(float), stepMode="center")
        self.anomaly_bars.setData(np.log10(edges), anomalous.astype(float), stepMode="center")
        self.anomaly_bars.setVisible(bool(mask.any()))
        self.plot.setXRange(np.log10(edges[0]), np.log10(edges[-1]), padding=0.02)
        self.plot.setYRange(0, max(normal.max(), anomalous.max(), 1) * 1.1, padding=0)

    @property
    def threshold(self) -> float | None:
        if self.errors is None:
            return None
        return float(np.quantile(self.errors, self.slider.value() / 1000))

    def _draw_threshold(self, *_) -> None:
        t = self.threshold
        if t is None:
            return
        self.line.setValue(np.log10(max(t, 1e-12)))  # the axis is logarithmic; the line is not transformed
        self.line.setVisible(True)
        flagged = self.errors > t
        text = f"{t:.4g}: {int(flagged.sum())} of {len(flagged)} flagged ({flagged.mean():.1%})"
        if self.is_anomaly is not None and self.is_anomaly.any():
            hits = int((flagged & self.is_anomaly).sum())
            precision = hits / max(int(flagged.sum()), 1)
            recall = hits / int(self.is_anomaly.sum())
            text += f" · precision {precision:.2f} · recall {recall:.2f}"
        self.threshold_label.setText(text)
