"""The window under the command line's hostile inputs: a message in place, a responsive window, and
nothing the user had open is lost."""
from __future__ import annotations

import errno
import os
from pathlib import Path

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
