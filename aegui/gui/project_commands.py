"""The window's File commands for projects, and Continue training: a mixin of MainWindow.

Kept apart from main_window.py so the window stays a thin assembly of panels; the project
bookkeeping itself (what is saved, how it comes back, hot exit) is ``projects.ProjectManager``.
Every command that can fail says so in place or in a non-blocking dialog; only the
automation entry points (``save_project``, ``open_project``) raise, a ``ProjectError`` whose
message is the line the user would read.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from ..core.presets import fit_to_input, get_preset
from ..core.project import PROJECT_SUFFIX, Project, ProjectError, load_project
from ..core.run import DatasetRef
from ..core.serialize import SpecError
from ..core.spec import AutoencoderSpec
from ..core.spec_rules import input_fits
from .widgets.when_shown import run_matches

PROJECT_FILTER = f"Autoencoder Studio project (*{PROJECT_SUFFIX})"
DEFAULT_PRESET = "ae"


def epochs_done(run) -> int:
    """Fine-tuning epochs a run with a training state has finished (0 while still pretraining)."""
    state = run.training_state or {}
    position = state.get("position") or {}
    if position.get("phase_index") == len(state.get("stage_optimizers") or []):
        return int(position.get("phase_epoch", 0))
    return 0


class ProjectCommands:
    """Mixin for MainWindow: needs ``state``, ``projects``, ``controller``, the panels and ``show_error``."""

    # --- automation entry points ---------------------------------------------------------------------
    def save_project(self, path) -> Path:
        """Save the project to ``path`` now, without a dialog; raises ProjectError."""
        return self.projects.save(path)

    def open_project(self, path) -> None:
        """Open ``path`` without a dialog; raises ProjectError (the window is unchanged then). The data
        is found on a worker: ``projects.opened`` follows, and the trained model is back after it."""
        if self.controller.is_active:
            raise ProjectError("stop training before opening a project")
        self._put_in_place(load_project(path), path)  # every check before anything in the window changes

    def _put_in_place(self, project, path) -> None:
        if self.controller.is_active:  # a run started while the file was read: it keeps the window
            self.show_error("Cannot open this project", "stop training before opening a project")
            return
        kept = self.projects.set_aside()
        self._drop_panel_runs("Another project was opened")  # its own run comes once its data is found
        self.projects.apply(project, Path(path) if path else None)
        if kept is not None:
            self.statusBar().showMessage(f"The unsaved work before it is kept in {kept} (File > Open recent)", 8000)

    def open_run(self, run, name: str, then: str = "") -> bool:
        """Put a trained run (an experiment's arm) in the window as an unsaved project of its own: its
        data is loaded again as it was cut, and the explorer and the canvas use it. The work open
        before is kept aside, as when a project is opened. ``then="canvas"``: end on the Draw tab with
        a noisy validation sample, the noise the run was trained with."""
        if self.controller.is_active:
            self.statusBar().showMessage("Stop training before opening an experiment's model", 5000)
            return False
        self._after_open = then
        self._put_in_place(Project(spec=run.spec, run=run, dataset=run.dataset, name=name), None)
        return True

    def _finish_open(self, _path: str) -> None:
        then, self._after_open = getattr(self, "_after_open", ""), ""
        if then != "canvas" or self.canvas.shown_run is None and self.canvas._pending is None:
            return
        noise = self.state.spec.objective.noise
        controls = self.canvas.controls
        if noise.kind != "none":
            controls.noise_kind.setCurrentText(noise.kind)
            controls.noise_level.setValue(noise.level)
        self.tabs.setCurrentWidget(self.canvas)
        self.canvas.load_random_sample()

    # --- menu commands -------------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(self.projects.path.parent) if self.projects.path else str(Path.home())

    def new_project(self) -> None:
        if self.controller.is_active:
            return
        kept = self.projects.set_aside()
        self.new_model()
        self.projects.new()
        self._drop_panel_runs("New project")
        if kept is not None:
            self.statusBar().showMessage(f"New project. The unsaved one is kept in {kept} (File > Open recent)", 8000)

    def _drop_panel_runs(self, why: str) -> None:
        for panel in (self.latent, self.canvas, self.dashboard.anomaly):
            if panel.shown_run is not None or panel._pending is not None:
                panel.drop_run(why)

    def ask_open_project(self, path: str | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open a project", self._start_dir(),
                                                  f"{PROJECT_FILTER};;All files (*)")
            if not path:
                return False
        if self.controller.is_active:
            self.statusBar().showMessage("Stop training before opening a project", 5000)
            return False
        # Read off the GUI thread; the window changes only once the whole file has passed its checks.
        self.statusBar().showMessage(f"Opening {Path(path).name}…", 4000)
        self.projects.read_in_background(Path(path), lambda project: self._put_in_place(project, path),
                                         lambda message: self.show_error("Cannot open this project", message))
        return True

    def ask_save_project(self) -> None:
        if self.projects.path is None:
            self.ask_save_project_as()
        else:
            self._save_in_background(self.projects.path)

    def ask_save_project_as(self) -> None:
        name = self.projects.name or self.state.spec.name or "project"
        suggested = Path(self._start_dir()) / f"{name}{PROJECT_SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Save the project", str(suggested), PROJECT_FILTER)
        if path:
            self._save_in_background(path)

    def _save_in_background(self, path) -> None:
        self.statusBar().showMessage(f"Saving {Path(path).name}…")
        self.projects.save_in_background(path, lambda message: self.offer_save_as(
            "Cannot save the project", message, self.ask_save_project_as))

    def offer_save_as(self, title: str, message: str, save_as) -> None:
        """A failed save (a full disk, a folder gone): say why, keep everything open and unsaved, and offer
        to save it elsewhere. Non-blocking, like every error dialog here."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, f"{message}\n\nNothing was lost: your work is still "
                          f"open. Save it somewhere else?", QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("saveFailedDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        again = box.addButton("Save as…", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(again)
        box.buttonClicked.connect(lambda button: save_as() if button is again else None)
        box.open()

    def _on_project_saved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved {path}", 4000)

    def _fill_recent_menu(self) -> None:
        menu: QMenu = self.recent_menu
        menu.clear()
        paths = self.projects.recent()
        for i, path in enumerate(paths, start=1):
            action = menu.addAction(f"&{i} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.ask_open_project(p))
        if not paths:
            menu.addAction("(no recent projects)").setEnabled(False)

    def _update_title(self) -> None:
        self.setWindowTitle(self.projects.title())

    # --- specs: File > Import and File > Export -------------------------------------------------------
    def new_model(self) -> None:
        ds = self.state.dataset
        self.state.edit_spec(fit_to_input(get_preset(DEFAULT_PRESET), ds.kind, ds.sample_shape, ds.in_unit_range),
                             "new model")

    def open_spec(self, path: str | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open a model spec", str(Path.home()), "Spec (*.json)")
            if not path:
                return False
        try:
            spec = AutoencoderSpec.load(path)
        except SpecError as exc:
            self.show_error("Cannot open this spec", exc.first_line)
            return False
        ds = self.state.dataset
        if ds is not None and not input_fits(spec, ds):
            self.statusBar().showMessage(f"The spec was made for {spec.input.kind} "
                                         f"{list(spec.input.shape)} input; fitted to {ds.name}", 8000)
            spec = fit_to_input(spec, ds.kind, ds.sample_shape, ds.in_unit_range)
        return self.state.edit_spec(spec, f"open {Path(path).name}") or True

    def save_spec(self, path: str | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save the model spec", str(Path.home() / "model.json"),
                                                  "Spec (*.json)")
            if not path:
                return False
        try:
            self.state.spec.save(path)
        except OSError as exc:  # the file on disk is as it was (the save is atomic)
            self.offer_save_as("Cannot save the spec", f"{path}: {exc.strerror or exc}", self.save_spec)
            return False
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # --- the opened run, and data that is not there ---------------------------------------------------
    def use_run(self, run) -> None:
        """Hand a run (an opened project's) to every panel that runs a model."""
        self.latent.set_weights(run)
        self.canvas.set_weights(run)
        self.dashboard.set_weights(run)
        if run.result is not None:
            self.step_label.setText(f"step {run.result.steps}")
        self._update_actions()

    def say_data_missing(self, ref: DatasetRef, why: str) -> None:
        """The opened project's data is missing or another: say so, and offer to pick it (non-blocking)."""
        text = (f"The project's dataset {ref.name}: {why}. The model and its runs are open; load the "
                f"data it was trained on ({ref.size:,} samples) to use the trained model.")
        self.statusBar().showMessage(f"Dataset {ref.name}: {why}", 15000)
        if self._closing:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "The project's data", text, QMessageBox.StandardButton.Close, self)
        box.setObjectName("dataMissingDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        pick_file = box.addButton("Pick a file…", QMessageBox.ButtonRole.ActionRole)
        pick_folder = box.addButton("Pick a folder…", QMessageBox.ButtonRole.ActionRole)
        pick_file.clicked.connect(self.data_panel._pick_file)
        pick_folder.clicked.connect(self.data_panel._pick_folder)
        self.data_dock.raise_()
        box.open()

    # --- continue training -----------------------------------------------------------------------------
    def resumable_run(self):
        """The run record that Continue training would continue, or None."""
        record = self.projects.current_record()
        if record is None or record.running or record.artifact.training_state is None:
            return None
        return record

    def ask_continue_training(self) -> None:
        record = self.resumable_run()
        if record is None:
            return
        done = epochs_done(record.artifact)
        total, ok = QInputDialog.getInt(self, "Continue training", f"Train on to a total of (done: {done}) epochs:",
                                        max(done * 2, done + 1), 1, 100_000)
        if ok:
            self.continue_training(total)

    def continue_training(self, epochs: int) -> bool:
        """Continue the current run exactly, to ``epochs`` in total; False (and a message) when it cannot."""
        record = self.resumable_run()
        if self.controller.is_active or record is None:
            self.statusBar().showMessage("Cannot continue: there is no stopped run with a saved training state", 6000)
            return False
        run = record.artifact
        done = epochs_done(run)
        if epochs <= done:
            self.statusBar().showMessage(f"Cannot continue: the run has already trained {done} epochs; "
                                         "give a larger total", 6000)
            return False
        full = self.state.dataset
        if not run_matches(run, full):
            self.statusBar().showMessage(f"Cannot continue: load the data the run was trained on ({run.dataset.name}, "
                                         f"{run.dataset.size:,} samples)", 6000)
            return False
        spec = run.spec.copy()
        spec.train.epochs = int(epochs)
        self.state.edit_spec(spec, f"continue to {epochs} epochs")  # the builder shows the model that trains
        self.state.set_holdout(run.dataset.excluded_label)
        ref = run.dataset
        data = full if ref.excluded_label is None else full.without_label(ref.excluded_label)
        self._run = record
        self.state.resume_run(record)
        self.statusBar().clearMessage()
        self._stage = None
        self.dashboard.clear(data, keep_curves=True)
        self.state.set_locked(True)
        if self.controller.start(spec, data, full_dataset=full, excluded_label=ref.excluded_label,
                                 options=ref.options or self.state.dataset_options, resume_state=run.training_state):
            self.tabs.setCurrentWidget(self.dashboard)
            return True
        self.state.set_locked(False)
        return False

    # --- drag and drop -----------------------------------------------------------------------------------
    @staticmethod
    def _dropped_file(event) -> str | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = urls[0].toLocalFile()
        return path if Path(path).suffix.lower() in (PROJECT_SUFFIX, ".json") else None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._dropped_file(event) and not self.controller.is_active:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_file(event)
        if path is None or self.controller.is_active:
            event.ignore()
            return
        event.acceptProposedAction()
        if path.lower().endswith(PROJECT_SUFFIX):
            self.ask_open_project(path)
        else:
            self.open_spec(path)


def make_train_menu(window) -> QMenu:
    """The Train button's menu: both ways to train once there is a run to continue."""
    menu = QMenu(window)
    menu.setObjectName("trainMenu")
    menu.addAction(window.continue_action)
    menu.addAction(window.scratch_action)
    return menu

