"""The Draw tab's editor for table rows: a bar per feature, dragged to the value the user wants, with
the noisy input and the model's reconstruction as markers over the bars, the per-feature squared
error under them, and one line naming the features that carry most of it (why a row is anomalous).

Values are in model space (standardised units); the tooltip also gives raw units when the canvas
passes the dataset's mean and standard deviation (``set_units``).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..dashboard.plots import pen
from .canvas_curve import (
    AXIS_LEFT, ERROR_COLOUR, NOISY_COLOUR, RESTORED_COLOUR, StrokeView, error_ceiling, faded, padded,
)

BAR_COLOUR = "#4e79a7"
LABEL_CHARS = 10  # a tick label's line; longer names wrap at "_" or " " onto up to LABEL_LINES lines
LABEL_LINES = 3
MAX_LABELS = 20  # beyond this many features, every k-th is named (the tooltip names them all)
ERROR_BAR_HALF = 0.3  # the error bars' half width, in features
EXPLAIN_TOP, EXPLAIN_ENOUGH, EXPLAIN_MIN_SHARE = 3, 0.8, 0.05


def tick_label(name: str, chars: int = LABEL_CHARS, lines: int = LABEL_LINES) -> str:
    """``name`` wrapped at its word breaks into short lines, the last cut with "…" when it runs over."""
    words = name.replace(" ", "_").split("_")
    out = [""]
    for word in words:
        joined = f"{out[-1]}_{word}" if out[-1] else word
        if len(joined) <= chars or not out[-1]:
            out[-1] = joined
        else:
            out.append(word)
    if len(out) > lines:
        out = out[:lines - 1] + ["_".join(out[lines - 1:])]
    return "\n".join(line if len(line) <= chars else line[:chars - 1] + "…" for line in out)


def explain(squared_error: np.ndarray, names: list[str]) -> str:
    """The features that carry most of the squared error, largest first, with their share of it:
    at most EXPLAIN_TOP, stopping once EXPLAIN_ENOUGH of the error is named."""
    squared_error = np.asarray(squared_error, np.float64).ravel()
    total = float(squared_error.sum())
    if not np.isfinite(total):
        return "the reconstruction is not finite"
    if total <= 0:
        return "no reconstruction error"
    share = squared_error / total
    parts, named = [], 0.0
    for i in np.argsort(-share, kind="stable")[:EXPLAIN_TOP]:
        if parts and share[i] < EXPLAIN_MIN_SHARE:
            break
        parts.append(f"{names[i]} {share[i] * 100:.0f}%")
        named += share[i]
        if named >= EXPLAIN_ENOUGH:
            break
    return "most of the error: " + ", ".join(parts)


class RowEditor(QWidget):
    """Edit one (F,) row: left-drag a bar up or down to set that feature, right-click (or right-drag
    across bars) to return features to 0, the data mean."""

    changed = Signal()
    strokeStarted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("rowEditor")
        self.values = np.zeros(1, np.float32)
        self.names: list[str] = ["feature 0"]
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None
        self._y_limits = (-1.0, 1.0)
        self._feature: int | None = None  # the bar a left drag holds, whichever column the mouse is over
        self._last_x: float | None = None
        self._restored: np.ndarray | None = None
        self._error_top = 0.0

        self.view = StrokeView()
        self.view.stroke.connect(self._stroke)
        self.view.hovered.connect(self._hover)
        self.view.setObjectName("rowPlot")
        self.legend, self.plot, self.error_plot = self.view.stacked_plots(120)
        self.plot.getAxis("bottom").setHeight(14 * LABEL_LINES + 8)
        self.error_plot.getAxis("bottom").setStyle(showValues=False)  # the names sit just above it
        self.error_plot.setLabel("left", "error²")
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pen("#707070", Qt.PenStyle.DashLine)))

        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.6, brush=BAR_COLOUR, pen=None)
        self.noisy_markers = pg.ScatterPlotItem(symbol="o", size=9, brush=faded(NOISY_COLOUR, 230),
                                                pen=pg.mkPen("#303030"))
        self.restored_markers = pg.ScatterPlotItem(symbol="d", size=12, brush=RESTORED_COLOUR,
                                                   pen=pg.mkPen("#303030"))
        for item in (self.bars, self.noisy_markers, self.restored_markers):
            self.plot.addItem(item)
        # One stepped, filled path for all the error bars (zero-height steps make the gaps): one item
        # to update per frame instead of a BarGraphItem's picture of rectangles.
        self.error_bars = self.error_plot.plot(stepMode="center", fillLevel=0, pen=pen(ERROR_COLOUR),
                                               brush=faded(ERROR_COLOUR, 150))
        for item, name in ((self.bars, "clean (drag the bars)"), (self.noisy_markers, "noisy input"),
                           (self.restored_markers, "reconstruction"),
                           (self.error_bars, "(reconstruction − clean)²")):
            self.legend.addItem(item, name)

        self.explanation_label = QLabel()
        self.explanation_label.setObjectName("rowExplanation")
        self.explanation_label.setIndent(AXIS_LEFT // 2)
        self.explanation_label.setToolTip("The features whose reconstruction is furthest from the row, "
                                          "by their share of the squared error.")
        self.picture_box = QWidget()  # the plots with the explanation: what "Save PNG" keeps
        box = QVBoxLayout(self.picture_box)
        box.setContentsMargins(0, 0, 0, 4)
        box.addWidget(self.view, 1)
        box.addWidget(self.explanation_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture_box)
        self.reset((10,), (-3.0, 3.0))

    # --- the interface the canvas uses -------------------------------------------------------------
    def reset(self, sample_shape: tuple[int, ...], value_range: tuple[float, float],
              names: list[str] | None = None) -> None:
        self.values = np.zeros(tuple(sample_shape), np.float32)
        count = self.values.size
        self.names = list(names) if names is not None and len(names) == count else [
            f"feature {i}" for i in range(count)]
        self._mean = self._std = None
        self._restored = None
        self._y_limits = padded(value_range)
        every = -(-count // MAX_LABELS)
        self.plot.getAxis("bottom").setTicks(
            [[(i, tick_label(n) if i % every == 0 else "") for i, n in enumerate(self.names)]])
        self.error_plot.getAxis("bottom").setTicks([[(i, "") for i in range(count)]])
        self.bars.setOpts(x=np.arange(count), height=self._row(), width=0.6)
        self.plot.setRange(xRange=(-0.5, count - 0.5), yRange=self._y_limits, padding=0)
        self._error_top = 0.0  # none yet: the first error sets it
        self.error_plot.setRange(yRange=(0, 1), padding=0)
        self.show_result(None, None)

    def set_units(self, mean: np.ndarray | None, std: np.ndarray | None) -> None:
        """The dataset's per-feature mean and standard deviation, so tooltips can give raw units."""
        if mean is None or std is None:
            self._mean = self._std = None
            return
        mean, std = (np.asarray(a, np.float64).ravel() for a in (mean, std))
        if mean.size != self.values.size or std.size != self.values.size:
            raise ValueError(f"units for {mean.size} features do not fit a row of {self.values.size}")
        self._mean, self._std = mean, std

    def set_values(self, values: np.ndarray) -> None:
        values = np.array(values, np.float32)  # a copy: the caller's array stays its own
        if values.shape != self.values.shape:
            raise ValueError(f"a row of shape {values.shape} does not fit the editor's {self.values.shape}")
        self.values = values
        self._redraw_clean()
        self.changed.emit()

    def show_result(self, noisy: np.ndarray | None, restored: np.ndarray | None) -> None:
        steps = np.arange(self.values.size)
        for markers, layer in ((self.noisy_markers, noisy), (self.restored_markers, restored)):
            markers.setVisible(layer is not None)
            if layer is not None:
                markers.setData(x=steps, y=np.asarray(layer, np.float32).ravel())
        self._restored = None if restored is None else np.asarray(restored, np.float32).ravel().copy()
        self._redraw_error()

    def picture(self) -> QWidget:
        return self.picture_box

    def explanation(self) -> str:
        return self.explanation_label.text()

    def squared_error(self) -> np.ndarray | None:
        """(reconstruction - clean)² per feature, or None before there is a reconstruction."""
        if self._restored is None:
            return None
        return (self._restored - self._row()) ** 2

    def describe(self, feature: int) -> str:
        """A feature's full name and value, in raw units too when the canvas gave them."""
        z = float(self._row()[feature])
        text = f"{self.names[feature]}: {z:+.2f} (standardised)"
        if self._mean is not None:
            text += f" = {z * self._std[feature] + self._mean[feature]:.4g}"
        return text

    # --- editing -------------------------------------------------------------------------------------
    def _row(self) -> np.ndarray:
        """The values as (F,), a view: writing it writes ``values``."""
        return self.values.reshape(-1)

    def _stroke(self, phase: str, button: Qt.MouseButton, point: QPointF) -> None:
        if phase == "end":
            self._feature = self._last_x = None
            return
        row = self._row()
        x = float(np.clip(point.x(), 0, row.size - 1))
        if phase == "start" or self._last_x is None:
            self.strokeStarted.emit()
            self._feature, self._last_x = int(round(x)), x
        before = row.copy()
        if button == Qt.MouseButton.LeftButton:
            row[self._feature] = np.clip(point.y(), *self._y_limits)
        else:  # every bar the right drag crossed since the last event, so a fast sweep misses none
            a, b = sorted((int(round(self._last_x)), int(round(x))))
            row[a:b + 1] = 0.0
        self._last_x = x
        self.view.target.setToolTip(self.describe(int(round(x)) if self._feature is None else self._feature))
        if not np.array_equal(before, row):
            self._redraw_clean()
            self.changed.emit()

    def _hover(self, point: QPointF, inside: bool) -> None:
        feature = int(round(point.x()))
        fits = inside and 0 <= feature < self.values.size
        self.view.target.setToolTip(self.describe(feature) if fits else "")

    # --- showing -------------------------------------------------------------------------------------
    def _redraw_clean(self) -> None:
        self.bars.setOpts(height=self._row())
        if self._restored is not None:
            self._redraw_error()  # the error is against the clean row, which just changed

    def _redraw_error(self) -> None:
        error = self.squared_error()
        self.error_bars.setVisible(error is not None)
        if error is None:
            self.explanation_label.setText("")
            return
        count = error.size
        # Edges i-0.3, i+0.3 for each bar; between bars a zero-height step is the gap.
        centres = np.arange(count, dtype=np.float64)
        edges = np.stack([centres - ERROR_BAR_HALF, centres + ERROR_BAR_HALF], axis=1).ravel()
        heights = np.zeros(2 * count - 1)
        heights[0::2] = error
        self.error_bars.setData(edges, heights)
        top = error_ceiling(self._error_top, float(error.max(initial=0.0)))
        if top != self._error_top:
            self._error_top = top
            self.error_plot.setRange(yRange=(0, top), padding=0)
        self.explanation_label.setText(explain(error, self.names))
