"""The Draw tab's controls, in three short rows: drawing, noise, files.

Three short rows, not one long one: a row's width is the window's minimum, and laptops are
1366 px wide. Controls that only make sense for images (the brush, the colour, the noise brush,
the MNIST-style toggle) hide for curves and table rows.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QPushButton, QSpinBox,
    QVBoxLayout, QWidget,
)

from ...core.canvas_ops import NOISE_KINDS

LEVEL_TIPS = {
    "gaussian": "σ: the noise's standard deviation, as a share of the data's range",
    "salt_pepper": "p: the share of values flipped, half to the lowest value and half to the highest",
    "masking": "the share of values (or of blocks) set to the lowest value",
}


def _row(widgets) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    row.addStretch(1)
    return row


class CanvasControls(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.brush = QDoubleSpinBox(self, prefix="brush ", minimum=0.5, maximum=8.0, singleStep=0.25, value=1.2)
        self.brush.setToolTip("The brush's radius, in pixels of the drawing")
        self.colour_button = QPushButton("Colour…", self, toolTip="The colour brush's colour (colour images)")
        self.colour_button.setVisible(False)
        self.noise_brush = QPushButton("Noise brush", self, checkable=True)
        self.noise_brush.setToolTip("Paint where the noise goes instead of ink: once you have, noise covers "
                                    "only those strokes (the right button wipes them)")
        self.undo_button = QPushButton("Undo", self, toolTip="Undo the last stroke (Ctrl+Z)")
        self.redo_button = QPushButton("Redo", self, toolTip="Redo the stroke undone (Ctrl+Shift+Z)")
        self.clear_button = QPushButton("Clear", self, toolTip="Clear the drawing and the noise brush's strokes")
        self.sample_button = QPushButton("Load sample", self, toolTip="Start from a validation sample of the run")
        self.mnist_check = QCheckBox("MNIST-style", self)
        self.mnist_check.setToolTip("Feed the drawing cropped to its ink, fitted to 20×20 and centred by its "
                                    "centre of mass in 28×28, as the MNIST digits were made; off: as drawn")
        self.noise_kind = QComboBox(self)
        self.noise_kind.addItems(list(NOISE_KINDS))
        self.noise_kind.setToolTip("The corruption a denoising autoencoder learns to undo")
        self.noise_level = QDoubleSpinBox(self, minimum=0.0, maximum=1.0, singleStep=0.05, value=0.3)
        self.block = QSpinBox(self, prefix="block ", minimum=1, maximum=8, value=1)
        self.block.setToolTip("Masking hides squares of block × block pixels (runs of values in a curve)")
        self.new_noise = QPushButton("New noise", self, toolTip="Draw a new noise pattern (a new seed)")
        self.png_button = QPushButton("Save PNG…", self, toolTip="Save the panels (or the plot) as a picture")
        self.save_button = QPushButton("Save drawing…", self, toolTip="Save the clean input as a .npy array")
        self.load_button = QPushButton("Load drawing…", self, toolTip="Load an input saved as .npy")
        self.send_button = QPushButton("Send to explorer", self)
        self.send_button.setToolTip("Mark the input's code on the latent map, show its nearest training "
                                    "samples, and make it an interpolation end")
        self._level_tip()
        self.noise_kind.currentIndexChanged.connect(self._level_tip)
        self.image_only = (self.brush, self.noise_brush, self.mnist_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(_row((self.brush, self.colour_button, self.noise_brush, self.undo_button,
                               self.redo_button, self.clear_button, self.sample_button, self.mnist_check)))
        layout.addLayout(_row((self.noise_kind, self.noise_level, self.block, self.new_noise)))
        layout.addLayout(_row((self.png_button, self.save_button, self.load_button, self.send_button)))

    def _level_tip(self, *_) -> None:
        self.noise_level.setToolTip(LEVEL_TIPS[self.noise_kind.currentText()])
        self.block.setEnabled(self.noise_kind.currentText() == "masking")

    def show_for(self, kind: str) -> None:
        for widget in self.image_only:
            widget.setVisible(kind == "image")
        if kind != "image":
            self.colour_button.setVisible(False)

    def connect_to(self, canvas) -> None:
        """Wire the controls to the canvas's actions (the canvas owns every state they change)."""
        image = lambda: canvas.editors.get("image")  # noqa: E731 - the image editor, made on first use
        self.brush.valueChanged.connect(lambda v: setattr(image().paint, "brush_radius", v))
        self.noise_brush.toggled.connect(lambda on: setattr(image().paint, "noise_brush", on))
        self.colour_button.clicked.connect(lambda: self.pick_colour(image().paint))
        self.undo_button.clicked.connect(canvas.undo)
        self.redo_button.clicked.connect(canvas.redo)
        self.clear_button.clicked.connect(canvas.clear)
        self.sample_button.clicked.connect(canvas.load_random_sample)
        self.new_noise.clicked.connect(canvas.add_noise)
        self.send_button.clicked.connect(canvas.send_to_explorer)
        for control, signal in ((self.noise_kind, "currentIndexChanged"), (self.noise_level, "valueChanged"),
                                (self.block, "valueChanged"), (self.mnist_check, "toggled")):
            getattr(control, signal).connect(canvas.schedule)
        self.mnist_check.toggled.connect(lambda on: image().caption(
            "clean (draw here; fed MNIST-style)" if on else "clean (draw here)"))
        self.png_button.clicked.connect(lambda: self._ask(canvas.save_png, True, "PNG image (*.png)"))
        self.save_button.clicked.connect(lambda: self._ask(canvas.save_drawing, True, "NumPy array (*.npy)"))
        self.load_button.clicked.connect(lambda: self._ask(canvas.load_drawing, False, "NumPy array (*.npy)"))

    def pick_colour(self, paint) -> None:
        start = QColor.fromRgbF(*(float(c) for c in paint.colour))
        colour = QColorDialog.getColor(start, self, "Brush colour")
        if colour.isValid():
            paint.colour = np.array([colour.redF(), colour.greenF(), colour.blueF()], np.float32)

    def _ask(self, action, save: bool, kind: str) -> None:
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self, "Save" if save else "Open", "", kind)
        if path:
            action(path)
