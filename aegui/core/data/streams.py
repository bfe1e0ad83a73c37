"""The user's files as bounded byte streams: gzip is decompressed as it is read, never whole.

A gzip file says nothing trustworthy about how large it becomes: 1 MB of zeros is a gigabyte
once decompressed, and a file may be any number of members one after another. So nothing here
decompresses a whole file at once. A reader asks for at most n bytes and gets at most n, the
importers read what their header declares (or what their budget allows) and stop there, and a
cancel callback is looked at as the bytes go by, so the GUI can stop a long read.
"""
from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Callable

from .dataset import DataError, LoadCancelled

GZIP_MAGIC = b"\x1f\x8b"
INPUT_CHUNK = 1 << 20  # compressed bytes read from the file at a time
# Decompressed bytes made at a time, however large the caller's buffer: 1 MiB of zeros inflates to
# a gigabyte, and zlib hands its output back as a new bytes object before it is copied out.
OUTPUT_CHUNK = 8 << 20
CANCEL_EVERY = 32 << 20  # decompressed bytes between two looks at the cancel callback (~0.1 s)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


class GzipReader(io.RawIOBase):
    """A gzip file (one member or several, as ``cat a.gz b.gz`` makes) as a readable byte stream.

    ``readinto`` decompresses only as much as the buffer holds. Bytes after the last member that
    do not start another one are ignored, as gzip itself does. A stream that ends inside a member
    reads as a short stream with ``cut_short`` set, so a caller can say how much was there; damaged
    data raises DataError with ``damaged`` (a sentence about what was expected) in its message.
    """

    def __init__(self, path: Path, *, cancel: Callable[[], bool] | None = None, damaged: str = ""):
        super().__init__()
        self.path = path
        self.cut_short = False
        self.produced = 0  # decompressed bytes handed out
        self._file = open(path, "rb")
        self._cancel = cancel
        self._damaged = damaged
        self._inflate = None  # the current member's decompressor; None between members
        self._pending = b""  # compressed bytes read but not yet given to a decompressor
        self._finished = False
        self._next_cancel_check = CANCEL_EVERY

    def readable(self) -> bool:
        return True

    @property
    def compressed_read(self) -> int:
        """Compressed bytes consumed so far (for ratios; the decompressor's few buffered bytes aside)."""
        tail = len(self._inflate.unconsumed_tail) if self._inflate is not None else 0
        return self._file.tell() - len(self._pending) - tail

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()

    def _more_input(self) -> bytes:
        data = self._pending or self._file.read(INPUT_CHUNK)
        self._pending = b""
        return data

    def _start_member(self) -> bool:
        """Begin the next member if the bytes that follow are one; False at the end of the stream."""
        head = self._pending
        while len(head) < 2:
            more = self._file.read(INPUT_CHUNK)
            if not more:
                break
            head += more
        self._pending = head
        if head[:2] != GZIP_MAGIC:
            return False  # the end, or trailing bytes that are not gzip: ignored
        self._inflate = zlib.decompressobj(wbits=31)
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        while not self._finished:
            if self._inflate is None and not self._start_member():
                self._finished = True
                break
            source = self._inflate.unconsumed_tail or self._more_input()
            try:
                # With no input left this still drains what the decompressor holds back for max_length.
                out = self._inflate.decompress(source, min(len(view), OUTPUT_CHUNK))
            except zlib.error as err:
                raise DataError(f"{self.path}: the gzip data is damaged ({err}){self._damaged}") from None
            if self._inflate.eof:
                self._pending = self._inflate.unused_data
                self._inflate = None
            if out:
                view[: len(out)] = out
                self._count(len(out))
                return len(out)
            if not source:
                self.cut_short = True  # the file ended inside a member
                self._finished = True
        return 0

    def _count(self, n: int) -> None:
        self.produced += n
        if self._cancel is not None and self.produced >= self._next_cancel_check:
            self._next_cancel_check = self.produced + CANCEL_EVERY
            if self._cancel():
                raise LoadCancelled(f"{self.path}: loading was cancelled")


class FileReader(io.FileIO):
    """A plain file with the same ``cut_short``/``produced`` face as GzipReader, and the same cancel checks."""

    def __init__(self, path: Path, *, cancel: Callable[[], bool] | None = None):
        super().__init__(path, "rb")
        self.path = path
        self.cut_short = False
        self.produced = 0
        self._cancel = cancel
        self._next_cancel_check = CANCEL_EVERY

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        self.produced += n or 0
        if self._cancel is not None and self.produced >= self._next_cancel_check:
            self._next_cancel_check = self.produced + CANCEL_EVERY
            if self._cancel():
                raise LoadCancelled(f"{self.path}: loading was cancelled")
        return n


def open_stream(path: Path, *, cancel: Callable[[], bool] | None = None, damaged: str = ""):
    """The file's bytes, decompressed as they are read when it is gzipped."""
    if is_gzip(path):
        return GzipReader(path, cancel=cancel, damaged=damaged)
    return FileReader(path, cancel=cancel)


def read_into(stream, buffer) -> int:
    """Fill ``buffer`` from ``stream``; fewer bytes only where the stream ends. Returns the count."""
    view = memoryview(buffer).cast("B")
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def read_up_to(stream, n: int) -> bytes:
    """At most ``n`` bytes: all of them unless the stream ends first."""
    buffer = bytearray(n)
    return bytes(buffer[: read_into(stream, buffer)])


def skip(stream, n: int, chunk: int = 1 << 20) -> int:
    """Read past ``n`` bytes without keeping them; returns how many there were."""
    buffer = bytearray(min(n, chunk))
    skipped = 0
    while skipped < n:
        want = min(len(buffer), n - skipped)
        got = read_into(stream, memoryview(buffer)[:want])
        skipped += got
        if got < want:
            break
    return skipped
