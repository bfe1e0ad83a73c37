"""The Draw tab's image editor: the paint area and three result panels, four equal aligned squares.

The four panels (clean, noisy input, reconstruction, |reconstruction − clean|) are placed by hand
in ``PanelRow.resizeEvent`` at one square side, centred in the row, so the pixels of the drawing
line up across them: a layout's stretch gave the paint area and the pyqtgraph views different
shapes, and each centred (or did not centre) its picture its own way. Every panel is made with
its final parent: a pyqtgraph view made without one is a top-level window until it is adopted.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..widgets.image_grid import ImageGrid
from .canvas_paint import PANEL_MIN_SIDE, PaintArea

CAPTION_HEIGHT = 20
PANEL_GAP = 8
CAPTIONS = ("clean (draw here)", "noisy input", "reconstruction", "|reconstruction − clean|")


def image_panel(name: str, parent: QWidget, lookup_table: np.ndarray | None = None) -> ImageGrid:
    """A one-image view with no margins, so its picture fills its square as the paint area's does."""
    grid = ImageGrid(parent, columns=1, levels=(0.0, 1.0))
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
    """Show one (C, H, W) image (grey for one channel, RGB for three) filling the view, at fixed
    levels: no per-frame min/max scan."""
    image = np.asarray(image, np.float32)
    picture = image[0] if image.shape[0] == 1 else np.ascontiguousarray(image[:3].transpose(1, 2, 0))
    grid.image.setImage(picture, levels=levels, autoLevels=False)
    if grid._shape != image.shape:
        grid._shape = image.shape
        grid.view.setRange(QRectF(0, 0, image.shape[2], image.shape[1]), padding=0.0)


def heat_lookup_table() -> np.ndarray:
    """A fixed 256-entry 'inferno' table: black is no error, pale yellow an error of the whole range."""
    return pg.colormap.get("inferno").getLookupTable(nPts=256)


class PanelRow(QWidget):
    """Its children, each under a caption, laid out as equal squares side by side, centred."""

    def __init__(self, captions: tuple[str, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self.panels: list[QWidget] = []
        self.captions = [QLabel(text, self) for text in captions]
        for caption in self.captions:
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        n = len(captions)
        self.setMinimumSize(n * PANEL_MIN_SIDE + (n - 1) * PANEL_GAP, PANEL_MIN_SIDE + CAPTION_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_panels(self, panels: list[QWidget]) -> None:
        assert len(panels) == len(self.captions) and all(p.parentWidget() is self for p in panels)
        self.panels = panels
        self._place()

    def side(self) -> int:
        n = len(self.captions)
        return max(1, min((self.width() - (n - 1) * PANEL_GAP) // n, self.height() - CAPTION_HEIGHT))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        side, n = self.side(), len(self.captions)
        left = (self.width() - n * side - (n - 1) * PANEL_GAP) // 2
        top = (self.height() - side - CAPTION_HEIGHT) // 2
        for i, (panel, caption) in enumerate(zip(self.panels, self.captions)):
            x = left + i * (side + PANEL_GAP)
            caption.setGeometry(QRect(x, top, side, CAPTION_HEIGHT))
            panel.setGeometry(QRect(x, top + CAPTION_HEIGHT, side, side))


class ImageEditor(QWidget):
    """The canvas's editor for image data (see canvas.py for the editors' common interface)."""

    changed = Signal()
    strokeStarted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("imageEditor")
        self.row = PanelRow(CAPTIONS, self)
        self.paint = PaintArea(self.row)
        self.noisy_view = image_panel("canvasNoisy", self.row)
        self.output = image_panel("canvasReconstruction", self.row)
        self.error_view = image_panel("canvasError", self.row, heat_lookup_table())
        self.row.set_panels([self.paint, self.noisy_view, self.output, self.error_view])
        self.levels = (0.0, 1.0)
        self.paint.changed.connect(self.changed)
        self.paint.strokeStarted.connect(self.strokeStarted)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.row)

    @property
    def values(self) -> np.ndarray:
        return self.paint.image

    def reset(self, sample_shape: tuple[int, ...], value_range: tuple[float, float],
              names: list[str] | None = None) -> None:
        self.levels = (float(value_range[0]), float(value_range[1]))
        self.paint.reset(tuple(sample_shape))
        self.show_result(None, None)

    def set_values(self, values: np.ndarray) -> None:
        self.paint.set_layers(values)

    def layers(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawing and the noise-brush mask, as the canvas keeps them for undo."""
        return self.paint.image, self.paint.mask

    def set_layers(self, layers: tuple[np.ndarray, np.ndarray]) -> None:
        self.paint.set_layers(*layers)

    def noise_mask(self) -> np.ndarray | None:
        """Where the noise brush stroked, or None when it has not: then noise covers everything."""
        return self.paint.mask if self.paint.mask.any() else None

    def caption(self, text: str) -> None:
        self.row.captions[0].setText(text)

    def show_result(self, noisy: np.ndarray | None, restored: np.ndarray | None,
                    reference: np.ndarray | None = None) -> None:
        """The noisy input, the reconstruction and its error against ``reference`` (the clean input
        as fed; the drawing itself by default). None blanks a panel."""
        reference = self.values if reference is None else reference
        for grid, image in ((self.noisy_view, noisy), (self.output, restored)):
            if image is None:
                grid.image.clear()
            else:
                show_image(grid, image, self.levels)
        if restored is None:
            self.error_view.image.clear()
            return
        span = self.levels[1] - self.levels[0] or 1.0
        # One heat value per pixel: the error averaged over the channels, as a share of the range.
        error = np.abs(np.clip(restored, *self.levels) - reference).mean(axis=0, keepdims=True) / span
        show_image(self.error_view, error)

    def picture(self) -> QWidget:
        return self.row
