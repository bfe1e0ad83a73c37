"""Signals during a headless run: the first stops it cleanly, the second aborts it without a traceback.

Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal or ssh session (SIGHUP) all mean
"stop": the first one stops training cooperatively after the current step, so the
weights so far, the history and the summary are still written. A second one aborts at
once; the run's files are all written atomically into its own temporary folder, so an
abort leaves no half-written file where a good one was. While the finished run is being
saved, the signals are held off: that save is short, and it is the thing they would lose.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
WORDS = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM", "SIGHUP": "SIGHUP (the terminal closed)"}


class Aborted(BaseException):
    """A second stop signal: leave now. The exit code is the shell's 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.exit_code = 128 + signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # only there may signals be handled


class StopOnSignals:
    """While entered, the first stop signal stops training through ``control``; ``hit`` is then the
    exit code the run ends with (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP). ``announce``
    False keeps it silent: under torchrun only rank 0 speaks (torchrun signals every process)."""

    def __init__(self, control, announce: bool = True) -> None:
        self.control = control
        self.announce = announce
        self.hit = 0
        self._previous: dict[int, object] = {}

    def _first(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        again = "Ctrl-C" if name == "SIGINT" else "send it"
        if self.announce:
            print(f"\n{WORDS.get(name, name)}: stopping after this step and saving the run ({again} again to abort)",
                  file=sys.stderr)
        self.hit = 128 + signum
        self.control.stop()
        for other in STOP_SIGNALS:
            signal.signal(other, self._second)

    @staticmethod
    def _second(signum, frame) -> None:
        raise Aborted(signum)

    def __enter__(self) -> "StopOnSignals":
        if _in_main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._first)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@contextmanager
def signals_held():
    """Hold stop signals off for the duration (the final save); they are acted on when it ends."""
    if not _in_main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
