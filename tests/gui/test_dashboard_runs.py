"""Runs compared, exports written and readable, the anomaly view scored, reference bands found."""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from aegui.core.data import load_dataset, split_indices
from aegui.core.models import build_model
from aegui.core.presets import fit_to_input, get_preset
from aegui.core.reports import Report, StopReason
from aegui.core.run import DatasetRef, RunArtifact, TrainResult
from aegui.gui.dashboard.export import export_plot
from aegui.gui.dashboard.reference import find_band
from aegui.gui.panels.dashboard import TrainingDashboard
from aegui.gui.state import AppState


@pytest.fixture(scope="module")
def transactions():
    return load_dataset("transactions", limit=600, seed=0)


@pytest.fixture
def state(transactions):
    spec = fit_to_input(get_preset("ae"), transactions.kind, transactions.sample_shape, transactions.in_unit_range)
    return AppState(spec, transactions)


@pytest.fixture
def dashboard(qtbot, state):
    d = TrainingDashboard(state)
    qtbot.addWidget(d)
    d.resize(930, 840)
    d.show()
    qtbot.waitExposed(d)
    yield d
    d.shutdown()
    assert d.anomaly.shutdown()  # its scoring worker


def make_run(spec, dataset, history=(), result=None, seed=0):
    """A RunArtifact as the training worker hands it over: untrained weights, the trainer's split."""
    torch.manual_seed(seed)
    train, val = split_indices(len(dataset), spec.train.val_fraction, spec.train.seed)
    return RunArtifact(spec=spec, weights={k: v.detach().clone() for k, v in build_model(spec).state_dict().items()},
                       dataset=DatasetRef.from_dataset(dataset), train_index=train, val_index=val,
                       history=list(history), result=result)


def add_run(state, preset, finals):
    run = state.add_run(preset)
    history = [{"phase": "train", "epoch": epoch, "step": epoch * 10, "train_total": value + 1, "val_total": value,
                "val_recon_mse": value / 100} for epoch, value in enumerate(finals, start=1)]
    result = TrainResult(stop_reason=StopReason.COMPLETED, message="", epochs=len(finals), steps=10 * len(finals),
                         train_loss=finals[-1] + 1, val_loss=finals[-1], val_recon_mse=finals[-1] / 100,
                         samples_per_s=1.0, device="cpu")
    run.started -= 12.0
    state.finish_run(run, make_run(state.spec, state.dataset, history, result))
    return run


def test_runs_are_listed_and_overlaid(dashboard, state, qtbot):
    add_run(state, "ae", [5.0, 4.0, 3.0])
    add_run(state, "sparse-kl", [6.0, 5.5])
    add_run(state, "vae", [7.0, 6.0, 5.0, 4.5])
    runs = dashboard.runs
    dashboard.tabs.setCurrentWidget(runs)
    assert runs.table.rowCount() == 3
    assert runs.table.item(1, 2).text() == "sparse-kl" and runs.table.item(2, 4).text() == "4.5"
    shown = [c for c in runs.curves.values() if c.isVisible()]
    assert len(shown) == 3 and sorted(len(c.getData()[0]) for c in shown) == [2, 3, 4]
    runs.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)  # untick the first run
    assert sum(c.isVisible() for c in runs.curves.values()) == 2
    runs.metric_combo.setCurrentIndex(runs.metric_combo.findData("val_recon_mse"))
    assert [name for _, name, _, _ in runs.series()] == ["run 2: sparse-kl", "run 3: vae"]
    assert runs.series()[1][3] == pytest.approx([0.07, 0.06, 0.05, 0.045])


def test_exports_write_readable_files(dashboard, state, tmp_path, qapp):
    for step in range(1, 31):
        dashboard.add_report(Report(kind="progress", step=step, epoch=0, epoch_progress=step / 10,
                                    epochs_total=3, steps_per_epoch=10, samples_per_s=1.0, elapsed_s=1.0,
                                    losses={"total": 1.0 / step, "recon": 0.5 / step}))
    for _ in range(5):
        dashboard.refresh()
    qapp.processEvents()
    loss = dashboard.loss
    loss.export_csv(tmp_path / "curves.csv")
    with open(tmp_path / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60 and {r["curve"] for r in rows} == {"train total", "train recon"}
    assert float(rows[0]["value"]) == pytest.approx(1.0) and rows[0]["step"] == "1"
    loss.export_image(tmp_path / "loss.png", width=800)
    image = QImage(str(tmp_path / "loss.png"))
    assert not image.isNull() and image.width() == 800
    loss.export_image(tmp_path / "loss.svg")
    root = ET.parse(tmp_path / "loss.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 10
    # The legend was added for the export only.
    assert not [i for i in loss.plot.scene().items() if isinstance(i, pg.LegendItem)]

    add_run(state, "ae", [5.0, 4.0])
    dashboard.runs.export_csv(tmp_path / "runs.csv")
    with open(tmp_path / "runs.csv", newline="") as f:
        assert list(csv.reader(f))[1:] == [["run 1: ae", "1", "val_total", "5.0"], ["run 1: ae", "2", "val_total", "4.0"]]
    dashboard.runs.export_image(tmp_path / "runs.png")
    assert not QImage(str(tmp_path / "runs.png")).isNull()
    with pytest.raises(ValueError, match="png or .svg"):
        export_plot(loss.plot, tmp_path / "loss.jpg")
    assert not (tmp_path / "loss.jpg").exists()


def test_anomaly_view_scores_validation_errors_only_when_shown(dashboard, state, transactions, qapp, qtbot):
    spec = state.spec
    anomaly = dashboard.anomaly
    dashboard.set_weights(make_run(spec, transactions))
    qtbot.wait(100)
    assert anomaly.errors is None  # hidden: nothing evaluated yet
    dashboard.tabs.setCurrentWidget(anomaly)
    qtbot.waitUntil(lambda: anomaly.errors is not None, timeout=10_000)  # scored in the worker
    assert anomaly.errors is not None and len(anomaly.errors) == round(len(transactions) * 0.1)
    assert anomaly.combo.currentText().startswith("labelled anomalies (fraud)")
    assert 0.0 <= anomaly.auc <= 1.0 and anomaly.is_anomaly.sum() >= 1
    assert "ROC AUC" in anomaly.auc_label.text()
    anomaly.slider.setValue(900)
    assert "60 flagged" in anomaly.threshold_label.text() and "precision" in anomaly.threshold_label.text()
    counts = anomaly.normal_bars.getData()[1].sum() + anomaly.anomaly_bars.getData()[1].sum()
    assert counts == len(anomaly.errors)
    assert anomaly.worst.currentWidget() is anomaly.worst.traces  # table rows are drawn as traces
    anomaly.combo.setCurrentIndex(anomaly.combo.findData(0))  # the legitimate class as "the anomaly"
    assert anomaly.is_anomaly.sum() == len(anomaly.errors) - int(
        np.isin(transactions.labels[anomaly.index], transactions.anomaly_labels).sum())


def test_reference_bands_only_for_comparable_runs():
    mnist = load_dataset("mnist5k")
    spec = fit_to_input(get_preset("vae"), mnist.kind, mnist.sample_shape, mnist.in_unit_range)
    spec.train.epochs = 3  # the length of a run does not matter
    band, why = find_band(spec, mnist)
    assert band is not None and why == ""
    assert len(band.epochs) >= 5 and np.all(band.low <= band.high)
    assert "benchmarks/reference_losses.py" in band.tooltip and "vae" in band.tooltip
    spec.latent.dim = 7
    band, why = find_band(spec, mnist)
    assert band is None and "differs from the stock" in why
    small = load_dataset("mnist5k", limit=600)
    assert find_band(get_preset("vae"), small)[0] is None


def test_the_dashboard_gets_its_reference_band_when_a_run_starts(qtbot):
    mnist = load_dataset("mnist5k")
    state = AppState(fit_to_input(get_preset("vae"), mnist.kind, mnist.sample_shape, mnist.in_unit_range), mnist)
    d = TrainingDashboard(state)
    qtbot.addWidget(d)
    d.clear()
    assert d.loss.band is not None and d.loss.reference_label.toolTip().startswith("Reference")
    d.shutdown()


def test_a_class_held_out_of_training_is_found_as_the_anomaly(qtbot, make_window):
    window = make_window()
    state, panel = window.state, window.data_panel
    index = panel.holdout_combo.findData(0)
    panel.holdout_combo.setCurrentIndex(index)
    panel.holdout_combo.activated.emit(index)
    assert state.holdout == 0
    trained_on = state.training_dataset()
    assert len(trained_on) == len(state.dataset) - int((state.dataset.labels == 0).sum())
    assert 0 not in set(trained_on.labels.tolist())
    anomaly = window.dashboard.anomaly
    assert anomaly.combo.currentData() == 0  # the held-out class is selected as the anomaly

    spec = state.spec
    spec.train.epochs = 3
    state.edit_spec(spec, "3 epochs")
    with qtbot.waitSignal(window.controller.finished, timeout=120_000):
        window.train()
    assert state.runs[-1].dataset == "mnist5k without 0"
    window.dashboard.tabs.setCurrentWidget(anomaly)
    qtbot.waitUntil(lambda: anomaly.auc is not None, timeout=30_000)
    held = int((state.dataset.labels == 0).sum())
    assert int(anomaly.is_anomaly.sum()) == held  # every sample of the unseen class is scored
    assert anomaly.auc > 0.6, anomaly.auc  # an unseen digit reconstructs worse than seen ones
    panel.limit_spin.setValue(0)
