"""Python's cyclic garbage collector runs on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate when a threshold is
crossed. A closed window's widgets often sit in reference cycles (a lambda connected to a
signal that holds ``self``), so a collection in a worker thread (the builder's summary, a
training run, a map job) would delete those widgets' C++ objects there, off the GUI thread,
which Qt does not allow: the suite saw it as a segfault when QApplication.topLevelWidgets()
next walked the top-level list. So automatic collection is turned off and this object runs
it from a GUI-thread timer, with the generations and thresholds Python would have used.
Reference counting still frees everything that is not in a cycle at once, in any thread.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 250  # how often the GUI thread looks at the allocation counts


class GuiThreadCollector(QObject):
    """Disable automatic collection and collect from a timer on the thread that made this object."""

    def __init__(self, parent: QObject | None = None, check_ms: int = CHECK_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int:
        """Collect the oldest generation whose count passed its threshold (Python's own rule); the
        number of objects found unreachable, 0 when nothing was due."""
        counts = gc.get_count()
        if counts[0] <= self.thresholds[0]:
            return 0
        generation = 0
        if counts[1] > self.thresholds[1]:
            generation = 2 if counts[2] > self.thresholds[2] else 1
        return gc.collect(generation)

    def stop(self) -> None:
        """Hand collection back to Python (as it was before)."""
        self.timer.stop()
        if self.was_enabled:
            gc.enable()


_collector: GuiThreadCollector | None = None


def collect_on_gui_thread(app) -> GuiThreadCollector:
    """Install the collector once for ``app`` (the QApplication); later calls return it."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(app)
    return _collector
