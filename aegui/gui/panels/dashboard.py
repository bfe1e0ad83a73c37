"""The training dashboard: loss curves, live reconstructions and run statistics.

Reports arrive about ten times a second; the newest one is drawn on this panel's
own timer and older undrawn ones are skipped, so a slow paint never backs up the
queue. Curves are updated in place with ``setData`` and thin pens.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from ...core.reports import EPOCH, FINISHED, Report
from ..widgets.image_grid import ImageGrid

TERM_COLOURS = {
    "total": "#4e79a7", "recon": "#f28e2b", "kl": "#e15759", "sparsity": "#76b7b2",
    "contractive": "#59a14f", "adv_gen": "#edc948", "adv_disc": "#b07aa1",
}
MAX_POINTS = 4000  # per curve; older points are thinned by half when it is reached


class CurveHistory:
    """x/y points that thin themselves (every other point) to stay bounded."""

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []

    def append(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        self.x.append(x)
        self.y.append(y)
        if len(self.x) > MAX_POINTS:
            self.x, self.y = self.x[::2], self.y[::2]


class TrainingDashboard(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingDashboard")
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setObjectName("lossPlot")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.setLogMode(y=True)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.stats = QLabel("No training yet. Press Train to start.")
        self.stats.setObjectName("runStatsLabel")
        # Fixed-height labels: text that changes length must not re-lay out (and repaint) the plots.
        for label in (self.stats,):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.message = QLabel(wordWrap=True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.message.setFixedHeight(36)
        self.message.setStyleSheet("color:#b8860b;")
        self.recon_grid = ImageGrid(columns=8)
        self.recon_grid.setObjectName("reconstructionGrid")
        self.recon_caption = QLabel("Rows: input, corrupted input (denoising), reconstruction")
        self.recon_caption.setStyleSheet("color:gray;")
        layout = QGridLayout(self)
        layout.addWidget(self.loss_plot, 0, 0, 1, 2)
        layout.addWidget(self.recon_grid, 1, 0, 1, 2)
        layout.addWidget(self.recon_caption, 2, 0, 1, 2)
        layout.addWidget(self.progress, 3, 0, 1, 2)
        layout.addWidget(self.stats, 4, 0, 1, 2)
        layout.addWidget(self.message, 5, 0, 1, 2)
        layout.setRowStretch(0, 3)
        layout.setRowStretch(1, 2)
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._history: dict[str, CurveHistory] = {}
        self._pending: Report | None = None
        self._x_range = None
        self.loss_plot.enableAutoRange(x=False, y=True)
        self.reports_drawn = 0
        self._timer = QTimer(self)
        self._timer.setInterval(33)  # at most ~30 refreshes a second
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    # --- feeding -------------------------------------------------------------------------------
    def clear(self) -> None:
        for curve in self._curves.values():
            self.loss_plot.removeItem(curve)
        self.loss_plot.plotItem.legend.clear()
        self._curves.clear()
        self._history.clear()
        self._pending = None
        self._x_range = None
        self.progress.setValue(0)
        self.message.clear()

    def add_report(self, report: Report) -> None:
        """Record the numbers now (cheap); draw the newest report on the next tick."""
        if report.phase != "train":
            x = report.epoch_progress
            self._record(f"{report.phase}", x, report.losses.get("total"))
        else:
            x = report.epoch_progress
            # An epoch report's training losses average the whole epoch; drawn at its end they
            # would make a saw-tooth next to the interval points, so they only stand in for an
            # epoch too short to have had any progress report.
            total = self._history.get("train total")
            had_progress = total is not None and total.x and total.x[-1] > report.epoch - 1
            if report.kind != EPOCH or not had_progress:
                for term, value in report.losses.items():
                    self._record(f"train {term}", x, value)
            if report.val_losses and report.kind in (EPOCH, FINISHED):
                self._record("val total", x, report.val_losses.get("total"))
        self._pending = report

    def _record(self, key: str, x: float, y: float | None) -> None:
        if y is None:
            return
        self._history.setdefault(key, CurveHistory()).append(x, y)

    # --- drawing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        report, self._pending = self._pending, None
        if report is None or not self.isVisible():
            if report is not None:
                self._pending = report  # keep it for when the panel is shown
            return
        for key, hist in self._history.items():
            curve = self._curves.get(key)
            if curve is None:
                term = key.split(" ", 1)[-1]
                colour = TERM_COLOURS.get(term, "#9c9c9c")
                style = pg.QtCore.Qt.PenStyle.DashLine if key.startswith("val") else pg.QtCore.Qt.PenStyle.SolidLine
                curve = self.loss_plot.plot(name=key, pen=pg.mkPen(colour, width=1, style=style))
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self._curves[key] = curve
            # Log axis: only positive values can be drawn.
            y = np.asarray(hist.y)
            keep = y > 0
            curve.setData(np.asarray(hist.x)[keep], y[keep])
        # A fixed x range (the run's length) keeps the axis from re-laying out on every refresh.
        total_epochs = max(report.epochs_total, 1)
        if self._x_range != total_epochs:
            self._x_range = total_epochs
            self.loss_plot.setXRange(0, total_epochs, padding=0.01)
        rows = [r for r in (report.inputs, report.corrupted, report.reconstructions) if r is not None]
        if rows:
            self.recon_grid.set_rows(rows)
        total = max(report.epochs_total, 1)
        self.progress.setValue(int(100 * min(1.0, report.epoch_progress / total)))
        self.stats.setText(self._stats_text(report))
        if report.message:
            self.message.setText(report.message)
        self.reports_drawn += 1

    @staticmethod
    def _stats_text(r: Report) -> str:
        parts = [f"{r.phase}", f"epoch {r.epoch_progress:.2f}/{r.epochs_total}", f"step {r.step}",
                 f"{r.samples_per_s:,.0f} samples/s", f"lr {r.lr:.3g}"]
        if r.grad_norm is not None:
            parts.append(f"grad norm {r.grad_norm:.3g}")
        if r.beta is not None:
            parts.append(f"β {r.beta:.3g}")
        if r.noise_level is not None:
            parts.append(f"noise {r.noise_level:.3g}")
        if r.total_loss is not None:
            parts.append(f"loss {r.total_loss:.4g}")
        if r.val_losses and "recon_mse" in r.val_losses:
            parts.append(f"val MSE {r.val_losses['recon_mse']:.4f}")
        return " · ".join(parts)

    def shutdown(self) -> None:
        self._timer.stop()
