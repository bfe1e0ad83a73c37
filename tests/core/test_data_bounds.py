"""Inputs small on disk and huge once decompressed or decoded: each is read as a bounded stream.

Every hostile case runs the real command line in a child that is timed, whose peak memory is
measured (os.wait4) and whose address space is capped, so that a regression fails the test rather
than the machine. A refusal is exit 2 and one line on stderr; a load that succeeds stays small.
The inputs are built in tmp_path: long runs of zeros are repeated gzip members (a valid gzip file is
any number of members one after another), so a gigabyte costs one 64 MiB compression, ~0.25 s.

Measured through the CLI on a shared 2-core machine, before the importers streamed and after:
the padded IDX .gz 2,843 MB and 18 s to refuse, now 226 MB and 2.6 s; --limit 10 of a 784 MB IDX .gz
1,736 MB, now 324 MB; the 1.2 GB .csv.gz bomb died of MemoryError at a 4.5 GB cap after 25 s, now
refused by the budget at 236 MB in 5.4 s; --limit 200 of a 1,000,000-row .csv.gz 732 MB and 9.5 s,
now 310 MB and 5.2 s; --limit 10 of a 784 MB .npz 990 MB, now 324 MB; two 100-megapixel colour PNGs
at --image-size 28 989 MB with Pillow's warning on stderr, now 351 MB and silent.
"""
from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from aegui.core.data import DataError, LoadCancelled, load_dataset

ROOT = Path(__file__).resolve().parents[2]
SAFETY_NET_MB = 3000  # the child's address-space cap
PEAK_MB = 500  # a CLI child that trains a small model peaks near 330 MB; before, these cases took 0.7-4.5 GB
REFUSED_SECONDS = 20
LOADED_SECONDS = 60  # these decompress most of a gigabyte on a shared 2-core machine
ZERO_BLOCK = 64 << 20


# --- hostile inputs ------------------------------------------------------------------------------


def gzip_member(data: bytes, level: int = 9) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def zeros_gzip(n_bytes: int) -> bytes:
    """Gzip members whose decompressed content is ``n_bytes`` zero bytes."""
    whole, rest = divmod(n_bytes, ZERO_BLOCK)
    return gzip_member(bytes(ZERO_BLOCK)) * whole + (gzip_member(bytes(rest)) if rest else b"")


def idx_header(type_code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(">" + "I" * len(shape), *shape)


def padded_idx_gz(path: Path, declared: int = 2, padding: int = 1300 << 20) -> Path:
    """An honest header for ``declared`` 28x28 images, their pixels, then ``padding`` zero bytes more."""
    records = np.arange(declared * 784, dtype=np.uint8).tobytes()
    path.write_bytes(gzip_member(idx_header(0x08, (declared, 28, 28)) + records) + zeros_gzip(padding))
    return path


def big_idx_pair_gz(folder: Path, n: int) -> Path:
    """``n`` blank 28x28 images and their labels 0-9 in turn, both gzipped."""
    images = folder / "big-images-idx3-ubyte.gz"
    images.write_bytes(gzip_member(idx_header(0x08, (n, 28, 28))) + zeros_gzip(n * 784))
    labels = (np.arange(n) % 10).astype(np.uint8)
    (folder / "big-labels-idx1-ubyte.gz").write_bytes(gzip_member(idx_header(0x08, (n,)) + labels.tobytes()))
    return images


def csv_bomb_gz(path: Path, n_bytes: int = 1200 << 20, row: bytes = b"0.5,0.25,1\n") -> Path:
    """A header line, then one short row repeated to about ``n_bytes`` of text."""
    block = row * (ZERO_BLOCK // len(row))
    path.write_bytes(gzip_member(b"a,b,c\n") + gzip_member(block) * (n_bytes // len(block)))
    return path


def labelled_csv_gz(path: Path, rows: int) -> Path:
    """``rows`` rows of two numbers and a label word (cat, dog, eel in turn)."""
    unit = b"".join(b"%d.5,%d,%s\n" % (i, i % 7, word) for i, word in enumerate((b"cat", b"dog", b"eel") * 100))
    path.write_bytes(gzip_member(b"x,y,label\n" + unit * (rows // 300)))
    return path


def big_npz(path: Path, n: int, width: int = 784) -> Path:
    """x: (n, width) uint8 zeros, streamed into the archive (never whole in memory), y: labels 0-9."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": (n, width)})
            rows = bytes(width * 65536)
            for start in range(0, n, 65536):
                member.write(rows[: width * min(65536, n - start)])
        with archive.open("y.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, (np.arange(n) % 10).astype(np.uint8))
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def big_png(path: Path, width: int, height: int, colour: bool = True, header_only: bool = False) -> Path:
    """A black PNG with a white middle quarter, written row by row (never whole in memory).

    ``header_only`` stops after a cut-short first row: enough for a reader that refuses by the size in
    the header, and a damaged file for one that goes on to decode it.
    """
    channels = 3 if colour else 1
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                                                        2 if colour else 0, 0, 0, 0)))
        if header_only:
            out.write(png_chunk(b"IDAT", zlib.compress(bytes(1 + width * channels))[:20]))
            return path
        compressor = zlib.compressobj(6)
        black = bytes(1 + width * channels)  # the filter type byte (0), then the row
        white = bytearray(black)
        white[1 + width // 4 * channels: 1 + 3 * width // 4 * channels] = b"\xff" * (width // 2 * channels)
        for y in range(height):
            data = compressor.compress(bytes(white) if height // 4 <= y < 3 * height // 4 else black)
            if data:
                out.write(png_chunk(b"IDAT", data))
        out.write(png_chunk(b"IDAT", compressor.flush()) + png_chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def megapixel_pngs(tmp_path_factory) -> Path:
    """Two 10,000 x 10,000 colour PNGs (100 megapixels each, 300 MB of pixels; 0.3 MB on disk)."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("a.png", "b.png"):
        big_png(folder / name, 10_000, 10_000)
    return folder


# --- through the command line ---------------------------------------------------------------------


def train(probe, tmp_path: Path, dataset: Path, *extra: str):
    return probe(["main.py", "train", "--dataset", str(dataset), "--epochs", "1", "--quiet",
                  "--out", str(tmp_path / "out"), *extra], cwd=ROOT, timeout=120, rss_limit_mb=SAFETY_NET_MB)


def assert_refused(result, *words: str) -> str:
    assert result.rc == 2, result
    assert len(result.error_lines) == 1 and result.error_lines[0].startswith("error: "), result
    for word in words:
        assert word in result.error_lines[0], (word, result)
    assert result.seconds < REFUSED_SECONDS and result.peak_mb < PEAK_MB, result
    return result.error_lines[0]


def assert_trained(result) -> None:
    assert result.rc == 0 and result.error_lines == [], result  # no warning either
    assert result.seconds < LOADED_SECONDS and result.peak_mb < PEAK_MB, result


@pytest.mark.slow
def test_an_idx_gz_padded_past_its_declared_records_is_refused_after_reading_them(probe, tmp_path):
    path = padded_idx_gz(tmp_path / "pad-images-idx3-ubyte.gz")  # 1.3 MB on disk, 1.3 GB decompressed
    assert path.stat().st_size < 2 << 20
    line = assert_refused(train(probe, tmp_path, path), str(path), "goes on past the header's 2 records of 28x28",
                          "reading stopped there")
    assert "1,048,576" in line


@pytest.mark.slow
def test_a_limit_copies_out_only_its_records_from_an_idx_gz(probe, tmp_path):
    images = big_idx_pair_gz(tmp_path, 1_000_000)  # 784 MB of pixels once decompressed
    assert_trained(train(probe, tmp_path, images, "--limit", "10"))


@pytest.mark.slow
def test_a_csv_gz_bomb_is_refused_by_the_budget_from_its_counted_lines(probe, tmp_path):
    path = csv_bomb_gz(tmp_path / "bomb.csv.gz")  # 2.3 MB on disk, 1.2 GB of text
    line = assert_refused(train(probe, tmp_path, path), str(path), "this table, by its first",
                          "over the 1.0 GiB budget", "--limit")
    assert "decompressed, holds about" in line and "rows of 3," in line


@pytest.mark.slow
def test_a_limit_parses_only_the_kept_rows_of_a_csv_gz(probe, tmp_path):
    path = labelled_csv_gz(tmp_path / "rows.csv.gz", 1_000_000)
    assert_trained(train(probe, tmp_path, path, "--limit", "200"))


@pytest.mark.slow
def test_a_limit_copies_out_only_its_rows_from_an_npz_member(probe, tmp_path):
    path = big_npz(tmp_path / "big.npz", 1_000_000)  # x: 784 MB once decompressed
    assert_trained(train(probe, tmp_path, path, "--limit", "10"))


@pytest.mark.slow
def test_two_100_megapixel_pngs_decode_reduced_to_the_image_size(probe, tmp_path, megapixel_pngs):
    assert_trained(train(probe, tmp_path, megapixel_pngs, "--image-size", "28"))


def test_two_huge_pngs_without_an_image_size_are_refused_before_decoding(probe, tmp_path):
    folder = tmp_path / "huge"
    folder.mkdir()
    for name in ("a.png", "b.png"):  # headers only: decoding them would fail as damaged, not as too big
        big_png(folder / name, 10_000, 10_000, header_only=True)
    assert_refused(train(probe, tmp_path, folder), str(folder), "this folder holds 2 images of 3x10000x10000",
                   "over the 1.0 GiB budget")


def test_an_image_over_pillows_bomb_bound_is_one_importer_line(probe, tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    big_png(folder / "a.png", 14_000, 14_000, header_only=True)  # 196 megapixels
    big_png(folder / "b.png", 20, 20)
    assert_refused(train(probe, tmp_path, folder, "--image-size", "28"), str(folder / "a.png"),
                   "196 megapixels", "179-megapixel bound")


# --- in process: what the bounded readers return -----------------------------------------------------


def test_a_reduced_decode_shows_the_picture(megapixel_pngs):
    d = load_dataset(megapixel_pngs, image_size=28)
    assert d.x.shape == (2, 3, 28, 28)
    assert (d.x[:, :, 12:16, 12:16] == 255).all() and (d.x[:, :, :5, :5] == 0).all()  # white middle, black corners


def test_a_huge_png_header_is_refused_in_process_without_a_warning(tmp_path):
    # pytest turns every warning into an error: Pillow's bomb warning must not escape.
    for name in ("a.png", "b.png"):
        big_png(tmp_path / name, 10_000, 10_000, header_only=True)
    with pytest.raises(DataError, match="over the 1.0 GiB budget"):
        load_dataset(tmp_path)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filtered_png(path: Path, pixels: np.ndarray, mode: str, filters: list[int]) -> Path:
    """A PNG whose rows use the given filter types in turn (Pillow's encoder picks its own)."""
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    height = pixels.shape[0]
    raw = pixels.reshape(height, -1).astype(np.int64)
    data, previous = bytearray(), np.zeros(raw.shape[1], np.int64)
    for y, row in enumerate(raw):
        kind = filters[y % len(filters)]
        left = np.concatenate([np.zeros(channels, np.int64), row[:-channels]])
        up_left = np.concatenate([np.zeros(channels, np.int64), previous[:-channels]])
        guess = [0 * row, left, previous, (left + previous) // 2,
                 np.array([_paeth(*abc) for abc in zip(left, previous, up_left)])][kind]
        data += bytes([kind]) + ((row - guess) % 256).astype(np.uint8).tobytes()
        previous = row
    colour_type = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}[mode]
    packed = zlib.compress(bytes(data))
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", pixels.shape[1], height, 8,
                                                                        colour_type, 0, 0, 0)))
        for start in range(0, len(packed), 500):  # many IDAT chunks
            out.write(png_chunk(b"IDAT", packed[start:start + 500]))
        out.write(png_chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_a_png_reduced_in_strips_equals_pillows_reduce_of_the_whole(tmp_path, monkeypatch, mode):
    from PIL import Image

    from aegui.core.data import png_strips

    monkeypatch.setattr(png_strips, "STRIP_BYTES", 2000)  # many strips, most not a whole number of boxes
    rng = np.random.default_rng(len(mode))
    channels = len(mode) if mode != "RGBA" else 4
    for trial, (height, width, factor) in enumerate([(61, 47, (3, 4)), (40, 90, (7, 2)), (33, 33, (1, 5))]):
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        path = filtered_png(tmp_path / f"{trial}.png", pixels, mode, [0, 1, 2, 3, 4, 4, 2, 3, 1])
        with Image.open(path) as whole:
            assert np.array_equal(np.asarray(whole).reshape(height, width, channels), pixels)  # the writer is right
            expected = np.asarray(whole.reduce(factor))
        with Image.open(path) as image:
            assert png_strips.can_reduce_in_strips(image)
            np.testing.assert_array_equal(np.asarray(png_strips.reduce_in_strips(Image, image, factor)), expected)


def test_a_large_jpeg_decodes_at_a_fraction_of_its_size(tmp_path, monkeypatch):
    from PIL import Image, JpegImagePlugin

    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(rng.integers(0, 255, (1600, 2400, 3), dtype=np.uint8)).save(tmp_path / name, quality=90)
    decoded = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    d = load_dataset(tmp_path, image_size=(40, 60))
    assert d.x.shape == (2, 3, 40, 60)
    assert decoded and all(size == (300, 200) for size in decoded), decoded  # 1/8 scale, not 2400x1600


def test_trailing_bytes_after_a_gzipped_idx_are_counted_exactly_when_few(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, (10, 28, 28)) + bytes(7840) + b"\0" * 5))
    with pytest.raises(DataError, match=r"5 bytes more than the header's 10 records of 28x28 \(7,840 bytes\)"):
        load_dataset(path)


def test_gzip_members_one_after_another_read_as_one_file(tmp_path):
    images = (np.arange(20 * 784) % 251).astype(np.uint8)
    data = idx_header(0x08, (20, 28, 28)) + images.tobytes()
    path = tmp_path / "m-images-idx3-ubyte.gz"
    path.write_bytes(b"".join(gzip_member(data[i:i + 1000]) for i in range(0, len(data), 1000)))
    np.testing.assert_array_equal(load_dataset(path).x.reshape(-1), images)


def test_a_limit_leaves_a_bad_number_in_a_row_it_does_not_keep_unread(tmp_path):
    from aegui.core.data import stratified_limit

    kept = set(stratified_limit(None, 300, 20, 0).tolist())
    skipped = next(i for i in range(300) if i not in kept)
    rows = [f"{i},{i * 2}" if i != skipped else f"{i},oops" for i in range(300)]
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(("a,b\n" + "\n".join(rows) + "\n").encode()))
    assert len(load_dataset(path, limit=20, seed=0)) == 20
    with pytest.raises(DataError, match=rf"line {skipped + 2}, column 2 \('b'\): expected a number, found 'oops'"):
        load_dataset(path)


def test_a_fortran_order_npz_gives_the_same_kept_rows_as_a_c_order_one(tmp_path):
    x = np.arange(400 * 3 * 5, dtype=np.float32).reshape(400, 3, 5)
    labels = np.arange(400) % 4
    np.savez(tmp_path / "c.npz", x=x, labels=labels)
    np.savez(tmp_path / "f.npz", x=np.asfortranarray(x), labels=labels)
    c = load_dataset(tmp_path / "c.npz", limit=37, seed=2)
    f = load_dataset(tmp_path / "f.npz", limit=37, seed=2)
    np.testing.assert_array_equal(c.x, f.x)
    np.testing.assert_array_equal(c.labels, f.labels)
    full = load_dataset(tmp_path / "c.npz", standardise=False)
    kept = load_dataset(tmp_path / "f.npz", limit=37, seed=2, standardise=False)
    assert {r.tobytes() for r in kept.x} <= {r.tobytes() for r in full.x}


def test_a_labels_array_too_large_for_the_budget_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "many.npz"
    np.savez(path, x=np.zeros((1000, 2), np.float32), labels=np.arange(1000) % 3)
    with pytest.raises(DataError, match="holds 1,000 labels, which choosing a stratified --limit reads whole"):
        load_dataset(path, limit=10, budget_bytes=4000)
    assert len(load_dataset(path, limit=10, budget_bytes=8000)) == 10


@pytest.mark.parametrize("make", ["idx", "table", "npz"])
def test_a_streamed_load_can_be_cancelled(tmp_path, make):
    if make == "idx":
        path = big_idx_pair_gz(tmp_path, 60_000)  # 47 MB decompressed: past the first look at cancel
    elif make == "table":
        path = labelled_csv_gz(tmp_path / "rows.csv.gz", 30_000)
    else:
        path = big_npz(tmp_path / "rows.npz", 60_000)
    with pytest.raises(LoadCancelled, match="cancelled"):
        load_dataset(path, limit=100, cancel=lambda: True)
    assert len(load_dataset(path, limit=100, cancel=lambda: False)) == 100
