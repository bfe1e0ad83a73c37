"""The architecture drawn as blocks: encoder -> code -> decoder, each sized by its width.

Each block's label sits under it in two lines at most ("out" over "1x28x28"), in
its own slot; a line that is still too wide for a narrow dock is elided, and
hovering a block shows its whole label.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

LABEL_LINES = 2


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

    def label_lines(self, label: str, width: float) -> tuple[list[str], bool]:
        """(the label's lines as drawn in a slot ``width`` pixels wide, whether any was elided):
        split at its first space ("out 1x28x28" -> "out", "1x28x28") when it does not fit on one."""
        fm = QFontMetrics(self.font())
        room = max(1, int(width) - 2)
        if fm.horizontalAdvance(label) <= room:
            return [label], False
        lines = label.split(" ", LABEL_LINES - 1)
        shown = [fm.elidedText(line, Qt.TextElideMode.ElideRight, room) for line in lines]
        return shown, shown != lines

    def block_at(self, x: float) -> int | None:
        if not self._blocks or self.width() <= 0:
            return None
        i = int(x / (self.width() / len(self._blocks)))
        return i if 0 <= i < len(self._blocks) else None

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self.block_at(event.pos().x())
            if i is None:
                QToolTip.hideText()
            else:
                label, width, _ = self._blocks[i]
                QToolTip.showText(event.globalPos(), f"{label} (width {width})", self)
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._blocks:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        n = len(self._blocks)
        slot = w / n
        block_w = min(46.0, slot * 0.6)
        line_h = QFontMetrics(self.font()).lineSpacing()
        label_h = LABEL_LINES * line_h + 2
        top, usable = 8.0, h - 12.0 - label_h
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
        for i, lines in enumerate(self._label_layout(slot)):
            for k, (left, right, line) in enumerate(lines):
                painter.drawText(QRectF(left, h - label_h - 2 + k * line_h, right - left, line_h),
                                 Qt.AlignmentFlag.AlignCenter, line)
        painter.end()

    def _label_layout(self, slot: float) -> list[list[tuple[float, float, str]]]:
        """Per block, its label's lines as (left, right, text). A second line ("1x28x28") may also use
        half of each neighbour's slot (all of it for an end block) where that neighbour has no second
        line ("512" has one)."""
        fm = QFontMetrics(self.font())
        n = len(self._blocks)
        first = [self.label_lines(label, slot)[0] for label, _, _ in self._blocks]
        out = []
        for i, (label, _, _) in enumerate(self._blocks):
            lines = first[i]
            if len(lines) < 2:
                out.append([(slot * i, slot * (i + 1), lines[0])])
                continue
            free_left = i > 0 and len(first[i - 1]) < 2
            free_right = i < n - 1 and len(first[i + 1]) < 2
            reach = 0.5 if free_left and free_right else 1.0  # an end block has one side: all of its neighbour's
            left = slot * (i - reach) if free_left else slot * i
            right = slot * (i + 1 + reach) if free_right else slot * (i + 1)
            full = label.split(" ", LABEL_LINES - 1)
            second = fm.elidedText(full[1], Qt.TextElideMode.ElideRight, max(1, int(right - left) - 2))
            out.append([(slot * i, slot * (i + 1), lines[0]), (left, right, second)])
        return out
