"""NumPy .npy / .npz files: what an array is taken to be, labels, and bad arrays."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from aegui.core.data import DataError, load_dataset, per_feature_standardise, unstandardise


def save(path: Path, array=None, **arrays) -> Path:
    if path.suffix == ".npy":
        np.save(path, array)
    else:
        np.savez(path, **arrays)
    return path


def error_of(path, **options) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(path, **options)
    message = str(err.value)
    assert str(path) in message, message
    assert "\n" not in message
    return message


def test_2d_float_array_is_a_standardised_vector_set_that_maps_back(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.normal([5.0, -3.0, 100.0], [1.0, 0.1, 20.0], size=(50, 3))
    raw[:, 1] = 7.0  # a constant column stays finite (std taken as 1)
    path = save(tmp_path / "table.npy", raw)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    d = load_dataset(path)
    assert d.kind == "vector" and d.x.dtype == np.float32 and d.sample_shape == (3,)
    assert np.isfinite(d.x).all() and np.allclose(d.x[:, 1], 0)
    np.testing.assert_allclose(unstandardise(d, d.x), raw, rtol=1e-5, atol=1e-4)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_uint8_3d_and_4d_arrays_are_images_channels_first(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, size=(6, 9, 7), dtype=np.uint8)
    d = load_dataset(save(tmp_path / "grey.npy", grey))
    assert d.kind == "image" and d.x.shape == (6, 1, 9, 7)
    np.testing.assert_array_equal(d.x[:, 0], grey)
    last = rng.integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
    d = load_dataset(save(tmp_path / "rgb_last.npy", last))
    assert d.x.shape == (4, 3, 5, 6)
    np.testing.assert_array_equal(d.x[2, 1], last[2, :, :, 1])
    first = np.ascontiguousarray(last.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(load_dataset(save(tmp_path / "rgb_first.npy", first)).x, first)


def test_float_images_in_zero_one_become_uint8_and_3d_floats_are_sequences(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, size=(5, 4, 4, 1)).astype(np.uint8)
    d = load_dataset(save(tmp_path / "f.npy", pixels.astype(np.float32) / 255.0))
    assert d.x.dtype == np.uint8
    np.testing.assert_array_equal(d.x[:, 0], pixels[..., 0])
    signals = np.random.default_rng(3).normal(size=(8, 20, 2)).astype(np.float32)
    d = load_dataset(save(tmp_path / "s.npy", signals))
    assert d.kind == "sequence" and d.sample_shape == (20, 2) and d.feature_mean.shape == (2,)
    np.testing.assert_allclose(unstandardise(d, d.x), signals, atol=1e-5)
    # The caller can say what an ambiguous array is.
    assert load_dataset(tmp_path / "s.npy", kind="vector").sample_shape == (40,)


def test_npz_with_data_and_labels(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(10, 4)
    path = save(tmp_path / "set.npz", x=x, labels=np.array(["b", "a"] * 5))
    d = load_dataset(path, standardise=False)
    np.testing.assert_array_equal(d.x, x)
    assert d.label_names == ["a", "b"] and d.labels.tolist() == [1, 0] * 5
    # Unnamed arrays: the 2-D one is data, arr_1 the labels.
    d = load_dataset(save(tmp_path / "plain.npz", arr_0=x, arr_1=np.arange(10) % 2))
    assert d.labels.tolist() == [0, 1] * 5


def test_labels_file_beside_an_npy(tmp_path):
    save(tmp_path / "x.npy", np.zeros((6, 3), np.uint8))
    np.save(tmp_path / "x_labels.npy", np.array([3, 3, 5, 5, 9, 9]))
    d = load_dataset(tmp_path / "x.npy")
    assert d.labels.tolist() == [3, 3, 5, 5, 9, 9]


def test_nan_or_inf_names_sample_and_position(tmp_path):
    x = np.ones((10, 3, 4), dtype=np.float32)
    x[7, 2, 1] = np.nan
    x[8, 0, 0] = np.inf
    message = error_of(save(tmp_path / "nan.npy", x))
    assert "sample 7 holds nan at index [7, 2, 1]" in message and "2 non-finite values" in message
    assert "expected finite numbers" in message
    y = np.zeros((4, 2))
    y[1, 1] = -np.inf
    message = error_of(save(tmp_path / "inf.npz", x=y))
    assert "sample 1 holds -inf" in message


def test_label_count_differs_from_sample_count(tmp_path):
    message = error_of(save(tmp_path / "m.npz", x=np.zeros((10, 2)), labels=np.zeros(9, int)))
    assert "'x' holds 10 samples but 'labels' holds 9 labels" in message


def test_bad_shapes_and_types(tmp_path):
    assert "found a 1-D array of shape (5,)" in error_of(save(tmp_path / "flat.npy", np.arange(5.0)))
    assert "only 1 sample" in error_of(save(tmp_path / "one.npy", np.zeros((1, 4))))
    assert "pixel values 0-255 or 0-1" in error_of(save(tmp_path / "neg.npy", -np.ones((3, 2, 2, 2))))
    objects = tmp_path / "obj.npy"
    np.save(objects, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert "Python objects" in error_of(objects)
    message = error_of(save(tmp_path / "which.npz", a=np.zeros((3, 2)), b=np.zeros((3, 2))))
    assert "cannot tell which array holds the samples" in message and "'a' (3, 2)" in message


def test_damaged_and_empty_files(tmp_path):
    good = save(tmp_path / "good.npy", np.zeros((100, 10)))
    cut = tmp_path / "cut.npy"
    cut.write_bytes(good.read_bytes()[:500])
    assert "damaged or cut short" in error_of(cut)
    fake = tmp_path / "fake.npz"
    fake.write_text("not a zip")
    assert "not a NumPy .npz archive" in error_of(fake)
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    assert "empty (0 bytes)" in error_of(empty)


def test_budget_estimate_from_the_header_alone(tmp_path):
    path = save(tmp_path / "big.npy", np.zeros((1000, 50), np.float32))
    message = error_of(path, budget_bytes=100_000)
    assert "this file holds 1,000 samples of 50, 195.3 KiB as float32" in message
    assert "--limit 500 (or fewer)" in message
    assert len(load_dataset(path, budget_bytes=100_000, limit=400)) == 400


def test_per_feature_standardise_is_exact_and_safe():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    z, mean, std = per_feature_standardise(x)
    np.testing.assert_allclose(z, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(mean, [2, 5])
    np.testing.assert_allclose(std, [1, 1])
    assert z.dtype == mean.dtype == std.dtype == np.float32


def test_float64_values_beyond_float32_are_refused(tmp_path):
    x = np.ones((20, 4))
    x[3, 2] = 1e300
    path = tmp_path / "big.npy"
    np.save(path, x)
    with pytest.raises(DataError, match=r"sample 3 .* index \[3, 2\].*32-bit"):
        load_dataset(path)


def test_a_limit_reads_only_the_rows_it_keeps_from_an_npy(tmp_path, monkeypatch):
    x = np.arange(500 * 6, dtype=np.float32).reshape(500, 6)
    path = tmp_path / "rows.npy"
    np.save(path, x)
    mapped = []
    real_load = np.load

    def spy(*args, **kwargs):
        mapped.append(kwargs.get("mmap_mode"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    ds = load_dataset(path, limit=40, standardise=False)
    assert mapped == ["r"]  # mapped, not read whole
    assert ds.x.shape == (40, 6) and not isinstance(ds.x, np.memmap)
    rows = {tuple(r) for r in x.tolist()}
    assert all(tuple(r) in rows for r in ds.x.tolist())  # every kept row is a row of the file
