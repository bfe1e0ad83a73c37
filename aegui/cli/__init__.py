"""The headless command line (``python main.py COMMAND`` or ``aegui COMMAND``); see main.py."""
from .main import main

__all__ = ["main"]
