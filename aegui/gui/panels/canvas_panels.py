"""The Draw tab's pictures: the paint area (the clean layer) and a row of four equal square panels.

The four panels (clean, noisy input, reconstruction, |reconstruction − clean|) are placed by hand
in ``PanelRow.resizeEvent`` at one square side, centred in the row, so the pixels of the drawing
line up across them: a layout's stretch gave the paint area and the pyqtgraph views different
shapes, and each centred (or did not centre) its picture its own way.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..widgets.image_grid import ImageGrid

PANEL_MIN_SIDE = 160
CAPTION_HEIGHT = 20
PANEL_GAP = 8


class PaintArea(QWidget):
    """An H x W grey image the user paints on with a soft round brush (right button erases).

    The picture fills the widget's largest centred square. ``strokeStarted`` is emitted at a
    stroke's mouse press before anything is painted, so the canvas can keep the layer as it was."""

    changed = Signal()
    strokeStarted = Signal()

    def __init__(self, height: int = 28, width: int = 28, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("paintArea")
        self.image = np.zeros((height, width), np.float32)
        self.brush_radius = 1.2
        self.setMinimumSize(PANEL_MIN_SIDE, PANEL_MIN_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def resize_image(self, height: int, width: int) -> None:
        self.image = np.zeros((height, width), np.float32)
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the image is drawn: the largest rectangle of its aspect, centred in the widget."""
        h, w = self.image.shape
        side = min(self.width() / w, self.height() / h)
        left, top = (self.width() - w * side) / 2, (self.height() - h * side) / 2
        return QRectF(left, top, w * side, h * side)

    def _cell(self, pos: QPointF) -> tuple[float, float]:
        rect = self.picture_rect()
        side = rect.width() / self.image.shape[1]
        return (pos.y() - rect.top()) / side - 0.5, (pos.x() - rect.left()) / side - 0.5

    def paint_at(self, row: float, col: float, value: float = 1.0) -> None:
        h, w = self.image.shape
        rr, cc = np.mgrid[0:h, 0:w]
        dist = np.sqrt((rr - row) ** 2 + (cc - col) ** 2)
        strength = np.clip(1.5 - dist / self.brush_radius, 0, 1)  # soft edge, like a pen on paper
        if value > 0:
            np.maximum(self.image, strength * value, out=self.image)
        else:
            self.image *= 1 - strength
        self.update()
        self.changed.emit()

    def set_image(self, image: np.ndarray) -> None:
        self.image = np.clip(np.asarray(image, np.float32), 0, 1).copy()
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self.strokeStarted.emit()
        self.mouseMoveEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        buttons = event.buttons()
        if buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            row, col = self._cell(event.position())
            self.paint_at(row, col, 0.0 if buttons & Qt.MouseButton.RightButton else 1.0)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        h, w = self.image.shape
        grey = np.ascontiguousarray((np.clip(self.image, 0, 1) * 255).astype(np.uint8))
        qimage = QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("black"))  # the same black the image views show
        painter.drawImage(self.picture_rect(), qimage)
        painter.end()


def image_panel(name: str, lookup_table: np.ndarray | None = None) -> ImageGrid:
    """A one-image view with no margins, so its picture fills its square as the paint area's does."""
    grid = ImageGrid(columns=1, levels=(0.0, 1.0))
    grid.setObjectName(name)
    grid.setMinimumSize(PANEL_MIN_SIDE, PANEL_MIN_SIDE)
    grid.setBackground("k")
    grid.ci.setContentsMargins(0, 0, 0, 0)
    grid.ci.layout.setContentsMargins(0, 0, 0, 0)
    grid.view.setDefaultPadding(0.0)
    if lookup_table is not None:
        grid.image.setLookupTable(lookup_table)
    return grid


def show_image(grid: ImageGrid, image: np.ndarray, levels: tuple[float, float] = (0.0, 1.0)) -> None:
    """Show one (H, W) image filling the view (fixed levels: no per-frame min/max scan)."""
    grid.image.setImage(np.asarray(image, np.float32), levels=levels, autoLevels=False)
    if grid._shape != image.shape:
        grid._shape = image.shape
        grid.view.setRange(QRectF(0, 0, image.shape[1], image.shape[0]), padding=0.0)


def heat_lookup_table() -> np.ndarray:
    """A fixed 256-entry 'inferno' table: black is no error, pale yellow an error of the whole range."""
    return pg.colormap.get("inferno").getLookupTable(nPts=256)


class PanelRow(QWidget):
    """Panels with a caption each, laid out as equal squares side by side, centred in the row."""

    def __init__(self, panels: list[QWidget], captions: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.panels = panels
        self.captions = [QLabel(text, self) for text in captions]
        for panel, caption in zip(panels, self.captions):
            panel.setParent(self)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        n = len(panels)
        self.setMinimumSize(n * PANEL_MIN_SIDE + (n - 1) * PANEL_GAP, PANEL_MIN_SIDE + CAPTION_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def side(self) -> int:
        n = len(self.panels)
        return max(1, min((self.width() - (n - 1) * PANEL_GAP) // n, self.height() - CAPTION_HEIGHT))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        side, n = self.side(), len(self.panels)
        left = (self.width() - n * side - (n - 1) * PANEL_GAP) // 2
        top = (self.height() - side - CAPTION_HEIGHT) // 2
        for i, (panel, caption) in enumerate(zip(self.panels, self.captions)):
            x = left + i * (side + PANEL_GAP)
            caption.setGeometry(QRect(x, top, side, CAPTION_HEIGHT))
            panel.setGeometry(QRect(x, top + CAPTION_HEIGHT, side, side))
