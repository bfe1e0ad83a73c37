"""CSV, TSV and whitespace-separated text tables of numbers, gzipped or not.

The first row is taken as a header when it has a word where the rows below
have numbers. A label column is taken by name (label, class, target, ...), by
the caller's choice, or as the one column of words. Every other cell must be a
finite number; the error for one that is not gives its line and column, as a
text editor counts them.

The text is read as a stream, in passes, and never held whole: the first pass
counts lines (stopping as soon as they would not fit the memory budget), the
next parses rows straight into an array of that many rows. With --limit,
one pass counts the rows of each class and the next parses only the rows kept.
"""
from __future__ import annotations

from operator import itemgetter
from pathlib import Path

import numpy as np

from .arrays import array_to_dataset, labels_from_values
from .dataset import DataError, Dataset, check_budget, require_two_samples, stratified_limit, stratified_positions
from .table_text import TableText

# In order of preference. Not "y": that is as often a coordinate as a target.
LABEL_COLUMN_NAMES = ("label", "labels", "class", "target", "category", "is_fraud", "anomaly")
# A label column names classes; beyond this many different values it is not one (and a dict of
# a billion distinct cells is how a hostile table would fill memory).
MAX_LABEL_VALUES = 65_536
BLOCK_ROWS = 4096  # rows whose cells are kept until their numbers are checked together
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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


class _Numbers:
    """Rows of numbers parsed into ``out``, checked per block, while their cells are still at hand,
    for what float32 cannot hold.

    ``out`` is float64, as the standardisation statistics have always been taken from the values
    as parsed: a dataset loads to the same bits (and the same checksum in a project) as before.
    """

    def __init__(self, path: Path, columns: list[int], names: list[str]):
        self.path, self.columns, self.names = path, columns, names
        self.out = np.empty((0, len(columns)))
        self.labels: np.ndarray | None = None  # each row's label, by the number _Labels gave its text
        self.pick = itemgetter(*columns) if len(columns) > 1 else (lambda cells, c=columns[0]: (cells[c],))
        self.values: list[float] = []  # the block's numbers, row after row
        self.pending: list[tuple[int, list[str]]] = []  # the block's rows, for the message if one is wrong
        self.filled = 0  # rows checked and in ``out``

    def start(self, rows: int, labelled: bool) -> None:
        """Room for at most ``rows`` rows (and their labels)."""
        self.out = np.empty((rows, len(self.columns)), dtype=np.float64)
        self.labels = np.empty(rows, dtype=np.int32) if labelled else None

    def add(self, line: int, cells: list[str]) -> None:
        if self.filled + len(self.pending) >= len(self.out):
            raise DataError(f"{self.path}: changed while it was read (it now holds more rows than were counted)")
        try:
            self.values.extend(map(float, self.pick(cells)))
        except ValueError:
            for c in self.columns:
                if not _is_number(cells[c]):
                    cell = cells[c].strip()
                    found = "an empty cell" if cell == "" else f"'{cell[:40]}'"
                    raise DataError(f"{self.path}: line {line}, column {c + 1} ('{self.names[c]}'): expected a "
                                    f"number, found {found}") from None
            raise
        self.pending.append((line, cells))
        if len(self.pending) == BLOCK_ROWS:
            self.flush()

    def flush(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(len(self.pending), len(self.columns))
        # Finite, and within float32's range: the model computes in 32 bits, where 3e300 is inf.
        bad = np.argwhere(~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX))
        if len(bad):
            r, j = bad[0]
            line, cells = self.pending[r]
            c = self.columns[j]
            raise DataError(f"{self.path}: line {line}, column {c + 1} ('{self.names[c]}'): expected a finite number "
                            f"within ±3.4e38 (32-bit floats), found '{cells[c].strip()[:40]}'")
        self.out[self.filled: self.filled + len(values)] = values
        self.filled += len(values)
        self.values.clear()
        self.pending.clear()


class _Labels:
    """The label column's values: a number per distinct text (in order of appearance), and the
    line where each first appeared, so the full column is never held as text."""

    def __init__(self, path: Path, index: int, name: str):
        self.path, self.index, self.name = path, index, name
        self.numbers: dict[str, int] = {}
        self.first_line: list[int] = []

    def number(self, line: int, cells: list[str]) -> int:
        text = cells[self.index].strip()
        number = self.numbers.get(text)
        if number is None:
            if text == "":
                raise DataError(f"{self.path}: line {line}, column {self.index + 1} ('{self.name}'): expected a "
                                f"label, found an empty cell")
            if len(self.numbers) >= MAX_LABEL_VALUES:
                raise DataError(f"{self.path}: column {self.index + 1} ('{self.name}') holds more than "
                                f"{MAX_LABEL_VALUES:,} different values by line {line}, too many for classes; "
                                f"choose the label column with --label-column")
            number = self.numbers[text] = len(self.numbers)
            self.first_line.append(line)
        return number

    def classes(self) -> tuple[np.ndarray, list[str]]:
        """(label of each distinct text, by its number; the label names), as labels_from_values gives them."""
        texts = list(self.numbers)
        raw = np.array(texts) if texts else np.array([], dtype=str)
        if texts and all(_is_number(v) for v in texts):
            raw = raw.astype(np.float64)
            bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
            if len(bad):
                first = min(bad, key=lambda i: self.first_line[i])
                raise DataError(f"{self.path}: line {self.first_line[first]}, column {self.index + 1} ('{self.name}'): "
                                f"expected a whole-number label (a class), found '{texts[first]}'")
        return labels_from_values(raw, f"{self.path} (column '{self.name}')")


def _ragged(where: str, line: int, cells: list[str], expected: int, origin: str) -> DataError:
    return DataError(f"{where}: line {line} has {len(cells)} fields but {origin} has {expected}; "
                     f"rows must all be the same length")


def load_table(path: Path, *, label_column=None, limit=None, seed=0, budget_bytes=None,
               standardise: bool = True, cancel=None) -> Dataset:
    """Rows of numbers as float32 vectors, standardised per column, with optional labels."""
    where = str(path)
    if path.stat().st_size == 0:
        raise DataError(f"{where}: the file is empty (0 bytes); expected rows of numbers")
    text = TableText(path, cancel)
    head = text.first_rows(LABEL_SNIFF_ROWS + 1)
    header = _has_header(head)
    names = [c or f"column_{i + 1}" for i, c in enumerate(head[0][1])] if header else [
        f"column_{i + 1}" for i in range(len(head[0][1]))]
    expected = len(names)
    origin = f"the header (line {head[0][0]})" if header else f"line {head[0][0]}"
    sample = head[1:] if header else head
    for line, cells in sample:
        if len(cells) != expected:
            raise _ragged(where, line, cells, expected, origin)
    label_index = _choose_label_column(path, names, [cells for _, cells in sample], label_column)
    columns = [i for i in range(expected) if i != label_index]
    if not columns:
        raise DataError(f"{where}: holds only the label column; expected at least one column of numbers")
    labels = None if label_index is None else _Labels(path, label_index, names[label_index])

    def body():
        """The rows after the header, each checked for its number of fields."""
        rows = text.rows()
        if header:
            next(rows)
        for line, cells in rows:
            if len(cells) != expected:
                raise _ragged(where, line, cells, expected, origin)
            yield line, cells

    numbers = _Numbers(path, columns, names)
    if limit is None:
        n = _read_all(text, body, numbers, labels, expected, budget_bytes)
    else:
        n = _read_kept(text, body, numbers, labels, expected, budget_bytes, limit, seed)
    values, row_labels, label_names = numbers.out[: numbers.filled], numbers.labels, None
    if labels is not None:
        label_of, label_names = labels.classes()
        row_labels = label_of[row_labels[: numbers.filled]]
    require_two_samples(n, where)
    dataset = array_to_dataset(
        values, path.name.split(".")[0] or "table", where, kind="vector", labels=row_labels, label_names=label_names,
        standardise=standardise, feature_names=[names[i] for i in columns], source=where,
        description=f"{len(values):,} rows x {len(columns)} columns from {path.name}",
    )
    if label_index is not None:
        dataset.meta["label_column"] = names[label_index]
    return dataset


def _read_all(text: TableText, body, numbers: _Numbers, labels, width: int, budget_bytes) -> int:
    """Every row: lines counted first (up to the budget), then parsed into an array of that many rows."""
    where = str(text.path)
    fits = None if budget_bytes is None else budget_bytes // (4 * width)
    count, estimated = text.count_lines(stop_after=fits)
    check_budget(where, count, (width,), f"this table{estimated} holds about {count:,} rows", budget_bytes)
    numbers.start(count, labels is not None)
    n = 0
    for line, cells in body():
        if labels is not None:
            numbers.labels[n] = labels.number(line, cells)
        numbers.add(line, cells)
        n += 1
    numbers.flush()
    return n


def _read_kept(text: TableText, body, numbers: _Numbers, labels, width: int, budget_bytes, limit: int,
               seed: int) -> int:
    """--limit's rows: one pass counts the rows (of each class), the next parses only those kept,
    chosen exactly as stratified_limit would choose them from the whole column of labels."""
    where = str(text.path)
    n, per_text = 0, []
    for line, cells in body():
        n += 1
        if labels is not None:
            number = labels.number(line, cells)
            if number == len(per_text):
                per_text.append(0)
            per_text[number] += 1
    require_two_samples(n, where)
    check_budget(where, n, (width,), f"this table holds {n:,} rows", budget_bytes, limit)
    if labels is None:
        keep, group_of = [stratified_limit(None, n, min(limit, n), seed)], None
    else:
        label_of, _ = labels.classes()  # "1" and "1.0" are one class: count rows per label, not per text
        totals = np.zeros(int(label_of.max()) + 1, dtype=np.int64)
        np.add.at(totals, label_of, per_text)
        classes = np.flatnonzero(totals)
        counts = totals[classes]
        keep = stratified_positions(counts, limit, seed) if limit < n else [np.arange(c) for c in counts]
        group_of = np.searchsorted(classes, label_of).tolist()  # each distinct text's class: its index in keep
    kept = sum(len(k) for k in keep)
    numbers.start(kept, labels is not None)
    keep = [k.tolist() + [-1] for k in keep]  # -1: past the last chosen position
    seen = [0] * len(keep)  # rows met so far of each group
    taken = [0] * len(keep)  # of each group's chosen positions, how many are behind us
    number = group = 0
    for line, cells in body():
        if group_of is not None:
            number = labels.number(line, cells)
            if number >= len(group_of):
                raise DataError(f"{where}: changed while it was read (line {line} has a label not seen before)")
            group = group_of[number]
        position = seen[group]
        seen[group] = position + 1
        if keep[group][taken[group]] == position:
            taken[group] += 1
            if numbers.labels is not None:
                numbers.labels[numbers.filled + len(numbers.pending)] = number
            numbers.add(line, cells)
    numbers.flush()
    return n
