"""Run statistics: progress, ETA, speed, device, learning rate, gradient norm, β or noise.

Each figure has its own TextLine, set only when its text changed: a QLabel
that grows by a digit re-lays out, and repaints, the plots beside it
(measured: it once halved training throughput; see text.py).
"""
from __future__ import annotations

import math

from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from ...core.reports import FINISHED, PAUSED, Report
from .plots import WARN, fixed_label, health_line
from .text import ProgressStrip

FIELDS = ("phase", "eta", "speed", "device", "lr", "grad", "knob", "loss")
STOP_TEXT = {"completed": "finished", "stopped": "stopped", "early_stopping": "stopped early",
             "non_finite": "stopped: the loss diverged"}


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def eta_seconds(report: Report) -> float:
    """Seconds left at the run's average pace so far (NaN until there is a pace)."""
    if report.pretraining or report.epochs_total <= 0:
        return math.nan
    done = min(1.0, report.epoch_progress / report.epochs_total)
    if done <= 0 or report.elapsed_s <= 0:
        return math.nan
    return report.elapsed_s * (1.0 - done) / done


def progress_percent(report: Report) -> int:
    """How far the run's current part is: greedy pretraining as a whole (its layers one after another,
    ``epochs_total`` epochs each), then fine-tuning from 0 again."""
    if report.kind == FINISHED and not report.pretraining:
        return 100
    per_stage = max(report.epochs_total, 1)
    done = min(1.0, report.epoch_progress / per_stage)
    if report.pretraining:
        done = (report.stage - 1 + done) / max(report.stages, 1)
    return int(100 * min(1.0, max(0.0, done)))


def stat_texts(r: Report) -> dict[str, str]:
    texts = {
        "phase": (f"pretraining layer {r.stage} of {r.stages} · epoch {r.epoch_progress:.2f}/{r.epochs_total} · "
                  f"step {r.step:,}" if r.pretraining
                  else f"{r.phase} · epoch {r.epoch_progress:.2f}/{r.epochs_total} · step {r.step:,}"),
        "eta": (f"{STOP_TEXT.get(r.stop_reason, 'finished')} in {format_duration(r.elapsed_s)}"
                if r.kind == FINISHED else "paused" if r.kind == PAUSED
                else f"ETA {format_duration(eta_seconds(r))}"),
        "speed": f"{r.samples_per_s:,.0f} samples/s",
        "device": f"device {r.device}",
        "lr": f"lr {r.lr:.3g}",
        "grad": f"grad norm {r.grad_norm:.3g}" if r.grad_norm is not None else "grad norm –",
        "loss": f"loss {r.total_loss:.4g}" if r.total_loss is not None else "",
    }
    knobs = []
    if r.beta is not None:
        knobs.append(f"β {r.beta:.3g}")
    if r.noise_level is not None:
        knobs.append(f"noise {r.noise_level:.3g}")
    if r.sparsity_weight is not None:
        knobs.append(f"sparsity w {r.sparsity_weight:.3g}")
    if r.val_losses and "recon_mse" in r.val_losses:
        knobs.append(f"val recon MSE {r.val_losses['recon_mse']:.4g}")
    texts["knob"] = " · ".join(knobs)
    return texts


class StatsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.progress = ProgressStrip()
        self.progress.setObjectName("trainingProgress")
        self.labels = {name: fixed_label() for name in FIELDS}
        self.labels["phase"].setObjectName("runStatsLabel")
        self.labels["phase"].setText("No training yet. Press Train to start.")
        self.message = fixed_label(lines=2, look=WARN)
        self.message.setObjectName("runMessage")
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(0)
        # (row, column, columns spanned): β, noise and sparsity weight can all be there at once.
        places = {"phase": (0, 0, 2), "eta": (0, 2, 1), "speed": (0, 3, 1), "device": (1, 0, 1), "lr": (1, 1, 1),
                  "grad": (1, 2, 1), "loss": (1, 3, 1), "knob": (2, 0, 4)}
        for name, (row, col, span) in places.items():
            grid.addWidget(self.labels[name], row, col, 1, span)
        for c in range(4):
            grid.setColumnStretch(c, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.progress)
        layout.addLayout(grid)
        layout.addWidget(self.message)
        layout.addWidget(health_line("stats"))
        self._texts: dict[str, str] = {}
        self._percent = -1

    def clear(self) -> None:
        self.progress.setValue(0)
        self._percent = 0
        for label in self.labels.values():
            label.clear()
        self._texts.clear()
        self.message.clear()

    def draw(self, report: Report) -> None:
        percent = progress_percent(report)
        if percent != self._percent:
            self._percent = percent
            self.progress.setValue(percent)
        for name, text in stat_texts(report).items():
            if report.kind == FINISHED and name in ("grad", "loss") and self._texts.get(name):
                continue  # the closing report carries no step figures: keep the last ones on show
            if self._texts.get(name) != text:
                self._texts[name] = text
                self.labels[name].setText(text)
        # The newest report's message, or none: "greedy pretraining of layer 3 of 3" must not stay up
        # through fine-tuning. A run's closing words (a divergence, early stopping) come last and stay.
        if report.message != self.message.text():
            self.message.setText(report.message)
