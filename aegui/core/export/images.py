"""``--images DIR``: reconstructions, first-layer filters and the latent map as PNG, the metrics as CSV.

Files: ``reconstructions.png`` (validation samples, each row of inputs followed by the row of
their reconstructions), ``filters.png`` (the first layer's weights, each scaled on its own,
grey at zero), ``latent_map.png`` (the validation codes' first two principal components,
coloured by label), ``metrics.csv`` (one row per epoch of the run's history) and, when the run
finished, ``summary.csv``. Pillow draws the pictures; nothing here needs Qt or matplotlib.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..io import atomic_write_bytes, atomic_write_text
from ..latent import project
from .common import ExportError, ExportResult, export_model

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
MAP_SIZE = 512
MAX_FILTERS = 64


def _write_png(array: np.ndarray, path: Path, min_width: int = 256) -> None:
    """A (H, W) or (H, W, 3) array in 0-1, enlarged by a whole factor to at least ``min_width``."""
    pixels = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L")
    scale = max(1, math.ceil(min_width / max(1, image.width)))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    atomic_write_bytes(path, buffer.getvalue())


def _picture(sample: np.ndarray, kind: str) -> np.ndarray:
    """One sample or filter as a 2-D (or RGB) picture: images as they are, sequences as channels x
    steps, vectors as one row."""
    a = np.asarray(sample, np.float32)
    if a.ndim == 3:  # (C, H, W)
        if a.shape[0] == 3:
            return a.transpose(1, 2, 0)
        if a.shape[0] == 1:
            return a[0]
        return np.concatenate(list(a), axis=1)  # channels side by side
    if a.ndim == 2:
        return a.T if kind == "sequence" else a
    return a.reshape(1, -1)


def _grid(pictures: list[np.ndarray], columns: int, background: float = 1.0) -> np.ndarray:
    h = max(p.shape[0] for p in pictures)
    w = max(p.shape[1] for p in pictures)
    rgb = any(p.ndim == 3 for p in pictures)
    rows = math.ceil(len(pictures) / columns)
    shape = (rows * (h + 1) + 1, columns * (w + 1) + 1) + ((3,) if rgb else ())
    out = np.full(shape, background, np.float32)
    for i, p in enumerate(pictures):
        if rgb and p.ndim == 2:
            p = np.repeat(p[:, :, None], 3, axis=2)
        r, c = divmod(i, columns)
        out[1 + r * (h + 1):1 + r * (h + 1) + p.shape[0], 1 + c * (w + 1):1 + c * (w + 1) + p.shape[1]] = p
    return out


def _scale(x: np.ndarray, kind: str) -> tuple[float, float]:
    if kind == "image":
        return 0.0, 1.0
    lo, hi = float(np.min(x)), float(np.max(x))
    return (lo, hi) if hi > lo else (lo - 1.0, lo + 1.0)


def _reconstructions(wrapper, x: np.ndarray, kind: str, path: Path) -> None:
    with torch.no_grad():
        recon = wrapper(torch.from_numpy(x)).numpy()
    lo, hi = _scale(x, kind)
    columns = 8 if kind == "image" else 1
    pictures = []
    for start in range(0, len(x), columns):
        part = slice(start, start + columns)
        blank = [np.ones_like(_picture(x[0], kind))] * (columns - len(x[part]))
        pictures += [_picture((s - lo) / (hi - lo), kind) for s in x[part]] + blank
        pictures += [_picture((s - lo) / (hi - lo), kind) for s in recon[part]] + blank
    _write_png(_grid(pictures, columns), path)


def _filters(model, kind: str, family: str, path: Path) -> bool:
    filters = model.first_layer_filters()
    if filters is None or len(filters) == 0:
        return False
    pictures = []
    for f in filters[:MAX_FILTERS].numpy():
        if kind == "sequence" and family == "conv":
            f = f.T  # a Conv1d kernel is (channels, width); _picture turns (steps, channels) around
        peak = float(np.abs(f).max()) or 1.0
        pictures.append(_picture(0.5 + 0.5 * f / peak, kind))
    _write_png(_grid(pictures, min(8, len(pictures)), background=0.0), path)
    return True


def _latent_map(wrapper, x: np.ndarray, labels: np.ndarray | None, names, path: Path) -> None:
    with torch.no_grad():
        codes = np.concatenate([wrapper.encode(torch.from_numpy(x[i:i + 1024])).numpy()
                                for i in range(0, len(x), 1024)])
    points, projection = project(codes)
    image = Image.new("RGB", (MAP_SIZE, MAP_SIZE), "white")
    draw = ImageDraw.Draw(image)
    margin = 28
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    xy = margin + (points - lo) / span * (MAP_SIZE - 2 * margin)
    xy[:, 1] = MAP_SIZE - xy[:, 1]  # y grows upwards
    for i, (px, py) in enumerate(xy):
        colour = PALETTE[int(labels[i]) % len(PALETTE)] if labels is not None else PALETTE[0]
        draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
    x_name, y_name = projection.axis_names
    draw.text((MAP_SIZE // 2 - 12, MAP_SIZE - 16), x_name, fill="black")
    draw.text((4, 4), y_name, fill="black")
    if labels is not None:
        for row, label in enumerate(np.unique(labels)[:len(PALETTE)]):
            draw.text((MAP_SIZE - 70, 4 + 12 * row), str(names(int(label)))[:10], fill=PALETTE[int(label) % len(PALETTE)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    atomic_write_bytes(path, buffer.getvalue())


def _csv_value(value):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def _csv(rows: list[dict], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    atomic_write_text(path, text.getvalue())


def export_images(run, dataset, out_dir: str | Path, *, count: int = 16, map_points: int = 2000) -> ExportResult:
    """Write the pictures and CSV files of ``run`` (a RunArtifact) into ``out_dir``.

    ``dataset`` is the data the run trained on (the caller loads it, as ``run.dataset`` describes);
    its validation rows are reconstructed (``count`` of them) and mapped (up to ``map_points``).
    """
    shape = tuple(run.spec.input.shape)
    if tuple(dataset.sample_shape) != shape:
        raise ExportError(f"the dataset's samples are shaped {tuple(dataset.sample_shape)}, but the run's model "
                          f"takes {shape}")
    rows = run.validation_rows(dataset) if len(dataset) == run.dataset.size else np.arange(len(dataset))
    rows = rows[rows < len(dataset)]
    if len(rows) == 0:
        rows = np.arange(len(dataset))
    wrapper = export_model(run)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = run.spec.input.kind
    written = []
    if len(rows):
        _reconstructions(wrapper, dataset.as_float(rows[:count]), kind, out_dir / "reconstructions.png")
        written.append(out_dir / "reconstructions.png")
        mapped = rows[:map_points]
        labels = None if dataset.labels is None else np.asarray(dataset.labels)[mapped]
        _latent_map(wrapper, dataset.as_float(mapped), labels, dataset.label_name, out_dir / "latent_map.png")
        written.append(out_dir / "latent_map.png")
    notes = []
    if _filters(wrapper.model, kind, run.spec.family, out_dir / "filters.png"):
        written.append(out_dir / "filters.png")
    else:
        notes.append("no filters.png: this model has no first-layer filters to show")
    _csv(run.history, out_dir / "metrics.csv")
    written.append(out_dir / "metrics.csv")
    if run.result is not None:
        _csv([{"name": k, "value": v} for k, v in run.result.to_json().items()], out_dir / "summary.csv")
        written.append(out_dir / "summary.csv")
    return ExportResult(written, notes)
