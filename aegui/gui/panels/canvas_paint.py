"""The Draw tab's paint area: the clean layer of an image drawing, and the noise brush's mask.

The layer is a (C, H, W) float array in model space (0-1 for images); this widget only paints it
on screen. A stroke is a run of stamps of a soft round brush: the mouse's positions are joined
by stamps half a pixel apart, so a fast stroke leaves no gaps between its mouse events. A tablet
scales each stamp by the pen's pressure. With the noise brush the stamps go into ``mask`` (where
the noise layer applies) instead of the drawing.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPointingDevice
from PySide6.QtWidgets import QSizePolicy, QWidget

PANEL_MIN_SIDE = 160
STAMP_SPACING = 0.5  # pixels between stamps along a stroke
MASK_TINT = (255, 64, 200)  # the noise brush's marks, drawn over the drawing at MASK_ALPHA
MASK_ALPHA = 0.45


class PaintArea(QWidget):
    """A (C, H, W) drawing the user paints on (left button draws, right button erases).

    The picture fills the widget's largest centred square, as the result panels beside it do.
    ``strokeStarted`` is emitted at a stroke's first event, before anything is painted, so the
    canvas can keep the layers as they were for undo."""

    changed = Signal()
    strokeStarted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("paintArea")
        self.image = np.zeros((1, 28, 28), np.float32)
        self.mask = np.zeros((28, 28), np.float32)
        self.brush_radius = 1.2
        self.colour = np.ones(3, np.float32)  # the colour brush's colour (3-channel drawings)
        self.noise_brush = False  # strokes paint where noise applies, not ink
        self._last: tuple[float, float] | None = None  # the stroke's previous stamp
        self.setMinimumSize(PANEL_MIN_SIDE, PANEL_MIN_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # so Ctrl+Z reaches the canvas after a stroke

    def reset(self, shape: tuple[int, int, int]) -> None:
        channels, height, width = shape
        self.image = np.zeros((channels, height, width), np.float32)
        self.mask = np.zeros((height, width), np.float32)
        self.update()

    def set_layers(self, image: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Replace the drawing (and the noise mask, or keep it) with owned copies."""
        self.image = np.clip(np.asarray(image, np.float32).reshape(self.image.shape), 0, 1).copy()
        if mask is not None:
            self.mask = np.clip(np.asarray(mask, np.float32), 0, 1).reshape(self.mask.shape).copy()
        self.update()
        self.changed.emit()

    # --- where the picture is ---------------------------------------------------------

    def picture_rect(self) -> QRectF:
        """Where the image is drawn: the largest rectangle of its aspect, centred in the widget."""
        _, h, w = self.image.shape
        side = min(self.width() / w, self.height() / h)
        left, top = (self.width() - w * side) / 2, (self.height() - h * side) / 2
        return QRectF(left, top, w * side, h * side)

    def cell(self, pos: QPointF) -> tuple[float, float]:
        """(row, column) of a widget position, in pixels of the drawing (centres at whole numbers)."""
        rect = self.picture_rect()
        side = rect.width() / self.image.shape[2]
        return (pos.y() - rect.top()) / side - 0.5, (pos.x() - rect.left()) / side - 0.5

    # --- painting -----------------------------------------------------------------------

    def stamp(self, row: float, col: float, pressure: float = 1.0, erase: bool = False) -> None:
        """One soft round stamp; only the brush's own square of pixels is computed."""
        _, h, w = self.image.shape
        reach = int(math.ceil(1.5 * self.brush_radius))
        r0, r1 = max(0, int(row) - reach), min(h, int(row) + reach + 2)
        c0, c1 = max(0, int(col) - reach), min(w, int(col) + reach + 2)
        if r0 >= r1 or c0 >= c1:
            return
        rr, cc = np.mgrid[r0:r1, c0:c1]
        dist = np.sqrt((rr - row) ** 2 + (cc - col) ** 2)
        # A soft edge, like a pen on paper; the pressure scales how much ink (or noise) it leaves.
        strength = (np.clip(1.5 - dist / self.brush_radius, 0, 1) * float(np.clip(pressure, 0, 1))).astype(np.float32)
        if self.noise_brush:
            patch = self.mask[r0:r1, c0:c1]
            patch[...] = patch * (1 - strength) if erase else np.maximum(patch, strength)
            return
        patch = self.image[:, r0:r1, c0:c1]
        if erase:
            patch *= 1 - strength
        elif self.image.shape[0] == 1:
            np.maximum(patch, strength, out=patch)  # grey ink only adds: crossing a stroke keeps it
        else:
            patch += (self.colour[:, None, None] - patch) * strength  # colour covers what is under it

    def stroke_to(self, row: float, col: float, pressure: float = 1.0, erase: bool = False) -> None:
        """Stamps from the stroke's previous point to (row, col), then one signal for all of them."""
        if self._last is None:
            points = [(row, col)]
        else:
            last_row, last_col = self._last
            steps = max(1, int(math.hypot(row - last_row, col - last_col) / STAMP_SPACING))
            points = [(last_row + (row - last_row) * k / steps, last_col + (col - last_col) * k / steps)
                      for k in range(1, steps + 1)]
        for point in points:
            self.stamp(*point, pressure=pressure, erase=erase)
        self._last = (row, col)
        self.update()
        self.changed.emit()

    def _begin(self) -> None:
        self._last = None
        self.strokeStarted.emit()

    # --- input --------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self._begin()
        self.mouseMoveEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        buttons = event.buttons()
        if buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self.stroke_to(*self.cell(event.position()), erase=bool(buttons & Qt.MouseButton.RightButton))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._last = None

    def tabletEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A pen: its pressure scales each stamp; accepted, so Qt makes no mouse events of it too."""
        kind = event.type()
        erase = (event.buttons() & Qt.MouseButton.RightButton
                 or event.pointerType() == QPointingDevice.PointerType.Eraser)
        if kind == QEvent.Type.TabletPress:
            self._begin()
        if kind in (QEvent.Type.TabletPress, QEvent.Type.TabletMove) and event.buttons():
            self.stroke_to(*self.cell(event.position()), pressure=event.pressure(), erase=bool(erase))
        elif kind == QEvent.Type.TabletRelease:
            self._last = None
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        channels, h, w = self.image.shape
        rgb = np.repeat(self.image, 3, axis=0) if channels == 1 else self.image[:3]
        pixels = np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255
        if self.mask.any():  # the noise brush's marks, tinted over the drawing
            alpha = (self.mask * MASK_ALPHA)[..., None]
            pixels = pixels * (1 - alpha) + np.asarray(MASK_TINT, np.float32) * alpha
        rgb8 = np.ascontiguousarray(pixels.astype(np.uint8))
        qimage = QImage(rgb8.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("black"))  # the same black the image views show
        painter.drawImage(self.picture_rect(), qimage)
        painter.end()
