"""Loads datasets off the GUI thread, so a large import never freezes the window.

Decoding a folder of 60,000 images takes seconds. The data panel asks this
loader for a dataset; a latest-wins ``Worker`` runs ``core.data.load_dataset``
in a plain thread and hands the result back on the GUI thread. A newer load,
or closing the window, cancels the older one (the importers look at the
cancel token every 64 images, every 1 MiB of a table's text, every 32 MiB of a gzip stream and every 4 MiB block
of an .npz member), and a late result of a cancelled load is dropped.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from ..core.data import DataError, Dataset, load_dataset
from ..core.run import DatasetRef, dataset_checksum
from .workers import CancelToken, Worker


def load_options(options: dict | None) -> dict:
    """load_dataset's keyword arguments from their JSON form (a project stores image_size as a list)."""
    kw = dict(options or {})
    if isinstance(kw.get("image_size"), list):
        kw["image_size"] = tuple(kw["image_size"])
    return kw


def load_with_options(token: CancelToken, name_or_path: str, options: dict | None = None):
    """``load_dataset(name_or_path, **options)`` on a worker thread; every failure is one DataError line."""
    try:
        return load_dataset(name_or_path, cancel=token.is_set, **load_options(options))
    except DataError:
        raise  # the engine's message is already the one line the user should read
    except MemoryError:  # past what the importers' own budget foresaw; the dataset already open is kept
        raise DataError(f"{name_or_path} does not fit in memory; import fewer samples (Limit) or smaller "
                        f"images") from None
    except Exception as exc:  # an importer bug must not take the app down with it
        raise DataError(f"could not load {name_or_path}: {type(exc).__name__}: {exc}") from exc


def _load(token: CancelToken, name_or_path: str, limit: int | None):
    return load_with_options(token, name_or_path, {"limit": limit} if limit else {})


# --- an opened project's data: is what is loaded, or what its reference loads, the same data? ----------
def same_shape(dataset: Dataset | None, ref: DatasetRef) -> bool:
    return (dataset is not None and dataset.name == ref.name and len(dataset) == ref.size
            and tuple(dataset.sample_shape) == tuple(ref.sample_shape))


def find_data(token, ref: DatasetRef, current: Dataset | None):
    """Worker job: (status, dataset or message). "same": ``current`` is the data; "loaded": loaded
    again from ``ref``; "differs": it loads but its checksum is another; "missing": it does not load."""
    if same_shape(current, ref) and dataset_checksum(current) == ref.checksum:
        return "same", current
    try:
        dataset = load_with_options(token, ref.source, ref.options)
    except DataError as exc:
        return "missing", str(exc)
    if dataset_checksum(dataset) != ref.checksum:
        return "differs", dataset
    return "loaded", dataset


def checksum_job(token, dataset: Dataset) -> str:
    return dataset_checksum(dataset)


class DatasetLoader(QObject):
    loaded = Signal(object)  # the Dataset
    failed = Signal(str)  # the engine's one-line message
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker = Worker("load", self, latest_wins=True)
        self._worker.done.connect(self.loaded)
        self._worker.failed.connect(self.failed)
        self._worker.busyChanged.connect(self.busyChanged)
        # The keyword arguments of the newest load (latest wins, so they are the delivered one's).
        self.options: dict = {}

    @property
    def busy(self) -> bool:
        return self._worker.busy

    @property
    def _thread(self) -> threading.Thread | None:
        """The newest load's thread until it has been joined (tests look at it)."""
        return self._worker.thread

    def load(self, name_or_path: str, limit: int | None = None) -> None:
        """Start loading; ``loaded`` or ``failed`` follows. A load still running is cancelled."""
        self.options = {"limit": limit} if limit else {}
        self._worker.submit(_load, name_or_path, limit)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the loads' threads end (tests and scripts); True when they did."""
        return self._worker.wait(timeout)

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Cancel any load and join its thread; True when nothing is left running."""
        return self._worker.shutdown(timeout)
