"""The Draw tab follows the data: a curve editor for `signals`, a row editor for `transactions`,
each fed through the same noise layer and model as images, with MSE and correlation readouts."""
from __future__ import annotations

import numpy as np
import pytest

from aegui.core.canvas_ops import apply_noise, correlation, mse, noise_layer
from aegui.core.data import load_dataset
from aegui.core.presets import fit_to_input, get_preset
from aegui.core.run import DatasetRef, RunArtifact
from aegui.core.training.loop import Trainer
from aegui.gui.state import AppState

WAIT_MS = 20_000


def trained(name: str, limit: int):
    dataset = load_dataset(name, limit=limit, seed=0)
    spec = fit_to_input(get_preset("ae"), dataset.kind, dataset.sample_shape, dataset.in_unit_range)
    spec.train.epochs, spec.train.batch_size = 3, 64
    trainer = Trainer(spec, dataset)
    trainer.fit()
    return dataset, RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(dataset))


@pytest.fixture(scope="module")
def signals_run():
    return trained("signals", 900)


@pytest.fixture(scope="module")
def transactions_run():
    return trained("transactions", 1500)


def open_canvas(qtbot, dataset, run):
    from aegui.gui.panels.canvas import DrawCanvas

    panel = DrawCanvas(AppState(run.spec.copy(), dataset))
    qtbot.addWidget(panel)
    panel.resize(1200, 620)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_weights(run)
    qtbot.waitUntil(lambda: panel.model is not None, timeout=WAIT_MS)
    return panel


def settle(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=WAIT_MS)


def test_signals_get_a_curve_editor_with_noise_reconstruction_and_readouts(qtbot, signals_run, tmp_path):
    from aegui.gui.panels.canvas_curve import CurveEditor

    dataset, run = signals_run
    panel = open_canvas(qtbot, dataset, run)
    try:
        assert isinstance(panel.editor, CurveEditor) and panel.stack.currentWidget() is panel.editor
        assert not panel.controls.mnist_check.isVisible() and not panel.controls.noise_brush.isVisible()
        panel.controls.noise_level.setValue(0.1)
        panel.load_random_sample()
        settle(qtbot, panel)
        clean = panel.editor.values
        assert clean.shape == (128, 1)
        assert any(np.array_equal(clean, dataset.as_float(np.array([i]))[0]) for i in run.validation_rows(dataset))
        expected = apply_noise(clean, noise_layer(clean.shape, "gaussian", 0.1, 0), None, dataset.value_range)
        np.testing.assert_array_equal(panel.noisy, expected)
        restored = panel.restored
        assert restored.shape == clean.shape
        np.testing.assert_allclose(restored, panel.model.reconstruct(expected[None])[0], rtol=1e-5, atol=1e-6)
        text = panel.readout.text()
        assert f"MSE {mse(clean, panel.noisy):.4f}" in text and f"r {correlation(clean, restored):.3f}" in text
        # A drawn curve is undoable as a whole stroke, and noise never touches it.
        before = clean.copy()
        panel.editor.strokeStarted.emit()
        panel.editor.set_values(np.sin(np.linspace(0, 6, 128))[:, None].astype(np.float32))
        settle(qtbot, panel)
        panel.undo()
        np.testing.assert_array_equal(panel.editor.values, before)
        png = tmp_path / "curve.png"
        settle(qtbot, panel)
        assert panel.save_png(str(png)) and png.stat().st_size > 0 and "the picture" in panel.note.text()
        npy = tmp_path / "curve.npy"
        assert panel.save_drawing(str(npy))
        np.testing.assert_array_equal(np.load(npy), before)
    finally:
        settle(qtbot, panel)
        assert panel.shutdown()


def test_tables_get_a_row_editor_that_says_which_features_carry_the_error(qtbot, transactions_run):
    from aegui.gui.panels.canvas_table import RowEditor

    dataset, run = transactions_run
    panel = open_canvas(qtbot, dataset, run)
    try:
        assert isinstance(panel.editor, RowEditor)
        panel.controls.noise_level.setValue(0.0)  # no noise: the row as it is
        row = np.zeros(10, np.float32)
        panel.editor.set_values(row)
        settle(qtbot, panel)
        ordinary = mse(row, panel.restored)
        row[0] = 8.0  # an amount 8 σ above the mean: the kind of row the model has rarely seen
        panel.editor.set_values(row)
        settle(qtbot, panel)
        np.testing.assert_array_equal(panel.noisy, row)
        assert mse(row, panel.restored) > ordinary
        assert panel.editor.explanation().startswith(f"most of the error: {dataset.feature_names[0]}")
        assert "MSE" in panel.readout.text()
    finally:
        settle(qtbot, panel)
        assert panel.shutdown()


def test_the_canvas_switches_editor_when_the_data_changes_kind(qtbot, signals_run, transactions_run):
    from aegui.gui.panels.canvas import DrawCanvas

    signals, _ = signals_run
    panel = DrawCanvas(AppState(signals_run[1].spec.copy(), signals))
    qtbot.addWidget(panel)
    panel.show()
    assert panel.kind == "sequence"
    panel.state.set_dataset(transactions_run[0])
    assert panel.kind == "vector" and panel.editor.values.shape == (10,)
    panel.state.set_dataset(load_dataset("mnist5k", limit=100))
    assert panel.kind == "image" and panel.editor.values.shape == (1, 28, 28)
    assert panel.controls.mnist_check.isVisible()
    settle(qtbot, panel)
    assert panel.shutdown()
