"""Across importers: dispatch by path, budgets, limits, the optional torchvision source,
and the promise that any malformed file gives a one-line DataError naming it and changes nothing."""
from __future__ import annotations

import gzip
import hashlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegui.core.data import DataError, check_budget, load_dataset, load_mnist5k, split_indices

SUFFIXES = [".png", ".npy", ".npz", ".csv", ".tsv", ".txt", "-images-idx3-ubyte", "-images-idx3-ubyte.gz",
            ".bin", ".csv.gz"]


def valid_bytes(suffix: str) -> bytes:
    """A small valid file of each kind, for the fuzzer to damage."""
    rng = np.random.default_rng(0)
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, rng.normal(size=(4, 3)))
        return buf.getvalue()
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez(buf, x=rng.normal(size=(4, 3)), labels=np.arange(4))
        return buf.getvalue()
    if suffix in (".csv", ".tsv", ".txt", ".csv.gz"):
        sep = "\t" if suffix == ".tsv" else ","
        text = "\n".join(sep.join(["a", "b", "label"]) if i == 0 else sep.join([str(i), str(i * 2), str(i % 2)])
                         for i in range(5)).encode()
        return gzip.compress(text) if suffix.endswith(".gz") else text
    if "idx" in suffix or suffix == ".bin":
        data = bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(12))
        return gzip.compress(data) if suffix.endswith(".gz") else data
    pytest.importorskip("PIL")
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).save(buf, format="PNG")
    return buf.getvalue()


def load_in_folder(folder: Path, name: str, content: bytes):
    """Load a file (or, for .png, a folder of it and a good image) and return (result, error)."""
    folder.mkdir(parents=True, exist_ok=True)
    if name.endswith(".png"):
        (folder / "good.png").write_bytes(valid_bytes(".png"))
    path = folder / name
    path.write_bytes(content)
    target = folder if name.endswith(".png") else path
    try:
        return load_dataset(target), None, path
    except DataError as err:
        return None, err, path


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(SUFFIXES), cut=st.floats(0, 1), flips=st.lists(st.integers(0, 10_000), max_size=4),
       junk=st.binary(max_size=40), mode=st.sampled_from(["cut", "flip", "junk", "append"]))
def test_damaged_files_give_one_line_errors_naming_the_file(tmp_path_factory, suffix, cut, flips, junk, mode):
    content = bytearray(valid_bytes(suffix))
    if mode == "cut":
        content = content[: int(len(content) * cut)]
    elif mode == "flip":
        for f in flips:
            content[f % len(content)] ^= 0xFF
    elif mode == "junk":
        content = bytearray(junk)
    else:
        content += junk
    folder = tmp_path_factory.mktemp("fuzz")
    name = ("data" + suffix) if suffix.startswith(".") else ("train" + suffix)
    before = bytes(content)
    dataset, error, path = load_in_folder(folder, name, bytes(content))
    assert path.read_bytes() == before  # never modified
    if error is not None:
        message = str(error)
        assert str(path) in message or str(folder) in message, message
        assert "\n" not in message and len(message) < 600
    else:
        assert len(dataset) >= 2


def test_every_valid_small_file_loads(tmp_path):
    for i, suffix in enumerate(SUFFIXES):
        dataset, error, _ = load_in_folder(tmp_path / str(i), ("data" + suffix) if suffix.startswith(".") else
                                           ("train" + suffix), valid_bytes(suffix))
        assert error is None, (suffix, error)
        assert len(dataset) >= 2


def test_unrecognised_file_type_and_single_image_file(tmp_path):
    odd = tmp_path / "notes.docx"
    odd.write_bytes(b"PK\x03\x04 something else")
    with pytest.raises(DataError) as err:
        load_dataset(odd)
    assert str(odd) in str(err.value) and "unrecognised file type '.docx'" in str(err.value)
    pytest.importorskip("PIL")
    picture = tmp_path / "one.png"
    picture.write_bytes(valid_bytes(".png"))
    with pytest.raises(DataError, match="a single image is one sample") as err:
        load_dataset(picture)
    assert str(picture) in str(err.value)


def test_options_that_do_not_fit_the_source_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(valid_bytes(".csv"))
    with pytest.raises(DataError, match="applies to images") as err:
        load_dataset(path, image_size=28)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="only beside a .npy array"):
        load_dataset(path, labels_path=tmp_path / "x.npy")
    with pytest.raises(DataError, match="kind must be one of"):
        load_dataset(path.with_suffix(".npy") if path.with_suffix(".npy").write_bytes(valid_bytes(".npy")) else path,
                     kind="graph")


def test_budget_message_says_how_much_and_how_to_subsample():
    with pytest.raises(DataError) as err:
        check_budget("/data/faces", 120_000, (3, 64, 64), "this folder holds 120,000 images", 1 << 30)
    message = str(err.value)
    assert message == (
        "/data/faces: this folder holds 120,000 images of 3x64x64, 5.5 GiB as float32, over the 1.0 GiB "
        "budget; use --limit 21,845 (or fewer) to load a stratified subsample"
    )
    check_budget("/data/faces", 120_000, (3, 64, 64), "...", 1 << 30, limit=20_000)  # fits: no error
    check_budget("/data/faces", 120_000, (3, 64, 64), "...", None)  # no budget


def test_limit_and_split_are_seeded():
    a = load_dataset("mnist5k", limit=100, seed=7)
    b = load_dataset("mnist5k", limit=100, seed=7)
    np.testing.assert_array_equal(a.x, b.x)
    assert np.bincount(a.labels).tolist() == [10] * 10
    train, val = split_indices(len(a), 0.2, seed=3)
    assert len(val) == 20 and not set(train) & set(val)


def test_torchvision_absent_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(DataError) as err:
        load_dataset("torchvision:FashionMNIST")
    message = str(err.value)
    assert message.startswith("torchvision:FashionMNIST: needs the torchvision package")


def test_user_folder_is_untouched_by_a_full_load(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    d = load_mnist5k()
    np.save(folder / "digits.npy", d.x[:50, 0])
    np.save(folder / "digits_labels.npy", d.labels[:50])
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    loaded = load_dataset(folder / "digits.npy", limit=20)
    assert len(loaded) == 20 and loaded.labels is not None
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert after == before


def test_label_names_lookup_and_leaving_a_class_out():
    from aegui.core.data import load_dataset

    ds = load_dataset("signals", limit=200)
    anomalous = ds.find_label("anomalous")
    assert anomalous is not None and ds.label_name(anomalous) == "anomalous"
    assert ds.find_label(str(anomalous)) == anomalous and ds.find_label("nope") is None
    rest = ds.without_label(anomalous)
    assert anomalous not in set(rest.labels.tolist())
    assert len(rest) == len(ds) - int((ds.labels == anomalous).sum())
    assert rest.name == "signals without anomalous"
