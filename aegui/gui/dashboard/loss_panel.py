"""The loss plot: every term of the objective, training and validation, live.

Curves are created the first time their term appears and then only updated
with ``setData``; a curve whose history has not changed since it was last drawn
is skipped (validation curves change once an epoch). Training curves can be
smoothed (a debiased moving average kept by the history, O(1) per report), the
y axis can be logarithmic, the x axis steps or epochs.

The legend is a row of check boxes under the plot (one per term, and one each
for training and validation), not a pyqtgraph LegendItem: a legend inside the
plot is a dozen graphics items repainted with every curve update (measured:
most of the plot's paint time). Exported images get a real legend, added for
the export only. The x range is the run's whole length and the y range changes
only when the data leaves it, so the axes are not re-ticked on every frame.

A curve of one point (the validation loss after the first epoch, or all of a
one-epoch run's) draws no line, so it gets a marker until a second point comes.
Greedy pretraining draws one curve per stage left of epoch 0; once fine-tuning
has data the y range follows fine-tuning only (a deeper stage reconstructs
activations, on another scale, and would squash the fine-tuning curves flat).
The legend row never widens the panel: a run with more terms must not push the
splitters and docks around.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget,
)

from ...core.explain import EXPLANATIONS, term_key
from .export import CSV_FILTER, IMAGE_FILTERS, ask_save_path, export_menu_button, export_plot, run_export, write_csv
from .history import PRETRAIN_KEY, RunRecorder, is_pretrain
from .plots import (
    NOTE, TERM_COLOURS, LogAxis, PathItem, SpanKeeper, fix_axes, fixed_label, health_line, line_curve, pale,
    peak_decimate, pen, pixels_spanned,
)
from .reference import ReferenceBand

SPARSITY_KEYS = ("dead units", "active units")  # drawn by the sparsity panel, not here
HIDDEN_AT_START = ("recon_mse",)  # another scale (MSE in model space): one click away
PRETRAIN_COLOURS = ("#6f6f6f", "#9a9a9a", "#bdbdbd", "#8a7f73")  # stage 1, 2, ... of greedy pretraining
DOT_SIZE = 7  # pixels: the marker of a curve that has one point


class LossPanel(QWidget):
    def __init__(self, recorder: RunRecorder, parent: QWidget | None = None):
        super().__init__(parent)
        self.recorder = recorder
        self.x_combo = QComboBox()
        self.x_combo.setObjectName("lossXAxis")
        self.x_combo.addItems(["epochs", "steps"])
        self.log_check = QCheckBox("log y")
        self.log_check.setObjectName("lossLogY")
        self.log_check.setChecked(True)
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setObjectName("lossSmoothing")
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setFixedWidth(90)
        self.smooth_slider.setToolTip("Smoothing of the training curves: an exponential moving average")
        self.smooth_label = fixed_label("0.00", width=38)
        self.reference_label = fixed_label("", look=NOTE)
        self.export_button = export_menu_button(self, self.ask_export_csv, self.ask_export_image, "lossExport")
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("x:"))
        controls.addWidget(self.x_combo)
        controls.addWidget(self.log_check)
        controls.addWidget(QLabel("smoothing"))
        controls.addWidget(self.smooth_slider)
        controls.addWidget(self.smooth_label)
        controls.addWidget(self.reference_label, 1)
        controls.addWidget(self.export_button)

        self.plot_widget = pg.PlotWidget(axisItems={"left": LogAxis("left")})
        self.plot_widget.setObjectName("lossPlot")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        # No mouse zoom: the x range is the whole run and the y range follows the data (so nothing
        # is ever outside the view, and clipping to it would drop nothing).
        self.plot.setMouseEnabled(x=False, y=False)
        fix_axes(self.plot, left=52, bottom=34)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLogMode(y=True)
        self.plot.disableAutoRange()
        self.plot.hideButtons()
        self._y = SpanKeeper(self.plot)
        self._y_from_pretraining: bool | None = None  # whether the y range was last set by pretraining
        # The reference band: two edge curves and the fill between them, created once. The edges are
        # drawn too: a band from a few seeds can be only a pixel or two high on a log axis.
        # Grey-green, unlike any loss term's colour: the band is a yardstick, not a curve.
        self._band_low = pg.PlotDataItem(pen=pen("#8fae8f"))
        self._band_high = pg.PlotDataItem(pen=pen("#8fae8f"))
        self._band_fill = pg.FillBetweenItem(self._band_low, self._band_high, brush=pg.mkBrush(120, 160, 120, 70))
        for item in (self._band_low, self._band_high, self._band_fill):
            self.plot.addItem(item)
            item.setVisible(False)
        self.band: ReferenceBand | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.plot_widget, 1)
        # The legend row's width is ignored by the layout: a run with more terms gets a fuller row,
        # never a wider panel (which moved the splitter and the docks between runs).
        self.legend_row = QWidget()
        self.legend_row.setObjectName("lossLegend")
        self.legend_row.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.toggles = QHBoxLayout(self.legend_row)
        self.toggles.setContentsMargins(4, 0, 0, 0)
        self.toggles.setSpacing(6)
        self.toggles.addStretch(1)
        self.kind_boxes = {kind: self._toggle(kind, label, None) for kind, label in
                           (("train", "train"), ("val", "validation (pale)"))}
        self.kind_boxes["train"].setToolTip("Training curves: the bold colours")
        self.kind_boxes["val"].setToolTip("Validation curves, once an epoch: the pale colours (a dot until "
                                          "there are two points)")
        self.term_boxes: dict[str, QCheckBox] = {}
        layout.addWidget(self.legend_row)
        layout.addWidget(health_line("loss"))

        self.curves: dict[str, PathItem] = {}
        self.dots: dict[str, pg.ScatterPlotItem] = {}  # key -> its marker, shown while it has one point
        self._bounds: dict[str, tuple[float, float]] = {}  # key -> (min, max) of what it draws
        self._drawn: dict[str, tuple] = {}  # key -> (history version, settings) last drawn
        self._settings = 0  # bumped when units, smoothing or log mode change: everything redraws
        self._markers: list[pg.InfiniteLine] = []
        self._marker_state = None
        self._placeholder: pg.TextItem | None = None
        self._show_placeholder(True)
        self._run_length = (1, 1)  # (epochs_total, steps_per_epoch)
        self._x_range = None
        self.x_combo.currentTextChanged.connect(self._on_settings)
        # Curves are decimated for the plot's width: a new width redraws them all.
        self.plot.getViewBox().sigResized.connect(self._on_resized)
        self.log_check.toggled.connect(self._on_log)
        self.smooth_slider.valueChanged.connect(self._on_smoothing)

    # --- settings --------------------------------------------------------------------------
    @property
    def x_unit(self) -> str:
        return self.x_combo.currentText()

    def _on_settings(self, *_) -> None:
        self._settings += 1
        self.plot.setLabel("bottom", "step" if self.x_unit == "steps" else "epoch")
        self._x_range = None
        self._place_band()
        self.draw()

    def _on_resized(self, *_) -> None:
        self._on_settings()  # the curves were decimated for the old width

    def _on_log(self, on: bool) -> None:
        self.plot.setLogMode(y=on)
        self._y.reset()
        self._on_settings()

    def _on_smoothing(self, value: int) -> None:
        self.smooth_label.setText(f"{value / 100:.2f}")
        self.recorder.set_smoothing(value / 100)
        self._on_settings()

    def _show_placeholder(self, on: bool) -> None:
        """Before any loss arrives the axes alone look like data; say what will appear instead."""
        if self._placeholder is None:
            # Parented to the view box, not added to it: placed in pixels, untouched by the log axis.
            self._placeholder = pg.TextItem("The losses appear here once training starts.", color="#888888")
            self._placeholder.setParentItem(self.plot.getViewBox())
            self._placeholder.setPos(12, 8)
        self._placeholder.setVisible(on)

    # --- a run --------------------------------------------------------------------------------
    def clear(self) -> None:
        """Empty every curve for a new run; items and check boxes are kept for the terms that return."""
        self._show_placeholder(True)
        for curve in self.curves.values():
            curve.setData([], [])
        for dot in self.dots.values():
            dot.setData([], [])
            dot.setVisible(False)
        for box in self.term_boxes.values():
            box.hide()  # shown again when its term has data
        self._drawn.clear()
        self._bounds.clear()
        self._y.reset()
        self._y_from_pretraining = None
        self._x_range = None
        self._marker_state = None

    def set_reference(self, band: ReferenceBand | None, why: str = "") -> None:
        self.band = band
        if band is None:
            self.reference_label.setText("no reference (hover)" if why else "")
            self.reference_label.setToolTip(why)
        else:
            self.reference_label.setText("green: reference (hover)")
            self.reference_label.setToolTip(band.tooltip)
        self._band_fill.setToolTip(band.tooltip if band else "")
        self._place_band()

    def _place_band(self) -> None:
        band = self.band
        for item in (self._band_low, self._band_high, self._band_fill):
            item.setVisible(band is not None)
        if band is None:
            return
        scale = self._run_length[1] if self.x_unit == "steps" else 1
        self._band_low.setData(band.epochs * scale, band.low)
        self._band_high.setData(band.epochs * scale, band.high)

    # --- drawing -------------------------------------------------------------------------------
    def draw(self, report=None) -> None:
        if self._placeholder.isVisible() and any(hist.n for hist in self.recorder.curves.values()):
            self._show_placeholder(False)
        if report is not None and not report.pretraining:
            length = (max(report.epochs_total, 1), max(report.steps_per_epoch, 1))
            if length != self._run_length:
                self._run_length = length
                self._x_range = None
                self._place_band()
        self._set_x_range()
        steps = self.x_unit == "steps"
        log = self.log_check.isChecked()
        lo, hi = np.inf, -np.inf
        # Once fine-tuning has points, the y range is fine-tuning's alone (see the module's note).
        fine = any(hist.n and not is_pretrain(key) and key not in SPARSITY_KEYS
                   for key, hist in self.recorder.curves.items())
        if fine == bool(self._y_from_pretraining):
            self._y.reset()
        self._y_from_pretraining = not fine
        for key, hist in self.recorder.curves.items():
            if key in SPARSITY_KEYS or not hist.n:
                continue
            curve = self.curves.get(key) or self._make_curve(key)
            box = self.term_boxes[self._term(key)]
            if box.isHidden():  # its term is back in this run: a one-off re-layout of the row
                box.show()
            if not curve.isVisible():
                continue
            x = hist.steps if steps else hist.epochs
            y = hist.smoothed if key.startswith("train") and self.recorder.smoothing > 0 else hist.values
            stamp = (hist.version, self._settings)
            ranged = not (fine and is_pretrain(key))
            if self._drawn.get(key) == stamp:
                if ranged:
                    lo, hi = min(lo, self._bounds[key][0]), max(hi, self._bounds[key][1])
                continue
            if log:  # the curves get log10 values: a PathItem is not mapped by the log axis
                keep = y > 0
                x, y = x[keep], np.log10(y[keep])
            # A min and a max per two pixels: spikes survive, and a noisy curve costs half the
            # rasterising of two points a pixel (it is most of this plot's paint time).
            x, y = peak_decimate(x, y, pixels_spanned(self.plot, x) // 2)
            self._bounds[key] = (float(y.min()), float(y.max())) if len(y) else (np.inf, -np.inf)
            if ranged:
                lo, hi = min(lo, self._bounds[key][0]), max(hi, self._bounds[key][1])
            self._drawn[key] = stamp
            curve.setData(np.array(x, copy=True), np.array(y, copy=True))  # the history thins in place
            self._set_dot(key, x, y)
        if self.band is not None and self._band_fill.isVisible():
            low, high = float(self.band.low.min()), float(self.band.high.max())
            lo, hi = min(lo, np.log10(low) if log else low), max(hi, np.log10(high) if log else high)
        if hi >= lo:
            self._y.update(lo, hi)
        if fine and PRETRAIN_KEY in self.term_boxes:
            self._note_pretraining()
        self._draw_markers()

    def _note_pretraining(self) -> None:
        """Pretraining stages outside fine-tuning's y range are not drawn over it: the legend entry
        says so and gives each stage's last loss."""
        stages = sorted((key, hist) for key, hist in self.recorder.curves.items() if is_pretrain(key) and hist.n)
        text = "Greedy pretraining, one curve per stage (left of epoch 0); the y range is fine-tuning's, " \
               "so a stage on another scale is off it. Last losses: " + \
               ", ".join(f"stage {key.partition(' ')[2]} {hist.last():.3g}" for key, hist in stages)
        box = self.term_boxes[PRETRAIN_KEY]
        if box.toolTip() != text:
            box.setToolTip(text)

    def _set_x_range(self) -> None:
        epochs, per_epoch = self._run_length
        scale = per_epoch if self.x_unit == "steps" else 1
        top = epochs * scale
        # Pretraining sits left of 0: reach back to its first point (it only grows once per run).
        starts = [float(hist.epochs[0]) for key, hist in self.recorder.curves.items() if is_pretrain(key) and hist.n]
        bottom = min(0.0, min(starts) * scale) if starts else 0.0
        if self._x_range != (bottom, top):
            self._x_range = (bottom, top)
            self.plot.setXRange(bottom, top, padding=0.01)

    @staticmethod
    def _term(key: str) -> str:
        if is_pretrain(key):
            return PRETRAIN_KEY  # one legend entry for every stage
        kind, _, term = key.partition(" ")
        return term if kind in ("train", "val") else key

    def _set_dot(self, key: str, x: np.ndarray, y: np.ndarray) -> None:
        """A marker on a curve of one point (a line through one point draws nothing); gone at two."""
        dot = self.dots[key]
        single = len(x) == 1
        if single:
            dot.setData(np.array(x, copy=True), np.array(y, copy=True))
        elif dot.isVisible():
            dot.setData([], [])
        dot.setVisible(single and self.curves[key].isVisible())

    def _make_curve(self, key: str) -> PathItem:
        """The curve of one key, made the first time the key has data in this session."""
        kind, _, term = key.partition(" ")
        if kind in ("train", "val"):
            colour = TERM_COLOURS.get(term, "#9c9c9c")
            # Validation lines are solid and paler, not dashed: a dashed path is several
            # times slower to rasterise than a solid one (measured: most of the plot's paint).
            curve_pen = pen(colour) if kind == "train" else pen(pale(colour))
        else:  # greedy pretraining: one curve per stage, left of epoch 0, under one legend entry
            stage = key.partition(" ")[2]
            index = int(stage) - 1 if stage.isdigit() else 0
            kind, term, colour = "train", PRETRAIN_KEY, PRETRAIN_COLOURS[index % len(PRETRAIN_COLOURS)]
            curve_pen = pen(colour)
        item = line_curve(self.plot, colour, curve_pen)  # fed peak-decimated data, ~2 points a pixel
        item.setToolTip(f"greedy pretraining, stage {key.partition(' ')[2]}" if term == PRETRAIN_KEY else key)
        self.curves[key] = item
        dot = pg.ScatterPlotItem(size=DOT_SIZE, pen=curve_pen, brush=pg.mkBrush(curve_pen.color()))
        dot.setVisible(False)
        self.plot.addItem(dot)
        self.dots[key] = dot
        if term not in self.term_boxes:
            self.term_boxes[term] = self._toggle(term, term, "#7a7a7a" if term == PRETRAIN_KEY else colour,
                                                 checked=term not in HIDDEN_AT_START)
            if term_key(term) in EXPLANATIONS:  # what the term is, in words (pretraining's tip is its own)
                self.term_boxes[term].setToolTip(EXPLANATIONS[term_key(term)].short)
        item.setVisible(self._wanted(key))
        return item

    def _toggle(self, name: str, text: str, colour: str | None, checked: bool = True) -> QCheckBox:
        """A legend entry that shows or hides curves; inserted before the row's stretch."""
        box = QCheckBox(text)
        box.setObjectName(f"lossToggle_{name}")
        box.setChecked(checked)
        if colour:
            box.setStyleSheet(f"QCheckBox {{ color: {colour}; font-weight: bold; }}")
        box.toggled.connect(self._on_toggle)
        self.toggles.insertWidget(max(self.toggles.count() - 1, 0), box)
        return box

    def _wanted(self, key: str) -> bool:
        kind = key.partition(" ")[0]
        box = self.term_boxes.get(self._term(key))
        kind_box = self.kind_boxes[kind if kind in ("train", "val") else "train"]
        return kind_box.isChecked() and (box is None or box.isChecked())

    def _on_toggle(self, *_) -> None:
        for key, curve in self.curves.items():
            curve.setVisible(self._wanted(key))
            dot = self.dots[key]
            dot.setVisible(curve.isVisible() and len(curve.xData) == 1)
        self._y.reset()  # fit the curves now shown
        self._on_settings()

    def _draw_markers(self) -> None:
        """One dashed line per live change, from a pool that only grows to the most ever shown."""
        changes = self.recorder.changes
        state = (len(changes), changes[-1].step if changes else None, self._settings)
        if state == self._marker_state:
            return
        self._marker_state = state
        steps = self.x_unit == "steps"
        while len(self._markers) < len(changes):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen("#c0392b", Qt.PenStyle.DashLine), label="",
                                   labelOpts={"position": 0.92, "color": "#c0392b", "anchors": [(0, 1), (0, 1)]})
            self.plot.addItem(line)
            self._markers.append(line)
        for line, change in zip(self._markers, changes):
            # Visible first: pyqtgraph's label ignores a new text while its line is hidden, so a
            # line reused from an earlier run would keep that run's text.
            line.setVisible(True)
            line.setValue(change.step if steps else change.epoch)
            line.label.setFormat(change.text)
            line.setToolTip(f"changed while training: {change.text} at step {change.step}")
        for line in self._markers[len(changes):]:
            line.setVisible(False)

    # --- export --------------------------------------------------------------------------------
    def export_csv(self, path) -> None:
        """Every recorded curve, one row a point: curve, step, epoch, value (raw, not smoothed)."""
        rows = []
        for key, hist in self.recorder.curves.items():
            rows.extend((key, int(s), round(float(e), 6), float(v))
                        for s, e, v in zip(hist.steps, hist.epochs, hist.values))
        write_csv(path, ["curve", "step", "epoch", "value"], rows)

    def export_image(self, path, width: int | None = None) -> None:
        """The plot as PNG or SVG, with a legend of the curves shown (added for the export only)."""
        legend = pg.LegendItem(offset=(-10, 10), labelTextSize="8pt")
        legend.setParentItem(self.plot.getViewBox())
        for key, curve in self.curves.items():
            if curve.isVisible() and len(curve.xData):
                legend.addItem(curve, key)
        try:
            export_plot(self.plot, path, width)
        finally:
            legend.scene().removeItem(legend)

    def ask_export_csv(self) -> None:
        path = ask_save_path(self, "Export the loss curves", "loss_curves.csv", CSV_FILTER)
        if path:
            run_export(self, "the curves", lambda: self.export_csv(path))

    def ask_export_image(self, kind: str) -> None:
        path = ask_save_path(self, "Save the loss plot", f"loss_plot.{kind}", IMAGE_FILTERS[kind])
        if path:
            run_export(self, "the plot", lambda: self.export_image(path))
