"""The Qt front end. It reaches the engine only through the controller and the state.

``MainWindow`` is loaded on first use, so importing a leaf such as ``aegui.gui.widgets``
does not build the whole window's import tree (tests/test_architecture.py checks it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .main_window import MainWindow

__all__ = ["MainWindow"]


def __getattr__(name: str):
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
