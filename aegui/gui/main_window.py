"""The main window: panels as docks and tabs, menus, toolbar, status bar, settings."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QMainWindow, QMessageBox, QTabWidget, QToolBar, QToolButton, QWidget,
)

from ..core.data import DataError, load_dataset
from ..core.spec_rules import LIVE_VALUE_WORDS, dataset_fit_problem, input_fits
from ..core.device import resolve_device
from ..core.presets import fit_to_input, get_preset
from ..core.reports import StopReason
from ..core.serialize import SpecError
from ..core.spec import AutoencoderSpec
from .controller import IDLE, PAUSED, RUNNING, STOPPING, TrainingController
from .panels.builder import ModelBuilder
from .panels.canvas import DrawCanvas
from .panels.dashboard import TrainingDashboard
from .panels.data import DataPanel
from .panels.experiments import ExperimentsPanel
from .panels.latent import LatentExplorer
from .project_commands import ProjectCommands, make_train_menu
from .projects import AUTOSAVE_MS, ProjectManager
from .state import AppState
from .tensorboard_menu import TensorBoardToggle
from .watch import RunWatch
from .widgets.guide import show_guide

LATENT_REFRESH_MS = 3000
from .workers import Worker

DEFAULT_PRESET = "ae"
FINISHED_TEXT = {StopReason.COMPLETED: "Training finished", StopReason.STOPPED: "Training stopped",
                 StopReason.EARLY_STOPPING: "Stopped early", StopReason.NON_FINITE: "Training stopped: the loss diverged"}


class MainWindow(ProjectCommands, QMainWindow):
    def __init__(self, dataset=None, spec: AutoencoderSpec | None = None, settings: QSettings | None = None,
                 autosave_ms: int = AUTOSAVE_MS):
        super().__init__()
        self.setWindowTitle("Autoencoder Studio")
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("AutoencoderStudio", "aegui")
        if dataset is None:
            dataset = self._initial_dataset()
        if spec is None:
            spec = self._last_spec()
        spec = fit_to_input(spec, dataset.kind, dataset.sample_shape, dataset.in_unit_range)
        self.state = AppState(spec, dataset, self)
        self.controller = TrainingController(self)
        self._run = None
        self._stage: int | None = None  # the greedy pretraining stage the status bar names (0: fine-tuning)
        self._closing = False
        self._last_error_box: QMessageBox | None = None

        self.builder = ModelBuilder(self.state)
        self.data_panel = DataPanel(self.state)
        self.dashboard = TrainingDashboard(self.state)
        self.latent = LatentExplorer(self.state)
        self.canvas = DrawCanvas(self.state)
        self.experiments = ExperimentsPanel(self.state)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.addTab(self.dashboard, "Training")
        self.tabs.addTab(self.latent, "Latent space")
        self.tabs.addTab(self.canvas, "Draw")
        self.tabs.addTab(self.experiments, "Experiments")
        self.setCentralWidget(self.tabs)
        self.model_dock = self._dock("Model", self.builder, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.data_dock = self._dock("Data", self.data_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.data_dock, self.model_dock)  # Model on top; Data one click away
        self.model_dock.raise_()
        self.projects = ProjectManager(self, autosave_ms)
        self.watch, self.tensorboard = RunWatch(self), TensorBoardToggle(self)  # File > Watch; Training > TensorBoard

        self._make_actions()
        self._make_menus_and_toolbar()
        self._make_status_bar()
        self._connect()
        self._restore_settings()
        self.setAcceptDrops(True)  # a .aeproj or a spec .json dropped anywhere opens it
        self.projects.restore_recovery()  # hot exit: the unsaved session comes back, and the title says so
        self._update_title()
        self._update_actions()

    # --- construction ---------------------------------------------------------------------------
    def _last_spec(self) -> AutoencoderSpec:
        """The model as it was left (edits included), else the last preset, else the default."""
        text = self.settings.value("last/spec")
        if isinstance(text, str) and text:
            try:
                return AutoencoderSpec.from_json(text)
            except SpecError:
                pass  # written by an older or newer version: fall back to the preset's name
        try:
            return get_preset(str(self.settings.value("last/preset", DEFAULT_PRESET)))
        except KeyError:
            return get_preset(DEFAULT_PRESET)

    def _initial_dataset(self):
        name = str(self.settings.value("last/dataset", "mnist5k"))
        try:
            return load_dataset(name)
        except (DataError, OSError):
            return load_dataset("mnist5k")

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, shortcut, tip: str, slot, name: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})" if shortcut else tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.new_action = self._action("&New", K.New, "A new project with the default model", self.new_project,
                                       "newAction")
        self.open_action = self._action("&Open project…", K.Open, "Open a project (.aeproj)",
                                        lambda: self.ask_open_project(), "openAction")
        self.save_action = self._action("&Save project", K.Save, "Save the project", self.ask_save_project,
                                        "saveAction")
        self.save_as_action = self._action("Save project &as…", "Ctrl+Shift+S", "Save the project in a new file",
                                           self.ask_save_project_as, "saveAsAction")
        self.import_spec_action = self._action("&Spec (JSON)…", None, "Open a model spec (JSON) into the builder",
                                               lambda: self.open_spec(), "importSpecAction")
        self.export_spec_action = self._action("&Spec (JSON)…", None, "Save the model spec as JSON",
                                               lambda: self.save_spec(), "exportSpecAction")
        self.continue_action = self._action("&Continue training…", None,
                                            "Train the stopped or opened run on, exactly, to a new epoch total",
                                            self.ask_continue_training, "continueAction")
        self.scratch_action = self._action("Train from &scratch", None, "Train a new run from new weights",
                                           self.train, "scratchAction")
        self.quit_action = self._action("&Quit", K.Quit, "Close Autoencoder Studio", self.close, "quitAction")
        self.train_action = self._action("&Train", "Ctrl+Return", "Train the model on the current data",
                                         self.train, "trainAction")
        self.pause_action = self._action("&Pause", "Ctrl+P", "Pause or resume training", self.toggle_pause, "pauseAction")
        self.stop_action = self._action("S&top", "Ctrl+.", "Stop training (the weights so far are kept)",
                                        self.stop, "stopAction")
        # Our own actions rather than QUndoStack's: those stay enabled while training, and an undo
        # then would change the spec under a running model. Fixed texts keep the toolbar still;
        # the tooltip says what would be undone.
        self.undo_action = self._action("&Undo", K.Undo, "Undo the last model edit", self.undo, "undoAction")
        self.redo_action = self._action("&Redo", K.Redo, "Redo the last undone edit", self.redo, "redoAction")
        stack = self.state.undo_stack
        for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged,
                       self.state.lockedChanged):
            signal.connect(self._update_undo_actions)
        self._update_undo_actions()

    def _make_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.setObjectName("recentMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        self.watch.add_actions(file_menu)
        file_menu.addSeparator()
        file_menu.addMenu("&Import").addAction(self.import_spec_action)
        file_menu.addMenu("&Export").addAction(self.export_spec_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        train = bar.addMenu("&Training")
        for a in (self.train_action, self.continue_action, self.pause_action, self.stop_action):
            train.addAction(a)
        self.tensorboard.add_actions(train)
        view = bar.addMenu("&View")
        view.addAction(self.model_dock.toggleViewAction())
        view.addAction(self.data_dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&Guide", "F1", "A short tour of the window, one page per area",
                                         lambda: show_guide(self), "guideAction"))
        help_menu.addAction(self._action("&About", None, "About Autoencoder Studio", self.about, "aboutAction"))

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.new_action, self.open_action, self.save_action):
            toolbar.addAction(a)
        toolbar.addSeparator()
        toolbar.addAction(self.undo_action)
        toolbar.addAction(self.redo_action)
        toolbar.addSeparator()
        for a in (self.train_action, self.pause_action, self.stop_action):
            toolbar.addAction(a)
        self.addToolBar(toolbar)
        self.train_button = toolbar.widgetForAction(self.train_action)
        self.train_button.setObjectName("trainButton")
        # Once there is a run to continue, the button's arrow offers both ways to train.
        self.train_menu = make_train_menu(self)
        self.train_button.setMenu(self.train_menu)
        self.train_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.pause_button = toolbar.widgetForAction(self.pause_action)
        self.pause_button.setObjectName("pauseButton")
        self.stop_button = toolbar.widgetForAction(self.stop_action)
        self.stop_button.setObjectName("stopButton")

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        self._update_device_label()
        self.state_label = QLabel("idle")
        self.state_label.setObjectName("stateLabel")
        self.step_label = QLabel("step 0")
        self.step_label.setObjectName("stepLabel")
        self.step_label.setMinimumWidth(110)  # growing digits must not re-lay out the status bar
        for w in (self.device_label, self.state_label, self.step_label):
            status.addPermanentWidget(w)

    def _update_device_label(self) -> None:
        """The device the next run will use (the spec's choice, resolved on this machine)."""
        asked = self.state.spec.train.device
        try:
            text = f"device: {resolve_device(asked)}"
        except ValueError:
            text = f"device: {asked} (not available)"
        if text != self.device_label.text():
            self.device_label.setText(text)

    def _connect(self) -> None:
        c = self.controller
        c.report.connect(self._on_report)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.stateChanged.connect(self._on_state)
        c.weightsReady.connect(self._on_weights)
        c.runFinished.connect(self._on_run_finished)
        c.weightsReady.connect(self.latent.set_weights)
        c.weightsReady.connect(self.dashboard.set_weights)
        c.weightsReady.connect(self.canvas.set_weights)
        # Reports carry pictures (reconstructions, filters) only while the Training tab shows them.
        self.tabs.currentChanged.connect(self._update_snapshots_wanted)
        # While the Latent space tab is on screen during training, its map follows the newest weights
        # (an epoch can take minutes); the panel's latest-wins map job takes each artifact it is sent.
        self._latent_refresh = QTimer(self, interval=LATENT_REFRESH_MS)
        self._latent_refresh.timeout.connect(self.controller.request_weights)
        self.tabs.currentChanged.connect(self._update_latent_refresh)
        self.canvas.sentToExplorer.connect(self._send_drawing_to_explorer)
        self.experiments.openArm.connect(self.open_run)
        self.projects.opened.connect(self._finish_open)
        self._update_snapshots_wanted()
        self.builder.liveValueChanged.connect(self._on_live_value)
        self.builder.summaryChanged.connect(self._update_actions)
        self.state.specChanged.connect(lambda _: self._update_actions())
        self.state.specChanged.connect(lambda _: self._update_device_label())
        self.state.datasetChanged.connect(lambda _: self._update_actions())
        self.state.datasetChanged.connect(self.projects.check_loaded_data)
        self.state.runsChanged.connect(self._update_actions)
        self.projects.changed.connect(self._update_title)
        self.projects.saved.connect(self._on_project_saved)

    # --- settings ------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 940)
        window_state = self.settings.value("window/state")
        if isinstance(window_state, QByteArray):
            self.restoreState(window_state)

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("last/preset", self.state.spec.name)
        self.settings.setValue("last/spec", self.state.spec.to_json())
        if self.state.dataset is not None:
            self.settings.setValue("last/dataset", self.state.dataset.name)
        self.settings.sync()

    # --- commands ----------------------------------------------------------------------------------------
    def train_blocker(self, exact: bool = False) -> str:
        """Why training cannot start now, or '' when it can. The memory verdict is the builder's, made off
        the GUI thread; ``exact`` (pressing Train) asks it here when the builder's is not in yet."""
        if self.state.dataset is None:
            return "load a dataset first"
        spec, dataset = self.state.spec, self.state.dataset
        if not input_fits(spec, dataset):
            return (f"the model takes {spec.input.kind} input {list(spec.input.shape)} but {dataset.name} holds "
                    f"{dataset.kind} samples {list(dataset.sample_shape)}; load its data or press New")
        problem = dataset_fit_problem(spec, dataset)  # e.g. the bernoulli likelihood on data outside 0..1
        if problem:
            return problem
        issues = self.state.issues
        if issues:
            path, message = issues[0]
            more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
            return f"fix the model first: {path}: {message}{more}"
        try:
            resolve_device(spec.train.device)
        except ValueError as exc:  # e.g. cuda asked for on a machine without a GPU
            return str(exc)
        shown = self.builder.memory_problem_shown(spec, dataset.x.nbytes)
        if shown is not None or not exact:
            return shown or ""
        from ..core.memory_estimate import memory_problem

        # Traced on the meta device (cached, as the builder asks about the same spec): nothing is built here.
        return memory_problem(spec, data_bytes=dataset.x.nbytes)

    def train(self) -> None:
        if self.controller.is_active:
            return
        blocker = self.train_blocker(exact=True)
        if blocker:
            self.statusBar().showMessage(f"Cannot train: {blocker}", 5000)
            return
        spec = self.state.spec
        data = self.state.training_dataset()  # built once: with a class held out it is a copy
        self._run = self.state.add_run(spec.name, data.name)
        # The last run's "Training finished at step N" must not stand over the new one.
        self.statusBar().clearMessage()
        self._stage = None
        self.dashboard.clear(data)
        self.state.set_locked(True)
        if self.controller.start(spec, data, full_dataset=self.state.dataset, excluded_label=self.state.holdout,
                                 options=self.state.dataset_options):
            self.tabs.setCurrentWidget(self.dashboard)
        else:
            self.state.set_locked(False)

    def undo(self) -> None:
        if not self.state.locked:
            self.state.undo_stack.undo()

    def redo(self) -> None:
        if not self.state.locked:
            self.state.undo_stack.redo()

    def _update_undo_actions(self, *_) -> None:
        stack, locked = self.state.undo_stack, self.state.locked
        try:
            states = ((self.undo_action, stack.canUndo(), stack.undoText(), "Undo"),
                      (self.redo_action, stack.canRedo(), stack.redoText(), "Redo"))
        except RuntimeError:  # the stack announces its own destruction as the window goes away
            return
        for action, can, what, verb in states:
            action.setEnabled(can and not locked)
            tip = ("The model is read-only while training" if locked and can
                   else f"{verb} {what}" if can else f"Nothing to {verb.lower()}")
            action.setToolTip(tip)
            action.setStatusTip(tip)

    def toggle_pause(self) -> None:
        if self.controller.state == RUNNING:
            self.controller.pause()
        elif self.controller.state == PAUSED:
            self.controller.resume()

    def stop(self) -> None:
        self.controller.stop()

    def about(self) -> None:
        QMessageBox.about(self, "About Autoencoder Studio",
                          "Autoencoder Studio: design, train and explore autoencoders.<br><br>"
                          "The embedded digits are a 5,000-image subset of MNIST by Yann LeCun, Corinna Cortes "
                          "and Christopher J.C. Burges, under CC BY-SA 3.0.")

    def show_error(self, title: str, message: str) -> None:
        """A non-blocking error dialog: the app stays usable behind it."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        previous = getattr(self, "_last_error_box", None)
        if previous is not None:
            try:
                previous.close()  # one dialog at a time: the newest message replaces the last
            except RuntimeError:  # already closed and deleted by Qt
                pass
        box.open()
        self._last_error_box = box

    # --- controller events ------------------------------------------------------------------------------
    def _on_report(self, report) -> None:
        self.dashboard.add_report(report)
        self.step_label.setText(f"step {report.step}")
        if report.stage != self._stage:
            if report.pretraining:  # it stays up until the stage ends
                self.statusBar().showMessage(f"Pretraining layer {report.stage} of {report.stages}")
            elif self._stage:
                self.statusBar().showMessage("Pretraining done: fine-tuning the whole model", 4000)
            self._stage = report.stage
        if report.step and report.kind == "epoch":
            # A RunArtifact of the run so far (_on_weights); with the training state when an autosave is due.
            self.controller.request_weights(with_state=self.projects.epoch_autosave_due())

    def _on_weights(self, artifact) -> None:
        """A snapshot of the run (the panels get it too): the run record holds the newest."""
        if self._run is not None and self._run.running and artifact.training_state is not None:
            # Only a snapshot that can be resumed replaces the record's: a save mid-run stays exact.
            self.state.update_run(self._run, artifact)
            self.projects.mark_dirty()
            self.projects.autosave()

    def _on_run_finished(self, artifact) -> None:
        if self._run is not None and self._run.running:
            self.state.finish_run(self._run, artifact)

    def _update_snapshots_wanted(self, *_) -> None:
        self.controller.set_snapshots_wanted(self.tabs.currentWidget() is self.dashboard)

    def _on_finished(self, report) -> None:
        self.state.set_locked(False)
        if report is not None:
            self.dashboard.add_report(report)
            reason = StopReason(report.stop_reason) if report.stop_reason else None
            text = FINISHED_TEXT.get(reason, "Finished")
            self.statusBar().showMessage(f"{text} at step {report.step}", 8000)
            if reason == StopReason.NON_FINITE and not self._closing:
                self.show_error("Training stopped", report.message)

    def _on_failed(self, message: str) -> None:
        # A refused second start fails too, while the first run goes on: keep its lock and its record.
        if not self.controller.is_active:
            self.state.set_locked(False)
            self.statusBar().clearMessage()  # e.g. "Pretraining layer 2 of 3" of the run that raised
            if self._run is not None and self._run.running:
                self.state.fail_run(self._run, message)
        if not self._closing:
            self.show_error("Training failed", message)

    def _on_state(self, state: str) -> None:
        self.state_label.setText(state)
        self._update_actions()
        self._update_latent_refresh()

    def _send_drawing_to_explorer(self, drawing) -> None:
        self.tabs.setCurrentWidget(self.latent)
        self.latent.receive_drawing(drawing)

    def _update_latent_refresh(self, *_) -> None:
        wanted = self.controller.state == RUNNING and self.tabs.currentWidget() is self.latent and not self._closing
        if wanted != self._latent_refresh.isActive():
            self._latent_refresh.start() if wanted else self._latent_refresh.stop()

    def _on_live_value(self, name: str, value: float) -> None:
        try:
            self.controller.set_live_value(name, value)
        except ValueError as exc:
            self.statusBar().showMessage(str(exc), 5000)
            return
        words = LIVE_VALUE_WORDS.get(name, name)
        self.statusBar().showMessage(f"{words[:1].upper()}{words[1:]} set to {value:g}; applies at the next step",
                                     4000)

    def _update_actions(self) -> None:
        state = self.controller.state
        blocker = self.train_blocker()
        idle = state == IDLE
        self.train_action.setEnabled(idle and not blocker)
        self.train_action.setToolTip(f"Cannot train: {blocker}" if blocker and idle else "Train the model (Ctrl+Return)")
        self.pause_action.setEnabled(state in (RUNNING, PAUSED))
        self.pause_action.setText("Resume" if state == PAUSED else "Pause")
        self.stop_action.setEnabled(state in (RUNNING, PAUSED))
        for a in (self.new_action, self.open_action, self.import_spec_action):
            a.setEnabled(idle)
        self.recent_menu.setEnabled(idle)
        resumable = idle and self.resumable_run() is not None
        self.continue_action.setEnabled(resumable)
        self.scratch_action.setEnabled(idle and not blocker)
        if state == STOPPING:
            self.statusBar().showMessage("Stopping after the current step…", 2000)

    # --- closing ----------------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Stop and join every thread we started; never ask, never hang."""
        self._closing = True
        self._latent_refresh.stop()
        self._save_settings()
        # Every job hears the cancel at once, so the joins below overlap rather than add up.
        for worker in self.findChildren(Worker):
            worker.cancel()
        self.controller.shutdown(timeout=2.0)
        self.projects.on_close()  # hot exit: unsaved work to the recovery file, never a question
        self.builder.shutdown()
        self.data_panel.shutdown()
        self.dashboard.shutdown()
        self.latent.shutdown()
        self.canvas.shutdown()
        self.experiments.shutdown()
        self.watch.shutdown()
        super().closeEvent(event)
