"""Application start-up: QApplication, theme, and the torch thread policy."""
from __future__ import annotations

import sys


def apply_gui_thread_policy() -> None:
    import torch

    torch.set_num_threads(1)


PLOT_COLOURS = {False: ("w", "k"), True: ("#1e1e1e", "#dddddd")}  # dark? -> (background, foreground)


def apply_theme(app) -> None:
    """Fusion style with a palette that follows the system's light or dark scheme, now and when
    the system switches (Fusion follows by itself; plots are told, see restyle_plots)."""
    import pyqtgraph as pg
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    app.setStyle("Fusion")
    hints = QGuiApplication.styleHints()
    dark = hints.colorScheme() == Qt.ColorScheme.Dark
    background, foreground = PLOT_COLOURS[dark]
    pg.setConfigOptions(antialias=False, background=background, foreground=foreground)
    hints.colorSchemeChanged.connect(lambda scheme: restyle_plots(app, scheme == Qt.ColorScheme.Dark))


def restyle_plots(app, dark: bool) -> None:
    """Re-colour every existing plot for a light or dark scheme: pyqtgraph's options reach only new items."""
    import pyqtgraph as pg

    background, foreground = PLOT_COLOURS[dark]
    pg.setConfigOptions(background=background, foreground=foreground)
    for top in app.topLevelWidgets():
        for view in top.findChildren(pg.GraphicsView):
            view.setBackground(background)
            scene = view.scene()
            if scene is None:
                continue
            for item in scene.items():
                if isinstance(item, pg.AxisItem):
                    item.setPen(foreground)
                    item.setTextPen(foreground)
                elif isinstance(item, pg.LabelItem):
                    item.setText(item.text, color=foreground)


def run_app(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    apply_gui_thread_policy()
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Autoencoder Studio")
    app.setOrganizationName("AutoencoderStudio")
    apply_theme(app)
    from .gc_policy import collect_on_gui_thread

    collect_on_gui_thread(app)  # a closed window's widgets must never be collected in a worker thread
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
