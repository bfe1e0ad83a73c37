"""The data panel: a bad file shows its message and keeps the current dataset; built-ins load."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from gui_helpers import find_one


def test_bad_files_show_the_message_and_keep_the_dataset(qtbot, window, tmp_path):
    panel = find_one(window, QWidget, "dataPanel")
    assert panel is window.data_panel
    error = find_one(window, QLabel, "dataErrorLabel")
    before = window.state.dataset
    spec_before = window.state.spec
    assert error.isHidden()

    empty = tmp_path / "bad.npy"
    empty.write_bytes(b"")
    assert panel.load(str(empty)) is False
    assert not error.isHidden()
    assert "the file is empty" in error.text() and "bad.npy" in error.text()
    assert "current dataset (mnist5k) is still loaded" in error.text()
    assert window.state.dataset is before
    assert window.state.spec == spec_before
    assert window.train_action.isEnabled()

    not_png = tmp_path / "x.png"
    not_png.write_text("this is not an image")
    assert panel.load(str(not_png)) is False
    assert "x.png" in error.text()
    assert window.state.dataset is before

    assert panel.load(str(tmp_path / "missing.csv")) is False
    assert "missing.csv" in error.text()
    assert window.state.dataset is before


def test_builtin_with_a_limit_replaces_the_dataset(qtbot, window, tmp_path):
    panel = window.data_panel
    error = find_one(window, QLabel, "dataErrorLabel")
    empty = tmp_path / "bad.npy"
    empty.write_bytes(b"")
    panel.load(str(empty))
    assert not error.isHidden()

    panel.limit_spin.setValue(300)
    with qtbot.waitSignal(window.state.datasetChanged, timeout=10_000) as changed:
        assert panel.load("mnist5k") is True
    ds = changed.args[0]
    assert window.state.dataset is ds
    assert ds.name == "mnist5k" and len(ds) == 300
    assert error.isHidden()
    assert "300 samples" in panel.stats_label.text()
    # Same kind and shape: the spec needs no fitting, so no undo step was pushed for it.
    assert window.state.spec.input.shape == (1, 28, 28)
    assert window.train_action.isEnabled()
