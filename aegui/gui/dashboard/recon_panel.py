"""Reconstructions of a fixed batch, live, with a slider that scrubs back through the run.

The batch is the trainer's fixed snapshot (the same samples and the same noise
in every report), so any change between frames is the model's own. Past
snapshots live in a SnapshotRing spaced to span the whole run; the slider at
its right end follows training live, anywhere else it holds that snapshot
still while training goes on.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSlider, QVBoxLayout, QWidget

from ...core.reports import Report
from .history import SnapshotRing
from .plots import NOTE, fixed_label, health_line
from ..widgets.when_shown import blank
from .samples import SampleView, display_levels

PRETRAINING_TEXT = "Greedy pretraining, layer {stage} of {stages}: the whole model reconstructs once fine-tuning starts"


class ReconPanel(QWidget):
    def __init__(self, ring: SnapshotRing, parent: QWidget | None = None):
        super().__init__(parent)
        self.ring = ring
        self.view = SampleView(columns=8, trace_columns=4)
        self.view.setObjectName("reconstructionGrid")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("snapshotSlider")
        self.slider.setToolTip("Scrub back through earlier snapshots; the right end follows training live")
        self.slider.setRange(0, 0)
        self.step_label = fixed_label("live", width=150)
        self.step_label.setObjectName("snapshotStepLabel")
        self.caption = fixed_label("", look=NOTE)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.caption)
        layout.addWidget(health_line("recon"))
        self.slider.valueChanged.connect(self._on_slider)
        self.clear()

    def clear(self) -> None:
        """A new run (or another model): no picture of an earlier model stays on screen."""
        blank(self.view)
        self.inputs: np.ndarray | None = None
        self.levels = (0.0, 1.0)
        self.following = True
        self._count = 0
        self._latest_step = 0
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.step_label.setText("live")
        self.caption.setText("")

    def draw(self, report: Report) -> None:
        if report.pretraining:  # its reports carry no pictures: say when they will come
            text = PRETRAINING_TEXT.format(stage=report.stage, stages=report.stages)
            if self.caption.text() != text:
                self.caption.setText(text)
            return
        if report.reconstructions is None:
            return
        if self.inputs is None and report.inputs is not None:  # the first snapshot of the run
            self.inputs = report.inputs
            unit = report.inputs.ndim == 4 and float(report.inputs.min()) >= 0 and float(report.inputs.max()) <= 1
            self.levels = display_levels(report.inputs, unit)
            rows = "input, corrupted input, reconstruction" if report.corrupted is not None \
                else "input, reconstruction"
            self.caption.setText(f"Fixed batch; {'rows' if report.inputs.ndim == 4 else 'traces'}: {rows}")
        self._latest_step = report.step
        if len(self.ring) != self._count:
            self._count = len(self.ring)
            self.slider.blockSignals(True)  # a range change must not count as the user scrubbing
            self.slider.setMaximum(max(self._count - 1, 0))
            if self.following:
                self.slider.setValue(self.slider.maximum())
            self.slider.blockSignals(False)
        if self.following:
            self._show(report.reconstructions, report.corrupted)
            self.step_label.setText(f"live · step {report.step:,}")

    def _on_slider(self, value: int) -> None:
        self.following = value >= self.slider.maximum()
        if self.following or not len(self.ring):
            self.step_label.setText(f"live · step {self._latest_step:,}")
            if len(self.ring):
                _, recon, corrupted = self.ring.get(len(self.ring) - 1)
                self._show(recon, corrupted)
            return
        step, recon, corrupted = self.ring.get(value)
        self._show(recon, corrupted)
        self.step_label.setText(f"step {step:,} of {self._latest_step:,}")

    def _show(self, recon: np.ndarray, corrupted: np.ndarray | None) -> None:
        if self.inputs is None:
            return
        self.view.set_rows([self.inputs, corrupted, recon], self.levels)
