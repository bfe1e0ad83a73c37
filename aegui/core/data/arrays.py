"""Turning raw arrays into a Dataset, and the user's .npy / .npz files.

Every importer ends here, so the rules for what an array means (image, table
or signal), for labels and for non-finite values live in one place. Arrays are
opened read-only and without pickle, so a file can neither be changed nor run
code.
"""
from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import (
    DataError, Dataset, LoadCancelled, check_budget, check_labels_budget, per_feature_standardise,
    require_two_samples, stratified_limit,
)
from .streams import read_into

# Keys looked for in an .npz, in order of preference.
DATA_KEYS = ("x", "X", "data", "images", "inputs", "features", "samples", "arr_0")
LABEL_KEYS = ("labels", "label", "y", "Y", "targets", "target", "classes", "arr_1")
KINDS = ("image", "vector", "sequence")


def check_finite(x: np.ndarray, where: str) -> None:
    """Refuse NaN or inf, naming the first sample and position that holds one."""
    if x.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(x)
    if not bad.any():
        if x.dtype.itemsize > 4 and x.dtype.kind == "f":
            # Finite here, but the model works in float32: beyond its range a value becomes inf.
            big = np.abs(x) > np.finfo(np.float32).max
            if big.any():
                first = np.argwhere(big)[0]
                position = ", ".join(str(int(i)) for i in first)
                raise DataError(
                    f"{where}: sample {int(first[0])} holds {x[tuple(first)]:.3g} at index [{position}], beyond "
                    f"the largest 32-bit float (3.4e38) the model computes with; rescale the data"
                )
        return
    first = np.argwhere(bad)[0]
    count = int(bad.sum())
    position = ", ".join(str(int(i)) for i in first)
    raise DataError(
        f"{where}: sample {int(first[0])} holds {x[tuple(first)]} at index [{position}] "
        f"({count:,} non-finite value{'s' if count != 1 else ''} in all); expected finite numbers"
    )


def labels_from_values(values: np.ndarray, where: str, n: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer labels 0..K-1 plus their names, from whole numbers or strings.

    Non-negative whole numbers are kept as they are (so digit 7 stays label 7);
    anything else (negative numbers, words) is numbered in sorted order.
    """
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise DataError(f"{where}: labels must be one value per sample; found an array of shape {values.shape}")
    if n is not None and len(values) != n:
        raise DataError(f"{where}: holds {len(values):,} labels but there are {n:,} samples; they must pair one to one")
    if values.dtype.kind in "OSU":
        names, labels = np.unique(values.astype(str), return_inverse=True)
        return labels.astype(np.int64), [str(v) for v in names]
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuf":
        raise DataError(f"{where}: labels must be whole numbers or words; found values of type {values.dtype}")
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if len(bad):
            raise DataError(f"{where}: label {bad[0]} is {values[bad[0]]}; expected a whole number (a class)")
    ints = values.astype(np.int64)
    if len(ints) and ints.min() >= 0 and ints.max() < 10_000:
        return ints, [str(i) for i in range(int(ints.max()) + 1)]
    names, labels = np.unique(ints, return_inverse=True)
    return labels.astype(np.int64), [str(v) for v in names]


def _as_image_uint8(x: np.ndarray, where: str) -> np.ndarray:
    """uint8 pixels from whole numbers 0-255 or from floats 0-1."""
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * 255
    check_finite(x, where)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if x.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return np.round(x * 255.0).astype(np.uint8)
    if lo >= 0 and hi <= 255 and (x.dtype.kind in "iu" or np.all(x == np.round(x))):
        return x.astype(np.uint8)
    raise DataError(
        f"{where}: images must hold pixel values 0-255 or 0-1; found values from {lo:g} to {hi:g} "
        f"(use --kind vector or --kind sequence to read the array as numbers instead)"
    )


def _image_layout(x: np.ndarray, where: str) -> np.ndarray:
    """(N, C, H, W) from (N, H, W), (N, C, H, W) or channels-last (N, H, W, C)."""
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim != 4:
        raise DataError(f"{where}: images must be a 3-D (N, H, W) or 4-D array; found shape {x.shape}")
    if x.shape[1] in (1, 3):
        return x
    if x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.shape[3] == 4:
        # RGBA: the alpha channel is not part of the picture the model should learn.
        return np.ascontiguousarray(x[..., :3].transpose(0, 3, 1, 2))
    raise DataError(
        f"{where}: a 4-D array is read as images with 1 or 3 channels, first (N, C, H, W) or last "
        f"(N, H, W, C); found shape {x.shape}"
    )


def _looks_like_pixels(x: np.ndarray) -> bool:
    if x.dtype in (np.uint8, np.bool_):
        return True
    if x.dtype.kind in "iu" and x.size:
        return int(x.min()) >= 0 and int(x.max()) <= 255
    return False


def infer_kind(x: np.ndarray) -> str:
    """What an array of samples most likely is, from its shape and values."""
    if x.ndim == 2:
        return "vector"
    if x.ndim == 4:
        return "image"
    if x.ndim == 3:
        # Whole-number pixels are images; float (N, T, C) arrays are signals.
        return "image" if _looks_like_pixels(x) else "sequence"
    return "vector"


def array_to_dataset(x: np.ndarray, name: str, where: str, *, kind: str | None = None,
                     labels: np.ndarray | None = None, label_names: list[str] | None = None,
                     standardise: bool = True, feature_names: list[str] | None = None,
                     source: str = "", description: str = "") -> Dataset:
    """A Dataset from an array of samples, checked: shape, finiteness, count."""
    if kind is not None and kind not in KINDS:
        raise DataError(f"{where}: kind must be one of {', '.join(KINDS)}; found {kind!r}")
    if x.ndim < 2 or x.ndim > 4:
        raise DataError(
            f"{where}: expected one sample per row, a 2-D (samples, features), 3-D or 4-D array; "
            f"found a {x.ndim}-D array of shape {x.shape}"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: expected numbers; found an array of type {x.dtype}")
    require_two_samples(len(x), where)
    if any(s == 0 for s in x.shape[1:]):
        raise DataError(f"{where}: each sample is empty (array shape {x.shape})")
    kind = kind or infer_kind(x)
    mean = std = None
    if kind == "image":
        x = _image_layout(_as_image_uint8(x, where), where)
    else:
        if kind == "vector" and x.ndim != 2:
            x = x.reshape(len(x), -1)
        if kind == "sequence" and x.ndim == 2:
            x = x[:, :, None]  # (N, T) -> (N, T, 1): one channel
        if kind == "sequence" and x.ndim != 3:
            raise DataError(f"{where}: sequences must be a (N, T, C) array; found shape {x.shape}")
        check_finite(x, where)
        if standardise:
            x, mean, std = per_feature_standardise(x)
        else:
            x = np.asarray(x, dtype=np.float32)
    if labels is not None and label_names is None:
        labels, label_names = labels_from_values(labels, where, len(x))
    return Dataset(
        name=name, x=np.ascontiguousarray(x), kind=kind, labels=labels, label_names=label_names,
        feature_mean=mean, feature_std=std, feature_names=feature_names if kind == "vector" else None,
        description=description, source=source,
    )


# --- .npy / .npz -----------------------------------------------------------------


def _npy_header_and_order(stream, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from a .npy header, leaving the stream at the data."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except Exception as err:  # numpy parses the header with tokenize/ast: many kinds of error for junk
        text = str(err).split("\n")[0]
        raise DataError(f"{where}: not a NumPy array file (expected a \\x93NUMPY header; {text})") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects, which are not loaded for safety; expected a numeric array")
    return tuple(int(s) for s in shape), bool(fortran), dtype


def _npy_header(stream, where: str) -> tuple[tuple[int, ...], np.dtype]:
    shape, _, dtype = _npy_header_and_order(stream, where)
    return shape, dtype


def _read_array(opener, where: str) -> np.ndarray:
    try:
        with opener() as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)
    except Exception as err:  # as above: a damaged file can fail in many ways inside numpy or zipfile
        text = str(err).split("\n")[0]
        raise DataError(f"{where}: the array data is damaged or cut short ({text})") from None


def _limit_index(labels, n: int, limit: int | None, seed: int) -> np.ndarray | None:
    if limit is None or limit >= n:
        return None
    return stratified_limit(labels, n, limit, seed)


def _sample_shape_for_budget(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[1:] if len(shape) > 1 else (1,)


def load_npy(path: Path, *, kind=None, limit=None, seed=0, budget_bytes=None, standardise=True,
             labels_path: Path | None = None) -> Dataset:
    where = str(path)
    with open(path, "rb") as f:
        shape, _ = _npy_header(f, where)
    if shape:
        check_budget(where, shape[0], _sample_shape_for_budget(shape), f"this file holds {shape[0]:,} samples",
                     budget_bytes, limit)
    if shape and limit is not None and limit < shape[0]:
        # Map the file rather than read it: the subsample then reads only the rows it keeps, so
        # --limit bounds memory as the budget refusal promises.
        try:
            x = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as err:  # a truncated file cannot be mapped
            raise DataError(f"{where}: the array data is damaged or cut short ({str(err).splitlines()[0]})") from None
    else:
        x = _read_array(lambda: open(path, "rb"), where)
    labels = label_names = None
    if labels_path is None:
        # A labels file beside the data, named after it, is picked up by itself.
        for candidate in (path.with_name(path.stem + "_labels.npy"), path.with_name(path.stem + ".labels.npy")):
            if candidate.is_file() and candidate != path:
                labels_path = candidate
                break
    if labels_path is not None:
        labels, label_names = load_labels_file(Path(labels_path), len(x) if x.ndim else None)
    return _finish(x, labels, label_names, path, kind, limit, seed, standardise)


def load_labels_file(path: Path, n: int | None) -> tuple[np.ndarray, list[str]]:
    where = str(path)
    if not path.is_file():
        raise DataError(f"{where}: the labels file does not exist")
    if path.suffix.lower() == ".npy":
        values = _read_array(lambda: open(path, "rb"), where)
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{where}: the labels file is not UTF-8 text") from None
        values = np.array([line.strip() for line in text.splitlines() if line.strip()])
        try:
            values = values.astype(np.float64)
        except ValueError:
            pass  # words: classes by name
    return labels_from_values(values, where, n)


def load_npz(path: Path, *, kind=None, limit=None, seed=0, budget_bytes=None, standardise=True,
             cancel=None) -> Dataset:
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataError(f"{where}: not a NumPy .npz archive (expected a zip file of .npy arrays)") from None
    with archive:
        members = {n[:-4] if n.endswith(".npy") else n: n for n in archive.namelist()}
        if not members:
            raise DataError(f"{where}: the archive holds no arrays")
        shapes = {}
        for key, member in members.items():
            with archive.open(member) as stream:
                shapes[key] = _npy_header(stream, f"{where} (array '{key}')")[0]
        data_key = next((k for k in DATA_KEYS if k in members), None)
        label_key = next((k for k in LABEL_KEYS if k in members and k != data_key), None)
        if data_key is None:
            candidates = [k for k in members if k != label_key]
            many = [k for k in candidates if len(shapes[k]) >= 2]
            if len(many) == 1:
                data_key = many[0]
            else:
                raise DataError(
                    f"{where}: cannot tell which array holds the samples; expected one named "
                    f"{', '.join(DATA_KEYS[:4])} (labels: {', '.join(LABEL_KEYS[:3])}); found "
                    + ", ".join(f"'{k}' {shapes[k]}" for k in members)
                )
        shape = shapes[data_key]
        if shape:
            check_budget(where, shape[0], _sample_shape_for_budget(shape),
                         f"array '{data_key}' holds {shape[0]:,} samples", budget_bytes, limit)
        labels = label_names = None
        if label_key is not None:
            # Checked from the headers, before either array is read.
            label_shape = shapes[label_key]
            if shape and label_shape and label_shape[0] != shape[0]:
                raise DataError(
                    f"{where}: array '{data_key}' holds {shape[0]:,} samples but '{label_key}' holds "
                    f"{label_shape[0]:,} labels; they must pair one to one"
                )
            if shape and limit is not None and limit < shape[0]:
                check_labels_budget(where, shape[0], budget_bytes)
            raw = _read_array(lambda: archive.open(members[label_key]), f"{where} (array '{label_key}')")
            labels, label_names = labels_from_values(raw, f"{where} (array '{label_key}')", shape[0] if shape else None)
        data_where = f"{where} (array '{data_key}')"
        if len(shape) >= 2 and limit is not None and limit < shape[0]:
            # Only the kept rows are copied out of the member as it is decompressed.
            index = stratified_limit(labels, shape[0], limit, seed)
            x = _read_rows(lambda: archive.open(members[data_key]), index, data_where, cancel)
            labels = None if labels is None else labels[index]
            limit = None
        else:
            x = _read_array(lambda: archive.open(members[data_key]), data_where)
    return _finish(x, labels, label_names, path, kind, limit, seed, standardise)


ROWS_BLOCK_BYTES = 4 << 20  # decompressed bytes looked at together when --limit picks rows


def _read_rows(opener, index: np.ndarray, where: str, cancel=None) -> np.ndarray:
    """The rows at ``index`` (sorted) of the .npy array ``opener()`` streams, reading it once, in blocks.

    A C-order array holds its rows one after another; a Fortran-order one holds each column of all
    the rows one after another, so there each block is a run of one column.
    """
    try:
        with opener() as stream:
            shape, fortran, dtype = _npy_header_and_order(stream, where)
            n, per_row = shape[0], math.prod(shape[1:])
            kept = np.empty((len(index), per_row), dtype)
            run_length = 1 if fortran else per_row  # values of one row in one run
            run_bytes = max(run_length * dtype.itemsize, 1)
            per_block = max(1, ROWS_BLOCK_BYTES // run_bytes)
            block = np.empty(per_block * run_bytes, np.uint8)
            for column in range(per_row if fortran else 1):
                for start in range(0, n, per_block):
                    count = min(per_block, n - start)
                    size = count * run_length * dtype.itemsize
                    if read_into(stream, block[:size]) < size:
                        raise DataError(f"{where}: the array data is damaged or cut short (it ends before the "
                                        f"{n:,} rows of {shape[1:]} its header promises)")
                    lo, hi = np.searchsorted(index, [start, start + count])
                    values = block[:size].view(dtype).reshape(count, run_length)
                    if fortran:
                        kept[lo:hi, column] = values[index[lo:hi] - start, 0]
                    else:
                        kept[lo:hi] = values[index[lo:hi] - start]
                    if cancel is not None and cancel():
                        raise LoadCancelled(f"{where}: loading was cancelled")
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        text = str(err).split("\n")[0]
        raise DataError(f"{where}: the array data is damaged or cut short ({text})") from None
    return kept.reshape((len(index), *shape[1:]), order="F" if fortran else "C")


def _finish(x, labels, label_names, path: Path, kind, limit, seed, standardise) -> Dataset:
    where = str(path)
    if x.ndim >= 1:
        index = _limit_index(labels, len(x), limit, seed)
        if index is not None:
            if isinstance(x, np.memmap):
                index = np.sort(index)  # rows in file order: one forward pass over the mapped file
            x = np.asarray(x[index])
            labels = None if labels is None else labels[index]
    return array_to_dataset(
        x, path.stem, where, kind=kind, labels=labels, label_names=label_names,
        standardise=standardise, source=where, description=f"arrays from {path.name}",
    )
