"""The data panel: a bad file shows its message and keeps the current dataset; built-ins load;
loading runs off the GUI thread, and a newer load or closing supersedes an older one."""
from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QLabel, QWidget

from gui_helpers import find_one

LOAD_TIMEOUT_MS = 20_000


def load(qtbot, panel, what) -> bool:
    """Start a load through the panel and wait for its outcome."""
    with qtbot.waitSignal(panel.loadFinished, timeout=LOAD_TIMEOUT_MS) as finished:
        panel.load(what)
    return finished.args[0]


def test_bad_files_show_the_message_and_keep_the_dataset(qtbot, window, tmp_path):
    panel = find_one(window, QWidget, "dataPanel")
    assert panel is window.data_panel
    error = find_one(window, QLabel, "dataErrorLabel")
    before = window.state.dataset
    spec_before = window.state.spec
    assert error.isHidden()

    empty = tmp_path / "bad.npy"
    empty.write_bytes(b"")
    assert load(qtbot, panel, str(empty)) is False
    assert not error.isHidden()
    assert "the file is empty" in error.text() and "bad.npy" in error.text()
    assert "current dataset (mnist5k) is still loaded" in error.text()
    assert window.state.dataset is before
    assert window.state.spec == spec_before
    assert window.train_action.isEnabled()

    not_png = tmp_path / "x.png"
    not_png.write_text("this is not an image")
    assert load(qtbot, panel, str(not_png)) is False
    assert "x.png" in error.text()
    assert window.state.dataset is before

    assert load(qtbot, panel, str(tmp_path / "missing.csv")) is False
    assert "missing.csv" in error.text()
    assert window.state.dataset is before
    assert not panel.loader.busy


def test_builtin_with_a_limit_replaces_the_dataset(qtbot, window, tmp_path):
    panel = window.data_panel
    error = find_one(window, QLabel, "dataErrorLabel")
    empty = tmp_path / "bad.npy"
    empty.write_bytes(b"")
    load(qtbot, panel, str(empty))
    assert not error.isHidden()

    panel.limit_spin.setValue(300)
    with qtbot.waitSignal(window.state.datasetChanged, timeout=LOAD_TIMEOUT_MS) as changed:
        panel.load("mnist5k")
    ds = changed.args[0]
    assert window.state.dataset is ds
    assert ds.name == "mnist5k" and len(ds) == 300
    assert error.isHidden()
    assert "300 samples" in panel.stats_label.text()
    # Same kind and shape: the spec needs no fitting, so no undo step was pushed for it.
    assert window.state.spec.input.shape == (1, 28, 28)
    assert window.train_action.isEnabled()


def test_loading_happens_off_the_gui_thread(qtbot, window, monkeypatch):
    import aegui.gui.data_loader as data_loader

    threads = []
    real = data_loader.load_dataset

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(data_loader, "load_dataset", spy)
    panel = window.data_panel
    panel.limit_spin.setValue(200)
    assert load(qtbot, panel, "shapes") is True
    assert threads and threads[0] is not threading.main_thread()
    assert window.state.dataset.name == "shapes"


def _image_folder(root, n=400):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(n // 2):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / label / f"{i}.png")
    return root


def test_a_newer_load_supersedes_an_older_one(qtbot, window, tmp_path, monkeypatch):
    import aegui.core.data.images as images

    folder = _image_folder(tmp_path / "imgs")
    gate = threading.Event()
    real_open = images._open

    def slow_open(Image, path):  # hold the folder load until the newer load has been asked for
        gate.wait(5)
        return real_open(Image, path)

    monkeypatch.setattr(images, "_open", slow_open)
    panel = window.data_panel
    seen = []
    panel.loader.loaded.connect(lambda ds: seen.append(ds.name))
    panel.load(str(folder))
    old_thread = panel.loader._thread
    with qtbot.waitSignal(panel.loadFinished, timeout=LOAD_TIMEOUT_MS) as finished:
        panel.load("mnist5k")
        gate.set()
    assert finished.args == [True]
    old_thread.join(5)
    assert not old_thread.is_alive()
    qtbot.wait(50)  # anything the superseded load might still have queued
    assert seen == ["mnist5k"] and window.state.dataset.name == "mnist5k"


def test_closing_during_a_load_cancels_and_joins_it(qtbot, window, tmp_path, monkeypatch):
    import aegui.core.data.images as images

    folder = _image_folder(tmp_path / "imgs", n=600)
    real_open = images._open
    started = threading.Event()

    def slow_open(Image, path):
        started.set()
        threading.Event().wait(0.005)
        return real_open(Image, path)

    monkeypatch.setattr(images, "_open", slow_open)
    window.data_panel.load(str(folder))
    thread = window.data_panel.loader._thread
    assert started.wait(5)
    window.close()
    assert not thread.is_alive(), "the loader thread outlived the window"


def test_signals_and_tables_preview_as_labelled_traces(qtbot, window):
    panel = window.data_panel
    assert panel.previews.currentWidget() is panel.preview  # the digits: an image mosaic
    assert load(qtbot, panel, "signals") is True
    traces = panel.trace_preview
    assert panel.previews.currentWidget() is traces
    captions = [item.textItem.toPlainText() for item in traces._captions]
    assert len(captions) == 16 and set(captions) <= {"normal", "anomalous"}
    x, y = traces.curves[0].getData()
    assert np.isfinite(y).sum() == 16 * 128  # 16 traces of 128 steps, NaN between them
    assert load(qtbot, panel, "mnist5k") is True
    assert panel.previews.currentWidget() is panel.preview
