"""Writing curves as CSV and plots as PNG or SVG.

Every export has a plain function that takes a path (what tests and scripts
call) and a dialog front (what the buttons call); the dialog only chooses the
path. Files are written through core.atomic (a temporary name, fsync, rename),
so a failed export never leaves half a file where the user expects a whole one.

SVG is rendered by Qt's own QSvgGenerator from the plot's part of the scene:
pyqtgraph 0.14's SVGExporter re-parses Qt's output and fails (ValueError) on the
"Z" path commands PySide6 6.11 writes, even for a plain line plot.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 - registers pg.exporters
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QToolButton, QWidget

from ...core.atomic import atomic_path

IMAGE_FILTERS = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)"}
CSV_FILTER = "CSV table (*.csv)"


def export_plot(plot: pg.PlotItem, path: str | os.PathLike, width: int | None = None) -> Path:
    """The plot as PNG or SVG, chosen by the file's suffix."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in IMAGE_FILTERS:
        raise ValueError(f"{path.name}: plots export as .png or .svg, not {path.suffix or 'no suffix'}")
    with atomic_path(path, keep_suffix=True) as tmp:
        tmp.unlink()  # the exporters write a new file, and report nothing when they cannot
        if kind == "png":
            exporter = pg.exporters.ImageExporter(plot)
            if width:
                exporter.parameters()["width"] = int(width)
            exporter.export(str(tmp))
        else:
            _render_svg(plot, tmp)
        if not tmp.is_file():
            raise OSError(f"{path.name}: the exporter wrote nothing")
    return path


def _render_svg(plot: pg.PlotItem, path: Path) -> None:
    source = plot.sceneBoundingRect()
    target = QRectF(0, 0, source.width(), source.height())
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(target.size().toSize())
    generator.setViewBox(target)
    generator.setTitle("Autoencoder Studio plot")
    painter = QPainter(generator)
    try:
        plot.scene().render(painter, target, source)
    finally:
        painter.end()


def write_csv(path: str | os.PathLike, header: list[str], rows: Iterable[Iterable]) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def ask_save_path(parent: QWidget, title: str, default_name: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path.home() / default_name), file_filter)
    return path


def export_menu_button(parent: QWidget, csv_slot, image_slot, name: str) -> QToolButton:
    """An "Export" button whose menu offers the curves as CSV and the plot as PNG or SVG."""
    button = QToolButton(parent)
    button.setText("Export")
    button.setObjectName(name)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    menu.addAction("Curves as CSV…", csv_slot)
    menu.addAction("Plot as PNG…", lambda: image_slot("png"))
    menu.addAction("Plot as SVG…", lambda: image_slot("svg"))
    button.setMenu(menu)
    return button


def run_export(parent: QWidget, what: str, action) -> bool:
    """Run ``action()``; a failure is a non-blocking message, never an exception in a slot."""
    try:
        action()
    except (OSError, ValueError) as exc:
        box = QMessageBox(QMessageBox.Icon.Warning, f"Cannot export {what}", str(exc),
                          QMessageBox.StandardButton.Ok, parent)
        box.setObjectName("errorDialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return False
    return True
