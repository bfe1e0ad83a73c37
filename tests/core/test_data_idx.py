"""MNIST-format IDX files: pairing, gzip, limits, and every way a file can be wrong."""
from __future__ import annotations

import functools
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from aegui.core.data import DataError, load_dataset, load_mnist5k

TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
              np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = TYPE_CODES[np.dtype(big.dtype)]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + big.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@functools.lru_cache(maxsize=None)
def _mnist():
    return load_mnist5k()


def digits(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    d = _mnist()
    index = np.arange(n) * (len(d) // n)
    return d.x[index, 0], d.labels[index].astype(np.uint8)


def write_pair(folder: Path, prefix: str = "train", n: int = 200, gz: bool = False) -> tuple[Path, Path]:
    images, labels = digits(n)
    ext = ".gz" if gz else ""
    return (write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images, gz),
            write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz))


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("gz", [False, True])
def test_images_file_finds_its_labels_beside_it(tmp_path, gz):
    images_path, _ = write_pair(tmp_path, gz=gz)
    before = tree_hashes(tmp_path)
    d = load_dataset(images_path)
    expected_images, expected_labels = digits(200)
    assert d.kind == "image" and d.x.dtype == np.uint8 and d.x.shape == (200, 1, 28, 28)
    np.testing.assert_array_equal(d.x[:, 0], expected_images)
    np.testing.assert_array_equal(d.labels, expected_labels)
    assert d.label_names == [str(i) for i in range(10)]
    assert tree_hashes(tmp_path) == before  # nothing changed, nothing written beside


def test_labels_file_finds_its_images_and_folder_joins_train_and_test(tmp_path):
    write_pair(tmp_path, "train", 200)
    write_pair(tmp_path, "t10k", 100, gz=True)
    from_labels = load_dataset(tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert len(from_labels) == 100
    whole = load_dataset(tmp_path)
    assert len(whole) == 300
    np.testing.assert_array_equal(whole.labels[:200], digits(200)[1])  # train first


def test_fashion_style_dotted_names_pair_up(tmp_path):
    images, labels = digits(50)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", labels)
    d = load_dataset(tmp_path / "t10k-images.idx3-ubyte")
    np.testing.assert_array_equal(d.labels, labels)


def test_images_without_labels_load_unlabelled(tmp_path):
    images, _ = digits(30)
    d = load_dataset(write_idx(tmp_path / "my-images-idx3-ubyte", images))
    assert d.labels is None and len(d) == 30


def test_limit_is_stratified_and_applied_before_copying(tmp_path):
    images_path, _ = write_pair(tmp_path, n=200)
    d = load_dataset(images_path, limit=50, seed=1)
    assert len(d) == 50
    assert np.bincount(d.labels, minlength=10).min() >= 4  # every digit kept, about 5 each
    full = load_dataset(images_path)
    # The chosen images really are the images that go with the chosen labels.
    for image, label in zip(d.x[:5], d.labels[:5]):
        matches = np.flatnonzero((full.x == image).all(axis=(1, 2, 3)))
        assert label in full.labels[matches]


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_names_file_and_first_incomplete_record(tmp_path, gz):
    images, _ = digits(100)
    data = idx_bytes(images)
    cut = data[: 16 + 784 * 41 + 300]  # 41 whole images, then part of record 41
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(cut) if gz else cut)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    message = str(err.value)
    assert str(path) in message and "truncated" in message
    assert "100 records" in message and "record 41 " in message


def test_cut_short_gzip_stream(tmp_path):
    images, _ = digits(100)
    full = gzip.compress(idx_bytes(images))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        load_dataset(path)
    assert str(path) in str(err.value)


def test_wrong_magic_number_shows_what_was_found(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    message = str(err.value)
    assert str(path) in message and "magic number" in message
    assert "00 00 08 03" in message and "found 50 4B 03 04" in message


def test_image_count_differs_from_label_count(tmp_path):
    images, labels = digits(100)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:99])
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "train-images-idx3-ubyte")
    message = str(err.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "100 images" in message and "99 labels" in message


def test_extra_bytes_after_the_records(tmp_path):
    images, _ = digits(10)
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(idx_bytes(images) + b"\0" * 5)
    with pytest.raises(DataError, match=r"5 bytes more than the header's 10 records") as err:
        load_dataset(path)
    assert str(path) in str(err.value)


def test_empty_idx_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty") as err:
        load_dataset(path)
    assert str(path) in str(err.value)


def test_labels_alone_and_one_image_are_refused(tmp_path):
    _, labels = digits(10)
    lonely = write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match="only labels") as err:
        load_dataset(lonely)
    assert str(lonely) in str(err.value)
    images, _ = digits(10)
    one = write_idx(tmp_path / "one-images-idx3-ubyte", images[:1])
    with pytest.raises(DataError, match="only 1 sample") as err:
        load_dataset(one)
    assert str(one) in str(err.value)


def test_idx_with_unknown_suffix_is_recognised_by_magic(tmp_path):
    images, _ = digits(20)
    path = write_idx(tmp_path / "digits.bin", images)
    assert len(load_dataset(path)) == 20


def test_float_idx_in_zero_one_becomes_uint8_images(tmp_path):
    images = (digits(20)[0] / 255.0).astype(">f4")
    d = load_dataset(write_idx(tmp_path / "f-images-idx3-ubyte", images))
    assert d.x.dtype == np.uint8
    np.testing.assert_array_equal(d.x[:, 0], digits(20)[0])


def test_header_claiming_a_huge_set_is_refused_by_the_budget_before_reading(tmp_path):
    path = tmp_path / "huge-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 4_000_000, 28, 28) + bytes(784 * 3))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    message = str(err.value)
    assert str(path) in message and "4,000,000 records of 1x28x28" in message
    assert "11.7 GiB as float32, over the 1.0 GiB budget; use --limit 342,392 (or fewer)" in message
    with pytest.raises(DataError, match="truncated.*record 3 "):
        load_dataset(path, budget_bytes=None)
