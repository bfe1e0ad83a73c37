"""What the code is doing: sparsity (activations against the target ρ) and VAE health (KL per dimension).

Sparsity: the per-unit mean activation as bars with the target ρ as a line, a
histogram of the snapshot batch's activations, and the fractions of dead units
(never active in the interval) and of active activations over time.

VAE health: KL per latent dimension as bars, informative dimensions in colour
and collapsed ones in grey, with a plain warning when most dimensions have
collapsed after the KL warm-up (the posterior equals the prior there, so those
dimensions carry no information about the input).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.reports import Report
from .history import RunRecorder
from .plots import (
    NOTE, WARN, RangeKeeper, bar_curve, fixed_label, line_curve, peak_decimate, pen, pixels_spanned, set_bars,
    small_plot,
)

HIST_BINS = 40
KL_ACTIVE_NATS = 0.01  # a dimension with less KL than this carries (almost) no information
COLLAPSED_SHARE = 0.5  # warn when more than this share of dimensions has collapsed


class SparsityPanel(QWidget):
    def __init__(self, recorder: RunRecorder, parent: QWidget | None = None):
        super().__init__(parent)
        self.recorder = recorder
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("sparsityPlots")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.bars_plot = small_plot(self.graphics.ci, "mean activation per unit vs target ρ", row=0, col=0, colspan=2)
        self.bars = bar_curve(self.bars_plot, "#76b7b2")
        self.target_line = pg.InfiniteLine(angle=0, movable=False, pen=pen("#c0392b", Qt.PenStyle.DashLine))
        self.target_line.setVisible(False)
        self.bars_plot.addItem(self.target_line)
        self.hist_plot = small_plot(self.graphics.ci, "activations (snapshot)", row=1, col=0)
        self.hist = bar_curve(self.hist_plot, "#4e79a7")
        self.time_plot = small_plot(self.graphics.ci, "dead / active", row=1, col=1)
        self.time_plot.setYRange(0, 1, padding=0)
        self.dead_curve = line_curve(self.time_plot, "#e15759")
        self.active_curve = line_curve(self.time_plot, "#59a14f")
        self.caption = fixed_label(look=NOTE)
        self.caption.setToolTip("dead: a unit never above 0.01 in the interval; active: the share of "
                                "activations above 0.01")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self._bars_y = RangeKeeper(self.bars_plot)
        self._hist_y = RangeKeeper(self.hist_plot)
        self.clear()

    def clear(self) -> None:
        self._units = 0
        self._edges: np.ndarray | None = None
        self._epochs_total = 0
        self._drawn_version = None
        self._bars_y.reset()
        self._hist_y.reset()
        self.caption.setText("")

    def draw(self, report: Report) -> None:
        if report.code_mean is not None:
            mean = report.code_mean
            if len(mean) != self._units:
                self._units = len(mean)
                self.bars_plot.setXRange(-0.5, self._units - 0.5, padding=0)
            set_bars(self.bars, mean)
            rho = report.sparsity_target
            self.target_line.setVisible(rho is not None)
            if rho is not None:
                self.target_line.setValue(rho)
            self._bars_y.update(max(float(mean.max()), rho or 0.0))
        if report.code_sample is not None:
            self._draw_histogram(report.code_sample.ravel())
        if report.epochs_total != self._epochs_total and not report.pretraining:
            self._epochs_total = report.epochs_total
            self.time_plot.setXRange(0, max(report.epochs_total, 1), padding=0)
        dead, active = self.recorder.curves.get("dead units"), self.recorder.curves.get("active units")
        if dead is not None and active is not None and dead.version != self._drawn_version:
            self._drawn_version = dead.version
            pixels = pixels_spanned(self.time_plot, dead.epochs)
            for curve, hist in ((self.dead_curve, dead), (self.active_curve, active)):
                x, y = peak_decimate(hist.epochs, hist.values, pixels)
                curve.setData(np.array(x, copy=True), np.array(y, copy=True))  # the history thins in place
            self.caption.setText(f"dead units {dead.last():.0%} (red) · active {active.last():.0%} (green)")

    def _draw_histogram(self, values: np.ndarray) -> None:
        lo, hi = float(values.min()), float(values.max())
        edges = self._edges
        # Bin edges stay put until the activations leave them or shrink to a third: moving
        # them every frame would make the histogram jitter and re-tick its axis.
        if edges is None or lo < edges[0] or hi > edges[-1] or (hi - lo) < (edges[-1] - edges[0]) / 3:
            low = min(0.0, lo)
            high = max(hi, low + 1e-6)
            high = low + (high - low) * 1.1
            self._edges = edges = np.linspace(low, high, HIST_BINS + 1)
            self.hist_plot.setXRange(low, high, padding=0)
        counts, _ = np.histogram(values, bins=edges)
        self.hist.setData(edges, counts.astype(np.float64), stepMode="center")
        self._hist_y.update(float(counts.max()))


class VaePanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("klPlot")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.plot = small_plot(self.graphics.ci, "KL per latent dimension (nats)", row=0, col=0)
        self.active_bars = bar_curve(self.plot, "#4e79a7")
        self.collapsed_bars = bar_curve(self.plot, "#b0b0b0")
        self.caption = fixed_label(look=NOTE)
        self.caption.setObjectName("klCaption")
        self.warning = fixed_label(lines=2, look=WARN)
        self.warning.setObjectName("collapseWarning")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.warning)
        self._y = RangeKeeper(self.plot)
        self.warmup_epochs = 0.0
        self.clear()

    def clear(self) -> None:
        self._dims = 0
        self._y.reset()
        self.caption.setText("")
        self.warning.setText("")
        self.collapsed = False

    def configure(self, warmup_epochs: float) -> None:
        self.warmup_epochs = max(0.0, float(warmup_epochs))

    def draw(self, report: Report) -> None:
        kl = report.kl_per_dim
        if kl is None:
            return
        if len(kl) != self._dims:
            self._dims = len(kl)
            self.plot.setXRange(-0.5, self._dims - 0.5, padding=0)
        informative = kl >= KL_ACTIVE_NATS
        set_bars(self.active_bars, np.where(informative, kl, 0.0))
        self._y.update(float(kl.max()))
        # A collapsed dimension's KL is too small to see: it gets a grey stub so it can be
        # found. Usually there are none, and then its item is not drawn at all.
        any_collapsed = not bool(informative.all())
        if any_collapsed or self.collapsed_bars.isVisible():
            set_bars(self.collapsed_bars, np.where(informative, 0.0, 0.04 * (self._y.top or 1.0)))
        self.collapsed_bars.setVisible(any_collapsed)
        n_active = int(informative.sum())
        self.caption.setText(f"{n_active}/{len(kl)} dims informative (KL ≥ {KL_ACTIVE_NATS}) · "
                             f"total {float(kl.sum()):.3g} nats")
        # Judge only after the warm-up (β ramps from 0, and KL with it) and at least one epoch.
        settled = report.epoch_progress >= max(1.0, self.warmup_epochs)
        collapsed = settled and (len(kl) - n_active) > COLLAPSED_SHARE * len(kl)
        self.collapsed = collapsed
        text = (f"Posterior collapse: {len(kl) - n_active} of {len(kl)} dimensions carry no information "
                "(KL < 0.01 nats). Try a lower β, a longer KL warm-up, free bits, or a weaker decoder."
                if collapsed else "")
        if text != self.warning.text():
            self.warning.setText(text)
