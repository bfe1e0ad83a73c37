"""From a path (or a torchvision name) to the right importer.

A folder is a folder of images, or of IDX files when it holds them; a file
goes by its suffix, and a file with an unknown suffix is recognised by the
IDX magic number. Nothing here writes beside the user's files.
"""
from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .arrays import array_to_dataset, load_npy, load_npz
from .dataset import DataError, Dataset, stratified_limit
from .idx import has_idx_magic, idx_pairs_in_folder, load_idx, looks_like_idx_name
from .images import IMAGE_SUFFIXES, load_image_folder
from .tables import load_table

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
TORCHVISION_PREFIX = "torchvision:"
# Errors that reading a malformed file can raise below our own checks; each becomes a DataError.
READ_ERRORS = (OSError, EOFError, MemoryError, zipfile.BadZipFile, NotImplementedError, struct.error,
               UnicodeError, zlib.error, OverflowError)


def _suffix(path: Path) -> str:
    """The meaningful suffix: '.csv' for data.csv.gz, '.gz' for an IDX .gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == ".gz" and suffixes[-2] in TABLE_SUFFIXES:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def load_path(path: Path, *, image_size=None, channels=None, kind=None, label_column=None, labels_path=None,
              standardise=True, limit=None, seed=0, budget_bytes=None, cancel=None) -> Dataset:
    """The user's file or folder as a Dataset; only options that fit its type may be given."""
    common = dict(limit=limit, seed=seed, budget_bytes=budget_bytes)
    suffix = _suffix(path)
    if labels_path is not None and (path.is_dir() or suffix != ".npy"):
        raise DataError(f"{path}: a separate labels file is read only beside a .npy array")
    if label_column is not None and (path.is_dir() or suffix not in TABLE_SUFFIXES):
        raise DataError(f"{path}: a label column can be chosen only for a table (.csv, .tsv, .txt)")

    if path.is_dir():
        if idx_pairs_in_folder(path):
            return load_idx(path, kind=kind, standardise=standardise, cancel=cancel, **common)
        # Image size and channels are applied while decoding, not afterwards.
        return load_image_folder(path, image_size=image_size, channels=channels, cancel=cancel, **common)
    if not path.is_file():
        raise DataError(f"{path}: not a regular file or folder")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    if suffix == ".npy":
        return load_npy(path, kind=kind, standardise=standardise,
                        labels_path=None if labels_path is None else Path(labels_path), **common)
    if suffix == ".npz":
        return load_npz(path, kind=kind, standardise=standardise, cancel=cancel, **common)
    if suffix in TABLE_SUFFIXES:
        return load_table(path, label_column=label_column, standardise=standardise, cancel=cancel, **common)
    if looks_like_idx_name(path) or has_idx_magic(path):
        return load_idx(path, kind=kind, standardise=standardise, cancel=cancel, **common)
    if suffix in IMAGE_SUFFIXES:
        raise DataError(f"{path}: a single image is one sample; give the folder that holds the images instead")
    raise DataError(
        f"{path}: unrecognised file type '{suffix or path.name}'; expected a folder of images, an .npy or "
        f".npz array, a .csv/.tsv/.txt table, or MNIST-format IDX files (raw or .gz)"
    )


# --- torchvision: optional, online, never needed by the tests ------------------------


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aegui" / "torchvision"


def load_torchvision(name: str, *, kind=None, limit=None, seed=0, standardise=True, root: Path | None = None) -> Dataset:
    """A torchvision dataset such as FashionMNIST, downloaded once into the user's cache."""
    where = f"{TORCHVISION_PREFIX}{name}"
    try:
        import torchvision.datasets as tv_datasets
    except ImportError:
        raise DataError(
            f"{where}: needs the torchvision package, which is not installed (pip install torchvision); "
            f"the built-in sets and your own files work without it"
        ) from None
    matches = [n for n in dir(tv_datasets) if n.lower() == name.lower() and isinstance(getattr(tv_datasets, n), type)]
    if not matches:
        raise DataError(f"{where}: torchvision has no dataset of that name; try e.g. MNIST, FashionMNIST, KMNIST, CIFAR10")
    cls = getattr(tv_datasets, matches[0])
    root = root or _cache_dir()
    attempts = [dict(train=True), dict(split="train"), dict(split="balanced"), {}]
    dataset, last_error = None, None
    for extra in attempts:
        try:
            dataset = cls(root=str(root), download=True, **extra)
            break
        except TypeError as err:  # this class takes other arguments: try the next form
            last_error = err
        except Exception as err:  # network, checksum or format failures, all for the user
            raise DataError(f"{where}: could not be downloaded or read into {root} ({type(err).__name__}: {err}); "
                            f"the first use needs internet") from None
    if dataset is None:
        raise DataError(f"{where}: this torchvision dataset cannot be loaded here ({last_error})")
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if targets is None:
        targets = getattr(dataset, "labels", None)
    if data is None or not hasattr(data, "shape"):
        raise DataError(f"{where}: holds no in-memory image array; only array-backed sets such as MNIST or CIFAR work")
    x = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    labels = None if targets is None else np.asarray(targets.numpy() if hasattr(targets, "numpy") else targets)
    if limit is not None and limit < len(x):
        index = stratified_limit(labels, len(x), limit, seed)
        x, labels = x[index], None if labels is None else labels[index]
    classes = getattr(dataset, "classes", None)
    result = array_to_dataset(x, name, where, kind=kind, labels=labels, standardise=standardise, source=where,
                              description=f"torchvision {matches[0]} (training part)")
    if classes and result.labels is not None and len(classes) > int(result.labels.max()):
        result.label_names = [str(c) for c in classes]
    return result
