"""The explanation pane, the "?" buttons that open it, and the tooltips, all read from core.explain.

A "?" beside a control opens that control's long explanation in the pane: its title, the tooltip's
sentence as a lead, the paragraphs, each choice of a choice field (the one chosen marked), and the
tutorial section it is drawn from. The pane is a plain widget that its owner places (the builder
puts it under its form) and hides again with its close button.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from ...core.explain import EXPLANATIONS, choice_key, choice_values, explanation, explanation_key, title

MIN_TEXT_HEIGHT = 80  # pixels: about four lines; the pane's splitter gives it more when there is room


# A key core.explain lacks is a mistake its tests catch (tests/core/test_explain.py, and the builder's
# coverage in tests/gui/test_explanations.py); until then its control goes without words rather than
# stopping the window from opening.
def _short(key: str) -> str:
    entry = EXPLANATIONS.get(explanation_key(key))
    return entry.short if entry else ""


def field_tooltip(path: str, value: str | None = None) -> str:
    """A control's tooltip: its short explanation, and for a choice field the chosen value's too."""
    tip = _short(path)
    chosen = _short(choice_key(path, value)) if value is not None and value in choice_values(path) else ""
    return f"{tip}\n\n{value}: {chosen}" if chosen else tip


def set_choice_tooltips(combo, path: str) -> None:
    """Each item of a choice field's list says, on hover, what that choice does."""
    for i in range(combo.count()):
        combo.setItemData(i, _short(choice_key(path, combo.itemText(i))), Qt.ItemDataRole.ToolTipRole)


def explain_button(key: str, slot, parent: QWidget | None = None) -> QToolButton:
    """A small "?" that calls ``slot(key)``; it names what it explains in its tooltip."""
    button = QToolButton(parent)
    button.setText("?")
    button.setObjectName("explainButton")
    button.setProperty("explainKey", key)
    button.setAutoRaise(True)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # tabbing goes from editor to editor, not through each "?"
    button.setFixedSize(18, 18)
    known = explanation_key(key) in EXPLANATIONS
    button.setEnabled(known)
    button.setToolTip(f"Explain: {title(key)}" if known else "")
    button.clicked.connect(lambda: slot(key))
    return button


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part.strip())


def explanation_html(key: str, current: str | None = None) -> str:
    """The pane's text for an entry: the lead sentence, the paragraphs, then each choice of a choice field."""
    entry = explanation(key)
    parts = [f"<p><i>{html.escape(entry.short)}</i></p>", _paragraphs(entry.long)]
    values = choice_values(key)
    if values:
        parts.append("<p><b>The choices</b></p>")
        for value in values:
            option = explanation(choice_key(key, value))
            chosen = " (chosen)" if value == current else ""
            parts.append(f"<p><b>{html.escape(title(choice_key(key, value)))}</b>{chosen}: "
                         f"{html.escape(option.short)} {html.escape(option.long)}</p>")
    return "".join(parts)


class ExplainPane(QFrame):
    """Shows one entry of core.explain at a time; hidden until asked."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("explainPane")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.key: str | None = None  # the entry on show
        self.title_label = QLabel(wordWrap=True)
        self.title_label.setObjectName("explainTitle")
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("explainClose")
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close the explanation")
        self.close_button.clicked.connect(self.close_pane)
        self.text = QTextBrowser()
        self.text.setObjectName("explainText")
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setOpenLinks(False)
        self.text.setMinimumHeight(MIN_TEXT_HEIGHT)
        self.source_label = QLabel(wordWrap=True)
        self.source_label.setObjectName("explainSource")
        self.source_label.setStyleSheet("color: gray;")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title_label, 1)
        top.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.source_label)
        self.hide()

    def show_key(self, key: str, current: str | None = None) -> None:
        """Show the entry for ``key`` (a spec path or any core.explain key); ``current``: the value chosen."""
        entry = explanation(key)
        self.key = key
        self.title_label.setText(title(key))
        self.text.setHtml(explanation_html(key, current))
        section = entry.tutorial_section
        self.source_label.setText(f"From the tutorial: “{section}”" if section else "")
        self.source_label.setVisible(bool(section))
        self.show()

    def plain_text(self) -> str:
        """Everything the pane says, as plain text (for tests and accessibility)."""
        return "\n".join((self.title_label.text(), self.text.toPlainText(), self.source_label.text()))

    def close_pane(self) -> None:
        self.hide()
        self.closed.emit()
