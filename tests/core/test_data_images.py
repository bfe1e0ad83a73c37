"""A folder of images: labels from subfolders, grey and colour, resizing, and bad files."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from aegui.core.data import DataError, load_dataset

Image = pytest.importorskip("PIL.Image", reason="Pillow reads image folders")


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def grey(value: int, size=(8, 6)) -> "Image.Image":
    """A grey image of (width, height) with one pixel marked so images differ."""
    pixels = np.full((size[1], size[0]), value, dtype=np.uint8)
    pixels[0, 0] = 255 - value
    return Image.fromarray(pixels, "L")


def make_labelled_folder(root: Path, per_class: int = 4, classes=("cat", "dog", "eel"), suffix=".png") -> Path:
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            grey(10 * c + i).save(root / name / f"{i}{suffix}")
    return root


def test_subfolders_become_labels_and_pixels_are_exact(tmp_path):
    root = make_labelled_folder(tmp_path / "animals")
    before = tree_hashes(root)
    d = load_dataset(root)
    assert d.kind == "image" and d.x.dtype == np.uint8 and d.x.shape == (12, 1, 6, 8)
    assert d.label_names == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(d.labels, np.repeat([0, 1, 2], 4))
    assert d.x[5, 0, 1, 1] == 11 and d.x[5, 0, 0, 0] == 255 - 11  # dog/1.png
    assert list(d.meta["files"][:2]) == ["cat/0.png", "cat/1.png"]
    assert tree_hashes(root) == before


def test_class_folders_sort_as_numbers(tmp_path):
    root = make_labelled_folder(tmp_path / "digits", per_class=2, classes=("2", "10", "1"))
    assert load_dataset(root).label_names == ["1", "2", "10"]


def test_flat_folder_is_unlabelled_and_other_formats_read(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    grey(5).save(root / "a.jpg", quality=100)
    grey(5).save(root / "b.bmp")
    grey(5).save(root / "c.png")
    (root / "notes.txt").write_text("not an image, ignored")
    (root / "._c.png").write_bytes(b"macOS resource fork, hidden, ignored")
    d = load_dataset(root)
    assert d.labels is None and len(d) == 3
    assert abs(int(d.x[0, 0, 3, 3]) - 5) <= 3  # jpeg is lossy


def test_colour_images_and_channel_choice(tmp_path):
    root = tmp_path / "rgb"
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (5, 4), (200, 100, 10 * i)).save(root / f"{i}.png")
    grey(50, size=(5, 4)).save(root / "3.png")  # one grey image joins as colour
    d = load_dataset(root)
    assert d.x.shape == (4, 3, 4, 5)
    assert tuple(d.x[1, :, 2, 2]) == (200, 100, 10)
    assert tuple(d.x[3, :, 2, 2]) == (50, 50, 50)
    g = load_dataset(root, channels=1)
    assert g.x.shape == (4, 1, 4, 5)
    assert abs(int(g.x[0, 0, 2, 2]) - round(0.299 * 200 + 0.587 * 100)) <= 1


def test_mixed_sizes_refused_naming_two_files_and_sizes(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    grey(1, size=(8, 6)).save(root / "a.png")
    grey(2, size=(8, 6)).save(root / "b.png")
    grey(3, size=(10, 7)).save(root / "c.png")
    with pytest.raises(DataError) as err:
        load_dataset(root)
    message = str(err.value)
    assert str(root / "c.png") in message and str(root / "a.png") in message
    assert "10x7" in message and "8x6" in message and "image size" in message
    d = load_dataset(root, image_size=(6, 9))  # (height, width)
    assert d.x.shape == (3, 1, 6, 9)
    assert load_dataset(root, image_size=16).x.shape == (3, 1, 16, 16)


def test_png_that_is_not_an_image(tmp_path):
    root = make_labelled_folder(tmp_path / "set", per_class=2)
    fake = root / "dog" / "fake.png"
    fake.write_text("<html>this was a web page</html>")
    before = tree_hashes(root)
    with pytest.raises(DataError) as err:
        load_dataset(root)
    message = str(err.value)
    assert str(fake) in message and "not a readable image" in message
    assert tree_hashes(root) == before


def test_truncated_png_and_empty_png(tmp_path):
    root = make_labelled_folder(tmp_path / "set", per_class=2)
    good = (root / "cat" / "1.png").read_bytes()
    cut = root / "cat" / "1.png"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert str(cut) in str(err.value)
    cut.write_bytes(b"")
    with pytest.raises(DataError, match="empty") as err:
        load_dataset(root)
    assert str(cut) in str(err.value)


def test_folder_with_no_images(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "readme.md").write_text("hello")
    with pytest.raises(DataError) as err:
        load_dataset(root)
    message = str(err.value)
    assert str(root) in message and "no images" in message and "readme.md" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="the folder is empty") as err:
        load_dataset(empty)
    assert str(empty) in str(err.value)


def test_one_image_is_refused(tmp_path):
    root = tmp_path / "single"
    root.mkdir()
    grey(3).save(root / "only.png")
    with pytest.raises(DataError, match="only 1 sample; training needs at least 2") as err:
        load_dataset(root)
    assert str(root) in str(err.value)


def test_images_beside_class_folders_are_refused(tmp_path):
    root = make_labelled_folder(tmp_path / "set", per_class=2)
    grey(1).save(root / "stray.png")
    with pytest.raises(DataError, match="stray.png") as err:
        load_dataset(root)
    assert str(root) in str(err.value)


def test_limit_is_stratified_and_decodes_only_chosen_files(tmp_path):
    root = make_labelled_folder(tmp_path / "set", per_class=10)
    (root / "dog" / "9.png").write_text("broken, but not chosen")
    d = load_dataset(root, limit=6, seed=0)
    assert "cat/0.png" not in set(d.meta["files"])  # so the first file is not the first read
    assert len(d) == 6 and np.bincount(d.labels).tolist() == [2, 2, 2]
    assert "dog/9.png" not in set(d.meta["files"])
    # Each kept image is the one its file holds, whichever files the limit chose.
    for seed in range(4):
        d = load_dataset(root, limit=6, seed=seed)
        for pixels, name in zip(d.x, d.meta["files"]):
            assert pixels[0, 1, 1] == np.asarray(Image.open(root / name))[1, 1], (seed, name)


def test_budget_refusal_before_decoding(tmp_path):
    root = make_labelled_folder(tmp_path / "set", per_class=10)
    (root / "eel" / "9.png").write_text("never decoded: the budget refuses first")
    with pytest.raises(DataError) as err:
        load_dataset(root, budget_bytes=1000)
    message = str(err.value)
    assert str(root) in message and "this folder holds 30 images of 1x6x8" in message
    assert "as float32" in message and "budget" in message and "--limit 5 " in message


def test_missing_pillow_gives_a_clear_error(tmp_path, monkeypatch):
    root = make_labelled_folder(tmp_path / "set", per_class=2)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DataError, match="pip install pillow"):
        load_dataset(root)


def test_a_folder_load_can_be_cancelled(tmp_path):
    from PIL import Image

    from aegui.core.data import LoadCancelled, load_dataset

    rng = np.random.default_rng(1)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (6, 6), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    with pytest.raises(LoadCancelled, match="cancelled"):
        load_dataset(tmp_path, cancel=lambda: True)
    assert len(load_dataset(tmp_path, cancel=lambda: False)) == 10
