"""Building blocks shared by the dashboard's panels.

Every rule here exists because a refresh must cost a few milliseconds while a
training thread competes for the CPU and the GIL:

- Axes get a fixed width: pyqtgraph sizes an axis to its widest tick label, so a
  label going from "0.8" to "0.75" would re-lay out the whole plot (and repaint
  everything beside it).
- Small plots take no mouse input and have no auto-range buttons; their ranges
  are set by the panel, only when the data outgrows them.
- Bars are one stepped, filled curve: one item and one path, instead of a
  BarGraphItem that rebuilds a QPicture of rectangles on every update.
- Text that changes is drawn by TextLine, whose updates never re-lay out (see text.py).
- A log axis over less than a decade gets plain-number ticks (LogAxis): pyqtgraph's
  log ticks sit at powers of ten and their multiples, and a loss between 0.90 and
  0.95 has none of them in view, so the axis had no labels at all.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QSizePolicy, QVBoxLayout, QWidget

from ...core.explain import PANEL_HEALTH
from .text import TextLine

TERM_COLOURS = {
    "total": "#4e79a7", "recon": "#f28e2b", "kl": "#e15759", "sparsity": "#76b7b2",
    "contractive": "#59a14f", "adv_gen": "#edc948", "adv_disc": "#b07aa1", "recon_mse": "#9c755f",
}
RUN_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
               "#9c755f", "#bab0ac"]
# Looks of text lines: (colour, bold).
PLAIN, BOLD = (None, False), (None, True)
NOTE, WARN, CAUTION = ("gray", False), ("#c0392b", True), ("#b8860b", False)
AXIS_WIDTH = 44


def pen(colour: str, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> pg.QtGui.QPen:
    """A 1-px cosmetic pen: wider pens take the slow path in Qt's raster engine."""
    return pg.mkPen(colour, width=1, style=style)


def pale(colour: str, amount: float = 0.55) -> str:
    """The colour mixed with white: the validation twin of a training curve's colour."""
    c = pg.mkColor(colour)
    mix = [int(v + (255 - v) * amount) for v in (c.red(), c.green(), c.blue())]
    return "#%02x%02x%02x" % tuple(mix)


def fix_axes(plot: pg.PlotItem, left: int = AXIS_WIDTH, bottom: int | None = None) -> None:
    """Fixed axis sizes, and ticks that point outwards.

    pyqtgraph's default ticks point into the plot, which stretches each axis's
    bounding rect over the data area: every curve update then repaints both axes.
    """
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setStyle(tickLength=4)
        # A curve's repaint still touches the axis beside it (Qt widens dirty rects by a pixel or
        # two); cached, the axis is then a pixmap copy instead of replaying its ticks in Python.
        axis.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.getAxis("left").setWidth(left)
    if bottom is not None:
        plot.getAxis("bottom").setHeight(bottom)


class LogAxis(pg.AxisItem):
    """An axis whose log mode labels narrow ranges with plain numbers, evenly spaced in value.

    Over a decade or more, pyqtgraph's own log ticks (1, 2, 5, 10, ...) are kept; under
    a decade they may all fall outside the view, so the ticks are nice linear values
    (0.91, 0.92, ...) placed at their log10.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._linear_spacing: float | None = None  # set while the ticks are plain numbers

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 - pyqtgraph's names
        self._linear_spacing = None
        if not self.logMode or not (np.isfinite(minVal) and np.isfinite(maxVal)):
            return super().tickValues(minVal, maxVal, size)
        lo, hi = sorted((float(minVal), float(maxVal)))
        if hi - lo >= 1.0:
            return super().tickValues(minVal, maxVal, size)
        a, b = 10.0 ** lo, 10.0 ** hi
        spacing = nice_step((b - a) / max(2.0, min(6.0, size / 40.0)))
        first = math.ceil(a / spacing) * spacing
        values = [v for v in np.arange(first, b + spacing * 1e-6, spacing) if v > 0]
        self._linear_spacing = spacing
        return [(spacing, [math.log10(v) for v in values])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not self.logMode or self._linear_spacing is None:
            return super().tickStrings(values, scale, spacing)
        places = max(0, math.ceil(-math.log10(self._linear_spacing * scale)))
        out = []
        for v in values:
            x = 10.0 ** v * scale
            out.append(f"{x:g}" if x >= 1e4 or x < 1e-3 else f"{x:.{places}f}")
        return out


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest above ``raw``."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * power * (1 + 1e-9):
            return m * power
    return 10.0 * power


def small_plot(layout: pg.GraphicsLayout, title: str | None = None, row: int | None = None,
               col: int | None = None, colspan: int = 1, left: int = 34) -> pg.PlotItem:
    """A compact, static PlotItem inside a GraphicsLayout."""
    plot = layout.addPlot(row=row, col=col, colspan=colspan)
    if title:
        plot.setTitle(title, size="8pt")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.disableAutoRange()
    fix_axes(plot, left=left, bottom=22)
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(tickFont=small_font(), tickTextOffset=2)
    if title:
        plot.titleLabel.setMaximumHeight(14)
    return plot


def small_font():
    font = pg.QtGui.QFont()
    font.setPointSizeF(7.5)
    return font


class PathItem(pg.GraphicsObject):
    """A curve or a set of bars as one QPainterPath, built on ``setData`` and only drawn on paint.

    pyqtgraph's PlotCurveItem does a lot of Python on every update and every paint
    (bounds with pen widths, pixel vectors, fill checks); for data that arrives
    already decimated and finite, this item does only the path: measured, it
    roughly halves each live curve's cost. ``opts`` lets a LegendItem draw a sample.
    """

    def __init__(self, colour: str, fill: bool = False, line_pen=None):
        super().__init__()
        self._pen = line_pen if line_pen is not None else pen(colour)
        self._brush = pg.mkBrush(colour) if fill else None
        self._path = pg.QtGui.QPainterPath()
        self._rect = pg.QtCore.QRectF()
        self.xData = self.yData = np.zeros(0)
        self.opts = {"pen": self._pen, "brush": self._brush, "fillLevel": 0 if fill else None, "symbol": None,
                     "antialias": False}

    def setPen(self, line_pen) -> None:  # noqa: N802 - Qt's name
        self._pen = self.opts["pen"] = line_pen
        self.update()

    def setData(self, x, y, stepMode: str | None = None) -> None:  # noqa: N802,N803 - pyqtgraph's names
        """A line through (x, y); with ``stepMode="center"``, bars between the edges ``x`` of heights ``y``."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.xData, self.yData = x, y
        if stepMode == "center":
            x = np.repeat(x, 2)
            y = np.concatenate([[0.0], np.repeat(y, 2), [0.0]])
        self.prepareGeometryChange()
        self._path = pg.arrayToQPath(x, y, connect="all", finiteCheck=False) if len(x) else pg.QtGui.QPainterPath()
        self._rect = self._path.boundingRect()
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 - pyqtgraph's name
        return self.xData, self.yData

    def boundingRect(self):  # noqa: N802 - Qt's name
        return self._rect

    def paint(self, p, *args) -> None:
        if self._brush is not None:
            p.fillPath(self._path, self._brush)
        p.setBrush(Qt.BrushStyle.NoBrush)  # an outline only (an exporter's painter may carry a brush)
        p.setPen(self._pen)
        p.drawPath(self._path)


def line_curve(plot: pg.PlotItem, colour: str, line_pen=None) -> PathItem:
    item = PathItem(colour, line_pen=line_pen)
    plot.addItem(item)
    return item


def bar_curve(plot: pg.PlotItem, colour: str) -> PathItem:
    """An empty set of bars filled to zero, drawn by ``set_bars`` or ``setData(edges, heights, stepMode="center")``."""
    item = PathItem(colour, fill=True)
    plot.addItem(item)
    return item


def peak_decimate(x: np.ndarray, y: np.ndarray, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about two points a pixel: each run of points becomes its minimum and maximum,
    so spikes survive (the "peak" method). ``pixels`` is the width the points span on screen."""
    n = len(y)
    k = n // max(int(pixels), 1)
    if k < 2:
        return x, y
    m = n // k * k
    yb, xb = y[:m].reshape(-1, k), x[:m].reshape(-1, k)
    out_y = np.empty(2 * len(yb) + n - m)
    out_x = np.empty_like(out_y)
    out_y[0:2 * len(yb):2], out_y[1:2 * len(yb):2] = yb.min(axis=1), yb.max(axis=1)
    out_x[0:2 * len(yb):2], out_x[1:2 * len(yb):2] = xb[:, 0], xb[:, -1]
    out_y[2 * len(yb):], out_x[2 * len(yb):] = y[m:], x[m:]
    return out_x, out_y


def pixels_spanned(plot: pg.PlotItem, x: np.ndarray) -> int:
    """How many pixels wide the x values ``x`` are drawn in this plot."""
    if len(x) < 2:
        return 1
    (x0, x1), width = plot.getViewBox().viewRange()[0], plot.getViewBox().width()
    return max(1, int(width * (x[-1] - x[0]) / max(x1 - x0, 1e-12)))


def set_bars(item: PathItem, heights: np.ndarray, start: float = -0.5) -> None:
    heights = np.asarray(heights, dtype=np.float64)
    edges = np.arange(len(heights) + 1, dtype=np.float64) + start
    item.setData(edges, heights, stepMode="center")


class RangeKeeper:
    """Sets a plot's y range only when the data leaves it or uses under a third of it.

    Re-ranging every refresh would re-tick the axis on every frame; this changes
    it rarely while keeping the data on screen.
    """

    def __init__(self, plot: pg.PlotItem, floor: float = 0.0, minimum: float = 1e-6):
        self.plot, self.floor, self.minimum = plot, floor, minimum
        self.top: float | None = None

    def update(self, top: float) -> None:
        top = max(float(top), self.minimum)
        if not np.isfinite(top):
            return
        if self.top is None or top > self.top or top < self.top / 3:
            self.top = top * 1.25
            self.plot.setYRange(self.floor, self.top, padding=0)

    def reset(self) -> None:
        self.top = None


class SpanKeeper:
    """Two-sided RangeKeeper for a y axis in view units (log10 units on a log axis)."""

    def __init__(self, plot: pg.PlotItem, margin: float = 0.08):
        self.plot, self.margin = plot, margin
        self.span: tuple[float, float] | None = None

    def update(self, lo: float, hi: float) -> None:
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        cur = self.span
        if cur is None or lo < cur[0] or hi > cur[1] or (hi - lo) < (cur[1] - cur[0]) / 3:
            pad = (hi - lo) * self.margin
            self.span = (lo - pad, hi + pad)
            self.plot.setYRange(*self.span, padding=0)

    def reset(self) -> None:
        self.span = None


def fixed_label(text: str = "", width: int | None = None, lines: int = 1,
                look: tuple[str | None, bool] = PLAIN) -> TextLine:
    """A line of text whose changes never re-lay out its neighbours (see text.py)."""
    colour, bold = look
    return TextLine(text, lines=lines, colour=colour, bold=bold, width=width)


def health_line(panel: str) -> TextLine:
    """A panel's grey line saying what a healthy run looks like there (core.explain.PANEL_HEALTH): one
    line, elided in a narrow column and then whole on hover, so it costs a panel one line of height."""
    line = fixed_label(f"Healthy: {PANEL_HEALTH[panel]}", look=NOTE)
    line.setObjectName("panelHealth")
    line.setProperty("panel", panel)
    return line


class Section(QFrame):
    """A titled panel that collapses to its title line (saying why) when it has nothing to show.

    Collapsing happens when a run starts, not per report, so its re-layout is a one-off.
    """

    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.header = fixed_label(title, look=BOLD)
        self.body = body
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(1)
        layout.addWidget(self.header)
        layout.addWidget(body, 1)
        self.relevant = True

    def set_relevant(self, relevant: bool, why: str = "") -> None:
        self.header.setText(self.title if relevant else f"{self.title}: {why}")
        self.header.set_style(*(BOLD if relevant else NOTE))
        if relevant != self.relevant:
            self.relevant = relevant
            self.body.setVisible(relevant)
            policy = QSizePolicy.Policy.Preferred if relevant else QSizePolicy.Policy.Fixed
            self.setSizePolicy(QSizePolicy.Policy.Preferred, policy)

    @property
    def showing(self) -> bool:
        """True when the body is on screen (worth drawing)."""
        return self.relevant and self.body.isVisible()
