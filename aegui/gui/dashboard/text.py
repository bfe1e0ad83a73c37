"""Text and progress widgets whose updates repaint only themselves.

Measured on this dashboard: ``QLabel.setText`` calls ``updateGeometry()``,
which invalidates every layout up to the window; the re-layout then repainted
the WHOLE window (every plot, button and frame, about 8 ms) for one changed
number. A QProgressBar is not opaque, so each new value repainted the tab page
and frames behind it as well. These two widgets have a size that never depends
on their content, paint their own background (``WA_OpaquePaintEvent``), and on a
change call only ``update()``: one changed number costs one small repaint.

Text that does not fit is elided ("…") at the end of its last line, and then
hovering shows the whole text (before the widget's own tooltip, if any), so a
narrow column never loses words for good.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QTextLayout
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


class TextLine(QWidget):
    """One line of text, or ``lines`` lines word-wrapped; elided when too long, the whole text on hover."""

    def __init__(self, text: str = "", lines: int = 1, colour: str | None = None, bold: bool = False,
                 width: int | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._text = text
        self._lines = max(1, lines)
        self._colour: QColor | None = None
        self.elided = False  # whether the last paint cut the text short
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

    def shown_lines(self, width: int | None = None) -> tuple[list[str], bool]:
        """(the lines as painted at ``width`` (default: the widget's), whether the text was cut):
        the last line is elided when the text needs more than ``lines``."""
        width = max(1, (self.width() - 4) if width is None else width)
        fm = self.fontMetrics()
        if self._lines == 1:
            line = fm.elidedText(self._text, Qt.TextElideMode.ElideRight, width)
            return [line], line != self._text
        layout = QTextLayout(self._text.replace("\n", "\u2028"), self.font())
        layout.beginLayout()
        starts = []
        while len(starts) <= self._lines:  # one more than fits says whether it overflows
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            starts.append(line.textStart())
        layout.endLayout()
        if len(starts) <= self._lines:
            ends = starts[1:] + [len(self._text)]
            lines = [self._text[a:b].strip() for a, b in zip(starts, ends)]
            # A single word wider than the line is not wrapped: elide it too.
            shown = [fm.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines]
            return shown, shown != lines
        out = [self._text[a:b].strip() for a, b in zip(starts[: self._lines - 1], starts[1: self._lines])]
        rest = self._text[starts[self._lines - 1]:].strip()
        out.append(fm.elidedText(rest, Qt.TextElideMode.ElideRight, width))
        return out, True

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.elided:
            tip = self._text + (f"\n\n{self.toolTip()}" if self.toolTip() else "")
            QToolTip.showText(event.globalPos(), tip, self)
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        p.setPen(self._colour or self.palette().windowText().color())
        rect = self.rect().adjusted(2, 0, -2, 0)
        lines, self.elided = self.shown_lines(rect.width()) if self._text else ([""], False)
        if self._lines == 1:
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), lines[0])
        else:
            step = self.fontMetrics().lineSpacing()
            for i, line in enumerate(lines):
                p.drawText(QRect(rect.left(), rect.top() + i * step, rect.width(), step),
                           int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)
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
