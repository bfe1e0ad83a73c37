"""Datasets: built-in sets, importers for the user's files, and the in-memory container.

``load_dataset`` is the one entry point: a built-in name, a path, or
``torchvision:Name``. Every problem with the input comes out as a DataError
whose one-line message names the file and, where it applies, the line or
record, what was expected and what was found.
"""
from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Callable

from .arrays import array_to_dataset, check_finite, labels_from_values
from .builtin import BUILTIN_DATASETS, MNIST_CREDIT, load_mnist5k, resources_dir
from .dataset import (
    DEFAULT_BUDGET_BYTES, DataError, Dataset, LoadCancelled, check_budget, format_bytes, per_feature_standardise,
    require_two_samples, split_indices, stratified_limit, unstandardise,
)
from .images import IMAGE_SUFFIXES, adapt_images
from .importers import READ_ERRORS, TORCHVISION_PREFIX, load_path, load_torchvision
from .shapes import load_shapes
from .streaming import DEFAULT_STREAM_WORKERS, is_streamed, open_npy_stream, stream_refusal
from .synthetic import load_signals, load_transactions

__all__ = [
    "BUILTIN_DATASETS",
    "DEFAULT_BUDGET_BYTES",
    "DEFAULT_STREAM_WORKERS",
    "IMAGE_SUFFIXES",
    "MNIST_CREDIT",
    "DataError",
    "LoadCancelled",
    "Dataset",
    "adapt_images",
    "array_to_dataset",
    "check_budget",
    "check_finite",
    "format_bytes",
    "is_streamed",
    "labels_from_values",
    "load_dataset",
    "load_mnist5k",
    "load_shapes",
    "load_signals",
    "load_transactions",
    "open_npy_stream",
    "per_feature_standardise",
    "require_two_samples",
    "resources_dir",
    "split_indices",
    "stratified_limit",
    "unstandardise",
]


def load_dataset(
    name_or_path: str | os.PathLike,
    limit: int | None = None,
    seed: int = 0,
    *,
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    kind: str | None = None,
    label_column: str | int | None = None,
    labels_path: str | os.PathLike | None = None,
    standardise: bool = True,
    budget_bytes: int | None = DEFAULT_BUDGET_BYTES,
    cancel: Callable[[], bool] | None = None,
    stream: bool = False,
) -> Dataset:
    """A built-in set by name, the user's file or folder by path, or ``torchvision:Name``.

    - ``limit`` keeps a stratified subsample of that many samples (chosen
      before decoding where the format allows); ``seed`` picks which.
    - ``image_size`` (an int or (height, width)) resizes images; ``channels``
      (1 or 3) makes them grey or colour.
    - ``kind`` ("image", "vector", "sequence") overrides what an array is taken to be.
    - ``label_column`` (name or index) picks a table's label column;
      ``labels_path`` gives an .npy array its labels.
    - ``standardise`` maps tables and signals to zero mean, unit std per feature
      (statistics kept in the Dataset; see ``unstandardise``).
    - ``budget_bytes`` (None: no limit) refuses, before loading, data whose
      float32 size is over it.
    - ``cancel()`` returning True stops a long load (a folder of images, a
      gzipped or large file as it streams) with LoadCancelled; the GUI's loader
      thread uses it.
    - ``stream`` leaves an .npy file's samples on disk, memory-mapped, for data
      that does not fit in memory; the trainer reads them batch by batch
      (streaming.py says what it takes and what it refuses).

    Compressed and large files are read as bounded streams: a gzipped IDX file
    stops at its header's records, a table is counted up to the budget before
    it is parsed, and --limit reads or keeps only the samples it keeps.
    """
    text = os.fspath(name_or_path)
    if stream:
        where = os.fspath(Path(text).expanduser())
        problem = stream_refusal(where, limit=limit, image_size=image_size, channels=channels, kind=kind,
                                 label_column=label_column)
        if problem:
            raise DataError(problem)
        if not Path(where).is_file():
            raise DataError(f"{where}: --stream reads an .npy array file, and there is no such file")
        return open_npy_stream(where, kind=kind, labels_path=labels_path)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 2:
            raise DataError(f"{text}: --limit must be a whole number of at least 2 (training needs 2 samples), not {limit!r}")
        limit = int(limit)
    if text in BUILTIN_DATASETS:
        where = text
        dataset = BUILTIN_DATASETS[text][0]()
        if label_column is not None or labels_path is not None:
            raise DataError(f"{text}: is a built-in set with its own labels; a label column or labels file does not apply")
    elif text.startswith(TORCHVISION_PREFIX):
        where = text
        dataset = load_torchvision(text[len(TORCHVISION_PREFIX):], kind=kind, limit=limit, seed=seed,
                                   standardise=standardise)
    else:
        path = Path(text).expanduser()
        where = str(path)
        if not path.exists():
            names = ", ".join(BUILTIN_DATASETS)
            raise DataError(
                f"unknown dataset '{text}': it is neither a built-in set ({names}) nor an existing file or folder"
            )
        try:
            dataset = load_path(
                path, image_size=image_size, channels=channels, kind=kind, label_column=label_column,
                labels_path=labels_path, standardise=standardise, limit=limit, seed=seed, budget_bytes=budget_bytes,
                cancel=cancel,
            )
        except DataError:
            raise
        except READ_ERRORS as err:
            # Whatever slipped past the format checks still reaches the user as one line, not a traceback.
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"{where}: could not be read ({type(err).__name__}: {detail})") from None
    if limit is not None and limit < len(dataset):
        dataset = dataset.subset(stratified_limit(dataset.labels, len(dataset), limit, seed))
    if dataset.kind == "image" and (image_size is not None or channels is not None):
        dataset = adapt_images(dataset, image_size, channels)
    elif image_size is not None or channels is not None:
        raise DataError(f"{where}: an image size or channel count applies to images; this set holds {dataset.kind} samples")
    require_two_samples(len(dataset), where)
    return dataset
