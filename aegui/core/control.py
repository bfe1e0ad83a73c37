"""Cooperative pause, stop and live-tunable values shared with a running trainer.

The trainer runs in another thread (the GUI's worker) or in the same one (the
command line). Everything here is safe to call from any thread; the trainer
only looks at it between steps, which is what "cooperative" means.
"""
from __future__ import annotations

import threading

# The values a user may change while training runs (they apply at the next step) and their words:
# one table in spec_rules, named here too for the callers that know them from this module.
from .spec_rules import LIVE_VALUE_WORDS, LIVE_VALUES  # noqa: F401


class TrainControl:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        # Whether anyone shows the snapshot (reconstructions, filters): a report without one
        # skips a forward pass and a weight copy. The command line never wants them.
        self._snapshots_wanted = threading.Event()
        self._snapshots_wanted.set()

    # --- snapshots --------------------------------------------------------------
    def set_snapshots_wanted(self, wanted: bool) -> None:
        (self._snapshots_wanted.set if wanted else self._snapshots_wanted.clear)()

    @property
    def snapshots_wanted(self) -> bool:
        return self._snapshots_wanted.is_set()

    # --- pause / stop ---------------------------------------------------------
    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()  # a paused trainer must wake up to notice the stop

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block until resumed or stopped; True when training should go on."""
        self._resume.wait(timeout)
        return not self._stop.is_set()

    # --- live values ----------------------------------------------------------
    def set(self, name: str, value: float) -> None:
        if name not in LIVE_VALUES:
            raise ValueError(f"{name!r} cannot be changed while training; live values are {', '.join(LIVE_VALUES)}")
        value = float(value)
        if value < 0 or (name == "lr" and value == 0) or value != value:
            raise ValueError(f"{name} must be a number above 0, not {value}")
        with self._lock:
            self._pending[name] = value

    def take_changes(self) -> dict[str, float]:
        """The values set since the last call (and forget them)."""
        if not self._pending:  # cheap unlocked peek: the common case is "nothing new"
            return {}
        with self._lock:
            changes, self._pending = self._pending, {}
        return changes
