"""What the code is doing: sparsity (activations against the target ρ) and VAE health (KL per dimension).

Sparsity: the per-unit mean activation as bars with the target ρ as a line, a
histogram of the snapshot batch's activations, and the fractions of dead units
(never active in the interval) and of active activations over time.

VAE health: KL per latent dimension as bars, used dimensions in colour and
unused (collapsed) ones in grey, with the threshold as a dashed line. After the
KL warm-up it says plainly when the posterior has collapsed (most of the KL sits
in dimensions below the threshold: the code carries almost nothing about the
input, and every reconstruction and prior sample is the same blob), and what to
try; and, more mildly, when more than half the dimensions are unused.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.reports import Report
from .history import RunRecorder
from .plots import (
    NOTE, WARN, RangeKeeper, bar_curve, fixed_label, health_line, line_curve, peak_decimate, pen, pixels_spanned,
    set_bars, small_plot,
)

HIST_BINS = 40
BARS_TITLE = "mean activation per unit"
# A latent dimension counts as used when its KL (nats, averaged over the interval's samples) is
# at least this. Measured on mnist5k (4,500 training digits, batch 128, seed 0):
# - vae (784-400-20, beta 1), 30 epochs: the smallest dimension's KL is 0.21 after epoch 3, 0.29
#   after epoch 4 and 0.54 at epoch 30 (most dimensions 1-2 nats); conv-vae, 5 epochs: >= 0.48.
# - beta-vae (beta 4, warm-up 2), 30 epochs: while its reconstructions are all one blob (epochs
#   3-4, recon 197-202 nats against 205-208 for the fully collapsed run below) every dimension has
#   0.04-0.34 nats, 0.98-1.2 in all (the "10/10 dims informative · total 0.93 nats" at the old 0.01);
#   once it learns, 5 used dimensions hold 0.68-1.6 nats and 5 collapsed ones 0.01-0.04 (0.12 at
#   most while a sixth wakes up).
# - vae with beta 20, 15 epochs, fully collapsed (recon 205-208): every dimension 0.001-0.027.
# 0.25 sits between the collapsed (<= 0.12 once settled) and the used (>= 0.29 past epoch 3).
# The literature's "active units" (Burda et al. 2016) threshold the variance of the posterior
# mean at 0.01; only the KL is reported here, and at 0.01 nats collapsed dimensions count as used.
KL_USED_NATS = 0.25
# Posterior collapse: at least this share of the total KL sits in unused dimensions (1.0 when
# none is used). The blob-making beta-VAE above: 0.71-1.0; learning, at epoch 9: 0.12.
COLLAPSE_KL_SHARE = 0.5
UNUSED_SHARE = 0.5  # a milder note when more than this share of the dimensions is unused
COLLAPSE_ADVICE = "Try a lower β, a longer KL warm-up, free bits or a weaker decoder."


def vae_readout(kl: np.ndarray, settled: bool = True) -> tuple[str, str, bool]:
    """(caption, warning, collapsed) for KL per dimension; the warning only once ``settled``
    (after the KL warm-up and at least one epoch: before, KL is small because β is)."""
    kl = np.asarray(kl, dtype=np.float64)
    used = kl >= KL_USED_NATS
    n, n_used = len(kl), int(used.sum())
    total = float(kl.sum())
    caption = f"{n_used}/{n} dims in use (KL ≥ {KL_USED_NATS:g} nats) · total {total:.3g} nats"
    if not settled or n == 0:
        return caption, "", False
    share = float(kl[~used].sum()) / total if total > 0 else 1.0
    if n_used == 0 or share >= COLLAPSE_KL_SHARE:
        # Short enough for the narrow column (elided there, whole on hover); the numbers are in the caption.
        return caption, ("Posterior collapse: the code carries almost no information; every output "
                         f"looks alike. {COLLAPSE_ADVICE}"), True
    if n - n_used > UNUSED_SHARE * n:
        return caption, (f"{n - n_used} of {n} dims unused (KL < {KL_USED_NATS:g} nats): the code uses "
                         f"{n_used}. A large β does this; lower it for more detail."), False
    return caption, "", False


class SparsityPanel(QWidget):
    def __init__(self, recorder: RunRecorder, parent: QWidget | None = None):
        super().__init__(parent)
        self.recorder = recorder
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("sparsityPlots")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.bars_plot = small_plot(self.graphics.ci, BARS_TITLE, row=0, col=0, colspan=2)
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
        self.caption.setObjectName("sparsityCaption")
        self._threshold: float | None = None
        self._rho: float | None = -1.0  # what the title says: a target rate, or none (None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(health_line("sparsity"))
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
        self._set_threshold(None)
        self._set_target(None)

    def _set_target(self, rho: float | None) -> None:
        """The target line and the words "vs target ρ" only where the penalty has a target (KL
        sparsity); L1 sparsity has none."""
        if rho == self._rho:
            return
        self._rho = rho
        self.target_line.setVisible(rho is not None)
        if rho is not None:
            self.target_line.setValue(rho)
        self.bars_plot.setTitle(BARS_TITLE if rho is None else f"{BARS_TITLE} vs target ρ = {rho:g}",
                                size="8pt")

    def _set_threshold(self, threshold: float | None) -> None:
        """The activity threshold the trainer used (0.5 for sigmoid and tanh codes, 0.01 otherwise)."""
        if threshold == self._threshold:
            return
        self._threshold = threshold
        t = f"{threshold:g}" if threshold is not None else "the threshold"
        self.caption.setToolTip(f"dead: a unit never above {t} in the interval; active: the share of "
                                f"activations above {t} (|a| > {t}: a threshold that suits the code's activation)")

    def draw(self, report: Report) -> None:
        if report.code_mean is not None:
            mean = report.code_mean
            if len(mean) != self._units:
                self._units = len(mean)
                self.bars_plot.setXRange(-0.5, self._units - 0.5, padding=0)
            set_bars(self.bars, mean)
            rho = report.sparsity_target
            self._set_target(rho)
            self._bars_y.update(max(float(mean.max()), rho or 0.0))
        if report.active_threshold is not None:
            self._set_threshold(report.active_threshold)
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
            t = f" (|a| > {self._threshold:g})" if self._threshold is not None else ""
            self.caption.setText(f"dead units {dead.last():.0%} (red) · active {active.last():.0%} (green){t}")

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
        self.threshold_line = pg.InfiniteLine(KL_USED_NATS, angle=0, movable=False,
                                              pen=pen("#888888", Qt.PenStyle.DashLine))
        self.plot.addItem(self.threshold_line)
        self.caption = fixed_label(look=NOTE)
        self.caption.setObjectName("klCaption")
        self.caption.setToolTip(f"A dimension is in use when its KL is at least {KL_USED_NATS:g} nats (the dashed "
                                "line); below it the posterior is nearly the prior, so it says almost nothing "
                                "about the input")
        self.warning = fixed_label(lines=4, look=WARN)
        self.warning.setObjectName("collapseWarning")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.warning)
        layout.addWidget(health_line("vae"))
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
        used = kl >= KL_USED_NATS
        set_bars(self.active_bars, np.where(used, kl, 0.0))
        self._y.update(max(float(kl.max()), KL_USED_NATS))  # the threshold line stays in view
        # An unused dimension's bar is grey at its KL, with a stub when that is too small to see.
        # Usually there are none, and then its item is not drawn at all.
        any_unused = not bool(used.all())
        if any_unused or self.collapsed_bars.isVisible():
            set_bars(self.collapsed_bars, np.where(used, 0.0, np.maximum(kl, 0.04 * (self._y.top or 1.0))))
        self.collapsed_bars.setVisible(any_unused)
        # Judge only after the warm-up (β ramps from 0, and KL with it) and at least one epoch.
        settled = report.epoch_progress >= max(1.0, self.warmup_epochs)
        caption, text, self.collapsed = vae_readout(kl, settled)
        self.caption.setText(caption)
        if text != self.warning.text():
            self.warning.setText(text)
