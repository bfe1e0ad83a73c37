"""MNIST-format IDX files, raw or gzipped: MNIST, Fashion-MNIST, KMNIST and the like.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values in
big-endian order. Images (``...-images-idx3-ubyte``) are paired with the labels
file beside them (``...-labels-idx1-ubyte``).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .arrays import array_to_dataset, labels_from_values
from .dataset import DataError, Dataset, check_budget, check_labels_budget, require_two_samples, stratified_limit
from .streams import is_gzip, open_stream, read_into, read_up_to, skip

# type code -> (big-endian dtype, words)
IDX_TYPES = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}
_IDX_NAME = re.compile(r"idx\d", re.IGNORECASE)


def looks_like_idx_name(path: Path) -> bool:
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return bool(_IDX_NAME.search(name)) or name.lower().endswith("-ubyte")


def has_idx_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] in IDX_TYPES and 1 <= head[3] <= 4


# Past the declared records, at most this much more is read to say how much there is.
EXTRA_COUNTED = 1 << 20
# Records copied out per block when --limit keeps only some of a gzipped file's records.
BLOCK_BYTES = 4 << 20


class IdxFile:
    """One IDX file: its header read first, its values only when asked for.

    Raw files are memory-mapped read-only, so a --limit copies out only the chosen records.
    Gzipped files are decompressed as a stream that stops where the header's records end: the
    values go straight into the array that is returned (with --limit, only the chosen records are
    copied out), and anything past the declared records is refused after reading at most 1 MiB of it.
    """

    def __init__(self, path: Path, cancel=None):
        self.path = path
        size = path.stat().st_size
        if size == 0:
            raise DataError(f"{path}: the file is empty (0 bytes); expected an IDX file")
        self.gzipped = is_gzip(path)
        self._size = size
        self._cancel = cancel
        with self._open() as stream:
            head = read_up_to(stream, 24)  # the longest header: magic and 4 dimension sizes
        self._parse_header(head)

    def _open(self):
        return open_stream(self.path, cancel=self._cancel, damaged="; expected a gzipped IDX file")

    def _parse_header(self, data: bytes) -> None:
        path = self.path
        if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES or not 1 <= data[3] <= 4:
            found = " ".join(f"{b:02X}" for b in data[:4]) or "nothing"
            raise DataError(
                f"{path}: not an IDX file: expected a magic number 00 00 <type 08-0E> <1-4 dimensions> "
                f"(e.g. 00 00 08 03 for images, 00 00 08 01 for labels); found {found}"
            )
        self.dtype, self.type_words = IDX_TYPES[data[2]]
        ndim = data[3]
        self.offset = 4 + 4 * ndim
        if len(data) < self.offset:
            raise DataError(
                f"{path}: cut short inside the header: {ndim} dimension sizes need {self.offset} bytes; "
                f"the file holds {len(data)}"
            )
        self.shape = tuple(int(v) for v in np.frombuffer(data, ">u4", count=ndim, offset=4))
        self.n = self.shape[0]
        self.record_bytes = math.prod(self.shape[1:]) * self.dtype.itemsize  # Python ints: no overflow

    @property
    def _record_words(self) -> str:
        return "x".join(map(str, self.shape[1:])) or "one value"

    def _truncated(self, body: int) -> DataError:
        need = self.n * self.record_bytes
        whole = body // self.record_bytes if self.record_bytes else 0
        return DataError(
            f"{self.path}: truncated: the header promises {self.n:,} records of {self._record_words} ({need:,} "
            f"bytes) but only {body:,} bytes follow; record {whole:,} (counting from 0) is the first incomplete one"
        )

    def _too_long(self, extra: int, counted_all: bool) -> DataError:
        need = self.n * self.record_bytes
        records = f"the header's {self.n:,} records of {self._record_words} ({need:,} bytes)"
        if counted_all:
            return DataError(f"{self.path}: {extra:,} bytes more than {records}; the header or the file is wrong")
        return DataError(
            f"{self.path}: the data goes on past {records}: over {extra:,} bytes more, where the file should "
            f"end (reading stopped there); the header or the file is wrong"
        )

    def array(self, index: np.ndarray | None = None) -> np.ndarray:
        """The records (all, or those at ``index``, sorted) in native byte order."""
        native = self.dtype.newbyteorder("=")
        if self.gzipped:
            return self._gzipped_array(index, native)
        body = self._size - self.offset
        need = self.n * self.record_bytes
        if body < need:
            raise self._truncated(body)
        if body > need:
            raise self._too_long(body - need, counted_all=True)
        if self.n == 0 or self.record_bytes == 0:
            values = np.zeros(self.shape, self.dtype)
        else:
            values = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)
        values = values if index is None else values[index]
        return np.array(values, dtype=native)  # a copy: no link to the mapped file stays

    def _gzipped_array(self, index: np.ndarray | None, native: np.dtype) -> np.ndarray:
        need = self.n * self.record_bytes
        out = np.empty((self.n if index is None else len(index), *self.shape[1:]), native)
        with self._open() as stream:
            skip(stream, self.offset)
            if index is None:
                body = read_into(stream, out.reshape(-1).view(np.uint8))
            else:
                body = self._copy_records(stream, index, out)
            if body < need:
                raise self._truncated(body)
            extra = skip(stream, EXTRA_COUNTED)
            if extra:
                raise self._too_long(extra, counted_all=extra < EXTRA_COUNTED)
        if out.dtype.itemsize > 1 and not self.dtype.isnative:
            out.byteswap(inplace=True)  # the file's big-endian bytes, now in the native order of ``out``
        return out

    def _copy_records(self, stream, index: np.ndarray, out: np.ndarray) -> int:
        """Read every record once, in blocks, keeping those at ``index``; returns the bytes read."""
        size = self.record_bytes
        per_block = max(1, BLOCK_BYTES // max(size, 1))
        block = np.empty(per_block * size, np.uint8)
        kept = out.reshape(len(out), -1).view(np.uint8) if len(out) else None
        body, first = 0, 0
        for start in range(0, self.n, per_block):
            count = min(per_block, self.n - start)
            got = read_into(stream, block[: count * size])
            body += got
            if got < count * size:
                break
            stop = int(np.searchsorted(index, start + count))
            if stop > first:
                records = block[: count * size].reshape(count, size)
                kept[first:stop] = records[index[first:stop] - start]
                first = stop
        return body


def _partner_names(name: str, want: str) -> list[str]:
    """Likely names of the partner file: 'images' <-> 'labels', 'idx3' <-> 'idx1'."""
    other = "labels" if want == "labels" else "images"
    mine = "images" if want == "labels" else "labels"
    idx_from, idx_to = ("idx3", "idx1") if want == "labels" else ("idx1", "idx3")
    candidates = []
    swapped = re.sub(mine, other, name, flags=re.IGNORECASE)
    for candidate in (re.sub(idx_from, idx_to, swapped, flags=re.IGNORECASE), swapped):
        if candidate != name and candidate not in candidates:
            candidates.append(candidate)
    return candidates


def find_partner(path: Path, want: str) -> Path | None:
    for candidate in _partner_names(path.name, want):
        for variant in (candidate, candidate + ".gz", candidate[:-3] if candidate.endswith(".gz") else None):
            if variant and (path.parent / variant).is_file():
                return path.parent / variant
    return None


def idx_pairs_in_folder(folder: Path) -> list[tuple[Path, Path | None]]:
    """(images, labels) pairs of the IDX files in a folder, 'train' before 't10k'."""
    files = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and looks_like_idx_name(p) and p.is_file())
    images = [p for p in files if re.search(r"images|idx3|idx4", p.name, re.IGNORECASE)]
    # A raw and a gzipped copy of the same file: keep one.
    seen, unique = set(), []
    for p in images:
        key = p.name[:-3] if p.name.lower().endswith(".gz") else p.name
        if key not in seen:
            seen.add(key)
            unique.append(p)
    unique.sort(key=lambda p: (0 if "train" in p.name.lower() else 1, p.name))
    return [(p, find_partner(p, "labels")) for p in unique]


def load_idx(path: Path, *, kind=None, limit=None, seed=0, budget_bytes=None, standardise=True,
             cancel=None) -> Dataset:
    """An IDX images file (labels found beside it), a labels file (images found beside it) or a folder."""
    opened: dict[Path, IdxFile] = {}

    def idx_file(p: Path) -> IdxFile:
        if p not in opened:
            opened[p] = IdxFile(p, cancel)
        return opened[p]

    if path.is_dir():
        pairs = idx_pairs_in_folder(path)
        if not pairs:
            raise DataError(f"{path}: holds no IDX images file (such as train-images-idx3-ubyte or .gz)")
        where = str(path)
    else:
        if len(idx_file(path).shape) == 1:
            images = find_partner(path, "images")
            if images is None:
                raise DataError(
                    f"{path}: holds only labels (a 1-D IDX file); expected the images file beside it, "
                    f"e.g. {(_partner_names(path.name, 'images') or ['...-images-idx3-ubyte'])[0]}"
                )
            pairs = [(images, path)]
        else:
            pairs = [(path, find_partner(path, "labels"))]
        where = str(pairs[0][0])

    images_files, label_files = [], []
    for images_path, labels_path in pairs:
        images = idx_file(images_path)
        if len(images.shape) < 2:
            raise DataError(f"{images_path}: expected images (2 or more dimensions); found shape {images.shape}")
        lab = None
        if labels_path is not None:
            lab = idx_file(labels_path)
            if len(lab.shape) != 1:
                raise DataError(f"{labels_path}: expected labels, a 1-D IDX file; found shape {lab.shape}")
            if lab.n != images.n:
                raise DataError(
                    f"{images_path}: holds {images.n:,} images but {labels_path.name} holds "
                    f"{lab.n:,} labels; they must pair one to one"
                )
        elif len(pairs) > 1 and any(other is not None for _, other in pairs):
            raise DataError(f"{images_path}: no labels file beside it, while the other images files have one")
        images_files.append(images)
        label_files.append(lab)

    first = images_files[0]
    for other in images_files[1:]:
        if other.shape[1:] != first.shape[1:]:
            raise DataError(
                f"{other.path}: records are {other.shape[1:]} but {first.path.name} holds {first.shape[1:]}; "
                f"they must match"
            )
    total = sum(f.n for f in images_files)
    require_two_samples(total, where)
    sample_shape = first.shape[1:] if len(first.shape) != 3 else (1, *first.shape[1:])
    check_budget(where, total, sample_shape, f"these IDX files hold {total:,} records", budget_bytes, limit)
    limited = limit is not None and limit < total
    if limited and label_files[0] is not None:
        check_labels_budget(where, total, budget_bytes)

    labels = None if label_files[0] is None else np.concatenate([lab.array() for lab in label_files])
    index = None
    if limited:
        # Choose first, from the labels alone, so only the chosen records are copied out.
        index = stratified_limit(labels, total, limit, seed)
    parts, start = [], 0
    for f in images_files:
        mine = None if index is None else index[(index >= start) & (index < start + f.n)] - start
        parts.append(f.array(mine))
        start += f.n
    x = parts[0] if len(parts) == 1 else np.concatenate(parts)
    label_names = None
    if labels is not None:
        if index is not None:
            labels = labels[index]
        labels, label_names = labels_from_values(labels, str(pairs[0][1]), len(x))
    prefix = pairs[0][0].name.split("-")[0].split(".")[0]
    name = path.name if path.is_dir() else "/".join(p for p in (path.parent.name, prefix) if p)
    dataset = array_to_dataset(
        # IDX files of 3 or 4 dimensions are images by convention, float or not.
        x, name or "idx", where, kind=kind or ("image" if x.ndim in (3, 4) else None),
        labels=labels, label_names=label_names, standardise=standardise, source=str(path),
        description=f"IDX files: {', '.join(p.name for p, _ in pairs)}",
    )
    dataset.meta["source_files"] = [str(p) for pair in pairs for p in pair if p is not None]
    return dataset
