"""Samples that stay on disk: a memory-mapped .npy, read batch by batch by DataLoader workers.

In memory (the default) the trainer copies every training row onto the device once and
gathers each batch there. That is the fastest path while the data fits, but 1M images of
64x64 bytes are 4 GB on every process of a run, 32 GB on a machine of 8 GPUs, and the
import reads the whole file first. ``open_npy_stream`` instead gives a Dataset whose ``x``
is a read-only ``np.memmap`` of the file: nothing is read until rows are asked for.
``TrainStream`` then reads each step's rows as the run goes:

- The epoch's permutation is drawn from the run's generator exactly as in memory, copied
  to the host once an epoch (the only read-back; never inside a step), and cut into the
  same global batches. A batch holds the same rows in the same order as the in-memory
  ``train_x[order[b*B:(b+1)*B]]``, so a streamed run trains bit for bit as the in-memory
  run of the same file.
- Each process of a torchrun job reads only its own rows of each global batch (the rows
  ``Distributed.shard`` keeps) and places them in a batch of the global size whose other
  rows are zeros. The trainer draws corruption noise for the whole global batch, so every
  process's random stream advances as one process's would; the noise is elementwise, so
  the placeholder rows never reach this process's rows, and ``shard`` drops them.
- DataLoader workers (``workers`` processes; 0 reads in the training process) read the rows
  of the coming batches while the device trains on this one; on CUDA the batches come in
  pinned memory and are copied to the device without waiting.

Limits, each refused in one line: the file must hold uint8 images in C order, (N, H, W) or
(N, C, H, W) with 1 or 3 channels (a channels-last or float file is converted once with
numpy: ``np.save(out, x.transpose(0, 3, 1, 2))``); --limit, --image-size, --channels, a label
column and --without-class would each copy rows out of the file, so they do not combine
with --stream. The validation rows are copied to the device, as in memory (``val_fraction``
bounds them), and so are the rows a snapshot shows.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .arrays import _npy_header_and_order, load_labels_file
from .dataset import DataError, Dataset, require_two_samples

# Two readers keep a GPU busy at 64x64 (docs/scaling.md): a batch of 512 images is 2 MB to copy.
DEFAULT_STREAM_WORKERS = 2


def stream_refusal(where: str, *, limit=None, image_size=None, channels=None, kind=None,
                   label_column=None) -> str | None:
    """Why these import options cannot stream (each would copy rows out of the file), or None."""
    given = [name for name, value in (("--limit", limit), ("--image-size", image_size), ("--channels", channels),
                                      ("--label-column", label_column)) if value is not None]
    if given:
        return (f"{where}: {given[0]} cannot be used with --stream: it copies rows out of the file; "
                f"train on the file as it is, or leave out --stream to load it in memory")
    if kind not in (None, "image"):
        return f"{where}: --stream reads images; --kind {kind} needs the data in memory (leave out --stream)"
    return None


def open_npy_stream(path: str | os.PathLike, *, kind: str | None = None,
                    labels_path: str | os.PathLike | None = None) -> Dataset:
    """A Dataset whose samples stay in the .npy file ``path`` (read-only, memory-mapped).

    Labels come from ``labels_path`` or a ``NAME_labels.npy`` beside the file, as in memory."""
    path = Path(path)
    where = str(path)
    if path.suffix.lower() != ".npy":
        raise DataError(f"{where}: --stream reads a .npy array file; this is not one (load it in memory, or save "
                        f"the samples with numpy.save)")
    problem = stream_refusal(where, kind=kind)
    if problem:
        raise DataError(problem)
    with open(path, "rb") as f:
        shape, fortran, dtype = _npy_header_and_order(f, where)
        offset = f.tell()
    shape = _image_shape(shape, fortran, dtype, where)
    require_two_samples(shape[0], where)
    needed = offset + math.prod(shape)
    size = path.stat().st_size
    if size < needed:
        raise DataError(f"{where}: the array data is cut short ({size:,} bytes; its header promises {needed:,})")
    x = np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)
    labels = label_names = None
    labels_path = labels_path if labels_path is not None else _labels_beside(path)
    if labels_path is not None:
        labels, label_names = load_labels_file(Path(labels_path), shape[0])
    return Dataset(name=path.stem, x=x, kind="image", labels=labels, label_names=label_names, source=where,
                   description=f"arrays from {path.name}, read from the file as training goes")


def _labels_beside(path: Path) -> Path | None:
    # The names load_npy picks up beside an array, so a streamed file has the labels it has in memory.
    for candidate in (path.with_name(path.stem + "_labels.npy"), path.with_name(path.stem + ".labels.npy")):
        if candidate.is_file() and candidate != path:
            return candidate
    return None


def _image_shape(shape: tuple[int, ...], fortran: bool, dtype: np.dtype, where: str) -> tuple[int, int, int, int]:
    """(N, C, H, W) of a file whose rows can be mapped as they lie, or one line saying why not."""
    layout = ("images as uint8 (N, H, W) or (N, C, H, W) with 1 or 3 channels; convert it once with numpy "
              "(np.save(out, x.astype(np.uint8)), channels first) or leave out --stream to load it in memory")
    if dtype != np.uint8:
        raise DataError(f"{where}: holds {dtype} values; --stream reads {layout}")
    if len(shape) == 3:
        shape = (shape[0], 1, shape[1], shape[2])
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise DataError(f"{where}: holds an array of shape {shape}; --stream reads {layout}")
    if fortran and shape[0] > 1:
        raise DataError(f"{where}: is stored in Fortran (column) order, so a sample's values are not together "
                        f"in the file; --stream reads C-order {layout}")
    if min(shape[1:]) < 1:
        raise DataError(f"{where}: each sample is empty (array shape {shape})")
    return shape


def is_streamed(dataset: Dataset) -> bool:
    """Whether ``dataset``'s samples stay in their file (a copy of some rows is an ordinary array)."""
    return isinstance(dataset.x, np.memmap)


def device_data_bytes(dataset: Dataset, val_fraction: float) -> int:
    """The bytes of data a run puts on the device: all of it in memory; streamed, the validation rows."""
    if not is_streamed(dataset):
        return dataset.x.nbytes
    return math.ceil(dataset.x.nbytes * val_fraction)


class RowReader:
    """Rows of a mapped uint8 array, by row number. Picklable without its data: a DataLoader worker
    maps the file again on its first read (pickling a memmap would copy the whole array)."""

    def __init__(self, mapped: np.memmap):
        self.filename, self.offset = mapped.filename, mapped.offset
        self.shape, self.dtype = tuple(mapped.shape), mapped.dtype
        self._mapped: np.memmap | None = mapped

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _mapped=None)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` in that order, read in file order (one forward pass over the pages)."""
        if self._mapped is None:
            self._mapped = np.memmap(self.filename, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)
        ascending = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        out[ascending] = self._mapped[rows[ascending]]
        return out


def _leave_stopping_to_the_trainer(worker_id: int) -> None:
    """A worker ignores the stop signals. A Ctrl-C reaches the terminal's whole process group, and
    systemd or a batch scheduler send SIGTERM to every process of a job: a worker that died of one would
    fail the run unsaved, and one running the handlers it inherits (cli/signals.py) would announce the
    stop once more. The training process stops the run cooperatively and then ends its workers; a worker
    whose training process has died ends by itself (DataLoader's watchdog)."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


class TrainStream:
    """The training rows of a streamed dataset, batch by batch, for one process of a run.

    ``batch(order, b)`` is the global batch ``b`` of the epoch whose permutation (of the training
    rows) is ``order``, on ``device``: in one process, exactly ``train_x[order[b*B:(b+1)*B]]`` of
    the in-memory path; under torchrun, this rank's rows of it and zeros elsewhere."""

    def __init__(self, mapped: np.memmap, train_index: np.ndarray, batch_size: int, steps_per_epoch: int,
                 device, rank: int = 0, world_size: int = 1, workers: int = DEFAULT_STREAM_WORKERS):
        if batch_size % world_size:
            raise ValueError(f"batch {batch_size} does not divide among {world_size} processes")
        if workers < 0:
            raise ValueError(f"workers must be 0 or more, not {workers}")
        self.reader = RowReader(mapped)
        self.train_index = np.asarray(train_index, dtype=np.int64)
        self.batch_size, self.steps_per_epoch = batch_size, steps_per_epoch
        self.device, self.rank, self.world_size, self.workers = device, rank, world_size, workers
        self._order = None  # the permutation being read, and the batch that comes next
        self._next = -1
        self._batches = None

    def spread_rows(self, count: int):
        """``count`` training rows spread over the set, on the device: what a snapshot shows when the run
        has no validation rows (SnapshotBatch spreads its pick the same way over the rows it is given)."""
        import torch

        n = len(self.train_index)
        pick = np.linspace(0, n - 1, min(count, n)).round().astype(np.int64)
        return torch.from_numpy(self.reader[self.train_index[pick]]).to(self.device)

    def batch(self, order, b: int):
        """Global batch ``b`` of the epoch permuted by ``order`` (a tensor on any device)."""
        if order is not self._order or b != self._next:
            self._start(order, b)  # a new epoch, a resumed run, or a new phase
        rows = next(self._batches)
        self._next = b + 1
        x = rows.to(self.device, non_blocking=True)
        if self.world_size == 1:
            return x
        import torch

        share = self.batch_size // self.world_size
        full = torch.zeros((self.batch_size, *x.shape[1:]), dtype=x.dtype, device=self.device)
        full[self.rank * share:(self.rank + 1) * share] = x
        return full

    def plan(self, order: np.ndarray, first: int) -> list[np.ndarray]:
        """File rows this process reads for batches ``first``.. of the epoch permuted by ``order``."""
        rows = self.train_index[order]
        share = self.batch_size // self.world_size
        start = self.rank * share
        return [rows[b * self.batch_size + start:b * self.batch_size + start + share]
                for b in range(first, self.steps_per_epoch)]

    def _start(self, order, first: int) -> None:
        import torch
        from torch.utils.data import DataLoader

        self.close()
        host_order = order.detach().to("cpu").numpy()  # once an epoch: the loop's only read-back for data
        cuda = torch.device(self.device).type == "cuda"
        loader = DataLoader(
            self.reader, batch_size=None, sampler=self.plan(host_order, first), num_workers=self.workers,
            pin_memory=cuda,
            # Its own generator: a DataLoader otherwise seeds its workers from torch's global stream,
            # which a run never draws from (two trainers may share a process).
            generator=torch.Generator(), worker_init_fn=_leave_stopping_to_the_trainer,
        )
        self._batches = iter(loader)
        self._order, self._next = order, first

    def close(self) -> None:
        """End the readers of the epoch under way (an exhausted epoch has ended them already)."""
        self._batches = None  # the iterator's last reference: its workers are shut down now
        self._order, self._next = None, -1
