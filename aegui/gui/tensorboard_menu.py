"""Training > Log to TensorBoard: every run started in the window also writes TensorBoard logs.

The folder is chosen once, the first time the box is ticked, and remembered with the box itself in the
settings; each run then logs into a folder of its own under it (NAME-DATE-TIME), so ``tensorboard
--logdir FOLDER`` lists the window's runs side by side with the command line's ``--tensorboard``
runs. Training > TensorBoard folder… picks another. Without the tensorboard package the box cannot be
ticked, and the status bar says what to install.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from ..core.tensorboard_log import tensorboard_problem

FOLDER_KEY, ON_KEY = "tensorboard/folder", "tensorboard/on"


class TensorBoardToggle(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.action = QAction("Log to &TensorBoard", self, checkable=True)
        self.action.setObjectName("tensorboardAction")
        self.folder_action = QAction("TensorBoard &folder…", self)
        self.folder_action.setObjectName("tensorboardFolderAction")
        self.folder_action.triggered.connect(lambda: self.choose_folder())
        folder = str(window.settings.value(FOLDER_KEY, "") or "")
        on = str(window.settings.value(ON_KEY, "false")).lower() == "true"
        self.set_logging(on and bool(folder) and not tensorboard_problem(), folder or None, remember=False)
        self.action.toggled.connect(self._on_toggled)

    @property
    def folder(self) -> str | None:
        return self.window.controller.tensorboard_dir

    def add_actions(self, menu) -> None:
        menu.addSeparator()
        menu.addAction(self.action)
        menu.addAction(self.folder_action)

    def set_logging(self, on: bool, folder: str | None = None, remember: bool = True) -> None:
        """Log the runs started from now on into ``folder`` (default: the remembered one), or stop."""
        folder = folder or str(self.window.settings.value(FOLDER_KEY, "") or "") or None
        on = on and folder is not None
        self.window.controller.tensorboard_dir = folder if on else None
        self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(False)
        tip = (f"Runs started from now on also write TensorBoard logs into {folder}" if on
               else "Write each run's losses, reconstructions and code histograms for TensorBoard")
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        if remember:
            if folder:
                self.window.settings.setValue(FOLDER_KEY, folder)
            self.window.settings.setValue(ON_KEY, "true" if on else "false")

    def choose_folder(self, folder: str | None = None) -> bool:
        """Pick the folder (a dialog unless given) and log into it; False when none was picked."""
        problem = tensorboard_problem()
        if problem:
            self.window.statusBar().showMessage(problem, 8000)
            self.set_logging(False)
            return False
        if not folder:
            start = str(self.window.settings.value(FOLDER_KEY, "") or Path.home())
            folder = QFileDialog.getExistingDirectory(self.window, "TensorBoard logs go into", start)
        if not folder:
            self.set_logging(self.folder is not None)
            return False
        self.set_logging(True, folder)
        self.window.statusBar().showMessage(f"Runs started from now on log to TensorBoard in {folder}", 6000)
        return True

    def _on_toggled(self, on: bool) -> None:
        if not on:
            self.set_logging(False)
        elif self.window.settings.value(FOLDER_KEY, "") and not tensorboard_problem():
            self.set_logging(True)
        else:
            self.choose_folder()
