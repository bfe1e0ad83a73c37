"""Projects in the window: save and open a .aeproj, recent files, the title, hot exit and autosave.

The engine (``core.project``) reads and writes the file; this module decides what of the
window goes into it and how it comes back:

- What is saved: the spec, the current run (its artifact carries the training state, so
  "Continue training" resumes exactly), the dataset reference with the options it was
  loaded with, the run list (numbers only: a project keeps one run's weights) and the Live
  tab's thinned curves and live-edit marks.
- Opening sets the spec and the runs at once, then finds the data on a worker thread (the
  loaded set if its checksum matches, else ``ref.source`` with ``ref.options``) and only
  then hands the run to the panels: ``WeightsWhenShown`` drops a run that does not fit the
  spec and data it sees, so they must be in place first. Data that is missing or differs is
  said in the status bar and a non-blocking dialog; the run waits until matching data is
  loaded.
- Hot exit: closing never asks. Unsaved work goes to a recovery project beside the user's
  config (the QSettings file's folder, so tests use their temporary one) and is opened at
  the next start; a clean close removes it. The same file is autosaved every two minutes
  and at each epoch's end, on a worker, so a crash loses at most that much.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.data import Dataset
from ..core.project import PROJECT_SUFFIX, Project, ProjectError, load_project, save_project
from ..core.run import DatasetRef, RunArtifact
from .data_loader import checksum_job, find_data, same_shape
from .state import RunRecord
from .workers import Worker

AUTOSAVE_MS = 120_000  # a crash loses at most two minutes (and at most one epoch while training)
# An epoch's end autosaves only when the last autosave is at least this old. Measured with
# benchmarks/gui_training.py on 2 cores: capturing the state and writing the project after every
# 0.3 s epoch of the default VAE cut training to 0.89 of the bare loop (0.97 without) and pushed the
# GUI thread's p99 lateness from 2.4 to 7.4 ms. Epochs longer than this are all saved.
EPOCH_AUTOSAVE_MIN_S = 10.0
RECENT_MAX = 8
RECOVERY_NAME = "recovery" + PROJECT_SUFFIX
PREVIOUS_NAME = "previous-session" + PROJECT_SUFFIX  # unsaved work set aside by New or Open
APP_TITLE = "Autoencoder Studio"


def write_job(token, project: Project, path: Path, dataset: Dataset | None, options: dict, holdout):
    """Worker job: the dataset reference (its checksum takes ~0.1 s on 60,000 images) and the file."""
    if project.dataset is None and dataset is not None:
        project.dataset = DatasetRef.from_dataset(dataset, holdout, options)
    return save_project(project, path)


class ProjectManager(QObject):
    """The window's project: its file, name, unsaved mark, recent list and recovery file."""

    changed = Signal()  # the title's parts (name, unsaved mark) changed
    opened = Signal(str)  # a project is in place, data and run included (or said to be missing)
    saved = Signal(str)

    def __init__(self, window, autosave_ms: int = AUTOSAVE_MS):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.settings = window.settings
        self.path: Path | None = None
        self.name = ""
        self.dirty = False
        self.restored = False  # the session came back from the recovery file and is not saved yet
        self._edits = 0  # bumped by every change, so a save knows whether newer work is unsaved
        self._quiet = 0  # >0 while a project is put in place: its own edits are not the user's
        self._note = ""  # what the status bar says once an opened project's data is back, if not "Opened …"
        self.waiting_run: RunArtifact | None = None  # an opened run, until matching data is loaded
        self._waiting_ref: DatasetRef | None = None
        self._saver = Worker("project-save", self, latest_wins=False)
        self._last_autosave = -float("inf")
        self._data = Worker("project-data", self, latest_wins=True)
        self._reader = Worker("project-open", self, latest_wins=True)
        self._data.done.connect(self._on_data)
        self._data.failed.connect(self._on_data_failed)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setObjectName("autosaveTimer")
        self.autosave_timer.setInterval(autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        for signal in (self.state.specChanged, self.state.datasetChanged, self.state.runsChanged,
                       self.state.holdoutChanged):
            signal.connect(self._on_edit)

    # --- the unsaved mark and the title -----------------------------------------------------------
    @property
    def recovery_path(self) -> Path:
        return Path(self.settings.fileName()).parent / RECOVERY_NAME

    @property
    def busy(self) -> bool:
        """Finding an opened project's data (tests wait for it)."""
        return self._data.busy

    @property
    def saving(self) -> bool:
        return self._saver.busy

    def title(self) -> str:
        name = self.name or "Untitled"
        mark = "*" if self.dirty else ""
        unsaved = " (restored, unsaved)" if self.restored and self.dirty else ""
        return f"{name}{mark}{unsaved} — {APP_TITLE}"

    def _on_edit(self, *_) -> None:
        if self._quiet:
            return
        self._edits += 1
        self._set_dirty(True)

    def mark_dirty(self) -> None:
        """A change the state's signals do not carry (a newer snapshot of the running run)."""
        self._on_edit()

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            if not dirty:
                self.restored = False
            self.changed.emit()

    # --- what goes into a project ----------------------------------------------------------------------
    def current_record(self) -> RunRecord | None:
        """The run whose weights a project keeps: the newest one that has them."""
        for record in reversed(self.state.runs):
            if record.artifact is not None:
                return record
        return None

    def snapshot(self) -> Project:
        """The project as it stands (cheap, on the GUI thread: artifacts are shared, never changed)."""
        record = self.current_record()
        run = record.artifact if record is not None else None
        if run is None and self.waiting_run is not None:
            run = self.waiting_run  # opened, its data not found yet: still the project's run
        runs = []
        for r in self.state.runs:
            data = r.to_json()
            data["current"] = r is record
            runs.append(data)
        recorder = self.window.dashboard.recorder
        ref = run.dataset if run is not None else self._waiting_ref
        return Project(spec=self.state.spec, run=run, dataset=ref, runs=runs, curves=recorder.to_json(),
                       marks=recorder.marks_to_json(), name=self.name)

    # --- saving ------------------------------------------------------------------------------------------
    @staticmethod
    def normalise(path: str | Path) -> Path:
        path = Path(path)
        return path if path.suffix == PROJECT_SUFFIX else path.with_name(path.name + PROJECT_SUFFIX)

    def save(self, path: str | Path) -> Path:
        """Save now, on this thread (automation and tests); ProjectError names what went wrong."""
        path = self.normalise(path)
        edits = self._edits
        project = self.snapshot()
        project.name = project.name if self.path == path else path.stem
        write_job(None, project, path, self.state.dataset, self.state.dataset_options, self.state.holdout)
        self._saved(path, edits)
        return path

    def save_in_background(self, path: str | Path, on_failed) -> None:
        """Save on a worker (a project with a training state can be megabytes)."""
        path = self.normalise(path)
        edits = self._edits
        project = self.snapshot()
        project.name = project.name if self.path == path else path.stem
        self._saver.submit(write_job, project, path, self.state.dataset, self.state.dataset_options,
                           self.state.holdout, on_done=lambda _: self._saved(path, edits), on_fail=on_failed)

    def _saved(self, path: Path, edits: int) -> None:
        self.path, self.name = path, path.stem
        self.add_recent(path)
        if edits == self._edits:  # nothing changed while it was written
            self._set_dirty(False)
            self.remove_recovery()
        self.restored = False
        self.changed.emit()
        self.saved.emit(str(path))

    # --- hot exit and autosave ---------------------------------------------------------------------------
    def epoch_autosave_due(self) -> bool:
        """Whether an epoch that just ended should be autosaved (see EPOCH_AUTOSAVE_MIN_S)."""
        return not self._saver.busy and time.monotonic() - self._last_autosave >= EPOCH_AUTOSAVE_MIN_S

    def autosave(self) -> None:
        """Write the recovery file in the background when there is unsaved work; skipped while a save runs."""
        if not self.dirty or self._saver.busy:
            return
        self._last_autosave = time.monotonic()
        path = self.recovery_path
        self._remember_recovery()
        self._saver.submit(write_job, self.snapshot(), path, self.state.dataset, self.state.dataset_options,
                           self.state.holdout, on_fail=lambda message: self.window.statusBar().showMessage(
                               f"Autosave failed: {message}", 8000))

    def _remember_recovery(self) -> None:
        self.settings.setValue("recovery/path", str(self.path) if self.path else "")
        self.settings.setValue("recovery/name", self.name)

    def on_close(self) -> None:
        """Closing: unsaved work goes to the recovery file (at once: this is the last chance); a clean
        window removes it. Never asks, never raises."""
        self.autosave_timer.stop()
        self._saver.shutdown(1.0)  # an autosave still writing: its atomic rename is all or nothing
        self._data.shutdown(1.0)
        self._reader.shutdown(1.0)
        if not self.dirty:
            self.remove_recovery()
        else:
            try:
                self._remember_recovery()
                write_job(None, self.snapshot(), self.recovery_path, self.state.dataset,
                          self.state.dataset_options, self.state.holdout)
            except (ProjectError, OSError, ValueError):
                pass  # nothing can be said any more; the last autosave, if any, is still there
        self.settings.sync()

    def remove_recovery(self) -> None:
        try:
            self.recovery_path.unlink(missing_ok=True)
        except OSError:
            pass
        self.settings.remove("recovery")

    def restore_recovery(self) -> bool:
        """At start: open the recovery file if there is one; the title says it is unsaved."""
        path = self.recovery_path
        if not path.is_file():
            return False
        try:
            project = load_project(path)
        except ProjectError as exc:
            # Set aside, not deleted: the user may still want what is in it.
            damaged = path.with_name("recovery-damaged" + PROJECT_SUFFIX)
            try:
                path.replace(damaged)
            except OSError:
                pass
            self.window.statusBar().showMessage(f"The unsaved session could not be restored: {exc}", 15000)
            return False
        original = str(self.settings.value("recovery/path", "") or "")
        # Said once the data is back too, in place of "Opened …": this is the news of the start.
        self._note = f"Restored the unsaved session from {path}"
        self.apply(project, Path(original) if original else None, remember=False)
        self.name = str(self.settings.value("recovery/name", "") or "")
        self.restored = True
        self._set_dirty(True)
        self.changed.emit()
        self.window.statusBar().showMessage(self._note, 15000)
        return True

    def set_aside(self) -> Path | None:
        """Before New or Open replaces unsaved work: keep it in a file listed under Open recent."""
        if not self.dirty:
            return None
        path = Path(self.settings.fileName()).parent / PREVIOUS_NAME
        try:
            write_job(None, self.snapshot(), path, self.state.dataset, self.state.dataset_options, self.state.holdout)
        except (ProjectError, OSError):
            return None
        self.add_recent(path)
        return path

    # --- recent files --------------------------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.settings.value("recent/projects", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if p][:RECENT_MAX]

    def add_recent(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.settings.setValue("recent/projects", items[:RECENT_MAX])

    # --- opening ------------------------------------------------------------------------------------------
    def new(self) -> None:
        """An empty project: no runs, no file; the caller sets the spec."""
        self._quiet += 1
        try:
            self.waiting_run, self._waiting_ref = None, None
            self.state.set_runs([])
            self.window.dashboard.clear()
        finally:
            self._quiet -= 1
        self.path, self.name, self.restored = None, "", False
        self._set_dirty(False)
        self.changed.emit()

    def read_in_background(self, path: Path, on_done, on_fail) -> None:
        """Read and check a project on a worker (~0.1 s for a trained model's, with every hash checked)."""
        self._reader.submit(lambda token, where: load_project(where), path, on_done=on_done, on_fail=on_fail)

    @property
    def reading(self) -> bool:
        return self._reader.busy

    def apply(self, project: Project, path: Path | None, remember: bool = True) -> None:
        """Put ``project`` in place: spec and runs now, data and weights when the data is found."""
        window = self.window
        self._quiet += 1
        try:
            self.state.replace_spec(project.spec)
            records = []
            for data in project.runs:
                try:
                    record = RunRecord.from_json(data)
                except (KeyError, TypeError, ValueError):
                    continue  # one damaged entry of the list must not keep the project shut
                if data.get("current") and project.run is not None:
                    record.artifact = project.run
                records.append(record)
            if project.run is not None and not any(r.artifact is project.run for r in records):
                # A project written without a run list (by hand or an older tool): the run still shows.
                record = RunRecord(name=f"run 1: {project.run.spec.name}", preset=project.run.spec.name,
                                   dataset=project.run.dataset.name, started=time.time(), spec=project.run.spec,
                                   artifact=project.run, ended=time.time())
                records.append(record)
            self.state.set_runs(records)
            window.dashboard.restore(project.curves, project.marks, project.run)
        finally:
            self._quiet -= 1
        self.path = path
        self.name = project.name or (path.stem if path else "")
        self.restored = False
        self.waiting_run = project.run
        ref = project.run.dataset if project.run is not None else project.dataset
        self._waiting_ref = ref
        self._set_dirty(False)
        self.changed.emit()
        if path is not None and remember:
            self.add_recent(path)
        if ref is None:
            self._done_opening()
        else:
            self._data.submit(find_data, ref, self.state.dataset)

    def _on_data(self, result) -> None:
        status, value = result
        ref, window = self._waiting_ref, self.window
        if ref is None:
            return
        if status in ("same", "loaded"):
            self._quiet += 1
            try:
                if value is not self.state.dataset:
                    self.state.set_dataset(value, options=ref.options)
                    window.data_panel.error_label.hide()
                elif not self.state.dataset_options:
                    self.state.dataset_options = dict(ref.options)
                if self.state.holdout != ref.excluded_label:
                    self.state.set_holdout(ref.excluded_label)
            finally:
                self._quiet -= 1
            self._give_run()
            if self._note:
                window.statusBar().showMessage(self._note, 15000)
            elif status == "loaded":
                window.statusBar().showMessage(f"Opened {self.name}: loaded {ref.name} again", 8000)
            else:
                window.statusBar().showMessage(f"Opened {self.name}", 5000)
        elif status == "checksum":
            if value == ref.checksum:
                self._quiet += 1
                try:
                    if self.state.holdout != ref.excluded_label:
                        self.state.set_holdout(ref.excluded_label)
                finally:
                    self._quiet -= 1
                self._give_run()
                window.statusBar().showMessage(f"{ref.name} matches the project: its trained model is back", 8000)
            else:
                window.say_data_missing(ref, "the data just loaded is not the data it was trained on "
                                             "(its checksum differs)")
        else:
            why = (f"'{ref.source}' cannot be loaded ({value})" if status == "missing"
                   else f"'{ref.source}' has changed since (its checksum differs)")
            window.say_data_missing(ref, why)
        self._done_opening()

    def _on_data_failed(self, message: str) -> None:
        if self._waiting_ref is not None:
            self.window.say_data_missing(self._waiting_ref, message)
        self._done_opening()

    def check_loaded_data(self, dataset: Dataset) -> None:
        """The user loaded data while an opened run waits for its own: is it the run's (checksum)?"""
        ref = self._waiting_ref
        if self.waiting_run is None or ref is None or self._quiet or not same_shape(dataset, ref):
            return
        self._data.submit(lambda token, d: ("checksum", checksum_job(token, d)), dataset)

    def _give_run(self) -> None:
        """The data is in place: the panels get the run (spec and data first, so none drops it)."""
        run, self.waiting_run = self.waiting_run, None
        if run is not None:
            self.window.use_run(run)

    def _done_opening(self) -> None:
        self._note = ""
        self.opened.emit(str(self.path) if self.path else "")
