"""CSV, TSV and whitespace-separated text tables of numbers.

The first row is taken as a header when it has a word where the rows below
have numbers. A label column is taken by name (label, class, target, ...), by
the caller's choice, or as the one column of words. Every other cell must be a
finite number; the error for one that is not gives its line and column, as a
text editor counts them.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from .arrays import array_to_dataset, labels_from_values
from .dataset import DataError, Dataset, check_budget, require_two_samples, stratified_limit

# In order of preference. Not "y": that is as often a coordinate as a target.
LABEL_COLUMN_NAMES = ("label", "labels", "class", "target", "category", "is_fraud", "anomaly")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw:
        raise DataError(f"{path}: the file is empty (0 bytes); expected rows of numbers")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: the gzip data is damaged or cut short ({err})") from None
    if b"\0" in raw[:4096]:
        raise DataError(f"{path}: not a text file (it holds binary data); expected rows of numbers")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}: line {line} is not UTF-8 text (byte 0x{raw[err.start]:02X}); save the file as UTF-8") from None


def _delimiter(path: Path, first_line: str) -> str | None:
    """The field separator: tab for .tsv, else the commonest of , ; tab | ; None means runs of spaces."""
    if path.name.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def _rows(path: Path, text: str) -> tuple[list[tuple[int, list[str]]], str | None]:
    """(line number, cells) for each non-blank, non-comment line."""
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: holds no rows (only blank or comment lines); expected rows of numbers")
    delimiter = _delimiter(path, lines[0][1])
    if delimiter is None:
        return [(n, line.split()) for n, line in lines], None
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)), delimiter=delimiter)
    try:
        cells = [[c.strip() for c in row] for row in reader]
    except csv.Error as err:
        raise DataError(f"{path}: line {lines[min(reader.line_num, len(lines)) - 1][0]}: {err}") from None
    if len(cells) != len(lines):
        # A quoted field spanning lines: fall back to the reader's own rows, numbered by it.
        return [(i + 1, row) for i, row in enumerate(cells)], delimiter
    return [(n, row) for (n, _), row in zip(lines, cells)], delimiter


def _has_header(rows: list[tuple[int, list[str]]]) -> bool:
    first = rows[0][1]
    if len(rows) == 1:
        return not any(_is_number(c) for c in first)
    below = rows[1][1]
    return any(not _is_number(a) and i < len(below) and _is_number(below[i]) for i, a in enumerate(first))


LABEL_SNIFF_ROWS = 50  # rows looked at to recognise a column of words as the labels


def _choose_label_column(path: Path, names: list[str], rows: list[list[str]], label_column) -> int | None:
    width = len(names)
    if label_column is not None:
        if isinstance(label_column, (int, np.integer)):
            index = int(label_column)
            if not -width <= index < width:
                raise DataError(f"{path}: label column {index} is out of range; the table has {width} columns")
            return index % width
        lowered = [n.lower() for n in names]
        if str(label_column).lower() in lowered:
            return lowered.index(str(label_column).lower())
        raise DataError(f"{path}: no column named '{label_column}'; the columns are {', '.join(names)}")
    lowered = [n.strip().lower() for n in names]
    for wanted in LABEL_COLUMN_NAMES:
        if wanted in lowered:
            return lowered.index(wanted)
    # A column of words in every row looked at is the labels. One odd cell ("x", a decimal comma) is
    # not: that column is data, and parsing it then names the line and cell that is wrong.
    sample = rows[:LABEL_SNIFF_ROWS]
    words = [i for i in range(width) if all(i < len(r) and r[i] != "" and not _is_number(r[i]) for r in sample)]
    return words[0] if len(words) == 1 else None


def _parse_numbers(path: Path, rows, columns: list[int], names: list[str]) -> np.ndarray:
    values = np.empty((len(rows), len(columns)), dtype=np.float64)
    for r, (line, cells) in enumerate(rows):
        for j, c in enumerate(columns):
            cell = cells[c]
            try:
                values[r, j] = float(cell)
            except ValueError:
                found = "an empty cell" if cell == "" else f"'{cell[:40]}'"
                raise DataError(
                    f"{path}: line {line}, column {c + 1} ('{names[c]}'): expected a number, found {found}"
                ) from None
    # Finite, and within float32's range: the model computes in 32 bits, where 3e300 is inf.
    bad = np.argwhere(~np.isfinite(values) | (np.abs(values) > np.finfo(np.float32).max))
    if len(bad):
        r, j = bad[0]
        raise DataError(
            f"{path}: line {rows[r][0]}, column {columns[j] + 1} ('{names[columns[j]]}'): expected a finite number "
            f"within ±3.4e38 (32-bit floats), found '{rows[r][1][columns[j]]}'"
        )
    return values


def _estimate_rows(path: Path) -> int:
    if path.name.lower().endswith(".gz"):
        return 0  # unknown without decompressing; checked after parsing instead
    count = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            count += block.count(b"\n")
    return count + 1


def load_table(path: Path, *, label_column=None, limit=None, seed=0, budget_bytes=None,
               standardise: bool = True) -> Dataset:
    """Rows of numbers as float32 vectors, standardised per column, with optional labels."""
    where = str(path)
    if path.stat().st_size == 0:
        raise DataError(f"{where}: the file is empty (0 bytes); expected rows of numbers")
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    width = max(len(first.split(_delimiter(path, first))), 1)
    estimated_rows = _estimate_rows(path)
    check_budget(where, estimated_rows, (width,), f"this table holds about {estimated_rows:,} rows",
                 budget_bytes, limit)

    rows, _ = _rows(path, _read_text(path))
    header = _has_header(rows)
    header_line = rows[0][0] if header else None
    names = [c or f"column_{i + 1}" for i, c in enumerate(rows[0][1])] if header else [
        f"column_{i + 1}" for i in range(len(rows[0][1]))]
    body = rows[1:] if header else rows
    expected, origin = len(names), (f"the header (line {header_line})" if header else f"line {rows[0][0]}")
    for line, cells in body:
        if len(cells) != expected:
            raise DataError(f"{where}: line {line} has {len(cells)} fields but {origin} has {expected}; rows must all be the same length")
    require_two_samples(len(body), where)
    label_index = _choose_label_column(path, names, [cells for _, cells in body], label_column)
    columns = [i for i in range(expected) if i != label_index]
    if not columns:
        raise DataError(f"{where}: holds only the label column; expected at least one column of numbers")
    labels = label_names = None
    if label_index is not None:
        raw = np.array([cells[label_index] for _, cells in body])
        empty = np.flatnonzero(raw == "")
        if len(empty):
            raise DataError(
                f"{where}: line {body[empty[0]][0]}, column {label_index + 1} ('{names[label_index]}'): "
                f"expected a label, found an empty cell"
            )
        if all(_is_number(v) for v in raw):
            raw = raw.astype(np.float64)
            bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
            if len(bad):
                cell = body[bad[0]][1][label_index]
                raise DataError(
                    f"{where}: line {body[bad[0]][0]}, column {label_index + 1} ('{names[label_index]}'): "
                    f"expected a whole-number label (a class), found '{cell}'"
                )
        labels, label_names = labels_from_values(raw, f"{where} (column '{names[label_index]}')")
    if limit is not None and limit < len(body):
        keep = stratified_limit(labels, len(body), limit, seed)
        body = [body[i] for i in keep]
        labels = None if labels is None else labels[keep]
    values = _parse_numbers(path, body, columns, names)
    dataset = array_to_dataset(
        values, path.name.split(".")[0] or "table", where, kind="vector", labels=labels, label_names=label_names,
        standardise=standardise, feature_names=[names[i] for i in columns], source=where,
        description=f"{len(body):,} rows x {len(columns)} columns from {path.name}",
    )
    if label_index is not None:
        dataset.meta["label_column"] = names[label_index]
    return dataset
