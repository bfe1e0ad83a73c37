"""Text and progress widgets whose updates repaint only themselves.

Measured on this dashboard: ``QLabel.setText`` calls ``updateGeometry()``,
which invalidates every layout up to the window; the re-layout then repainted
the WHOLE window (every plot, button and frame, about 8 ms) for one changed
number. A QProgressBar is not opaque, so each new value repainted the tab page
and frames behind it as well. These two widgets have a size that never depends
on their content, paint their own background (``WA_OpaquePaintEvent``), and on a
change call only ``update()``: one changed number costs one small repaint.
"""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class TextLine(QWidget):
    """One line of text (elided when too long), or ``lines`` lines word-wrapped."""

    def __init__(self, text: str = "", lines: int = 1, colour: str | None = None, bold: bool = False,
                 width: int | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._text = text
        self._lines = max(1, lines)
        self._colour: QColor | None = None
        self.set_style(colour, bold)
        height = self._lines * self.fontMetrics().height() + 4
        if width is None:
            self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.setFixedHeight(height)
        else:
            self.setFixedSize(width, height)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name; never depends on the text
        return QSize(80, self.height() or self.fontMetrics().height() + 4)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - the QLabel name callers expect
        if text != self._text:
            self._text = text
            self.update()

    def clear(self) -> None:
        self.setText("")

    def set_style(self, colour: str | None = None, bold: bool = False) -> None:
        self._colour = QColor(colour) if colour else None
        font = QFont(self.font())
        font.setBold(bold)
        self.setFont(font)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        p.setPen(self._colour or self.palette().windowText().color())
        rect = self.rect().adjusted(2, 0, -2, 0)
        if self._lines == 1:
            text = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, rect.width())
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        else:
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
                       self._text)
        p.end()


class ProgressStrip(QWidget):
    """A 0-100 progress bar drawn flat, opaque, with its percentage in the middle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().height() + 4)
        self._value = 0

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(100, self.fontMetrics().height() + 4)

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return 100

    def setValue(self, value: int) -> None:  # noqa: N802 - the QProgressBar name callers expect
        value = max(0, min(100, int(value)))
        if value != self._value:
            self._value = value
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        pal = self.palette()
        r = self.rect()
        p.fillRect(r, pal.base())
        done = QRect(r.left(), r.top(), int(r.width() * self._value / 100), r.height())
        p.fillRect(done, pal.highlight())
        p.setPen(pal.mid().color())
        p.drawRect(r.adjusted(0, 0, -1, -1))
        p.setPen(pal.text().color())
        p.drawText(r, int(Qt.AlignmentFlag.AlignCenter), f"{self._value}%")
        p.end()
