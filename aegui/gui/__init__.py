"""The Qt front end. It reaches the engine only through the controller and the state."""
from .main_window import MainWindow

__all__ = ["MainWindow"]
