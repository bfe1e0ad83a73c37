"""What an experiment found: its findings against the tutorial, a table of the measured figures,
and the pictures its view names (images side by side, one per arm; curves overlaid, one per arm).

The view owns nothing it shows: ``show_result`` is handed an ExperimentResult (owned copies,
made in the worker) and draws from it; ``clear`` forgets it.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QGridLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from ...core.experiments import view_info
from ..widgets.image_grid import ImageGrid

ARM_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def figure_text(value) -> str:
    """A measured figure as the table shows it: 4 significant digits, thousands apart, NaN as 'n/a'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def findings_html(findings) -> str:
    """The findings as rich text: ✓ holds, ✗ contradicted by this run, ? inconclusive."""
    marks = {True: ("✓", "#2ca02c", "holds in this run"), False: ("✗", "#d62728", "this run contradicts it"),
             None: ("?", "#9a7d0a", "inconclusive in this run")}
    rows = []
    for finding in findings:
        mark, colour, words = marks[finding.holds]
        rows.append(f"<p><span style='color:{colour}; font-weight:bold'>{mark}</span> "
                    f"<b>{html.escape(finding.claim)}</b> — {words}.<br>{html.escape(finding.evidence)}</p>")
    return "".join(rows) or "<p>No finding: the runs ended before there was anything to compare.</p>"


class ExperimentView(QWidget):
    """Findings, figures and pictures of one finished experiment."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("experimentView")
        self.result = None
        self.findings = QLabel(self)
        self.findings.setObjectName("experimentFindings")
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(self)
        self.table.setObjectName("experimentTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(90)
        self.pictures = QWidget(self)
        self.picture_grid = QGridLayout(self.pictures)
        self.picture_grid.setContentsMargins(0, 0, 0, 0)
        self.picture_widgets: list[QWidget] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.findings)
        layout.addWidget(self.table)
        layout.addWidget(self.pictures, 1)

    def clear(self) -> None:
        self.result = None
        self.findings.setText("")
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        for widget in self.picture_widgets:
            self.picture_grid.removeWidget(widget)
            widget.deleteLater()
        self.picture_widgets = []

    def show_result(self, experiment, result) -> None:
        self.clear()
        self.result = result
        self.findings.setText(findings_html(result.findings))
        self._fill_table(experiment, result)
        row = 0
        for name in experiment.views:
            info = view_info(name)
            self._caption(f"<b>{html.escape(info.title)}</b>", row, 0, len(result.arms))
            if info.kind == "images":
                row = self._add_images(name, info, result, row + 1)
            elif info.kind == "line":
                row = self._add_lines(name, info, result, row + 1)
            else:  # bars and scatter: one small plot per arm, side by side
                row = self._add_plots(name, info, result, row + 1)

    def _fill_table(self, experiment, result) -> None:
        names = list(experiment.figures)
        for arm in result.arms:  # figures an arm measured beyond the declared ones come last
            names += [key for key in arm.figures if key not in names]
        self.table.setRowCount(len(result.arms))
        self.table.setColumnCount(len(names))
        self.table.setHorizontalHeaderLabels([name.replace("_", " ") for name in names])
        self.table.setVerticalHeaderLabels([arm.label for arm in result.arms])
        for r, arm in enumerate(result.arms):
            for c, name in enumerate(names):
                item = QTableWidgetItem(figure_text(arm.figures.get(name, math.nan)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        # Every arm's row in view: the table's height is its rows, its header and a horizontal scroll bar.
        height = (self.table.horizontalHeader().height() + self.table.horizontalScrollBar().sizeHint().height()
                  + sum(self.table.rowHeight(r) for r in range(len(result.arms))) + 6)
        self.table.setMinimumHeight(height)
        self.table.setMaximumHeight(height)

    def _caption(self, text: str, row: int, column: int, span: int = 1) -> None:
        label = QLabel(text, self.pictures)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture_grid.addWidget(label, row, column, 1, span)
        self.picture_widgets.append(label)

    def _add_images(self, name: str, info, result, row: int) -> int:
        for column, arm in enumerate(result.arms):
            if name not in arm.images:
                continue
            images = np.asarray(arm.images[name], np.float32)
            columns = min(info.columns, max(1, len(images)))
            grid = ImageGrid(self.pictures, columns=columns)
            grid.setObjectName(f"experimentImages_{name}_{column}")
            rows = math.ceil(len(images) / columns)
            grid.setMinimumHeight(min(320, 60 + 40 * rows))
            grid.set_samples(images, columns=columns, levels=(0.0, 1.0))
            captions = arm.captions.get(name) or []
            tip = "\n".join(captions)
            grid.setToolTip(tip)
            self._caption(arm.label, row, column)
            self.picture_grid.addWidget(grid, row + 1, column)
            self.picture_widgets.append(grid)
            if captions:  # what each row shows (the factor a traversal follows, say)
                words = QLabel("\n".join(captions), self.pictures)
                words.setWordWrap(True)
                words.setStyleSheet("color: gray")
                self.picture_grid.addWidget(words, row + 2, column)
                self.picture_widgets.append(words)
        return row + 3

    def _plot(self, name: str, info, suffix: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(self.pictures)
        plot.setObjectName(f"experimentPlot_{name}{suffix}")
        plot.setMinimumHeight(170)
        plot.setLabel("bottom", info.x_label)
        plot.setLabel("left", info.y_label)
        plot.showGrid(x=True, y=True, alpha=0.2)
        self.picture_widgets.append(plot)
        return plot

    def _add_lines(self, name: str, info, result, row: int) -> int:
        plot = self._plot(name, info, "")
        plot.addLegend(offset=(-10, 10))
        plot.setLogMode(y=info.log_y)
        for i, arm in enumerate(result.arms):
            values = np.asarray(arm.curves.get(name, []), np.float64)
            if not values.size:
                continue
            xs = np.asarray(arm.curves.get(f"{name}.x", np.arange(1, values.size + 1)), np.float64)
            keep = np.isfinite(values) & ((values > 0) if info.log_y else True)
            plot.plot(xs[keep], values[keep], name=arm.label + (" (diverged)" if not keep.all() else ""),
                      pen=pg.mkPen(ARM_COLOURS[i % len(ARM_COLOURS)], width=2), symbol="o", symbolSize=5,
                      symbolBrush=ARM_COLOURS[i % len(ARM_COLOURS)])
        first = result.arms[0] if result.arms else None
        if info.reference and first is not None and info.reference in first.curves:
            values = np.asarray(first.curves[info.reference], np.float64)
            xs = np.asarray(first.curves.get(f"{name}.x", np.arange(1, values.size + 1)), np.float64)
            plot.plot(xs, values, name=info.reference.replace("_", " "),
                      pen=pg.mkPen("#888888", width=1.5, style=Qt.PenStyle.DashLine))
        self.picture_grid.addWidget(plot, row, 0, 1, max(1, len(result.arms)))
        return row + 1

    def _add_plots(self, name: str, info, result, row: int) -> int:
        for column, arm in enumerate(result.arms):
            plot = self._plot(name, info, f"_{column}")
            plot.setTitle(arm.label)
            if info.kind == "bars":
                values = np.nan_to_num(np.asarray(arm.curves.get(name, []), np.float64))
                plot.addItem(pg.BarGraphItem(x=np.arange(values.size), height=values, width=0.8,
                                             brush=ARM_COLOURS[column % len(ARM_COLOURS)]))
                level = arm.figures.get(info.reference) if info.reference else None
                if level is not None and math.isfinite(level):
                    plot.addItem(pg.InfiniteLine(pos=level, angle=0,
                                                 pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine)))
            else:
                xs = np.asarray(arm.curves.get(f"{name}.x", []), np.float64)
                ys = np.asarray(arm.curves.get(f"{name}.y", []), np.float64)
                labels = np.asarray(arm.curves.get(f"{name}.label", np.zeros(len(xs))), np.int64)
                brushes = [pg.mkBrush(ARM_COLOURS[int(k) % len(ARM_COLOURS)]) for k in labels]
                plot.addItem(pg.ScatterPlotItem(xs, ys, size=4, pen=None, brush=brushes))
            self.picture_grid.addWidget(plot, row, column)
        return row + 1
