"""Help > Guide: a short tour of the window, one page per area (core.explain.GUIDE_PAGES).

A non-modal dialog: the list of areas on the left, the chosen page on the right, so the window
stays usable beside it while one reads. The window keeps one; asking again brings it to the front.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QListWidget, QTextBrowser, QVBoxLayout, QWidget,
)

from ...core.explain import GUIDE_PAGES

LIST_WIDTH = 170  # pixels: the longest area name ("Training dashboard") with room to spare


def page_html(name: str, text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part.strip())
    return f"<h3>{html.escape(name)}</h3>{paragraphs}"


class GuideDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("guideDialog")
        self.setWindowTitle("Guide to Autoencoder Studio")
        self.setModal(False)
        self.pages = QListWidget()
        self.pages.setObjectName("guidePages")
        self.pages.addItems([name for name, _ in GUIDE_PAGES])
        self.pages.setFixedWidth(LIST_WIDTH)
        self.pages.setSpacing(3)
        self.text = QTextBrowser()
        self.text.setObjectName("guideText")
        self.text.setOpenLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        body = QHBoxLayout()
        body.addWidget(self.pages)
        body.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        self.pages.currentRowChanged.connect(self.show_page)
        self.pages.setCurrentRow(0)
        self.resize(700, 440)

    def show_page(self, row: int) -> None:
        if 0 <= row < len(GUIDE_PAGES):
            self.text.setHtml(page_html(*GUIDE_PAGES[row]))


def show_guide(parent: QWidget) -> GuideDialog:
    """Show the window's guide, made the first time it is asked for."""
    guide = parent.findChild(GuideDialog, "guideDialog", Qt.FindChildOption.FindDirectChildrenOnly)
    if guide is None:
        guide = GuideDialog(parent)
    guide.show()
    guide.raise_()
    guide.activateWindow()
    return guide
