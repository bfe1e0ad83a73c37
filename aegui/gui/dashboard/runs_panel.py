"""Every run of the session in a list, and any of them overlaid on one plot.

The runs live in ``AppState.runs``: a RunRecord per run, whose history and
result are its RunArtifact's (the newest snapshot while it trains, then the
finished run). This panel only reads them, when the state says they changed
and when the panel is shown (a running run's history grows without a signal).
Tick runs to overlay a metric of theirs, e.g. the validation loss of an AE, a
sparse AE and a VAE trained on the same data.

The table is the legend: each run's name is drawn in its curve's colour, with a
swatch, so no legend box sits on the curves (with ten runs one covered them);
exported images get a legend, added for the export only. The table takes about
half the height, with compact rows, so a session's runs are listed without
scrolling.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from .export import CSV_FILTER, IMAGE_FILTERS, ask_save_path, export_menu_button, export_plot, run_export, write_csv
from .plots import RUN_COLOURS, fix_axes, health_line, pen
from .stats_panel import format_duration

COLUMNS = ("compare", "run", "preset", "dataset", "final val loss", "ended", "time")
DEFAULT_METRIC = "val_total"


def metric_label(key: str) -> str:
    return key.replace("_", " ", 1)


class RunsPanel(QWidget):
    def __init__(self, state=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("compareMetric")
        self.metric_combo.addItem(metric_label(DEFAULT_METRIC), DEFAULT_METRIC)
        self.log_check = QCheckBox("log y")
        self.export_button = export_menu_button(self, self.ask_export_csv, self.ask_export_image, "compareExport")
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setObjectName("comparePlot")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        fix_axes(self.plot, left=52)
        self.plot.setLabel("bottom", "epoch")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Overlay the ticked runs:"))
        controls.addWidget(self.metric_combo)
        controls.addWidget(self.log_check)
        controls.addStretch(1)
        controls.addWidget(self.export_button)
        bottom = QWidget()
        lower = QVBoxLayout(bottom)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addLayout(controls)
        lower.addWidget(self.plot_widget, 1)
        lower.addWidget(health_line("runs"))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.setStretchFactor(0, 9)
        split.setStretchFactor(1, 11)
        split.setSizes([360, 440])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.curves: dict[int, pg.PlotDataItem] = {}  # id(run) -> its curve, made once
        self.colours: dict[int, str] = {}  # id(run) -> its colour, in the order the runs were listed
        self._unticked: set[int] = set()  # runs are compared unless the user unticks them
        self.metric_combo.currentIndexChanged.connect(lambda _: self.update_plot())
        self.log_check.toggled.connect(self._on_log)
        self.table.itemChanged.connect(self._on_item)
        if state is not None:
            state.runsChanged.connect(self.refresh)

    @property
    def runs(self) -> list:
        return list(self.state.runs) if self.state is not None else []

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        runs = self.runs
        self.table.blockSignals(True)
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Unchecked if id(run) in self._unticked else Qt.CheckState.Checked)
            tick.setData(Qt.ItemDataRole.UserRole, id(run))
            colour = self.colour_of(id(run))
            loss = run.final_val_loss
            values = [run.name, run.preset, run.dataset,
                      f"{loss:.4g}" if loss is not None and math.isfinite(loss) else "–",
                      str(run.stop_reason or ("running" if run.running else "–")),
                      "–" if run.running else format_duration(run.seconds)]
            self.table.setItem(row, 0, tick)
            for col, text in enumerate(values, start=1):
                self.table.setItem(row, col, QTableWidgetItem(text))
            name = self.table.item(row, 1)  # the legend entry: the curve's colour, and a swatch of it
            name.setForeground(QColor(colour))
            name.setData(Qt.ItemDataRole.DecorationRole, QColor(colour))
        self.table.blockSignals(False)
        self._update_metrics(runs)
        self.update_plot()

    def _update_metrics(self, runs) -> None:
        keys = sorted({k for run in runs for row in run.history for k in row
                       if k.startswith(("train_", "val_")) and isinstance(row[k], (int, float))})
        current = self.metric_combo.currentData() or DEFAULT_METRIC
        if keys and keys != [self.metric_combo.itemData(i) for i in range(self.metric_combo.count())]:
            self.metric_combo.blockSignals(True)
            self.metric_combo.clear()
            for key in keys:
                self.metric_combo.addItem(metric_label(key), key)
            index = self.metric_combo.findData(current)
            self.metric_combo.setCurrentIndex(max(index, 0))
            self.metric_combo.blockSignals(False)

    def colour_of(self, key: int) -> str:
        if key not in self.colours:
            self.colours[key] = RUN_COLOURS[len(self.colours) % len(RUN_COLOURS)]
        return self.colours[key]

    def _on_item(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        key = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self._unticked.discard(key)
        else:
            self._unticked.add(key)
        self.update_plot()

    def _on_log(self, on: bool) -> None:
        self.plot.setLogMode(y=on)
        self.update_plot()

    def series(self) -> list[tuple[int, str, list[float], list[float]]]:
        """(run key, run name, epochs, values) of the chosen metric for every ticked run."""
        metric = self.metric_combo.currentData() or DEFAULT_METRIC
        out = []
        for run in self.runs:
            if id(run) in self._unticked:
                continue
            points = [(row.get("epoch"), row.get(metric)) for row in run.history]
            points = [(float(e), float(v)) for e, v in points
                      if e is not None and isinstance(v, (int, float)) and math.isfinite(v)]
            if self.log_check.isChecked():
                points = [(e, v) for e, v in points if v > 0]
            out.append((id(run), run.name, [p[0] for p in points], [p[1] for p in points]))
        return out

    def update_plot(self) -> None:
        shown = set()
        for key, name, x, y in self.series():
            curve = self.curves.get(key)
            if curve is None:
                colour = self.colour_of(key)
                curve = self.plot.plot(name=name, pen=pen(colour), symbol="o", symbolSize=5, symbolPen=None,
                                       symbolBrush=colour)
                curve.setToolTip(name)
                self.curves[key] = curve
            curve.setData(x, y)
            curve.setVisible(True)
            shown.add(key)
        for key, curve in self.curves.items():
            if key not in shown:
                curve.setVisible(False)
        self.plot.setLabel("left", metric_label(self.metric_combo.currentData() or DEFAULT_METRIC))

    # --- export ------------------------------------------------------------------------------
    def export_csv(self, path) -> None:
        metric = self.metric_combo.currentData() or DEFAULT_METRIC
        rows = [(name, int(e), metric, v) for _, name, xs, ys in self.series() for e, v in zip(xs, ys)]
        write_csv(path, ["run", "epoch", "metric", "value"], rows)

    def export_image(self, path, width: int | None = None) -> None:
        """The plot as PNG or SVG, with a legend of the runs shown (added for the export only)."""
        legend = pg.LegendItem(offset=(-10, 10), labelTextSize="8pt")
        legend.setParentItem(self.plot.getViewBox())
        for curve in self.curves.values():
            if curve.isVisible() and curve.name():
                legend.addItem(curve, curve.name())
        try:
            export_plot(self.plot, path, width)
        finally:
            legend.scene().removeItem(legend)

    def ask_export_csv(self) -> None:
        path = ask_save_path(self, "Export the compared curves", "run_comparison.csv", CSV_FILTER)
        if path:
            run_export(self, "the curves", lambda: self.export_csv(path))

    def ask_export_image(self, kind: str) -> None:
        path = ask_save_path(self, "Save the comparison plot", f"run_comparison.{kind}", IMAGE_FILTERS[kind])
        if path:
            run_export(self, "the plot", lambda: self.export_image(path))
