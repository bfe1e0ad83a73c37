"""A large PNG reduced strip by strip, so that its full-size pixels are never all in memory.

Pillow decodes a PNG whole (its ``draft`` scales only JPEGs), so a 100-megapixel colour PNG costs
400 MB even when 28x28 pixels are wanted. Here the image's zlib stream is inflated a strip of rows
at a time; each strip, led by the row before it (unfiltered, as filter type 0, so that rows which
refer to it unfilter exactly), goes to Pillow's own PNG row decoder ("zip") as a stored zlib stream,
and is box-reduced at once. Strips start on multiples of the reduction factor, so the result equals
``image.reduce(factor)`` of the whole decoded image, pixel for pixel (tests/core/test_data_bounds.py).

Only what this covers is taken: non-interlaced, single-frame, 8-bit grey or colour PNGs, with or
without alpha. Anything else is decoded whole, as before.
"""
from __future__ import annotations

import math
import struct
import zlib

STRIP_BYTES = 4 << 20  # filtered bytes inflated and decoded together
_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def can_reduce_in_strips(image) -> bool:
    if image.format != "PNG" or image.mode not in _CHANNELS or getattr(image, "is_animated", False):
        return False
    if image.info.get("interlace") or len(image.tile) != 1:
        return False
    decoder, extents, _, rawmode = image.tile[0]
    return decoder == "zip" and rawmode == image.mode and tuple(extents) == (0, 0, *image.size)


def _idat_data(f, offset: int):
    """The data of the IDAT chunks that begin at ``offset``, piece by piece (CRCs are not checked,
    as Pillow does not check them either)."""
    f.seek(offset - 8)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        if kind != b"IDAT":
            return
        while length:
            piece = f.read(min(length, 1 << 20))
            if not piece:
                return
            length -= len(piece)
            yield piece
        f.read(4)


def reduce_in_strips(Image, image, factor: tuple[int, int]):
    """``image.reduce(factor)`` for a PNG that ``can_reduce_in_strips``, holding one strip at a time."""
    fx, fy = factor
    (width, height), mode = image.size, image.mode
    row_bytes = width * _CHANNELS[mode] + 1  # the filter type byte, then the row
    per_strip = max(fy, STRIP_BYTES // row_bytes // fy * fy)
    out = Image.new(mode, (math.ceil(width / fx), math.ceil(height / fy)))
    inflate = zlib.decompressobj()
    pending, previous = bytearray(), None
    with open(image.filename, "rb") as f:
        pieces = _idat_data(f, image.tile[0][2])
        for top in range(0, height, per_strip):
            rows = min(per_strip, height - top)
            need = rows * row_bytes
            while len(pending) < need:
                data = inflate.unconsumed_tail or next(pieces, b"")
                got = inflate.decompress(data, need - len(pending))
                if not data and not got:
                    raise ValueError(f"image file is truncated ({top + len(pending) // row_bytes} of {height} rows)")
                pending += got
            lead = b"" if previous is None else b"\0" + previous
            strip = Image.frombytes(mode, (width, rows + (previous is not None)),
                                    zlib.compress(lead + pending[:need], 0), "zip", mode)
            del pending[:need]
            if previous is not None:
                strip = strip.crop((0, 1, width, rows + 1))
            previous = strip.crop((0, rows - 1, width, rows)).tobytes("raw", mode)
            out.paste(strip.reduce(factor), (0, top // fy))
    return out
