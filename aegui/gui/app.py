"""Application start-up: QApplication, theme, and the torch thread policy."""
from __future__ import annotations

import sys

THREAD_POLICY_DOC = """
Torch thread policy (measured, see docs/architecture.md and benchmarks/gui_training.py):
the GUI thread runs its occasional torch work (model summaries, inference copies)
with ONE intra-op thread, and the training worker keeps the default (one per core).
OpenMP's thread count is per calling thread, so the GUI's setting does not shrink
the worker's pool, and a one-thread GUI never starts an OpenMP team whose spinning
threads would steal the cores the worker needs.
"""


def apply_gui_thread_policy() -> None:
    import torch

    torch.set_num_threads(1)


def apply_theme(app) -> None:
    """Fusion style with a palette that follows the system's light or dark scheme."""
    import pyqtgraph as pg
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    app.setStyle("Fusion")
    dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    pg.setConfigOptions(antialias=False, background="#1e1e1e" if dark else "w", foreground="#dddddd" if dark else "k")


def run_app(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    apply_gui_thread_policy()
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Autoencoder Studio")
    app.setOrganizationName("AutoencoderStudio")
    apply_theme(app)
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
