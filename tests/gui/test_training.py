"""Training through the real window: the worker thread, pause/resume/stop, live values,
closing mid-run, stale results and the failure path."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QSpinBox, QTableWidget

from aegui.core.reports import Report
from aegui.gui.controller import REPORT
from aegui.gui.workers import DONE, FAILED, YIELDED
from gui_helpers import aegui_threads, bound_editor, close_error_dialogs, find_one, set_epochs

RUN_TIMEOUT_MS = 60_000  # a generous bound; one epoch of 600 digits takes well under a second
REPORT_TIMEOUT_MS = 30_000
LONG_RUN_EPOCHS = 500  # long enough never to finish while a test drives it


class Recorder:
    """Collects what a signal emits, with the controller's state at that moment."""

    def __init__(self, signal):
        self.items: list = []
        signal.connect(self.items.append)

    def __len__(self) -> int:
        return len(self.items)

    def since(self, n: int) -> list:
        return self.items[n:]


def fake_report(step: int = 1) -> Report:
    return Report(kind="progress", step=step, epoch=0, epoch_progress=0.5, epochs_total=1,
                  steps_per_epoch=4, samples_per_s=1.0, elapsed_s=0.1, losses={"total": 0.5, "recon": 0.5})


def start_long_run(qtbot, window, reports: Recorder, epochs: int = LONG_RUN_EPOCHS) -> None:
    set_epochs(qtbot, window, epochs)
    with qtbot.waitSignal(window.controller.started, timeout=5000):
        window.train()
    qtbot.waitUntil(lambda: len(reports) >= 1, timeout=REPORT_TIMEOUT_MS)


def stop_and_wait(qtbot, window) -> Report:
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.stop()
    return blocker.args[0]


def error_dialogs(window) -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()]


# --- 4: one epoch ------------------------------------------------------------------------------
def test_one_epoch_trains_through_the_window(qtbot, window):
    controller = window.controller
    set_epochs(qtbot, window, 1)
    reports = Recorder(controller.report)
    seen_while_running = []
    controller.started.connect(lambda: seen_while_running.append(
        (window.state.locked, find_one(window, QLabel, "lockedBanner").isVisible())))
    banner = find_one(window, QLabel, "lockedBanner")
    assert not banner.isVisible() and window.train_action.isEnabled()

    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        # Still in the click's aftermath: the run is going and the model is read-only.
        assert controller.state == "running"
        assert window.state.locked and banner.isVisible()
        assert not window.train_action.isEnabled()
        assert window.pause_action.isEnabled() and window.stop_action.isEnabled()
        assert not find_one(window, QSpinBox, "latentDimSpin").isEnabled()
        assert not find_one(window, QTableWidget, "layerTable").isEnabled()
        spec = window.state.spec
        spec.latent.dim = 3
        assert window.state.edit_spec(spec) is False  # refused while training
        assert [t.name for t in aegui_threads()] == [f"aegui-train-{controller.generation}"]

    assert seen_while_running == [(True, True)]
    final = finished.args[0]
    assert final.kind == "finished" and final.stop_reason == "completed"
    assert final.epoch == 1
    assert len(reports) >= 1
    epoch_reports = [r for r in reports.items if r.kind == "epoch"]
    assert len(epoch_reports) == 1 and epoch_reports[0].val_losses
    assert all(r.reconstructions is not None and r.reconstructions.shape == (16, 1, 28, 28) for r in epoch_reports)

    # Unlocked afterwards, and the thread was joined.
    assert controller.state == "idle"
    assert not window.state.locked and not banner.isVisible()
    assert window.train_action.isEnabled() and not window.stop_action.isEnabled()
    assert find_one(window, QSpinBox, "latentDimSpin").isEnabled()
    assert controller._thread is None and aegui_threads() == []
    run = window.state.runs[-1]
    assert run.stop_reason == "completed" and len(run.history) == 1
    assert window.step_label.text() == f"step {final.step}"
    qtbot.waitUntil(lambda: window.dashboard.reports_drawn >= 1, timeout=5000)


# --- 5: pause, resume, stop, live values -------------------------------------------------------------
def test_pause_resume_and_stop(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    states = Recorder(controller.stateChanged)
    start_long_run(qtbot, window, reports)

    n0 = len(reports)
    qtbot.mouseClick(window.pause_button, Qt.MouseButton.LeftButton)
    assert controller.state == "paused"
    assert window.pause_action.text() == "Resume" and window.stop_action.isEnabled()
    # The worker says it has paused; anything queued before that is stale but allowed.
    qtbot.waitUntil(lambda: any(r.kind == "paused" for r in reports.since(n0)), timeout=REPORT_TIMEOUT_MS)
    n_paused = len(reports)
    qtbot.wait(500)
    assert len(reports) == n_paused, [r.kind for r in reports.since(n_paused)]
    step_at_pause = reports.items[-1].step

    window.toggle_pause()
    assert controller.state == "running" and window.pause_action.text() == "Pause"
    qtbot.waitUntil(lambda: any(r.kind != "paused" and r.step > step_at_pause for r in reports.since(n_paused)),
                    timeout=REPORT_TIMEOUT_MS)

    final = stop_and_wait(qtbot, window)
    assert final.stop_reason == "stopped"
    assert final.epoch < LONG_RUN_EPOCHS
    assert controller.state == "idle" and not window.state.locked
    assert window.state.runs[-1].stop_reason == "stopped"
    assert states.items[:3] == ["running", "paused", "running"]
    assert states.items[-2:] == ["stopping", "idle"]
    assert aegui_threads() == []


def test_stop_while_paused(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    window.toggle_pause()
    assert controller.state == "paused"
    final = stop_and_wait(qtbot, window)
    assert final.stop_reason == "stopped"
    assert controller.state == "idle" and not window.state.locked and aegui_threads() == []


def test_live_learning_rate_applies_at_the_next_step(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    assert reports.items[0].lr == pytest.approx(1e-3)

    lr_box = bound_editor(window, "train.lr")
    assert lr_box.isEnabled(), "lr is a live value: its editor stays enabled while training"
    assert not bound_editor(window, "train.batch_size").isEnabled()
    n = len(reports)
    lr_box.setValue(0.005)
    assert window.state.spec.train.lr == pytest.approx(1e-3)  # the spec is read-only while training

    qtbot.waitUntil(lambda: any(r.lr == pytest.approx(0.005) for r in reports.since(n)), timeout=REPORT_TIMEOUT_MS)
    first = next(r for r in reports.since(n) if r.lr == pytest.approx(0.005))
    assert first.live_changes == {"lr": pytest.approx(0.005)}
    later = reports.since(reports.items.index(first))
    assert all(r.lr == pytest.approx(0.005) for r in later if r.kind != "paused")
    stop_and_wait(qtbot, window)


# --- 6: closing mid-run ---------------------------------------------------------------------------------
def test_close_during_training_joins_the_worker(qtbot, make_window, capfd, qtlog):
    window = make_window()
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    thread = controller._thread
    assert thread is not None and thread.is_alive() and thread.name.startswith("aegui-train-")

    t0 = time.monotonic()
    window.close()
    elapsed = time.monotonic() - t0

    assert elapsed < 2.0, f"closing took {elapsed:.2f} s"
    assert not thread.is_alive()
    assert aegui_threads() == []
    assert controller.state == "idle"
    n = len(reports)
    qtbot.wait(100)  # whatever the worker had queued belongs to a dead generation now
    assert len(reports) == n
    assert not error_dialogs(window)
    err = capfd.readouterr().err
    assert "QThread: Destroyed while thread is still running" not in err
    assert not [m for m in qtlog.records if "QThread" in m.message]


def test_close_while_paused_joins_the_worker(qtbot, make_window):
    window = make_window()
    reports = Recorder(window.controller.report)
    start_long_run(qtbot, window, reports)
    window.toggle_pause()
    qtbot.waitUntil(lambda: any(r.kind == "paused" for r in reports.items), timeout=REPORT_TIMEOUT_MS)
    thread = window.controller._thread
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert not thread.is_alive() and aegui_threads() == []


# --- 7: stale results are dropped --------------------------------------------------------------------
def test_reports_from_an_old_generation_are_dropped(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    old = controller.generation
    stop_and_wait(qtbot, window)
    assert controller.state == "idle"

    # Train again at once; the new run gets a new generation.
    n = len(reports)
    with qtbot.waitSignal(controller.started, timeout=5000):
        window.train()
    assert controller.generation == old + 1
    qtbot.waitUntil(lambda: len(reports) > n, timeout=REPORT_TIMEOUT_MS)

    stale = fake_report(step=10**6)
    relay = controller.runs.worker._relay  # what a run's thread emits: (generation, kind, payload)
    # Delivered the way the worker delivers (from this thread, and queued from another thread): dropped.
    relay.emit(old, YIELDED, (REPORT, stale))
    emitter = threading.Thread(target=lambda: relay.emit(old, YIELDED, (REPORT, stale)), name="test-old-worker")
    emitter.start()
    emitter.join()
    qtbot.wait(100)
    assert all(r is not stale for r in reports.items), "a report of the stopped run reached the window"
    assert all(r.step < 10**6 for r in reports.items)
    with qtbot.assertNotEmitted(controller.finished, wait=100):
        relay.emit(old, DONE, (stale, None))
    with qtbot.assertNotEmitted(controller.failed, wait=100):
        relay.emit(old, FAILED, "stale failure")
    assert controller.state == "running" and window.state.locked
    assert not error_dialogs(window)

    # Positive control: the current generation does get through.
    with qtbot.waitSignal(controller.report, timeout=1000, check_params_cb=lambda r: r is stale):
        relay.emit(controller.generation, YIELDED, (REPORT, stale))
    stop_and_wait(qtbot, window)


# --- 8: the worker's exception path ---------------------------------------------------------------------
def test_worker_exception_shows_an_error_and_the_app_recovers(qtbot, window, monkeypatch):
    from aegui.core.training import Trainer

    def boom(self, x):
        raise RuntimeError("boom")

    monkeypatch.setattr(Trainer, "train_step", boom)
    controller = window.controller
    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(controller.failed, timeout=RUN_TIMEOUT_MS) as failed:
        window.train()
    assert failed.args == ["boom"]
    qtbot.waitUntil(lambda: len(error_dialogs(window)) == 1, timeout=5000)
    box = error_dialogs(window)[0]
    assert "boom" in box.text() and box.windowTitle() == "Training failed"
    run = window.state.runs[-1]
    assert run.stop_reason == "failed"  # the run list must not say "running" for ever
    assert controller.state == "idle" and not window.state.locked
    assert window.train_action.isEnabled()
    qtbot.waitUntil(lambda: aegui_threads() == [], timeout=5000)

    # The app stays usable: close the dialog, undo the fault, and a normal run works.
    box.close()
    monkeypatch.undo()
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.train()
    assert finished.args[0].stop_reason == "completed"
    assert not error_dialogs(window)


def test_dataset_that_does_not_fit_the_spec_fails_cleanly(qtbot, window):
    controller = window.controller
    wrong = window.state.spec.with_input("image", (1, 14, 14))
    with qtbot.waitSignal(controller.failed, timeout=RUN_TIMEOUT_MS) as failed:
        assert controller.start(wrong, window.state.dataset) is True
    assert "expects image input of shape [1, 14, 14]" in failed.args[0]
    qtbot.waitUntil(lambda: len(error_dialogs(window)) == 1, timeout=5000)
    assert controller.state == "idle"
    close_error_dialogs()

    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.train()
    assert finished.args[0].stop_reason == "completed"


def test_starting_twice_is_refused(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    with qtbot.waitSignal(controller.failed, timeout=1000) as failed:
        assert controller.start(window.state.spec, window.state.dataset) is False
    assert "already in progress" in failed.args[0]
    assert len(aegui_threads()) == 1
    assert controller.state == "running"
    close_error_dialogs()
    stop_and_wait(qtbot, window)


def test_a_refused_second_start_keeps_the_spec_locked(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    try:
        with qtbot.waitSignal(controller.failed, timeout=1000):
            controller.start(window.state.spec, window.state.dataset)
        assert controller.state == "running"
        assert window.state.locked, "the first run is still training but the model became editable"
    finally:
        close_error_dialogs()
        stop_and_wait(qtbot, window)


def test_after_a_live_change_the_lr_editor_agrees_with_the_spec(qtbot, window):
    controller = window.controller
    reports = Recorder(controller.report)
    start_long_run(qtbot, window, reports)
    lr_box = bound_editor(window, "train.lr")
    n = len(reports)
    lr_box.setValue(0.005)
    qtbot.waitUntil(lambda: any(r.lr == pytest.approx(0.005) for r in reports.since(n)), timeout=REPORT_TIMEOUT_MS)
    stop_and_wait(qtbot, window)
    assert lr_box.value() == pytest.approx(window.state.spec.train.lr), (lr_box.value(), window.state.spec.train.lr)


# --- while a run trains, the model and its data stay as they were ---------------------------------------------
def test_undo_and_redo_are_off_while_training(qtbot, window):
    reports = Recorder(window.controller.report)
    start_long_run(qtbot, window, reports)  # set_epochs pushed an undoable edit
    try:
        epochs = window.state.spec.train.epochs
        assert window.state.undo_stack.canUndo()
        assert not window.undo_action.isEnabled()
        assert "read-only while training" in window.undo_action.toolTip()
        window.undo()  # the shortcut's slot, called directly
        assert window.state.spec.train.epochs == epochs
    finally:
        stop_and_wait(qtbot, window)
    assert window.undo_action.isEnabled()


def test_the_dataset_cannot_change_while_training(qtbot, window):
    panel = window.data_panel
    reports = Recorder(window.controller.report)
    start_long_run(qtbot, window, reports)
    try:
        assert not panel.builtin_combo.isEnabled() and not panel.file_button.isEnabled()
        assert not panel.acceptDrops()
        with qtbot.waitSignal(panel.loadFinished, timeout=5000) as finished:
            panel.load("signals")
        assert finished.args == [False]
        assert window.state.dataset.name == "mnist5k"
    finally:
        stop_and_wait(qtbot, window)
    assert panel.builtin_combo.isEnabled() and panel.acceptDrops()


def test_only_the_live_values_the_model_uses_stay_editable(qtbot, window):
    assert window.state.spec.name == "ae"  # no KL term, no noise, no sparsity penalty
    reports = Recorder(window.controller.report)
    start_long_run(qtbot, window, reports)
    try:
        assert bound_editor(window, "train.lr").isEnabled()
        for path in ("objective.variational.beta", "objective.noise.level", "objective.sparsity.weight"):
            assert not bound_editor(window, path).isEnabled(), path
        assert "learning rate can still be changed" in window.builder.locked_banner.text()
    finally:
        stop_and_wait(qtbot, window)


def test_an_unavailable_device_disables_train_with_the_reason(qtbot, window):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = window.state.spec
    spec.train.device = "cuda"
    window.state.edit_spec(spec, "ask for a GPU")
    assert not window.train_action.isEnabled()
    assert "no CUDA GPU" in window.train_action.toolTip()
    assert "not available" in window.device_label.text()
