"""Reusable widgets (layer table, diagram, image grid, the when-shown mixin).

They know nothing of the window or the panels: this package imports none of them, so a
widget can be imported, and tested, on its own (tests/test_architecture.py checks it).
"""
