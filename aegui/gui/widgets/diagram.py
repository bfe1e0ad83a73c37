"""The architecture drawn as blocks: encoder -> code -> decoder, each sized by its width."""
from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class ArchitectureDiagram(QWidget):
    ENCODER, CODE, DECODER, IO = QColor("#4e79a7"), QColor("#e15759"), QColor("#59a14f"), QColor("#9c9c9c")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("architectureDiagram")
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._blocks: list[tuple[str, int, QColor]] = []

    def set_blocks(self, blocks: list[tuple[str, int, str]]) -> None:
        """(label, width, role) per block; role is input, encoder, code, decoder or output."""
        colours = {"input": self.IO, "output": self.IO, "encoder": self.ENCODER, "code": self.CODE,
                   "decoder": self.DECODER}
        self._blocks = [(label, max(1, width), colours[role]) for label, width, role in blocks]
        self.update()

    def blocks(self) -> list[tuple[str, int]]:
        return [(label, width) for label, width, _ in self._blocks]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._blocks:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        n = len(self._blocks)
        slot = w / n
        block_w = min(46.0, slot * 0.6)
        top, usable = 8.0, h - 34.0
        biggest = max(math.log2(width + 1) for _, width, _ in self._blocks)
        text_pen = QPen(self.palette().color(self.foregroundRole()))
        for i, (label, width, colour) in enumerate(self._blocks):
            # Log scale: a 784-wide input and a 2-unit code must both stay visible.
            height = max(6.0, usable * math.log2(width + 1) / biggest)
            x = slot * i + (slot - block_w) / 2
            y = top + (usable - height) / 2
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(x, y, block_w, height), 4, 4)
            if i < n - 1:
                painter.setPen(QPen(self.IO, 1))
                painter.drawLine(int(x + block_w), int(top + usable / 2), int(slot * (i + 1) + (slot - block_w) / 2),
                                 int(top + usable / 2))
            painter.setPen(text_pen)
            painter.drawText(QRectF(slot * i, h - 24, slot, 22), Qt.AlignmentFlag.AlignCenter, label)
        painter.end()
