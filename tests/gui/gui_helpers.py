"""Helpers shared by the GUI tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QStatusBar, QWidget

# Names the automation contract promises (see MainWindow and the panels).
STABLE_NAMES = (
    "presetCombo", "epochsSpin", "latentDimSpin", "trainButton", "pauseButton", "stopButton", "modelBuilder",
    "dataPanel", "trainingDashboard", "latentExplorer", "drawCanvas", "paramCountLabel", "shapesList",
    "problemsLabel", "layerTable", "addLayerButton", "removeLayerButton", "dataErrorLabel", "lockedBanner",
)


AUTOSAVE_THREAD = "aegui-project-save-"


def aegui_threads() -> list[threading.Thread]:
    """The app's worker threads, less the project autosave's: it writes the recovery file at each
    epoch's end, beside the run, and may outlive it by a moment. The leak guard (_no_leaks) still
    fails a test that leaves one behind, and closing joins it."""
    return [t for t in threading.enumerate()
            if t.name.startswith("aegui-") and not t.name.startswith(AUTOSAVE_THREAD) and t.is_alive()]


def active_window_timers() -> list[QTimer]:
    """Running QTimers owned (at any depth) by a top-level widget that still exists.

    QStatusBar's own timer that clears a temporary message is Qt's, not the app's,
    and ends by itself: it is not counted.
    """
    timers = []
    for w in QApplication.topLevelWidgets():
        if not shiboken6.isValid(w):
            continue
        timers.extend(t for t in w.findChildren(QTimer)
                      if shiboken6.isValid(t) and t.isActive() and not isinstance(t.parent(), QStatusBar))
    return timers


def describe_timer(t: QTimer) -> str:
    chain, obj = [], t.parent()
    while obj is not None and len(chain) < 4:
        chain.append(f"{type(obj).__name__}({obj.objectName()!r})")
        obj = obj.parent()
    kind = "single-shot" if t.isSingleShot() else "repeating"
    return f"{kind} {t.interval()} ms timer in {' < '.join(chain) or 'nothing'}"


def flush_deferred_deletes() -> None:
    app = QApplication.instance()
    app.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


def close_error_dialogs() -> None:
    for w in QApplication.topLevelWidgets():
        if shiboken6.isValid(w) and isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible():
            w.close()


def find_one(window: QWidget, cls, name: str):
    found = window.findChildren(cls, name)
    assert len(found) == 1, f"expected one {cls.__name__} named {name!r}, found {len(found)}"
    return found[0]


def bound_editor(window, path: str) -> QWidget:
    """The builder's editor bound to a dotted spec path (its 'specPath' property)."""
    hits = [w for w in window.builder.findChildren(QWidget) if w.property("specPath") == path]
    assert len(hits) == 1, f"expected one editor for {path!r}, found {len(hits)}"
    return hits[0]


def set_epochs(qtbot, window, epochs: int) -> None:
    from PySide6.QtWidgets import QSpinBox

    spin = find_one(window, QSpinBox, "epochsSpin")
    spin.setValue(epochs)
    assert window.state.spec.train.epochs == epochs


def draw_dashboard(d, qapp) -> None:
    """Every panel draws the newest report (what a few timer ticks would do)."""
    for _ in range(10):
        if not d.schedule.pending:
            break
        d.refresh()
    qapp.processEvents()
    assert not d.schedule.pending
