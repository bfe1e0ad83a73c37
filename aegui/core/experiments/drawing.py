"""The report's pictures, drawn with Pillow alone: line charts, bar charts, scatter plots, image grids.

Each function returns a ``PIL.Image``; ``report.py`` saves them as PNG. Charts put one series per
arm in a fixed colour order, so an arm keeps its colour across a report's figures.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
INK, GRID, BACKGROUND = "#222222", "#e4e4e4", "white"
WIDTH, HEIGHT = 760, 440
MARGIN = dict(left=78, right=24, top=44, bottom=64)


@lru_cache(maxsize=8)
def font(size: int = 14) -> ImageFont.ImageFont:
    """DejaVu Sans where installed (it has Greek letters), else Pillow's own font."""
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        return ImageFont.load_default()


def text_width(draw: ImageDraw.ImageDraw, text: str, size: int = 14) -> float:
    return draw.textlength(text, font=font(size))


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e9:
        return f"{int(value):,}"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:.4g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering lo..hi, about ``count`` of them."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.5:
        ticks.append(round(t, 12))
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten, with 2, 3 and 5 between them over a short range (3 over a middle one)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1, 2, 3, 5) if b - a <= 2 else ((1, 3) if b - a <= 4 else (1,))
    return [m * 10.0 ** e for e in range(a, b + 1) for m in mults if lo <= m * 10.0 ** e <= hi * 1.0001] or [lo, hi]


class Axes:
    """A plotting area with linear or log y, mapping data to pixels."""

    def __init__(self, image: Image.Image, box: tuple[int, int, int, int], x_range, y_range, log_y=False):
        self.image, self.draw = image, ImageDraw.Draw(image)
        self.box, self.log_y = box, log_y
        self.x0, self.x1 = x_range
        self.y0, self.y1 = (math.log10(y_range[0]), math.log10(y_range[1])) if log_y else y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1

    def px(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        if self.log_y:
            y = math.log10(max(y, 1e-300))
        return (left + (x - self.x0) / (self.x1 - self.x0) * (right - left),
                bottom - (y - self.y0) / (self.y1 - self.y0) * (bottom - top))

    def frame(self, x_ticks, y_ticks, x_label: str, y_label: str, x_names: list[str] | None = None) -> None:
        left, top, right, bottom = self.box
        d = self.draw
        for y in y_ticks:
            _, py = self.px(self.x0, y)
            if top - 1 <= py <= bottom + 1:
                d.line([(left, py), (right, py)], fill=GRID)
                label = fmt(y)
                d.text((left - 6 - text_width(d, label, 12), py - 7), label, fill=INK, font=font(12))
        for i, x in enumerate(x_ticks):
            px, _ = self.px(x, 10 ** self.y0 if self.log_y else self.y0)
            label = x_names[i] if x_names else fmt(x)
            d.line([(px, bottom), (px, bottom + 4)], fill=INK)
            d.text((px - text_width(d, label, 12) / 2, bottom + 6), label, fill=INK, font=font(12))
        d.rectangle(self.box, outline=INK)
        d.text(((left + right - text_width(d, x_label, 13)) / 2, bottom + 26), x_label, fill=INK, font=font(13))
        if y_label:
            label = Image.new("RGBA", (int(text_width(d, y_label, 13)) + 4, 18), (255, 255, 255, 0))
            ImageDraw.Draw(label).text((2, 0), y_label, fill=INK, font=font(13))
            rotated = label.rotate(90, expand=True)
            self.image.paste(rotated, (6, int((top + bottom - rotated.height) / 2)), rotated)


def new_canvas(title: str, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A white picture with ``title`` at the top, in a smaller font (then cut short) if it is too long."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(image)
    size = 15
    while size > 11 and text_width(d, title, size) > width - 32:
        size -= 1
    while len(title) > 8 and text_width(d, title, size) > width - 32:
        title = title[:-2].rstrip() + "…"
    d.text((16, 12), title, fill=INK, font=font(size))
    return image


def legend(image: Image.Image, names: list[str], x: int, y: int, dashed: str | None = None) -> None:
    d = ImageDraw.Draw(image)
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        d.line([(x, y + 8), (x + 22, y + 8)], fill=colour, width=3)
        d.text((x + 28, y), name, fill=INK, font=font(12))
        x += 40 + int(text_width(d, name, 12))
    if dashed:
        dash_line(d, [(x, y + 8), (x + 22, y + 8)], "#555555")
        d.text((x + 28, y), dashed, fill=INK, font=font(12))


def dash_line(d: ImageDraw.ImageDraw, points, colour: str, width: int = 2, dash: float = 6.0) -> None:
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        length = math.hypot(bx - ax, by - ay)
        n = max(1, int(length / dash))
        for k in range(0, n, 2):
            t0, t1 = k / n, min(1.0, (k + 1) / n)
            d.line([(ax + (bx - ax) * t0, ay + (by - ay) * t0), (ax + (bx - ax) * t1, ay + (by - ay) * t1)],
                   fill=colour, width=width)


def line_chart(series: list[tuple[str, list[float], list[float]]], title: str, x_label: str = "",
               y_label: str = "", log_y: bool = False,
               reference: tuple[str, list[float], list[float]] | None = None) -> Image.Image:
    """One line (with markers) per (name, xs, ys); ``reference`` drawn dashed in grey."""
    image = new_canvas(title)
    every = [(x, y) for _, xs, ys in series + ([reference] if reference else []) for x, y in zip(xs, ys)
             if math.isfinite(y)]
    log_y = log_y and bool(every) and all(y > 0 for _, y in every)
    xs_all = [x for x, _ in every] or [0.0, 1.0]
    ys_all = [y for _, y in every] or [0.0, 1.0]
    lo, hi = min(ys_all), max(ys_all)
    if log_y:
        lo, hi = lo / 1.15, hi * 1.15
        y_ticks = log_ticks(lo, hi)
    else:
        pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
        y_ticks = nice_ticks(lo - pad, hi + pad)
        lo, hi = min(lo - pad, y_ticks[0]), max(hi + pad, y_ticks[-1])
    x_lo, x_hi = min(xs_all), max(xs_all)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    box = (MARGIN["left"], MARGIN["top"], WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"] - 22)
    ax = Axes(image, box, (x_lo, x_hi), (lo, hi), log_y)
    integer_x = all(float(x).is_integer() for x in xs_all)
    x_ticks = [t for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi and (not integer_x or float(t).is_integer())]
    ax.frame(x_ticks, y_ticks, x_label, y_label)
    if reference:
        pts = [ax.px(x, y) for x, y in zip(reference[1], reference[2]) if math.isfinite(y)]
        if len(pts) > 1:
            dash_line(ax.draw, pts, "#555555")
    for i, (_, xs, ys) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [ax.px(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
        if len(pts) > 1:
            ax.draw.line(pts, fill=colour, width=2, joint="curve")
        for px, py in pts:
            ax.draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
    legend(image, [name for name, _, _ in series], MARGIN["left"], HEIGHT - 28, reference[0] if reference else None)
    return image


def bar_panels(panels: list[tuple[str, list[float]]], title: str, x_label: str = "", y_label: str = "",
               reference: tuple[str, float] | None = None) -> Image.Image:
    """One small bar chart per (name, values), stacked, each on its own y scale (a sparse code's bars
    would vanish on a dense one's); ``reference`` a dashed line in each."""
    panel_h = 150
    image = new_canvas(title, WIDTH, 40 + panel_h * len(panels) + 30)
    for i, (name, vs) in enumerate(panels):
        values = [v for v in vs if math.isfinite(v)] + ([reference[1]] if reference else [])
        lo, hi = min(0.0, min(values, default=0.0)), max(values, default=1.0)
        ticks = nice_ticks(lo, hi if hi > lo else lo + 1, 3)
        lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
        top = 40 + i * panel_h
        box = (MARGIN["left"], top + 22, WIDTH - MARGIN["right"], top + panel_h - 24)
        ax = Axes(image, box, (0, max(1, len(vs))), (lo, hi))
        count = len(vs)
        step = max(1, int(math.ceil(count / 16)))
        ax.frame([k + 0.5 for k in range(0, count, step)], ticks, "", y_label if i == len(panels) // 2 else "",
                 [str(k + 1) for k in range(0, count, step)])
        colour = COLOURS[i % len(COLOURS)]
        for k, v in enumerate(vs):
            if not math.isfinite(v):
                continue
            x0, y0 = ax.px(k + 0.1, max(v, lo))
            x1, y1 = ax.px(k + 0.9, max(min(0.0, hi), lo))
            ax.draw.rectangle([x0, min(y0, y1), max(x1, x0 + 1), max(y0, y1)], fill=colour)
        if reference:
            _, ry = ax.px(0, reference[1])
            dash_line(ax.draw, [(box[0], ry), (box[2], ry)], "#333333", width=1)
        ax.draw.text((box[0] + 4, top + 2), name, fill=INK, font=font(13))
    d = ImageDraw.Draw(image)
    footer = x_label + (f"    dashed: {reference[0]} = {fmt(reference[1])}" if reference else "")
    d.text((MARGIN["left"], image.height - 26), footer, fill=INK, font=font(12))
    return image


def figure_bars(name: str, labels: list[str], values: list[float], width: int = WIDTH // 2) -> Image.Image:
    """One bar per arm for a single figure, its value written beside it."""
    image = new_canvas(name, width, 44 + 26 * len(labels))
    d = ImageDraw.Draw(image)
    label_w = max(text_width(d, label, 12) for label in labels) + 14
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = min(0.0, min(finite, default=0.0)), max(0.0, max(finite, default=1.0))
    span = (hi - lo) or 1.0
    left, right = 16 + label_w, width - 76
    for i, (label, v) in enumerate(zip(labels, values)):
        y = 40 + 26 * i
        d.text((16, y + 2), label, fill=INK, font=font(12))
        if math.isfinite(v):
            zero = left + (0 - lo) / span * (right - left)
            end = left + (v - lo) / span * (right - left)
            d.rectangle([min(zero, end), y, max(zero, end, min(zero, end) + 1), y + 18], fill=COLOURS[i % len(COLOURS)])
            d.text((max(zero, end) + 5, y + 2), fmt(v), fill=INK, font=font(12))
        else:
            d.text((left, y + 2), "not a number", fill=INK, font=font(12))
    return image


def scatter_panels(panels: list[tuple[str, list[float], list[float], list[float] | None]], title: str,
                   x_label: str = "", y_label: str = "", circle: float | None = None) -> Image.Image:
    """Side-by-side scatter plots, one per (name, xs, ys, class labels); points coloured by class.
    ``circle`` draws a dashed circle of that radius around the origin (a prior's one-sigma)."""
    n = len(panels)
    size = 300
    image = new_canvas(title, max(WIDTH, 40 + n * (size + 40)), size + 120)
    for i, (name, xs, ys, cls) in enumerate(panels):
        x = np.asarray(xs, np.float64)
        y = np.asarray(ys, np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        lim = float(np.percentile(np.abs(np.concatenate([x[ok], y[ok]])), 99)) * 1.1 if ok.any() else 1.0
        lim = max(lim, circle * 1.2 if circle else 0.0, 1e-6)
        left = 60 + i * (size + 40)
        box = (left, 60, left + size, 60 + size)
        ax = Axes(image, box, (-lim, lim), (-lim, lim))
        ticks = [t for t in nice_ticks(-lim, lim, 4) if -lim <= t <= lim]
        ax.frame(ticks, ticks, x_label, y_label if i == 0 else "")
        if circle:
            pts = [ax.px(circle * math.cos(t), circle * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 73)]
            dash_line(ax.draw, pts, "#555555", width=1, dash=4)
        classes = np.asarray(cls if cls is not None else np.zeros(len(x)), np.int64)
        for px_, py_, c in zip(x[ok], y[ok], classes[ok]):
            if abs(px_) <= lim and abs(py_) <= lim:
                cx, cy = ax.px(px_, py_)
                ax.draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=COLOURS[int(c) % len(COLOURS)])
        ax.draw.text((left, 38), name, fill=INK, font=font(13))
    return image


def to_rgb_tiles(images: np.ndarray, scale: int) -> np.ndarray:
    """(N, C, H, W) 0-1 floats -> (N, H*scale, W*scale, 3) uint8."""
    x = np.clip(np.nan_to_num(np.asarray(images, np.float32)), 0, 1)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    elif x.shape[1] != 3:
        x = np.repeat(x.mean(axis=1, keepdims=True), 3, axis=1)
    x = (x.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    return x.repeat(scale, axis=1).repeat(scale, axis=2)


def image_grid(panels: list[tuple[str, np.ndarray, list[str]]], title: str, columns: int = 8) -> Image.Image:
    """Per (name, images (N, C, H, W), row captions): a labelled grid, panels stacked."""
    h, w = panels[0][1].shape[-2:]
    scale = max(1, min(4, 96 // max(h, w)))
    tile_h, tile_w = h * scale, w * scale
    gap = 4
    caption_w = 0
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for _, _, captions in panels:
        for c in captions:
            caption_w = max(caption_w, int(text_width(probe, c, 12)) + 12)
    width = max(WIDTH, 32 + columns * (tile_w + gap) + caption_w)
    heights = [26 + math.ceil(len(imgs) / columns) * (tile_h + gap) + 8 for _, imgs, _ in panels]
    image = new_canvas(title, width, 44 + sum(heights))
    d = ImageDraw.Draw(image)
    y = 44
    for (name, imgs, captions), panel_h in zip(panels, heights):
        d.text((16, y + 2), name, fill=INK, font=font(13))
        tiles = to_rgb_tiles(imgs, scale)
        for k, tile in enumerate(tiles):
            row, col = divmod(k, columns)
            image.paste(Image.fromarray(tile), (16 + col * (tile_w + gap), y + 26 + row * (tile_h + gap)))
        for row, caption in enumerate(captions):
            cy = y + 26 + row * (tile_h + gap) + tile_h / 2 - 7
            d.text((16 + columns * (tile_w + gap) + 8, cy), caption, fill=INK, font=font(12))
        y += panel_h
    return image
