"""Runs the engine's trainer in a worker thread and brings its reports to the GUI thread.

Rules this class keeps:
- The worker only iterates the trainer and emits signals; it never touches a widget.
- Every run has a generation id. Reports carry it, and anything from an older
  run (one that was stopped while its last reports were still queued) is dropped.
- Pause and stop are cooperative, through the engine's TrainControl.
- ``shutdown`` stops and joins the worker within a time limit, so closing the
  window mid-training never leaves a thread behind.
"""
from __future__ import annotations

import os
import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot

from ..core.control import TrainControl
from ..core.data import Dataset
from ..core.reports import FINISHED
from ..core.spec import AutoencoderSpec

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"


def training_threads() -> int:
    """Intra-op threads for the training worker: one core is left to the GUI thread.

    Measured with benchmarks/gui_training.py on the 2-core machine: with every
    core given to training, each repaint on the GUI thread stalls the OpenMP team
    (a straggler holds up every parallel region), while this VAE gains almost
    nothing from a second training thread. AEGUI_TRAIN_THREADS overrides it
    (0 keeps torch's default) so the policy can be re-measured.
    """
    override = os.environ.get("AEGUI_TRAIN_THREADS")
    if override is not None and override.strip().isdigit():
        return int(override)
    return max(1, (os.cpu_count() or 2) - 1)


class TrainingController(QObject):
    started = Signal()
    report = Signal(object)  # aegui.core.reports.Report
    finished = Signal(object)  # the final Report
    failed = Signal(str)
    stateChanged = Signal(str)
    weightsReady = Signal(object)  # (spec, state_dict of owned CPU tensors)

    # Worker -> controller, tagged with the run's generation (queued across threads).
    _workerReport = Signal(int, object)
    _workerDone = Signal(int, object)
    _workerFailed = Signal(int, str)
    _workerWeights = Signal(int, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._control: TrainControl | None = None
        self._state = IDLE
        self._weights_wanted = threading.Event()
        self.trainer = None
        self._workerReport.connect(self._on_report)
        self._workerDone.connect(self._on_done)
        self._workerFailed.connect(self._on_failed)
        self._workerWeights.connect(self._on_weights)

    # --- state -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def is_active(self) -> bool:
        return self._state in (RUNNING, PAUSED, STOPPING)

    @property
    def generation(self) -> int:
        return self._generation

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # --- commands from the GUI ------------------------------------------------------------
    def start(self, spec: AutoencoderSpec, dataset: Dataset) -> bool:
        """Start a run; False (and ``failed``) when one is already going or set-up fails."""
        if self.is_active:
            self.failed.emit("a training run is already in progress; stop it first")
            return False
        self._join_finished_thread()
        self._generation += 1
        control = TrainControl()
        self._control = control
        generation = self._generation
        self._weights_wanted.clear()
        self._thread = threading.Thread(
            target=self._work, args=(generation, spec.copy(), dataset, control),
            name=f"aegui-train-{generation}", daemon=True,
        )
        self._set_state(RUNNING)
        self._thread.start()
        self.started.emit()
        return True

    def pause(self) -> None:
        if self._control and self._state == RUNNING:
            self._control.pause()
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self._control and self._state == PAUSED:
            self._control.resume()
            self._set_state(RUNNING)

    def stop(self) -> None:
        if self._control and self.is_active:
            self._control.stop()
            self._set_state(STOPPING)

    def set_live_value(self, name: str, value: float) -> None:
        """Change lr, beta, noise_level or sparsity_weight; applies at the next step."""
        if self._control and self.is_active:
            self._control.set(name, value)

    def request_weights(self) -> None:
        """Ask for a copy of the current weights, taken at the next report boundary."""
        self._weights_wanted.set()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop any run and join its thread; True when nothing is left running."""
        thread = self._thread
        if self._control is not None:
            self._control.stop()
        self._generation += 1  # whatever is still queued belongs to a dead run now
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._thread = None
        self._set_state(IDLE)
        return True

    def _join_finished_thread(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread.join()
            self._thread = None

    # --- the worker (runs off the GUI thread; emits only) -------------------------------------
    def _work(self, generation: int, spec: AutoencoderSpec, dataset: Dataset, control: TrainControl) -> None:
        from ..core.trainer import Trainer

        threads = training_threads()
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            trainer = Trainer(spec, dataset, control=control)
            self.trainer = trainer
            last = None
            for report in trainer.run():
                last = report
                if report.kind == FINISHED:
                    break
                self._workerReport.emit(generation, report)
                if self._weights_wanted.is_set():
                    self._weights_wanted.clear()
                    self._workerWeights.emit(generation, (trainer.spec, _owned_state(trainer.model)))
            self._workerWeights.emit(generation, (trainer.spec, _owned_state(trainer.model)))
            self._workerDone.emit(generation, last)
        except Exception as exc:  # the GUI shows it; the app must stay usable
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._workerFailed.emit(generation, str(exc) or detail)

    # --- back on the GUI thread -----------------------------------------------------------------
    @Slot(int, object)
    def _on_report(self, generation: int, report) -> None:
        if generation == self._generation:
            self.report.emit(report)

    @Slot(int, object)
    def _on_weights(self, generation: int, payload) -> None:
        if generation == self._generation:
            self.weightsReady.emit(payload)

    @Slot(int, object)
    def _on_done(self, generation: int, report) -> None:
        if generation != self._generation:
            return
        self._join_finished_thread_soon()
        self._set_state(IDLE)
        self.finished.emit(report)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._join_finished_thread_soon()
        self._set_state(IDLE)
        self.failed.emit(message)

    def _join_finished_thread_soon(self) -> None:
        # The worker emitted its last signal and is returning; joining is near-instant.
        if self._thread is not None:
            self._thread.join(1.0)
            if not self._thread.is_alive():
                self._thread = None


def _owned_state(model) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
