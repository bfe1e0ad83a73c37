"""File > Watch run folder…: the dashboard follows a run that another process is writing.

A headless or distributed run (``main.py train --snapshots``, under torchrun or not, here or on a
shared or mounted filesystem) writes its spec, its epoch history and, twice a second, its latest report
with pictures. ``core.run_watch.RunFollower`` reads them; here a generator job on a ``Worker`` polls it
every ``POLL_S`` and brings what is new to the GUI thread, where the reports go to the dashboard exactly
as a live run's do (``add_report``), so the same panels draw them.

Polling rather than QFileSystemWatcher: inotify does not see files that another machine replaces on
NFS or SMB, and a poll of three files is a few stat calls.

- Watching puts the run's spec in the window (as opening a project does: unsaved work is set aside
  first), so the builder and the dashboard's panels describe the model being watched.
- When the run ends (its folder moved into place), it is opened as an unsaved project with the
  curves the dashboard drew: its data is found again, and the latent explorer and the canvas work on
  its weights.
- Training in the window stops the watch (the dashboard is the run's); so do Stop watching and
  closing the window.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from ..core.project import Project
from ..core.reports import FINISHED, StopReason
from ..core.run_watch import ENDED, GONE, WAITING, RunFollower, WatchError
from .workers import Worker

POLL_S = 0.25
QUIET_NOTE_S = 60  # a run silent this long may have been killed: the status bar says how long
HEARTBEAT_S = 10.0


def follow(token, follower: RunFollower, interval: float = POLL_S):
    """The watch's job: poll until the run ends, yielding what is new (runs on the Worker's thread), and
    now and then when nothing is, so the status bar can say how long the run has been quiet."""
    said = time.monotonic()
    while True:
        news = follower.poll()
        if news.changed or time.monotonic() - said >= HEARTBEAT_S:
            said = time.monotonic()
            yield news
        if news.state in (ENDED, GONE):
            return news.state
        if token.wait(interval):
            return None


class RunWatch(QObject):
    """The window's watch of one run folder at a time."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.worker = Worker("watch", self)
        self.follower: RunFollower | None = None
        self.path: Path | None = None
        self.reports = 0  # fed to the dashboard in this watch
        self.finished_run = None  # the watched run, once it has ended and is in the window
        self._spec_shown = False
        self._final = self._last = None  # the run's closing report; the newest one
        self._opening = False
        window.controller.started.connect(lambda: self.stop("a run started in the window") if self.watching else None)
        window.projects.opened.connect(self._on_opened)

    @property
    def watching(self) -> bool:
        return self.follower is not None

    # --- the menu ---------------------------------------------------------------------------------------
    def add_actions(self, menu) -> None:
        self.watch_action = QAction("&Watch run folder…", self)
        self.watch_action.setObjectName("watchAction")
        tip = "Follow a run that the command line (train --snapshots) is writing, here or on a shared disk"
        self.watch_action.setToolTip(tip)
        self.watch_action.setStatusTip(tip)
        self.watch_action.triggered.connect(lambda: self.ask_watch())
        self.stop_action = QAction("Stop &watching", self)
        self.stop_action.setObjectName("stopWatchAction")
        self.stop_action.triggered.connect(lambda: self.stop())
        self.stop_action.setEnabled(False)
        menu.addAction(self.watch_action)
        menu.addAction(self.stop_action)

    def ask_watch(self, path: str | None = None) -> bool:
        if not path:
            path = QFileDialog.getExistingDirectory(self.window, "Watch a run folder (OUT, or OUT.incomplete-*)",
                                                    str(Path.cwd()))
            if not path:
                return False
        return self.watch(path)

    # --- watching ---------------------------------------------------------------------------------------
    def watch(self, path) -> bool:
        """Follow the run folder ``path``; False (and a message) when it cannot be followed."""
        window = self.window
        if window.controller.is_active:
            window.statusBar().showMessage("Stop training before watching another run", 5000)
            return False
        try:
            follower = RunFollower(path)
        except WatchError as exc:
            window.show_error("Cannot watch this folder", str(exc))
            return False
        self.stop(quietly=True)
        self.follower, self.path = follower, Path(path)
        self.reports, self.finished_run, self._final, self._last, self._spec_shown = 0, None, None, None, False
        window.dashboard.clear()
        window.tabs.setCurrentWidget(window.dashboard)
        window.statusBar().showMessage(f"Watching {self.path}…")
        window.state_label.setText("watching")
        self.worker.submit(follow, follower, on_yield=self._on_news, on_fail=self._on_failed,
                           on_done=lambda _: self._end_watch())
        self._update_actions()
        return True

    def stop(self, why: str = "", quietly: bool = False) -> None:
        if not self.watching:
            return
        self.worker.cancel()
        self._end_watch()
        if not quietly:
            self.window.statusBar().showMessage(f"Stopped watching {self.path}" + (f": {why}" if why else ""), 6000)

    def shutdown(self, timeout: float = 1.0) -> None:
        self.worker.shutdown(timeout)
        self.follower = None

    def _end_watch(self) -> None:
        if self.follower is not None and self.window.state_label.text() == "watching":
            self.window.state_label.setText(self.window.controller.state)
        self.follower = None
        self._update_actions()

    def _update_actions(self) -> None:
        if hasattr(self, "stop_action"):
            self.stop_action.setEnabled(self.watching)

    # --- what the run wrote (GUI thread) ------------------------------------------------------------------------
    def _on_news(self, news) -> None:
        window = self.window
        if not self.watching or window.controller.is_active:
            return
        if news.spec is not None and not self._spec_shown:
            self._show_spec(news.spec)
        for report in news.reports:
            window.dashboard.add_report(report)
            self.reports += 1
        if news.reports:
            self._last = last = news.reports[-1]
            window.step_label.setText(f"step {last.step}")
            if last.kind == FINISHED:
                self._final = last
        if news.state == ENDED:
            self._open_finished(news.run)
        elif news.state == GONE:
            window.show_error("The watched run went away", news.note)
        elif news.note:
            window.statusBar().showMessage(f"Watching {news.folder.name}: {news.note}", 8000)
        elif news.state == WAITING:
            window.statusBar().showMessage(f"Watching {self.path}: waiting for a run to write into it…")
        else:
            last = self._last
            where = f" · {last.phase} epoch {last.epoch_progress:.2f}/{last.epochs_total}" if last is not None else ""
            quiet = (f" · nothing new for {news.quiet_s / 60:.0f} min" if news.quiet_s >= QUIET_NOTE_S else "")
            window.statusBar().showMessage(f"Watching {news.folder.name}{where}{quiet}")

    def _show_spec(self, spec) -> None:
        """The watched model in the builder (as opening a project would put it there), before its reports."""
        self._spec_shown = True
        name = self.follower.out.name if self.follower is not None else spec.name
        self.window._put_in_place(Project(spec=spec, name=name), None)
        self.window.dashboard.clear()

    def _on_failed(self, message: str) -> None:
        self._end_watch()
        self.window.show_error("Cannot watch this folder", message)

    def _open_finished(self, run) -> None:
        """Open the ended run as an unsaved project, keeping the curves drawn while it trained: its data is
        loaded again (on a worker) and the explorer and the canvas get its weights once it is there."""
        window = self.window
        dashboard = window.dashboard
        self.finished_run = run
        name = self.follower.out.name if self.follower is not None else run.spec.name
        self._end_watch()
        project = Project(spec=run.spec, run=run, dataset=run.dataset, curves=dashboard.recorder.to_json(),
                          marks=dashboard.recorder.marks_to_json(), name=name)
        self._opening = True
        window._put_in_place(project, None)
        if self._final is not None:  # the restore keeps numbers only: the closing pictures come back
            dashboard.add_report(self._final)

    def _on_opened(self, _path: str) -> None:
        if not self._opening:
            return
        self._opening = False
        run = self.finished_run
        result = run.result if run is not None else None
        how = StopReason(result.stop_reason).value.replace("_", " ") if result is not None else "ended"
        if run is not None and self.window.projects.waiting_run is None:
            self.window.statusBar().showMessage(f"The watched run has finished ({how}): its model is in the window, "
                                                f"on the Latent space and Draw tabs too", 10000)
