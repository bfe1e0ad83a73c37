"""The window under the command line's hostile inputs: a message in place, a responsive window, and
nothing the user had open is lost."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

import aegui.gui.projects as projects_module
from aegui.core.project import ProjectError, load_project


def save_failed_dialog(window) -> QMessageBox | None:
    boxes = [b for b in window.findChildren(QMessageBox, "saveFailedDialog") if b.isVisible()]
    return boxes[-1] if boxes else None


def test_a_full_disk_on_save_keeps_the_work_and_offers_save_as(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    window.projects.mark_dirty()
    real_save = projects_module.save_project
    full = tmp_path / "full"

    def save_project(project, path):
        if Path(path).parent == full:
            raise ProjectError(f"cannot write {path}: {os.strerror(errno.ENOSPC)}")
        return real_save(project, path)

    monkeypatch.setattr(projects_module, "save_project", save_project)
    full.mkdir()
    elsewhere = tmp_path / "elsewhere.aeproj"
    monkeypatch.setattr("aegui.gui.project_commands.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(elsewhere), ""))  # what the user picks after Save as…
    window._save_in_background(full / "work.aeproj")
    qtbot.waitUntil(lambda: save_failed_dialog(window) is not None, timeout=30_000)
    box = save_failed_dialog(window)
    assert "No space left on device" in box.text() and "Nothing was lost" in box.text()
    assert window.projects.dirty and window.projects.path is None  # still unsaved, still open

    again = next(b for b in box.buttons() if b.text() == "Save as…")
    again.click()
    qtbot.waitUntil(lambda: not window.projects.dirty, timeout=30_000)
    assert window.projects.path == elsewhere
    assert load_project(elsewhere).spec == window.state.spec


def test_a_spec_that_cannot_be_saved_is_kept_and_offered_elsewhere(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    target = tmp_path / "model.json"
    target.write_text("the earlier spec")

    def full_disk(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("aegui.core.spec.atomic_write_text", full_disk, raising=False)
    monkeypatch.setattr("aegui.core.atomic.atomic_write_text", full_disk)
    assert window.save_spec(str(target)) is False
    box = save_failed_dialog(window)
    assert box is not None and "No space left on device" in box.text()
    assert target.read_text() == "the earlier spec"
    box.close()


def _hostile_files():
    """The command line's hostile-file builders (tests/core/test_data_bounds.py), for the same files here."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "core" / "test_data_bounds.py"
    spec = importlib.util.spec_from_file_location("hostile_data_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("make, words", [
    (lambda files, folder: files.padded_idx_gz(folder / "pad-images-idx3-ubyte.gz"), "reading stopped there"),
    (lambda files, folder: files.csv_bomb_gz(folder / "bomb.csv.gz"), "budget"),
    (lambda files, folder: [files.big_png(folder / "huge" / name, 14_000, 14_000, header_only=True)
                            for name in ("a.png", "b.png")][0], "megapixel"),
])
def test_a_hostile_file_in_the_data_panel_is_a_message_in_place(qtbot, window, tmp_path, make, words):
    """The same files as the command line's: one message, the window stays responsive, and the dataset and
    model already open stay."""
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QLabel

    files = _hostile_files()
    (tmp_path / "huge").mkdir()
    path = make(files, tmp_path)
    before_data, before_spec = window.state.dataset, window.state.spec
    ticks: list[float] = []
    timer = QTimer(window, interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        with qtbot.waitSignal(window.data_panel.loadFinished, timeout=60_000) as finished:
            window.data_panel.load(str(path.parent if path.suffix == ".png" else path))
    finally:
        timer.stop()
    assert finished.args == [False]
    error = window.findChild(QLabel, "dataErrorLabel")
    assert not error.isHidden() and words in error.text(), error.text()
    assert window.state.dataset is before_data and window.state.spec == before_spec
    gaps = np.diff(ticks) if len(ticks) > 1 else np.array([0.0])
    assert gaps.max() < 0.5, f"the window froze for {gaps.max():.2f} s during the load"
