"""The Experiments tab: each claim of the tutorial as a one-click comparison on real data.

An experiment (``core.experiments``) is plain data: a base spec, the arms that vary it, the
figures to collect. Clicking Run queues it on this tab's RunManager, which runs one experiment at
a time in its own thread (the engine trains its arms one after another there); progress comes
back as the job's yields, the result (owned copies) as its return value, and a cancelled run's
messages are dropped. Each finished arm joins the Runs tab, so its curves can be overlaid, and
"Open arm" puts it in the window like an opened project, for the explorer and the canvas.
"""
from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
    QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget,
)

from ...core.experiments import EXPERIMENTS, iter_experiment, write_report
from ..state import RunRecord
from ..workers import RunManager, Worker
from .experiment_view import ExperimentView

BUDGET_TIPS = {"tiny": "seconds: a first look (few samples, few epochs)",
               "default": "a minute or two: figures you can trust the direction of",
               "full": "several minutes: better figures"}


def experiment_job(token, experiment, budget: str, seed: int):
    """The worker's generator: progress as it comes, the ExperimentResult at the end. It trains with
    the training worker's thread policy (controller.training_threads: a core left to the GUI)."""
    import torch

    from ..controller import training_threads

    threads = training_threads()
    if threads:
        torch.set_num_threads(threads)
    return (yield from iter_experiment(experiment, budget, seed, cancel=token.is_set))


def report_job(token, result, experiment, folder: str):
    return write_report(result, experiment, folder)


class ExperimentsPanel(QWidget):
    # (RunArtifact, a name for it, what to show then: "" or "canvas"): put the arm in the window
    openArm = Signal(object, str, str)

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("experimentsPanel")
        self.state = state
        self.result = None
        self.result_experiment = None
        self._run_id: int | None = None
        self._started = 0.0
        self.runs = RunManager("experiment", self)
        self.runs.runYielded.connect(self._progress)
        self.runs.runDone.connect(self._done)
        self.runs.runFailed.connect(self._failed)
        self.reports = Worker("experiment-report", self)
        self.reports.done.connect(lambda paths: self.note.setText(
            f"Report written: {paths.get('report.html', '')}"))
        self.reports.failed.connect(lambda message: self.note.setText(f"Could not write the report: {message}"))

        self.list = QListWidget(self)
        self.list.setObjectName("experimentList")
        for experiment in EXPERIMENTS.values():
            item = QListWidgetItem(experiment.title)
            item.setData(Qt.ItemDataRole.UserRole, experiment.name)
            item.setToolTip(experiment.description)
            self.list.addItem(item)
        self.list.setWordWrap(True)
        self.list.setMinimumWidth(190)
        self.list.currentRowChanged.connect(self._select)
        self.heading = QLabel(self)
        self.heading.setObjectName("experimentHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.budget = QComboBox(self)
        for name, tip in BUDGET_TIPS.items():
            self.budget.addItem(name)
            self.budget.setItemData(self.budget.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.budget.setCurrentText("default")
        self.seed = QSpinBox(self, prefix="seed ", minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("The same seed gives the same figures (wall-clock times aside)")
        self.run_button = QPushButton("Run", self, toolTip="Train every arm of this experiment, one after another")
        self.cancel_button = QPushButton("Cancel", self, enabled=False)
        self.export_button = QPushButton("Export report…", self, enabled=False)
        self.export_button.setToolTip("The figures as PNG, with a markdown and a self-contained HTML page")
        self.arm_combo = QComboBox(self)
        self.arm_combo.setToolTip("An arm of the finished experiment")
        self.open_button = QPushButton("Open arm", self, enabled=False)
        self.open_button.setToolTip("Put this arm's model in the window (as an opened project): the latent "
                                    "space and the Draw tab then use it; your unsaved work is kept aside")
        self.canvas_button = QPushButton("Denoise on the Draw tab", self, visible=False)
        self.canvas_button.setToolTip("Put the denoiser in the window and open the Draw tab on a noisy "
                                      "validation digit; your unsaved work is kept aside")
        self.canvas_button.clicked.connect(self._open_denoiser)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status = QLabel("Pick an experiment and press Run.", self)
        self.status.setWordWrap(True)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.view = ExperimentView(self)
        self.run_button.clicked.connect(self.run_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.ask_export)
        self.open_button.clicked.connect(self._open_arm)

        # Two short rows: running, then using the result (one long row pushed the view past its width).
        controls, after = QHBoxLayout(), QHBoxLayout()
        for row, widgets in ((controls, (self.budget, self.seed, self.run_button, self.cancel_button)),
                             (after, (self.export_button, self.arm_combo, self.open_button, self.canvas_button))):
            for widget in widgets:
                row.addWidget(widget)
            row.addStretch(1)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.heading)
        right_layout.addLayout(controls)
        right_layout.addLayout(after)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.status)
        right_layout.addWidget(self.note)
        right_layout.addWidget(self.view, 1)
        scroll = self.scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(right)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.list)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.list.setCurrentRow(0)

    @property
    def experiment(self):
        item = self.list.currentItem()
        return EXPERIMENTS[item.data(Qt.ItemDataRole.UserRole)] if item is not None else None

    @property
    def running(self) -> bool:
        return self._run_id is not None

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(row)
                return
        raise ValueError(f"unknown experiment {name!r}")

    def _select(self, _row: int) -> None:
        experiment = self.experiment
        if experiment is None:
            return
        self.heading.setText(f"<h3>{html.escape(experiment.title)}</h3>"
                             f"<p><i>{html.escape(experiment.question)}</i></p>"
                             + "".join(f"<p>{html.escape(p)}</p>" for p in experiment.explanation.split("\n\n")))
        if self.result is not None and self.result_experiment is experiment:
            return
        self.view.clear()
        self._set_result(None, None)
        if not self.running:
            self.status.setText(f"Runs {len(experiment.arms)} models on {experiment.dataset}: "
                                + ", ".join(arm.label for arm in experiment.arms) + ".")

    # --- running --------------------------------------------------------------------------------
    def run_selected(self) -> None:
        experiment = self.experiment
        if experiment is None or self.running:
            return
        self._set_result(None, None)
        self.view.clear()
        self.note.setText("")
        self._started = time.perf_counter()
        self._running_experiment = experiment
        self._run_id = self.runs.submit(experiment_job, experiment, self.budget.currentText(), self.seed.value())
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setText(f"Running “{experiment.title}” ({self.budget.currentText()} budget)…")
        self._enable()

    def cancel(self) -> None:
        if self._run_id is not None:
            self.runs.cancel(self._run_id)  # its messages are dropped from now on
            self._run_id = None
            self.progress.setVisible(False)
            self.status.setText("Cancelled: the arms trained so far are not kept.")
            self._enable()

    def _progress(self, run_id: int, progress) -> None:
        if run_id != self._run_id:
            return
        total = max(1, progress.arm_count * max(1, progress.epochs))
        done = progress.arm_index * max(1, progress.epochs) + progress.epoch
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        self.status.setText(f"Arm {progress.arm_index + 1} of {progress.arm_count}, “{progress.arm_label}”: "
                            f"{progress.message}")

    def _done(self, run_id: int, result) -> None:
        if run_id != self._run_id:
            return
        self._run_id = None
        experiment = self._running_experiment
        self.progress.setVisible(False)
        seconds = time.perf_counter() - self._started
        self._set_result(experiment, result)
        self.view.show_result(experiment, result)
        self._add_runs(experiment, result)
        self.status.setText(f"“{experiment.title}” finished in {seconds:.0f} s; its arms are in the Runs tab too.")
        self._enable()

    def _failed(self, run_id: int, message: str) -> None:
        if run_id != self._run_id:
            return
        self._run_id = None
        self.progress.setVisible(False)
        self.status.setText(f"The experiment stopped: {message}")
        self._enable()

    def _set_result(self, experiment, result) -> None:
        self.result, self.result_experiment = result, experiment
        self.arm_combo.clear()
        for arm in (result.arms if result is not None else []):
            if arm.run is not None:
                self.arm_combo.addItem(arm.label)
        self._enable()

    def _enable(self) -> None:
        self.run_button.setEnabled(not self.running)
        self.cancel_button.setEnabled(self.running)
        self.export_button.setEnabled(self.result is not None)
        self.open_button.setEnabled(self.result is not None and self.arm_combo.count() > 0)
        self.canvas_button.setVisible(self.denoiser() is not None)

    def _add_runs(self, experiment, result) -> None:
        now = time.time()
        for arm in result.arms:
            if arm.run is None:
                continue
            record = RunRecord(name=f"{experiment.name}: {arm.label}", preset=arm.run.spec.name,
                               dataset=arm.run.dataset.name, started=now - float(arm.figures.get("seconds", 0.0)),
                               spec=arm.run.spec, artifact=arm.run, ended=now)
            self.state.runs.append(record)
        self.state.runs_changed()

    def _open_arm(self) -> None:
        label = self.arm_combo.currentText()
        arm = next((a for a in self.result.arms if a.label == label and a.run is not None), None)
        if arm is not None:
            self.openArm.emit(arm.run, f"{self.result_experiment.name}: {arm.label}", "")

    def denoiser(self):
        """The arm of a finished experiment that trained on noisy inputs (the last one), or None."""
        arms = [a for a in (self.result.arms if self.result is not None else [])
                if a.run is not None and a.run.spec.objective.noise.kind != "none"]
        return arms[-1] if arms else None

    def _open_denoiser(self) -> None:
        arm = self.denoiser()
        if arm is not None:
            self.openArm.emit(arm.run, f"{self.result_experiment.name}: {arm.label}", "canvas")

    # --- the report -----------------------------------------------------------------------------
    def ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the report into a folder", str(Path.home()))
        if folder:
            self.export(folder)

    def export(self, folder: str) -> None:
        if self.result is not None:
            self.note.setText(f"Writing the report into {folder}…")
            self.reports.submit(report_job, self.result, self.result_experiment, folder)

    def shutdown(self) -> bool:
        self._run_id = None
        return all([self.runs.shutdown(2.0), self.reports.shutdown(1.0)])
