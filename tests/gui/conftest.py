"""Fixtures for the GUI suite: a leak guard, a small dataset and MainWindow factories.

Every GUI test runs under ``_no_leaks`` (autouse): a test that leaves a new
thread alive, or a running QTimer inside a window, fails in teardown. This is
the idea of napari's ``qtbot`` leak fixtures (record what exists before the
test, look again after the windows are closed), written for this app.

Windows are built only through ``make_window`` / ``window`` so that each one
uses a throw-away ini file (never the user's settings), is registered with
qtbot (pytest-qt closes and deletes it in teardown) and is checked to have
joined its training thread when it closed.
"""
from __future__ import annotations

import gc
import threading
import time

import pytest
import shiboken6
from PySide6.QtCore import QSettings

from gui_helpers import active_window_timers, aegui_threads, close_error_dialogs, describe_timer, flush_deferred_deletes

THREAD_GRACE_S = 3.0  # a finished worker may still be returning from its last emit


@pytest.fixture(scope="session")
def _gui_thread_gc(qapp):
    """As the app does (gui/gc_policy.py): cyclic garbage is collected on the GUI thread only."""
    from aegui.gui.gc_policy import collect_on_gui_thread

    return collect_on_gui_thread(qapp)


# --- the leak guard ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_leaks(qapp, _gui_thread_gc):
    """Fail the test if it leaves a new thread alive or a QTimer running in a window.

    Autouse and depending only on ``qapp``: it is set up before, and torn down
    after, the test's other fixtures and pytest-qt's own widget closing, so it
    sees the state the next test would inherit.
    """
    threads_before = {t.ident for t in threading.enumerate()}
    timers_before = {shiboken6.getCppPointer(t)[0] for t in active_window_timers()}
    yield
    gc.collect()  # the test's widgets in cycles die here, on the GUI thread, not in the next test's workers
    close_error_dialogs()
    qapp.processEvents()
    deadline = time.monotonic() + THREAD_GRACE_S
    new_threads = []
    while True:
        new_threads = [t for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
        if not new_threads or time.monotonic() > deadline:
            break
        for t in new_threads:
            t.join(0.05)
        qapp.processEvents()
    timers = [t for t in active_window_timers() if shiboken6.getCppPointer(t)[0] not in timers_before]
    problems = []
    if new_threads:
        problems.append("threads left running: " + ", ".join(
            f"{t.name} (daemon={t.daemon})" for t in new_threads))
    if timers:
        problems.append("timers left running: " + "; ".join(describe_timer(t) for t in timers))
        for t in timers:  # do not let them leak on into the next test
            t.stop()
    flush_deferred_deletes()
    if problems:
        pytest.fail("leak after the test: " + " | ".join(problems), pytrace=False)


# --- data and windows ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mnist600():
    """600 embedded digits (60 per class): one epoch is 4 steps of 128."""
    from aegui.core.data import load_dataset

    return load_dataset("mnist5k", limit=600, seed=0)


@pytest.fixture
def settings_path(tmp_path):
    return str(tmp_path / "aegui-test.ini")


def settle(qtbot, window) -> None:
    """Before pytest-qt closes a window: close its error dialogs and let the builder's
    120 ms summary debounce finish, as a user closing a settled window would.

    (Closing *during* the debounce leaves that timer running: a known bug that
    test_builder.py::test_close_right_after_an_edit_leaves_no_timer_running keeps
    in view; the leak guard would otherwise report it, by timing, in random tests.)
    """
    close_error_dialogs()
    if shiboken6.isValid(window):
        qtbot.waitUntil(lambda: not window.builder.summary_pending, timeout=5000)


@pytest.fixture
def make_window(qtbot, mnist600, settings_path):
    """Build MainWindows on a temporary ini file; each is shown, registered and closed at teardown."""
    from aegui.gui import MainWindow

    made = []
    threads_before = {t.ident for t in aegui_threads()}

    def make(*, dataset=None, spec=None, settings_file: str | None = None, show: bool = True):
        settings = QSettings(settings_file or settings_path, QSettings.Format.IniFormat)
        window = MainWindow(dataset=dataset if dataset is not None else mnist600, spec=spec, settings=settings)
        qtbot.addWidget(window, before_close_func=lambda w: settle(qtbot, w))
        made.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        # The builder's summary (and memory verdict) comes from a worker: a test starts from a settled window.
        qtbot.waitUntil(lambda: not window.builder.summary_pending, timeout=15_000)
        return window

    yield make
    # pytest-qt has closed the windows by now; close any it could not (idempotent) and check
    # that closing joined the worker: closeEvent must not leave a training thread behind.
    for window in made:
        if shiboken6.isValid(window) and window.isVisible():
            window.close()
    left = [t for t in aegui_threads() if t.ident not in threads_before]
    assert not left, f"closing the window left training threads alive: {[t.name for t in left]}"


@pytest.fixture
def window(make_window):
    return make_window()




@pytest.fixture
def dashboard(qtbot):
    """A shown TrainingDashboard without rate limits, so tests draw at once (a test file may define its own)."""
    from aegui.gui.panels.dashboard import TrainingDashboard

    d = TrainingDashboard()
    qtbot.addWidget(d)
    d.resize(930, 840)
    d.show()
    qtbot.waitExposed(d)
    d.schedule.intervals = dict.fromkeys(d.schedule.intervals, 0.0)
    d.clear()
    yield d
    d.shutdown()
