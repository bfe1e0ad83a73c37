"""The builder shows the memory training needs; a model over the budget cannot train, and is never built."""
from __future__ import annotations

import re

from PySide6.QtWidgets import QLabel, QTableWidget

from aegui.core.models.mlp import MLPAutoencoder
from gui_helpers import find_one
from test_builder import SUMMARY_TIMEOUT_MS, wait_summary

HOW_TO_RAISE = "--memory-limit SIZE or AEGUI_MEMORY_LIMIT"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def record_builds(monkeypatch) -> list[str]:
    """The device of every MLP model built from now on."""
    devices: list[str] = []
    build = MLPAutoencoder.__init__

    def recorded(self, spec):
        build(self, spec)
        devices.append(next(self.parameters()).device.type)

    monkeypatch.setattr(MLPAutoencoder, "__init__", recorded)
    return devices


def test_a_huge_layer_shows_its_memory_disables_train_and_is_never_built(qtbot, window, monkeypatch):
    monkeypatch.setenv("AEGUI_MEMORY_LIMIT", "1GB")  # the same on any machine
    memory = find_one(window, QLabel, "memoryEstimateLabel")
    params = find_one(window, QLabel, "paramCountLabel")
    wait_summary(qtbot, window)
    assert re.fullmatch(r"· about [\d.]+ MB to train", memory.text()), memory.text()
    assert memory.property("overBudget") is False
    assert memory.toolTip().startswith("Training needs weights ")
    assert window.train_action.isEnabled() and window.train_blocker() == ""
    before = rss_mb()
    builds = record_builds(monkeypatch)

    # One hidden layer of 65,536 units: 107 million parameters, 430 MB of weights if it were built.
    find_one(window, QTableWidget, "layerTable").cellWidget(0, 0).setValue(65536)

    assert window.state.spec.encoder.layers[0].units == 65536
    exact = window.train_blocker(exact=True)  # pressing Train asks at once, before the builder's verdict is in
    wait_summary(qtbot, window)
    blocker = window.train_blocker()
    assert blocker == exact
    assert re.fullmatch(r"this model needs about [\d.]+ GB \(107 million parameters, batches of 128, and 459 KB of "
                        r"data\) for training; "
                        r"this machine has [\d.,]+ GB and the limit is 1\.0 GB, set by AEGUI_MEMORY_LIMIT; .*"
                        + re.escape(HOW_TO_RAISE), blocker), blocker
    assert not window.train_action.isEnabled()
    assert window.train_action.toolTip() == f"Cannot train: {blocker}"
    qtbot.waitUntil(lambda: "107,086,640 parameters" in params.text(), timeout=SUMMARY_TIMEOUT_MS)
    assert re.fullmatch(r"· about [\d.]+ GB to train, over the 1\.0 GB limit", memory.text()), memory.text()
    assert memory.property("overBudget") is True
    assert memory.toolTip() == blocker
    window.train()
    assert window.statusBar().currentMessage() == f"Cannot train: {blocker}"
    assert window.controller.state == "idle" and window.controller._thread is None
    # Building it for real (the summary used to) raised the RSS by 415 MB; tracing on meta costs nothing.
    assert builds and set(builds) == {"meta"}
    assert rss_mb() - before < 150

    window.state.undo_stack.undo()
    qtbot.waitUntil(lambda: window.train_action.isEnabled(), timeout=SUMMARY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: memory.property("overBudget") is False, timeout=SUMMARY_TIMEOUT_MS)
    assert re.fullmatch(r"· about [\d.]+ MB to train", memory.text())
    wait_summary(qtbot, window)


def test_raising_the_limit_lets_the_same_model_train(qtbot, window, monkeypatch):
    monkeypatch.setenv("AEGUI_MEMORY_LIMIT", "1MB")
    spec = window.state.spec
    spec.train.batch_size = 64  # an edit, so the window asks again under the new limit
    window.state.edit_spec(spec, "set batch size")
    assert window.train_blocker(exact=True).startswith("this model needs about")
    wait_summary(qtbot, window)
    assert not window.train_action.isEnabled()
    monkeypatch.setenv("AEGUI_MEMORY_LIMIT", "100GB")
    spec = window.state.spec
    spec.train.batch_size = 128
    window.state.edit_spec(spec, "set batch size")
    assert window.train_blocker(exact=True) == ""
    wait_summary(qtbot, window)
    assert window.train_action.isEnabled()
    assert find_one(window, QLabel, "memoryEstimateLabel").property("overBudget") is False
