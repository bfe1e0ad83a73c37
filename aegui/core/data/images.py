"""A folder of images (png, jpg, bmp, ...), with subfolders as labels.

The files are listed and, with --limit, subsampled before any is decoded; the
first image's header gives the size for the memory estimate. Images are
decoded with Pillow, imported lazily so the rest of the engine works without it,
one at a time and at about the size asked for (``_near_size``), each closed
before the next: a folder of large photos costs one reduced image at a time.
"""
from __future__ import annotations

import os
import re
import threading
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .dataset import DataError, Dataset, LoadCancelled, check_budget, require_two_samples, stratified_limit
from .png_strips import can_reduce_in_strips, reduce_in_strips

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SIGNATURES = ((b"\x89PNG", "PNG"), (b"\xff\xd8", "JPEG"), (b"BM", "BMP"), (b"GIF8", "GIF"),
               (b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"RIFF", "WebP"))
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading image files needs the Pillow package, which is not installed (pip install pillow)") from None
    return Image


def _natural_key(text: str):
    """Sort 'class2' before 'class10', as a person would."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text)]


def list_images(root: Path) -> tuple[list[Path], np.ndarray | None, list[str] | None]:
    """Image files under ``root`` and, where they sit in subfolders, a label per file."""
    found, others = [], []
    # os.walk on strings: listing 60,000 files through pathlib objects costs more than decoding them.
    for folder, dirs, names in os.walk(root):
        # Hidden entries include macOS '._name.png' resource forks, which are not images.
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(folder, root)
        for name in names:
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                found.append(name if rel == "." else os.path.join(rel, name))
            elif len(others) < 1:
                others.append(name)
    if not found:
        detail = f"found other files such as {others[0]}" if others else "the folder is empty"
        raise DataError(f"{root}: holds no images (expected {', '.join(IMAGE_SUFFIXES)} files); {detail}")
    found.sort(key=_natural_key)
    files = [root / rel for rel in found]
    top = [rel for rel in found if os.sep not in rel]
    if len(top) == len(found):
        return files, None, None
    if top:
        raise DataError(
            f"{root}: holds {len(top)} image(s) such as {top[0]} directly beside the class subfolders; "
            f"expected every image inside a subfolder named after its label"
        )
    tops = [rel.split(os.sep, 1)[0] for rel in found]
    classes = sorted(set(tops), key=_natural_key)
    number = {c: i for i, c in enumerate(classes)}
    labels = np.array([number[t] for t in tops], dtype=np.int64)
    return files, labels, classes


def _parse_size(image_size, where: str) -> tuple[int, int] | None:
    """(height, width) from None, an int, or a pair."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)):
        h = w = int(image_size)
    else:
        try:
            h, w = (int(v) for v in image_size)
        except (TypeError, ValueError):
            raise DataError(f"{where}: the image size must be a number or (height, width); found {image_size!r}") from None
    if h < 1 or w < 1 or h > 4096 or w > 4096:
        raise DataError(f"{where}: the image size must be from 1 to 4096 pixels a side; found {h}x{w} (height x width)")
    return h, w


# Pillow warns (DecompressionBombWarning, printed as two raw lines) about an image over
# Image.MAX_IMAGE_PIXELS (89.5 megapixels by default) and refuses (DecompressionBombError) one over twice
# that. The refusal is this importer's bound too, said in its own one line; under it the warning is only
# noise, since images are decoded one at a time and reduced at once to the size asked for.
# catch_warnings swaps process-wide state, so two loads on two threads must not interleave it.
_OPEN_LOCK = threading.Lock()


def _open(Image, path: Path):
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
        bound = f"{2 * Image.MAX_IMAGE_PIXELS / 1e6:,.0f}" if Image.MAX_IMAGE_PIXELS else "Pillow's"
        raise DataError(
            f"{path}: holds {pixels}, over the {bound}-megapixel bound for one image (Pillow's guard against "
            f"decompression bombs); scale it down before importing it"
        ) from None
    except Image.UnidentifiedImageError:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: the file is empty (0 bytes); expected an image") from None
        with open(path, "rb") as f:
            head = f.read(12)
        for magic, fmt in _SIGNATURES:
            if head.startswith(magic):
                raise DataError(
                    f"{path}: the image data is damaged or cut short: it starts as a {fmt} image "
                    f"but cannot be decoded ({path.stat().st_size:,} bytes)"
                ) from None
        shown = head.decode("ascii") if all(32 <= b < 127 for b in head) else head.hex(" ").upper()
        raise DataError(
            f"{path}: not a readable image: expected {path.suffix.lower().lstrip('.').upper()} image data, "
            f"found data starting with {shown!r} that no image format matches"
        ) from None
    except Exception as err:  # Pillow raises many kinds for a bad file; all mean "not an image".
        raise DataError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None


def _is_colour(image) -> bool:
    if image.mode in _GREY_MODES:
        return False
    if image.mode == "P":
        palette = image.getpalette() or []
        triples = np.array(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
        return bool(len(triples) and np.any(triples != triples[:, :1]))
    return True


# Reduce by whole factors to within this many times the target size, then resample: Pillow's own
# resize(reducing_gap=3) advice, "indistinguishable from fair resampling in most cases".
REDUCING_GAP = 3
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F")


def _near_size(Image, image, size: tuple[int, int]):
    """``image`` decoded no larger than ``size`` needs.

    A JPEG decodes at 1/2, 1/4 or 1/8 scale (draft); an image still over 2x3 times the target is
    box-reduced by a whole factor before anything else is done to it: an 8-bit PNG strip by strip as
    it is decoded (png_strips), any other image once decoded whole, its full-size pixels let go at once.
    """
    image.draft(None, (size[1], size[0]))
    fx, fy = image.width // (size[1] * REDUCING_GAP), image.height // (size[0] * REDUCING_GAP)
    if fx < 2 and fy < 2:
        return image
    whole = image
    if can_reduce_in_strips(image):
        reduced = reduce_in_strips(Image, image, (max(fx, 1), max(fy, 1)))
        whole.close()
        return reduced
    if image.mode not in _REDUCIBLE_MODES:
        # Palette, 1-bit and 16-bit images: to a mode whose pixels can be averaged.
        if image.mode.startswith("I;16"):
            image = image.convert("I")
        else:
            transparent = image.mode == "PA" or "transparency" in image.info
            image = image.convert("RGBA" if transparent else "RGB" if image.mode == "P" else "L")
    reduced = image.reduce((max(fx, 1), max(fy, 1)))
    whole.close()  # its full-size pixels go now, not when the caller is done
    return reduced


def _grey_scale(image) -> float | None:
    """What a 16-bit or float grey image's values are out of (mapped to 0-255): None for 8-bit images."""
    if not (image.mode.startswith("I;16") or image.mode in ("I", "F")):
        return None
    top = image.getextrema()[1]  # of the whole image, before any reduction averages the peaks away
    if image.mode == "F":
        return 1.0 if top <= 1.0 else 255.0
    return 65535.0 if top > 255 else 255.0


def _pixels(Image, image, colour: bool, size: tuple[int, int] | None) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 pixels of a decoded image, resized if asked."""
    scale = _grey_scale(image)
    if size is not None:
        image = _near_size(Image, image, size)
    if scale is not None:
        # 16-bit and float greys: scale to 0-255 rather than clip at 255.
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(values / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))
    target = "RGB" if colour else "L"
    if image.mode != target:
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels go onto white, as most viewers show them.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        image = image.convert(target)
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(image)


CANCEL_EVERY = 64  # images decoded between two looks at the cancel flag (~10 ms of work)


def load_image_folder(root: Path, *, image_size=None, channels: int | None = None, limit=None, seed=0,
                      budget_bytes=None, cancel=None) -> Dataset:
    """Images under ``root`` as uint8 (N, C, H, W).

    ``image_size`` resizes every image; without it all must share one size.
    ``channels`` 1 or 3 forces grey or colour; by default colour is used when
    any image is in colour. ``cancel()`` returning True stops the load with
    LoadCancelled (decoding a large folder takes seconds).
    """
    Image = _pillow()
    size = _parse_size(image_size, str(root))
    if channels not in (None, 1, 3):
        raise DataError(f"{root}: channels must be 1 (grey) or 3 (colour); found {channels!r}")
    files, labels, classes = list_images(root)
    require_two_samples(len(files), str(root))
    first = _open(Image, files[0])
    try:  # a refusal here must not leave the first file open for the garbage collector to close
        h, w = size if size is not None else (first.height, first.width)
        colour = channels == 3 or (channels is None and _is_colour(first))
        check_budget(str(root), len(files), (3 if colour else 1, h, w),
                     f"this folder holds {len(files):,} images", budget_bytes, limit)
        if limit is not None and limit < len(files):
            keep = stratified_limit(labels, len(files), limit, seed)
            if keep[0] != 0:  # the first file was not chosen: the chosen first sets the size instead
                first.close()
                first = _open(Image, files[keep[0]])
                h, w = size if size is not None else (first.height, first.width)
                colour = channels == 3 or (channels is None and _is_colour(first))
            files = [files[i] for i in keep]
            labels = None if labels is None else labels[keep]
    except BaseException:
        first.close()
        raise

    x = np.empty((len(files), h, w, 3) if colour else (len(files), h, w), dtype=np.uint8)
    first_size = (first.width, first.height)
    for i, path in enumerate(files):
        if cancel is not None and i % CANCEL_EVERY == 0 and cancel():
            first.close()
            raise LoadCancelled(f"{root}: loading was cancelled")
        image = first if i == 0 else _open(Image, path)
        # close(), not "with": leaving a with-block closes only the file, and the decoded pixels of a
        # large image would stay until the next one had been decoded beside them.
        try:
            if size is None and (image.width, image.height) != first_size:
                raise DataError(
                    f"{path}: is {image.width}x{image.height} pixels but {files[0]} is "
                    f"{first_size[0]}x{first_size[1]} (width x height); images of mixed sizes need an image size "
                    f"to resize them to (--image-size)"
                )
            if channels is None and not colour and _is_colour(image):
                # One colour image in a grey folder: switch the whole set to colour.
                colour = True
                x = np.repeat(x[..., None], 3, axis=3)
            try:
                x[i] = _pixels(Image, image, colour, size)
            except DataError:
                raise
            except Exception as err:  # a header that parsed but data that does not decode
                raise DataError(f"{path}: the image data is damaged or cut short ({type(err).__name__}: {err})") from None
        finally:
            image.close()
    x = x.transpose(0, 3, 1, 2) if colour else x[:, None]
    dataset = Dataset(
        name=root.name or "images", x=np.ascontiguousarray(x), kind="image", labels=labels, label_names=classes,
        description=f"{len(files):,} images from {root.name}/", source=str(root),
    )
    # An array, so that Dataset.subset keeps it in step with the samples.
    prefix = len(str(root).rstrip(os.sep)) + 1
    dataset.meta["files"] = np.array([str(p)[prefix:] for p in files])
    return dataset


def adapt_images(dataset: Dataset, image_size=None, channels: int | None = None) -> Dataset:
    """Resize and/or change the channels of an image dataset already in memory (IDX, arrays, built-ins)."""
    where = dataset.source or dataset.name
    size = _parse_size(image_size, where)
    if channels not in (None, 1, 3):
        raise DataError(f"{where}: channels must be 1 (grey) or 3 (colour); found {channels!r}")
    if size is None and channels is None:
        return dataset
    if dataset.kind != "image":
        raise DataError(f"{where}: an image size or channel count applies to images; this set holds {dataset.kind} samples")
    x = dataset.x
    if channels is not None and x.shape[1] != channels:
        if channels == 3:
            x = np.repeat(x, 3, axis=1)
        else:
            # ITU-R 601-2 luma, the weights Pillow uses for RGB -> L.
            luma = np.tensordot(np.array([0.299, 0.587, 0.114], dtype=np.float32), x.astype(np.float32), axes=([0], [1]))
            x = np.clip(np.round(luma), 0, 255).astype(np.uint8)[:, None]
    if size is not None and x.shape[2:] != size:
        Image = _pillow()
        out = np.empty((len(x), x.shape[1], *size), dtype=np.uint8)
        for i in range(len(x)):
            for c in range(x.shape[1]):
                plane = Image.fromarray(np.ascontiguousarray(x[i, c]))
                out[i, c] = np.asarray(plane.resize((size[1], size[0]), Image.BILINEAR))
        x = out
    return replace(dataset, x=np.ascontiguousarray(x), meta=dict(dataset.meta))
