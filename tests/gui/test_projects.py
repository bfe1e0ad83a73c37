"""Projects in the window: save, close, open and use the model at once; bad files; hot exit and
recovery; Continue training; the title; drag and drop."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from aegui.core.project import ProjectError, load_project
from gui_helpers import set_epochs

WAIT_MS = 60_000


def train(qtbot, window, epochs: int = 1) -> None:
    set_epochs(qtbot, window, epochs)
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT_MS):
        window.train()
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=WAIT_MS)


def open_and_wait(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.projects.opened, timeout=WAIT_MS):
        window.open_project(path)


def wait_saves(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.projects.saving, timeout=WAIT_MS)


@pytest.fixture
def saved(qtbot, make_window, tmp_path):
    """A window that trained one epoch and saved it; the path, spec and run list, then closed."""
    window = make_window()
    train(qtbot, window)
    path = window.save_project(tmp_path / "digits")
    assert path.name == "digits.aeproj" and not window.projects.dirty
    record = window.state.runs[-1]
    facts = {"spec": window.state.spec, "names": [r.name for r in window.state.runs],
             "val": record.final_val_loss, "curves": sorted(window.dashboard.recorder.curves),
             "points": window.dashboard.recorder.curves["train total"].n}
    window.close()
    return path, facts


def test_a_saved_project_opens_with_its_runs_curves_and_a_model_ready_to_explore(qtbot, make_window, saved,
                                                                                   tmp_path):
    path, facts = saved
    window = make_window(settings_file=str(tmp_path / "second.ini"))
    open_and_wait(qtbot, window, path)
    assert window.state.spec == facts["spec"]
    assert [r.name for r in window.state.runs] == facts["names"]
    assert window.state.runs[-1].final_val_loss == pytest.approx(facts["val"])
    assert sorted(window.dashboard.recorder.curves) == facts["curves"]
    assert window.dashboard.recorder.curves["train total"].n == facts["points"]
    assert window.windowTitle().startswith("digits — ")
    # The latent explorer makes its map from the saved weights: no training.
    window.tabs.setCurrentWidget(window.latent)
    qtbot.waitUntil(lambda: window.latent.map is not None, timeout=WAIT_MS)
    assert np.isfinite(window.latent.map.points).all()
    assert window.controller.state == "idle" and len(window.state.runs) == 1
    window.latent.grab().save(str(tmp_path / "latent.png"))
    window.tabs.setCurrentWidget(window.dashboard)
    qtbot.wait(100)
    assert window.dashboard.loss.curves["train total"].xData is not None
    assert window.continue_action.isEnabled()


def test_a_bad_file_raises_one_line_and_the_window_keeps_working(qtbot, window, tmp_path):
    bad = tmp_path / "bad.aeproj"
    bad.write_bytes(b"not a zip at all")
    spec = window.state.spec
    with pytest.raises(ProjectError) as info:
        window.open_project(bad)
    message = str(info.value)
    assert "\n" not in message and "bad.aeproj" in message
    with pytest.raises(ProjectError):
        window.open_project(tmp_path / "missing.aeproj")
    assert window.state.spec == spec and window.train_action.isEnabled()
    # From the menu the file is read off the GUI thread, and the same line is a non-blocking dialog.
    window.ask_open_project(str(bad))
    qtbot.waitUntil(lambda: window._last_error_box is not None, timeout=WAIT_MS)
    assert window._last_error_box.text() == message and window.state.spec == spec


def test_title_shows_the_name_and_an_unsaved_mark(qtbot, window, tmp_path):
    assert window.windowTitle() == "Untitled — Autoencoder Studio"
    spec = window.state.spec
    spec.train.batch_size = 64
    window.state.edit_spec(spec)
    assert window.windowTitle() == "Untitled* — Autoencoder Studio"
    window.save_project(tmp_path / "mine.aeproj")
    assert window.windowTitle() == "mine — Autoencoder Studio"
    assert str(tmp_path / "mine.aeproj") in window.projects.recent()


def test_closing_with_unsaved_work_keeps_it_for_the_next_start(qtbot, make_window, tmp_path):
    ini = str(tmp_path / "hot.ini")
    window = make_window(settings_file=ini)
    train(qtbot, window)
    names = [r.name for r in window.state.runs]
    recovery = window.projects.recovery_path
    assert recovery.parent == tmp_path and window.projects.dirty
    window.close()
    assert recovery.is_file() and load_project(recovery).run.training_state is not None
    again = make_window(settings_file=ini)
    qtbot.waitUntil(lambda: not again.projects.busy, timeout=WAIT_MS)
    assert [r.name for r in again.state.runs] == names
    assert "Restored the unsaved session" in again.statusBar().currentMessage()
    assert "unsaved" in again.windowTitle() and "*" in again.windowTitle()
    # Saved, a clean close removes the recovery file.
    again.save_project(tmp_path / "kept.aeproj")
    again.close()
    assert not recovery.exists()
    third = make_window(settings_file=ini)
    assert third.state.runs == [] and "Restored" not in third.statusBar().currentMessage()


def test_autosave_writes_the_recovery_file_on_a_timer(qtbot, make_window, tmp_path):
    window = make_window()
    window.projects.autosave_timer.setInterval(50)
    spec = window.state.spec
    spec.train.batch_size = 32
    window.state.edit_spec(spec)
    qtbot.waitUntil(window.projects.recovery_path.is_file, timeout=WAIT_MS)
    wait_saves(qtbot, window)
    assert load_project(window.projects.recovery_path).spec.train.batch_size == 32
    # A crash now (no close): the next start restores the session and says so in the status bar.
    again = make_window()
    assert again.state.spec.train.batch_size == 32
    assert again.statusBar().currentMessage().startswith("Restored the unsaved session from ")


def test_continue_training_matches_a_straight_run(qtbot, make_window, mnist600, tmp_path):
    from aegui.core.training import Trainer

    window = make_window()
    train(qtbot, window, epochs=1)
    path = window.save_project(tmp_path / "one.aeproj")
    window.close()
    window = make_window(settings_file=str(tmp_path / "b.ini"))
    open_and_wait(qtbot, window, path)
    assert window.continue_training(1) is False  # not beyond what is done
    assert "already trained 1" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT_MS):
        assert window.continue_training(2)
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=WAIT_MS)
    resumed = window.state.runs[-1].artifact
    assert len(window.state.runs) == 1 and [r["epoch"] for r in window.state.runs[-1].history] == [1, 2]
    spec = resumed.spec.copy()
    straight = Trainer(spec, mnist600)
    for _ in straight.run():
        pass
    assert [r["val_total"] for r in resumed.history] == [r["val_total"] for r in straight.history]
    assert math.isclose(resumed.result.val_loss, straight.result.val_loss, rel_tol=0, abs_tol=0)


def test_a_project_whose_data_is_missing_keeps_its_spec_and_runs_until_the_data_is_loaded(
        qtbot, make_window, saved, mnist600, tmp_path):
    from aegui.core.data import load_dataset
    from aegui.core.project import save_project

    path, facts = saved
    # The project's data now lives in a file that is not there, and the window holds other data.
    project = load_project(path)
    project.run.dataset.source = str(tmp_path / "gone.npz")
    moved = save_project(project, tmp_path / "moved.aeproj")
    window = make_window(dataset=load_dataset("mnist5k", limit=300, seed=0), settings_file=str(tmp_path / "c.ini"))
    open_and_wait(qtbot, window, moved)
    assert window.state.spec == facts["spec"] and [r.name for r in window.state.runs] == facts["names"]
    assert "gone.npz" in window.statusBar().currentMessage()
    assert window.findChild(QMessageBox, "dataMissingDialog") is not None  # non-blocking: we got here
    assert window.projects.waiting_run is not None and window.latent.shown_run is None
    assert window.continue_training(2) is False
    # The user loads the data it was trained on: its checksum matches, and the model is back.
    window.state.set_dataset(mnist600)
    qtbot.waitUntil(lambda: window.projects.waiting_run is None, timeout=WAIT_MS)
    window.tabs.setCurrentWidget(window.latent)
    qtbot.waitUntil(lambda: window.latent.map is not None, timeout=WAIT_MS)
    for box in window.findChildren(QMessageBox, "dataMissingDialog"):
        box.close()


def test_dropping_a_project_opens_it(qtbot, make_window, saved, tmp_path):
    path, facts = saved
    window = make_window(settings_file=str(tmp_path / "d.ini"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.projects.opened, timeout=WAIT_MS):
        window.dropEvent(event)
    assert event.isAccepted() and [r.name for r in window.state.runs] == facts["names"]
    # A spec .json dropped is opened into the builder; anything else is refused.
    spec_path = tmp_path / "model.json"
    spec = window.state.spec
    spec.train.batch_size = 16
    spec.save(spec_path)
    mime2 = QMimeData()
    mime2.setUrls([QUrl.fromLocalFile(str(spec_path))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime2, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    assert window.state.spec.train.batch_size == 16
    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(tmp_path / "x.txt"))])
    refused = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, other, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    window.dropEvent(refused)
    assert not refused.isAccepted()


def test_after_a_run_train_offers_continue_and_new_sets_unsaved_work_aside(qtbot, make_window, tmp_path):
    window = make_window()
    assert not window.continue_action.isEnabled()
    train(qtbot, window)
    menu = window.train_button.menu()
    assert [a.objectName() for a in menu.actions()] == ["continueAction", "scratchAction"]
    assert window.continue_action.isEnabled() and window.scratch_action.isEnabled()
    window.new_project()
    assert window.state.runs == [] and window.windowTitle() == "Untitled — Autoencoder Studio"
    assert not window.continue_action.isEnabled()
    kept = window.projects.recent()[0]
    assert Path(kept).parent == tmp_path and len(load_project(kept).runs) == 1
