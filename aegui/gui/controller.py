"""Runs the engine's trainer off the GUI thread and brings its reports and runs to the GUI thread.

Built on ``workers.RunManager``: each run is a generator job in its own plain
thread, tagged with a generation; anything from a run that was stopped while its
last messages were still queued, or from a window that is closing, is dropped.

Rules this class keeps:
- The worker only iterates the trainer and yields owned copies; it never touches a widget.
- Pause and stop are cooperative, through the engine's TrainControl; closing
  cancels the run's token, which stops its TrainControl (a paused trainer wakes up).
- Weights leave the worker as ``RunArtifact``s built there at a report boundary:
  a snapshot when asked for (``request_weights``), and the finished run.
- ``shutdown`` stops and joins the worker within a time limit, so closing the
  window mid-training never leaves a thread behind.
- One run at a time is the window's choice (``start`` refuses a second);
  ``queue`` lines runs up for the RunManager to start one after another.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from ..core.control import TrainControl
from ..core.data import Dataset
from ..core.reports import FINISHED
from ..core.run import DatasetRef, RunArtifact
from ..core.spec import AutoencoderSpec
from ..core.tensorboard_log import logged
from .workers import CancelToken, RunManager

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"
REPORT, SNAPSHOT = "report", "snapshot"  # what a run yields, with the value


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


@dataclass
class _Run:
    """What the GUI thread and one run's worker share: both sides only call thread-safe methods."""

    control: TrainControl = field(default_factory=TrainControl)
    weights_wanted: threading.Event = field(default_factory=threading.Event)
    # Whether the next snapshot also carries the training state (for a save): capturing it copies the
    # optimiser's moments too, so plain snapshots for the panels leave it out.
    state_wanted: threading.Event = field(default_factory=threading.Event)


def train_run(token: CancelToken, run: _Run, spec: AutoencoderSpec, dataset: Dataset,
              full_dataset: Dataset | None, excluded_label: int | None, options: dict | None = None,
              resume_state: dict | None = None, tensorboard_dir: str | None = None):
    """The work of one run (a generator, run by the RunManager's thread).

    Yields (REPORT, report) and, when asked, (SNAPSHOT, RunArtifact); returns
    (final report, the finished run's RunArtifact). Every artifact carries the training
    state, so a project saved from it continues exactly; ``resume_state`` (a saved
    ``Trainer.state_dict()``) makes this run continue that one (StateMismatch, one line,
    when ``spec`` is not its spec with another epoch total). ``tensorboard_dir``: every report is also
    written to TensorBoard, in a folder of this run's own under it (core/tensorboard_log.py).
    """
    from ..core.training import Trainer

    threads = training_threads()
    if threads:
        import torch

        torch.set_num_threads(threads)
    token.on_cancel(run.control.stop)  # closing the window: stop, even from a pause
    trainer = Trainer(spec, dataset, control=run.control)
    if resume_state is not None:
        trainer.load_state_dict(resume_state)
    # The full dataset and the class held out of it: a run's split then indexes rows that can
    # be found again in what the user loaded. The checksum is taken once, here, off the GUI thread.
    ref = DatasetRef.from_dataset(full_dataset if full_dataset is not None else dataset, excluded_label, options)
    last = None
    for report in logged(trainer.run(), tensorboard_dir, spec):
        last = report
        if report.kind == FINISHED:
            continue  # the final report comes with the run, below
        yield REPORT, report
        if run.weights_wanted.is_set():
            run.weights_wanted.clear()
            with_state = run.state_wanted.is_set()
            run.state_wanted.clear()
            yield SNAPSHOT, RunArtifact.from_trainer(trainer, ref, with_state=with_state)
    return last, RunArtifact.from_trainer(trainer, ref, with_state=True)


class TrainingController(QObject):
    started = Signal()
    report = Signal(object)  # aegui.core.reports.Report
    finished = Signal(object)  # the final Report
    failed = Signal(str)
    stateChanged = Signal(str)
    weightsReady = Signal(object)  # a RunArtifact: a snapshot, or the finished run
    runFinished = Signal(object)  # the finished run's RunArtifact, just before ``finished``

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runs = RunManager("train", self)
        self.runs.runStarted.connect(self._on_started)
        self.runs.runYielded.connect(self._on_yielded)
        self.runs.runDone.connect(self._on_done)
        self.runs.runFailed.connect(self._on_failed)
        self._handles: dict[int, _Run] = {}  # run id -> its control, for runs queued or running
        self._current: int | None = None
        self._state = IDLE
        self._snapshots_wanted = True
        self.tensorboard_dir: str | None = None  # runs started from now on also log to TensorBoard there

    # --- state -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def is_active(self) -> bool:
        return self._state in (RUNNING, PAUSED, STOPPING)

    @property
    def generation(self) -> int:
        """The newest run's generation: what its messages are tagged with."""
        return self.runs.worker.generation

    @property
    def _thread(self) -> threading.Thread | None:
        """The newest run's thread until it has ended and been joined (tests look at it)."""
        return self.runs.worker.thread

    @property
    def _control(self) -> TrainControl | None:
        run = self._handles.get(self._current) if self._current is not None else None
        return run.control if run is not None else None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # --- commands from the GUI ------------------------------------------------------------
    def start(self, spec: AutoencoderSpec, dataset: Dataset, *, full_dataset: Dataset | None = None,
              excluded_label: int | None = None, options: dict | None = None,
              resume_state: dict | None = None) -> bool:
        """Start a run now; False (and ``failed``) when one is already going.

        ``dataset`` is what the run trains on; ``full_dataset`` and ``excluded_label`` say
        what it was cut from when a class is held out, and ``options`` how it was loaded (for
        the run's DatasetRef). ``resume_state``: continue the run that saved it (see train_run)."""
        if self.is_active:
            self.failed.emit("a training run is already in progress; stop it first")
            return False
        self.queue(spec, dataset, full_dataset=full_dataset, excluded_label=excluded_label, options=options,
                   resume_state=resume_state)
        return True

    def queue(self, spec: AutoencoderSpec, dataset: Dataset, *, full_dataset: Dataset | None = None,
              excluded_label: int | None = None, options: dict | None = None,
              resume_state: dict | None = None) -> int:
        """Line a run up after any that is running or queued; returns its run id."""
        run = _Run()
        run.control.set_snapshots_wanted(self._snapshots_wanted)
        # Registered before submit, which may start the run (and say so) at once.
        self._handles[self.runs.next_id] = run
        return self.runs.submit(train_run, run, spec.copy(), dataset, full_dataset, excluded_label, options,
                                resume_state, self.tensorboard_dir)

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

    def set_snapshots_wanted(self, wanted: bool) -> None:
        """Whether reports should carry pictures (reconstructions, filters): only while someone
        can see them. Applies to the running run and to every run started later."""
        self._snapshots_wanted = bool(wanted)
        for run in self._handles.values():
            run.control.set_snapshots_wanted(self._snapshots_wanted)

    @property
    def snapshots_wanted(self) -> bool:
        return self._snapshots_wanted

    def request_weights(self, with_state: bool = False) -> None:
        """Ask for a RunArtifact of the run as it is, taken at the next report boundary; ``with_state``
        adds the training state, which a save needs and the panels do not."""
        run = self._handles.get(self._current) if self._current is not None else None
        if run is not None:
            if with_state:
                run.state_wanted.set()
            run.weights_wanted.set()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop every run, forget the queue and join the thread; True when nothing is left running."""
        ok = self.runs.shutdown(timeout)
        self._handles.clear()
        self._current = None
        self._set_state(IDLE)
        return ok

    # --- back on the GUI thread -----------------------------------------------------------------
    def _on_started(self, run_id: int) -> None:
        self._current = run_id
        self._set_state(RUNNING)
        self.started.emit()

    def _on_yielded(self, run_id: int, item) -> None:
        kind, value = item
        if kind == REPORT:
            self.report.emit(value)
        else:
            self.weightsReady.emit(value)

    def _on_done(self, run_id: int, result) -> None:
        report, artifact = result
        self._end(run_id)
        self.weightsReady.emit(artifact)
        self.runFinished.emit(artifact)
        self.finished.emit(report)

    def _on_failed(self, run_id: int, message: str) -> None:
        self._end(run_id)
        self.failed.emit(message)

    def _end(self, run_id: int) -> None:
        self._handles.pop(run_id, None)
        if run_id == self._current:
            self._current = None
            self._set_state(IDLE)
