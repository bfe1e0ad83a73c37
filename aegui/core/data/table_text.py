"""A text table as a stream of rows: never the whole text in memory, gzipped or not.

``TableText`` opens a fresh stream for each pass over the file (a gzipped file is decompressed
again each time, which costs far less than parsing it). Lines end with \\n, \\r\\n or a lone \\r;
a line longer than ``MAX_LINE_BYTES`` is refused rather than gathered, since a file with no line
ends (gigabytes of one "line") is what a decompression bomb looks like.
"""
from __future__ import annotations

import csv
from itertools import islice
from operator import methodcaller
from pathlib import Path
from typing import Callable, Iterator

from .dataset import DataError, LoadCancelled, format_bytes
from .streams import GzipReader, open_stream, read_into

CHUNK = 1 << 20  # bytes decoded at a time; the cancel callback is looked at once per chunk (~0.1 s)
MAX_LINE_BYTES = 16 << 20


def delimiter_for(path: Path, first_line: str) -> str | None:
    """The field separator: tab for .tsv, else the commonest of , ; tab | ; None means runs of spaces."""
    if path.name.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def _meaningful(line: str) -> bool:
    """Neither blank nor a comment."""
    text = line.lstrip()
    return bool(text) and text[0] != "#"


class TableText:
    """The lines and rows of one text table, read as a stream on each pass."""

    def __init__(self, path: Path, cancel: Callable[[], bool] | None = None):
        self.path = path
        self.cancel = cancel
        with self._open() as stream:
            head = bytearray(4096)
            head = bytes(head[: read_into(stream, head)])
        if b"\0" in head:
            raise DataError(f"{path}: not a text file (it holds binary data); expected rows of numbers")
        # A lone \r ends lines only where no \n does (classic Mac files).
        self.newline = b"\r" if b"\n" not in head and b"\r" in head else b"\n"
        lines = self.lines()
        try:
            first = next((line for _, line in lines if _meaningful(line)), None)
        finally:
            lines.close()
        if first is None:
            raise DataError(f"{path}: holds no rows (only blank or comment lines); expected rows of numbers")
        self.delimiter = delimiter_for(path, first)

    def _open(self):
        return open_stream(self.path, cancel=self.cancel, damaged="; expected a gzipped text table")

    def _damaged_if_cut(self, stream) -> None:
        if stream.cut_short:
            raise DataError(f"{self.path}: the gzip data is cut short after {stream.produced:,} bytes of text")

    def count_lines(self, stop_after: int | None = None) -> tuple[int, str]:
        """(lines, how): how many lines there are at most (line ends + 1), counted without decoding.

        A gzipped file's count stops as soon as it passes ``stop_after``, so that a small file which
        decompresses to gigabytes is not read to its end; the count is then scaled by how much of the
        compressed file it took, and ``how`` says from how much ("" for a full count).
        """
        count, buffer = 0, bytearray(CHUNK)
        with self._open() as stream:
            gzipped = isinstance(stream, GzipReader)
            while n := read_into(stream, buffer):
                count += buffer.count(self.newline, 0, n)
                if gzipped and stop_after is not None and count > stop_after:
                    read = max(stream.compressed_read, 1)
                    estimate = count * self.path.stat().st_size // read
                    return max(estimate, count), f", by its first {format_bytes(stream.produced)} decompressed,"
            self._damaged_if_cut(stream)
        return count + 1, ""

    def _text_chunks(self) -> Iterator[tuple[int, list[str], bool]]:
        """(number of the first line, the lines, whether any holds a quote) for each chunk of whole
        lines, decoded, without their line ends."""
        newline, number, carry = self.newline, 0, b""
        with self._open() as stream:
            buffer = bytearray(CHUNK)
            while True:
                n = read_into(stream, buffer)
                if self.cancel is not None and self.cancel():
                    raise LoadCancelled(f"{self.path}: loading was cancelled")
                data = carry + bytes(buffer[:n])
                cut = data.rfind(newline) + 1 if n else len(data)
                data, carry = data[:cut], data[cut:]
                if len(carry) > MAX_LINE_BYTES:
                    raise DataError(f"{self.path}: line {number + 1} is longer than {MAX_LINE_BYTES >> 20} MiB; "
                                    f"expected rows of numbers, one per line")
                if data:
                    text = self._decode(data, number)
                    lines = text.split(newline.decode())
                    if data.endswith(newline):
                        lines.pop()  # the empty text after the last line end
                    yield number + 1, lines, '"' in text
                    number += len(lines)
                if not n:
                    break
            self._damaged_if_cut(stream)

    def _decode(self, data: bytes, lines_before: int) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = lines_before + data.count(self.newline, 0, err.start) + 1
            raise DataError(f"{self.path}: line {line} is not UTF-8 text (byte 0x{data[err.start]:02X}); "
                            f"save the file as UTF-8") from None
        if lines_before == 0 and text.startswith("\ufeff"):
            text = text[1:]
        return text.replace("\r\n", "\n") if self.newline == b"\n" and "\r" in text else text

    def lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text without its line end) for every line, as a text editor numbers them."""
        for first, lines, _ in self._text_chunks():
            yield from enumerate(lines, first)

    def row_chunks(self) -> Iterator[Iterator[tuple[int, list[str]]]]:
        """For each chunk of the file, an iterator of (line number, cells) over its lines that are
        neither blank nor comments.

        Cells are split as they are asked for and keep their spaces (a number reads the same with
        them): holding a chunk's rows as lists would cost more in garbage collection than the split.
        A quoted field may span lines: a chunk that ends inside one waits for the next, and such a
        row is numbered by its last line.
        """
        delimiter, waiting, waiting_numbers = self.delimiter, [], []
        split = str.split if delimiter is None else methodcaller("split", delimiter)
        for first, lines, quoted in self._text_chunks():
            numbers = [i for i, line in enumerate(lines, first) if _meaningful(line)]
            texts = [lines[i - first] for i in numbers] if len(numbers) < len(lines) else lines
            if delimiter is None or not (waiting or quoted):
                yield zip(numbers, map(split, texts))
                continue
            texts, numbers = waiting + texts, waiting_numbers + numbers
            if sum(text.count('"') for text in texts) % 2 and sum(map(len, texts)) < MAX_LINE_BYTES:
                waiting, waiting_numbers = texts, numbers  # a quoted field goes on into the next chunk
                continue
            waiting, waiting_numbers = [], []
            yield iter(self._quoted_rows(texts, numbers))
        if waiting:
            yield iter(self._quoted_rows(waiting, waiting_numbers))

    def _quoted_rows(self, texts: list[str], numbers: list[int]) -> list[tuple[int, list[str]]]:
        reader = csv.reader(texts, delimiter=self.delimiter)
        rows = []
        try:
            for row in reader:
                rows.append((numbers[reader.line_num - 1], row))
        except csv.Error as err:
            raise DataError(f"{self.path}: line {numbers[min(reader.line_num, len(numbers)) - 1]}: {err}") from None
        return rows

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for chunk in self.row_chunks():
            yield from chunk

    def first_rows(self, count: int) -> list[tuple[int, list[str]]]:
        """The first ``count`` rows, cells stripped, reading no further than they reach."""
        rows = self.rows()
        try:
            return [(line, [c.strip() for c in cells]) for line, cells in islice(rows, count)]
        finally:
            rows.close()
