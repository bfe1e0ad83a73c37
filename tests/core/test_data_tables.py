"""CSV / TSV / text tables: headers, label columns, standardisation, and malformed rows."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from aegui.core.data import DataError, load_dataset, unstandardise


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_of(path, **options) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(path, **options)
    message = str(err.value)
    assert str(path) in message, message  # every message names the file
    assert "\n" not in message  # one line, for a user
    return message


def test_header_and_label_column_by_name(tmp_path):
    path = write(tmp_path / "iris.csv", "sepal,petal,class\n1.0,10,setosa\n2.0,20,versicolor\n3.0,30,setosa\n4,40,virginica\n")
    before = sha(path)
    d = load_dataset(path)
    assert d.kind == "vector" and d.x.dtype == np.float32 and d.x.shape == (4, 2)
    assert d.feature_names == ["sepal", "petal"]
    assert d.label_names == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(d.labels, [0, 1, 0, 2])
    np.testing.assert_allclose(d.x.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(d.x.std(axis=0), 1, atol=1e-6)
    np.testing.assert_allclose(d.feature_mean, [2.5, 25])
    np.testing.assert_allclose(unstandardise(d, d.x), [[1, 10], [2, 20], [3, 30], [4, 40]], rtol=1e-6)
    assert sha(path) == before


def test_no_header_and_numeric_label_column_by_index(tmp_path):
    path = write(tmp_path / "plain.csv", "0.5,1,7\n1.5,2,3\n2.5,3,7\n")
    d = load_dataset(path)
    assert d.labels is None and d.feature_names == ["column_1", "column_2", "column_3"]
    d = load_dataset(path, label_column=-1, standardise=False)
    np.testing.assert_array_equal(d.labels, [7, 3, 7])
    np.testing.assert_array_equal(d.x, [[0.5, 1], [1.5, 2], [2.5, 3]])
    assert d.feature_mean is None


def test_semicolons_tabs_spaces_comments_and_blank_lines(tmp_path):
    expected = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
    for name, text in [("a.csv", "a;b\n1;2\n3;4\n5;6\n"), ("b.tsv", "1\t2\n3\t4\n\n5\t6\n"),
                       ("c.txt", "# made by np.savetxt\n1 2\n3   4\n5 6\n")]:
        d = load_dataset(write(tmp_path / name, text), standardise=False)
        np.testing.assert_array_equal(d.x, expected, err_msg=name)


def test_ragged_row_names_line_and_counts(tmp_path):
    path = write(tmp_path / "ragged.csv", "a,b,c\n1,2,3\n4,5,6\n\n7,8\n")
    message = error_of(path)
    assert "line 5 has 2 fields but the header (line 1) has 3" in message


def test_non_numeric_cell_names_line_column_and_value(tmp_path):
    path = write(tmp_path / "bad.csv", "height,weight,label\n1.7,70,a\n1.8,n/a,b\n1.6,60,a\n")
    message = error_of(path)
    assert "line 3, column 2 ('weight')" in message and "expected a number" in message and "'n/a'" in message


def test_empty_cell_and_nonfinite_cell(tmp_path):
    message = error_of(write(tmp_path / "gap.csv", "x,y\n1,2\n3,\n"))
    assert "line 3, column 2 ('y')" in message and "empty cell" in message
    message = error_of(write(tmp_path / "inf.csv", "x,y\n1,2\n3,inf\n4,nan\n"))
    assert "line 3, column 2" in message and "finite" in message and "'inf'" in message


def test_fractional_numeric_label_is_refused_with_its_line(tmp_path):
    path = write(tmp_path / "frac.csv", "x,label\n1,0\n2,1\n3,0.5\n")
    message = error_of(path)
    assert "line 4, column 2 ('label')" in message and "whole-number label" in message and "'0.5'" in message


def test_empty_file_only_header_and_one_row(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty (0 bytes)" in error_of(empty)
    assert "no samples" in error_of(write(tmp_path / "header.csv", "a,b\n"))
    assert "only 1 sample" in error_of(write(tmp_path / "one.csv", "a,b\n1,2\n"))
    assert "no rows" in error_of(write(tmp_path / "blank.csv", "\n\n# nothing\n"))


def test_binary_and_non_utf8_files(tmp_path):
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    assert "not a text file" in error_of(binary)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\n1,2\n3,4\ncaf\xe9,5\n".encode("latin-1"))
    message = error_of(latin)
    assert "line 4 is not UTF-8" in message


def test_unknown_label_column_lists_the_columns(tmp_path):
    path = write(tmp_path / "t.csv", "a,b\n1,2\n3,4\n")
    message = error_of(path, label_column="kind")
    assert "no column named 'kind'" in message and "a, b" in message


def test_limit_keeps_label_shares(tmp_path):
    rows = "\n".join(f"{i},{i * 2},{'rare' if i % 10 == 0 else 'common'}" for i in range(100))
    d = load_dataset(write(tmp_path / "t.csv", "x,y,label\n" + rows + "\n"), limit=20, seed=3)
    assert len(d) == 20
    assert np.bincount(d.labels).tolist() == [18, 2]


def test_budget_estimate_refuses_a_big_table_before_parsing(tmp_path):
    path = write(tmp_path / "big.csv", "a,b,c,d\n" + "1,2,3,4\n" * 1000)
    message = error_of(path, budget_bytes=4000)
    assert "this table holds about 1,002 rows of 4" in message and "--limit 250 " in message
    assert len(load_dataset(path, budget_bytes=4000, limit=100)) == 100


def test_one_odd_cell_in_the_first_row_is_an_error_not_a_label_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,x,3\n4,5,6\n7,8,9\n")
    with pytest.raises(DataError, match=r"line 2, column 2 \('b'\): expected a number, found 'x'"):
        load_dataset(path)


def test_values_beyond_float32_are_refused_by_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b\n1,2\n3,3e300\n5,6\n")
    with pytest.raises(DataError, match=r"line 3, column 2 \('b'\).*32-bit"):
        load_dataset(path)
