"""File > Watch run folder: a command-line run, started in a subprocess, followed by an offscreen window
until it ends; then its model is the window's. And Training > Log to TensorBoard."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 90_000


def start_cli_run(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", "train", "--preset", "ae", "--dataset", "mnist5k",
                             "--limit", "600", "--epochs", "3", "--snapshots", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_command_line_run_is_watched_until_it_ends_and_its_model_is_then_the_windows(qtbot, make_window,
                                                                                        tmp_path):
    window = make_window()
    out = tmp_path / "run"
    proc = start_cli_run(out)
    try:
        # Given OUT before the run has made OUT.incomplete-*: the watch waits for it, then follows it.
        assert window.watch.watch(out)
        assert window.watch.stop_action.isEnabled()
        qtbot.waitUntil(lambda: window.watch.finished_run is not None or not window.watch.watching, timeout=WAIT_MS)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    run = window.watch.finished_run
    assert run is not None and not window.watch.stop_action.isEnabled()
    assert run.result.epochs == 3 and window.state.spec == run.spec
    # The dashboard drew the run's epochs from what it wrote: validation at each epoch's end, and the
    # pictures of its last snapshot.
    recorder = window.dashboard.recorder
    assert list(recorder.curves["val total"].epochs) == [1.0, 2.0, 3.0]
    assert recorder.curves["val total"].values == pytest.approx([row["val_total"] for row in run.history])
    assert recorder.curves["train total"].n >= 3
    assert len(window.dashboard.ring) >= 1
    # Its data is found again, and the explorer and the canvas get its weights.
    qtbot.waitUntil(lambda: window.projects.waiting_run is None and not window.projects.busy, timeout=WAIT_MS)
    assert window.canvas.shown_run is run or window.canvas._pending is run
    # The closing report (the run's last snapshot, with its pictures) stays on show after the run is opened.
    qtbot.waitUntil(lambda: window.dashboard.stats.labels["eta"].text().startswith("finished in"), timeout=WAIT_MS)
    assert window.dashboard.stats.progress.value() == 100
    assert window.dashboard.recon.inputs is not None
    qtbot.waitUntil(lambda: not window.dashboard.schedule.pending, timeout=WAIT_MS)  # every panel has drawn it
    if Path("/tmp/h").is_dir():  # a picture of the window that followed the run, for people to look at
        window.grab().save("/tmp/h/watch.png")
    window.tabs.setCurrentWidget(window.latent)
    qtbot.waitUntil(lambda: window.latent.map is not None, timeout=WAIT_MS)
    assert window.latent.shown_run is run and np.isfinite(window.latent.map.points).all()
    window.tabs.setCurrentWidget(window.canvas)
    qtbot.waitUntil(lambda: window.canvas.model is not None, timeout=WAIT_MS)
    window.canvas.load_random_sample()
    qtbot.waitUntil(lambda: window.canvas.restored is not None, timeout=WAIT_MS)
    assert np.isfinite(window.canvas.restored).all()


def test_a_folder_that_is_not_a_run_is_said_and_nothing_is_watched(qtbot, make_window, tmp_path):
    window = make_window()
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.png").write_bytes(b"")
    assert window.watch.watch(tmp_path / "photos")  # the folder exists: what is in it is read on the worker
    qtbot.waitUntil(lambda: not window.watch.watching, timeout=WAIT_MS)
    box = window._last_error_box
    assert box is not None and "not a run folder" in box.text()
    assert not window.watch.watch(tmp_path / "nowhere" / "run")
    assert "does not exist" in window._last_error_box.text()


def test_runs_trained_in_the_window_log_to_tensorboard_when_ticked(qtbot, make_window, tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    from gui_helpers import set_epochs

    window = make_window()
    logs = tmp_path / "tb"
    assert window.tensorboard.choose_folder(str(logs))
    assert window.tensorboard.action.isChecked() and window.controller.tensorboard_dir == str(logs)
    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT_MS):
        window.train()
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=WAIT_MS)
    (run_logs,) = logs.iterdir()
    assert run_logs.name.startswith(window.state.spec.name) and list(run_logs.glob("events.out.tfevents.*"))
    window.tensorboard.action.setChecked(False)
    assert window.controller.tensorboard_dir is None
    # Ticked again, it logs into the folder chosen before, without asking.
    window.tensorboard.action.setChecked(True)
    assert window.controller.tensorboard_dir == str(logs)


def test_training_in_the_window_ends_the_watch(qtbot, make_window, tmp_path):
    from gui_helpers import set_epochs

    window = make_window()
    assert window.watch.watch(tmp_path / "run")  # waits for a run that has not started
    assert window.watch.watching and window.state_label.text() == "watching"
    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT_MS):
        window.train()
    assert not window.watch.watching and not window.watch.stop_action.isEnabled()
    assert window.dashboard.recorder.curves["val total"].n == 1  # the window's own run, alone on the dashboard
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=WAIT_MS)
    assert window.state_label.text() == "idle"


def test_without_tensorboard_the_box_stays_unticked_and_says_what_to_install(qtbot, make_window, monkeypatch):
    window = make_window()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as when not installed
    window.tensorboard.action.trigger()
    assert not window.tensorboard.action.isChecked() and window.controller.tensorboard_dir is None
    assert "pip install tensorboard" in window.statusBar().currentMessage()
