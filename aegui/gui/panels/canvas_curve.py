"""The Draw tab's editor for 1-d signals: the user draws a curve, the canvas shows the noisy input,
the model's reconstruction and its error over it.

The mouse is taken at the view widget, before pyqtgraph's scene sees it (StrokeView): the scene
drops moves closer than 10 ms apart (its mouseRateLimit of 100 a second) and would turn drags into
pans or legend moves. A fast stroke still skips time steps between two mouse events, so each event
paints the straight line from the previous one. Everything that changes while the user drags
(the clean curve, the overlays, the error) is an item made once and updated with setData.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..dashboard.plots import fix_axes, nice_step, pen

# Readable on both the light and the dark scheme; the clean layer takes the theme's foreground.
NOISY_COLOUR = "#9a9a9a"
RESTORED_COLOUR = "#f28e2b"
ERROR_COLOUR = "#e15759"
RANGE_PAD = 0.05  # of the value range, above and below, so the extremes are drawable
AXIS_LEFT = 44  # both plots: equal axis widths keep their time steps lined up


def padded(value_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = sorted(float(v) for v in value_range)
    if not hi > lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * RANGE_PAD
    return lo - pad, hi + pad


def error_ceiling(current: float, peak: float) -> float:
    """The error plot's top: a 1-2-5 value above the peak, kept until the peak outgrows it or falls
    under a quarter of it, so the axis does not re-lay out on every frame of a stroke."""
    if not np.isfinite(peak) or peak <= 0:
        return current
    if peak > current or peak < current / 4:
        return nice_step(peak * 1.1)
    return current


def foreground() -> pg.QtGui.QColor:
    return pg.mkColor(pg.getConfigOption("foreground"))


def faded(colour, alpha: int) -> pg.QtGui.QColor:
    c = pg.mkColor(colour)
    c.setAlpha(alpha)
    return c


class StrokeView(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget whose left and right drags inside ``target`` come out as ``stroke(phase,
    button, point)``, phase "start", "move" or "end" and the point in the target's view coordinates;
    mouse moves without a button come out as ``hovered(point, inside)``. Everything else goes on to
    pyqtgraph as usual. (Signals, not callbacks: a callback would tie the editor and its view in a
    reference cycle, freed only by the cyclic collector at some later, arbitrary moment.)"""

    stroke = Signal(str, object, QPointF)
    hovered = Signal(QPointF, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.target: pg.ViewBox | None = None
        self._button: Qt.MouseButton | None = None
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right drags erase

    def _locate(self, event) -> tuple[QPointF, bool]:
        scene = self.mapToScene(event.position().toPoint())
        return self.target.mapSceneToView(scene), self.target.sceneBoundingRect().contains(scene)

    def mousePressEvent(self, event):  # noqa: N802 - Qt's name
        button = event.button()
        if self._button is None and self.target is not None and button in (Qt.MouseButton.LeftButton,
                                                                             Qt.MouseButton.RightButton):
            point, inside = self._locate(event)
            if inside:
                self._button = button
                self.setFocus(Qt.FocusReason.MouseFocusReason)
                event.accept()
                self.stroke.emit("start", button, point)
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):  # noqa: N802
        if self._button is not None:
            event.accept()
            self.stroke.emit("move", self._button, self._locate(event)[0])
            return
        if self.target is not None:
            self.hovered.emit(*self._locate(event))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        if self._button is not None and event.button() == self._button:
            button, self._button = self._button, None
            event.accept()
            self.stroke.emit("end", button, self._locate(event)[0])
            return
        super().mouseReleaseEvent(event)

    def stacked_plots(self, error_height: int):
        """A legend row, the drawing plot, and the error plot under it sharing its x axis; no pans or
        menus (the mouse draws), the ranges fixed by the editor."""
        legend = pg.LegendItem(colCount=4, labelTextSize="8pt")
        self.addItem(legend, row=0, col=0)
        plot = self.addPlot(row=1, col=0)
        error_plot = self.addPlot(row=2, col=0)
        error_plot.setXLink(plot)
        error_plot.setMaximumHeight(error_height)
        self.target = plot.getViewBox()
        for each in (plot, error_plot):
            each.setMouseEnabled(False, False)
            each.setMenuEnabled(False)
            each.hideButtons()
            fix_axes(each, left=AXIS_LEFT)
        return legend, plot, error_plot


class CurveEditor(QWidget):
    """Draw a (T, C) signal: left-drag sets the drawn channel's values, right-drag returns them to 0
    (the data mean, in standardised units). Over the clean curve: the noisy input, the
    reconstruction and, in a thin plot under it, |reconstruction - clean|."""

    changed = Signal()
    strokeStarted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("curveEditor")
        self.values = np.zeros((1, 1), np.float32)
        self._y_limits = (-1.0, 1.0)
        self._last: tuple[float, float] | None = None  # the stroke's previous point, in view coordinates
        self._noisy: np.ndarray | None = None  # the last show_result's layers, (T, C), for a channel switch
        self._restored: np.ndarray | None = None
        self._error_top = 0.0

        self.view = StrokeView()
        self.view.stroke.connect(self._stroke)
        self.view.setObjectName("curvePlot")
        self.legend, self.plot, self.error_plot = self.view.stacked_plots(110)
        self.plot.getAxis("bottom").setStyle(showValues=False)  # the error plot under it labels the steps
        self.error_plot.setLabel("bottom", "time step")
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pen("#707070", Qt.PenStyle.DashLine)))

        self.channel_curves: list[pg.PlotDataItem] = []  # every channel's clean curve, faint
        # The reconstruction lies over the wider clean curve: where the two agree, both still show.
        self.noisy_curve = self.plot.plot(pen=pen(NOISY_COLOUR))
        self.clean_curve = self.plot.plot(pen=pg.mkPen(foreground(), width=3))
        self.restored_curve = self.plot.plot(pen=pg.mkPen(RESTORED_COLOUR, width=2))
        self.error_curve = self.error_plot.plot(pen=pen(ERROR_COLOUR), fillLevel=0,
                                                brush=faded(ERROR_COLOUR, 110))
        for item, name in ((self.clean_curve, "clean (draw here)"), (self.noisy_curve, "noisy input"),
                           (self.restored_curve, "reconstruction"), (self.error_curve, "|reconstruction − clean|")):
            self.legend.addItem(item, name)

        self.channel = QSpinBox()
        self.channel.setObjectName("curveChannel")
        self.channel.setToolTip("The channel the mouse draws; the others show faint.")
        self.channel.valueChanged.connect(self._redraw_all)
        self.channel_row = QWidget()
        row = QHBoxLayout(self.channel_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("channel"))
        row.addWidget(self.channel)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.channel_row)
        layout.addWidget(self.view, 1)
        self.reset((128, 1), (-3.0, 3.0))

    # --- the interface the canvas uses -------------------------------------------------------------
    def reset(self, sample_shape: tuple[int, ...], value_range: tuple[float, float],
              names: list[str] | None = None) -> None:
        self.values = np.zeros(tuple(sample_shape), np.float32)
        steps, channels = self._columns().shape
        self._y_limits = padded(value_range)
        self._noisy = self._restored = None
        for curve in self.channel_curves:
            self.plot.removeItem(curve)
        faint = pen(faded(foreground(), 70))
        self.channel_curves = [self.plot.plot(pen=faint) for _ in range(channels if channels > 1 else 0)]
        for curve in self.channel_curves:
            curve.setZValue(-1)
        self.channel.blockSignals(True)
        self.channel.setRange(0, channels - 1)
        self.channel.setValue(0)
        self.channel.blockSignals(False)
        self.channel_row.setVisible(channels > 1)
        self.plot.setRange(xRange=(0, max(steps - 1, 1)), yRange=self._y_limits, padding=0)
        self._error_top = 0.0  # none yet: the first error sets it
        self.error_plot.setRange(yRange=(0, 1), padding=0)
        self._redraw_all()

    def set_values(self, values: np.ndarray) -> None:
        values = np.array(values, np.float32)  # a copy: the caller's array stays its own
        if values.shape != self.values.shape:
            raise ValueError(f"a drawing of shape {values.shape} does not fit the editor's {self.values.shape}")
        self.values = values
        self._redraw_all()
        self.changed.emit()

    def show_result(self, noisy: np.ndarray | None, restored: np.ndarray | None) -> None:
        shape = self._columns().shape
        self._noisy = None if noisy is None else np.asarray(noisy, np.float32).reshape(shape).copy()
        self._restored = None if restored is None else np.asarray(restored, np.float32).reshape(shape).copy()
        self._redraw_overlays()

    def picture(self) -> QWidget:
        return self.view

    # --- drawing -------------------------------------------------------------------------------------
    def _columns(self) -> np.ndarray:
        """The values as (T, C), a view: writing it writes ``values``."""
        return self.values.reshape(self.values.shape[0], -1)

    def _stroke(self, phase: str, button: Qt.MouseButton, point: QPointF) -> None:
        if phase == "end":
            self._last = None
            return
        x, y = point.x(), point.y()
        if phase == "start" or self._last is None:
            self.strokeStarted.emit()
            self._last = (x, y)
        (x0, y0), self._last = self._last, (x, y)
        if self._paint(x0, y0, x, y, erase=button == Qt.MouseButton.RightButton):
            self._redraw_clean()
            self.changed.emit()

    def _paint(self, x0: float, y0: float, x1: float, y1: float, erase: bool) -> bool:
        """Set the drawn channel along the segment (x0, y0)-(x1, y1), each time step it crosses taking
        the line's height there (or 0 when erasing); True when a value changed."""
        column = self._columns()[:, self.channel.value()]
        last = len(column) - 1
        x0, x1 = float(np.clip(x0, 0, last)), float(np.clip(x1, 0, last))
        y0, y1 = (float(np.clip(v, *self._y_limits)) for v in (y0, y1))
        a, b = sorted((int(round(x0)), int(round(x1))))
        steps = np.arange(a, b + 1)
        if erase:
            heights = np.zeros(len(steps), np.float32)
        elif x1 != x0:
            heights = y0 + np.clip((steps - x0) / (x1 - x0), 0.0, 1.0) * (y1 - y0)
        else:
            heights = np.full(len(steps), y1)
        before = column[steps].copy()
        column[steps] = heights
        return not np.array_equal(before, column[steps])

    # --- showing -------------------------------------------------------------------------------------
    def _redraw_all(self) -> None:
        self._redraw_clean()
        columns = self._columns()
        for c, curve in enumerate(self.channel_curves):
            curve.setData(columns[:, c])
        self._redraw_overlays()

    def _redraw_clean(self) -> None:
        c = self.channel.value()
        self.clean_curve.setData(self._columns()[:, c])
        if self.channel_curves:  # the faint copy shows the drawing after a switch to another channel
            self.channel_curves[c].setData(self._columns()[:, c])
        if self._restored is not None:
            self._redraw_overlays()  # the error is against the clean layer, which just changed

    def _redraw_overlays(self) -> None:
        c = self.channel.value()
        for curve, layer in ((self.noisy_curve, self._noisy), (self.restored_curve, self._restored)):
            curve.setVisible(layer is not None)
            if layer is not None:
                curve.setData(layer[:, c])
        self.error_curve.setVisible(self._restored is not None)
        if self._restored is not None:
            error = np.abs(self._restored[:, c] - self._columns()[:, c])
            self.error_curve.setData(error)
            top = error_ceiling(self._error_top, float(error.max(initial=0.0)))
            if top != self._error_top:
                self._error_top = top
                self.error_plot.setRange(yRange=(0, top), padding=0)
