"""Loads datasets off the GUI thread, so a large import never freezes the window.

Decoding a folder of 60,000 images takes seconds. The data panel asks this
loader for a dataset; a plain ``threading.Thread`` runs ``core.data.load_dataset``
(nothing Qt runs there) and hands the result back through a queued signal.
Each load has a generation id: a newer load, or closing the window, cancels the
older one and its late result is dropped, as the training controller does with
stale reports.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

from ..core.data import DataError, LoadCancelled, load_dataset


class DatasetLoader(QObject):
    loaded = Signal(object)  # the Dataset
    failed = Signal(str)  # the engine's one-line message
    busyChanged = Signal(bool)
    _workerDone = Signal(int, object, str)  # generation, Dataset or None, message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None
        self._busy = False
        self._workerDone.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._busy

    def load(self, name_or_path: str, limit: int | None = None) -> None:
        """Start loading; ``loaded`` or ``failed`` follows. A load still running is cancelled."""
        self._cancel_current()
        self._generation += 1
        cancel = threading.Event()
        self._cancel = cancel
        self._thread = threading.Thread(target=self._work, args=(self._generation, name_or_path, limit, cancel),
                                        name=f"aegui-load-{self._generation}", daemon=True)
        self._set_busy(True)
        self._thread.start()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the current load's thread ends (tests and scripts); True when it did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Cancel any load and join its thread; True when nothing is left running."""
        self._cancel_current()
        self._generation += 1  # a result already queued belongs to nobody now
        alive = not self.wait(timeout)
        self._set_busy(False)
        return not alive

    def _cancel_current(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    # --- the worker thread: loads and emits, touches nothing else ---------------------------
    def _work(self, generation: int, name_or_path: str, limit: int | None, cancel: threading.Event) -> None:
        try:
            dataset = load_dataset(name_or_path, limit=limit, cancel=cancel.is_set)
        except LoadCancelled:
            return  # superseded: nobody waits for this result
        except DataError as exc:
            self._workerDone.emit(generation, None, str(exc))
        except Exception as exc:  # an importer bug must not take the app down with it
            self._workerDone.emit(generation, None, f"could not load {name_or_path}: {type(exc).__name__}: {exc}")
        else:
            self._workerDone.emit(generation, dataset, "")

    # --- back on the GUI thread ------------------------------------------------------------------
    @Slot(int, object, str)
    def _on_done(self, generation: int, dataset, message: str) -> None:
        if generation != self._generation:
            return  # a cancelled load that finished anyway
        self._set_busy(False)
        if dataset is None:
            self.failed.emit(message)
        else:
            self.loaded.emit(dataset)
