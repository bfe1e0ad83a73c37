"""Panels that use a run: the latent map and the anomaly scores are made off the GUI thread from a
RunArtifact, the newest run wins, and the anomaly view scores the run's own validation rows.
The window keeps each run's artifact, queues runs through the controller, and asks for pictures
in reports only while the Training tab shows them."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from aegui.core.inference import InferenceModel
from aegui.core.latent import project
from aegui.core.models import build_model
from aegui.core.presets import fit_to_input, get_preset
from aegui.core.run import DatasetRef, RunArtifact
from aegui.gui.state import AppState

WAIT_MS = 20_000


def make_run(spec, dataset, val_index, train_index=None, seed=0, excluded_label=None, full=None):
    torch.manual_seed(seed)
    weights = {k: v.detach().clone() for k, v in build_model(spec).state_dict().items()}
    train_index = np.setdiff1d(np.arange(len(dataset)), val_index) if train_index is None else train_index
    ref = DatasetRef.from_dataset(full if full is not None else dataset, excluded_label)
    return RunArtifact(spec=spec, weights=weights, dataset=ref, train_index=train_index,
                       val_index=np.asarray(val_index))


@pytest.fixture
def state(mnist600):
    spec = fit_to_input(get_preset("vae"), mnist600.kind, mnist600.sample_shape, mnist600.in_unit_range)
    return AppState(spec, mnist600)


@pytest.fixture
def explorer(qtbot, state):
    from aegui.gui.panels.latent import LatentExplorer

    panel = LatentExplorer(state)
    qtbot.addWidget(panel)
    yield panel
    assert panel.shutdown()


def test_the_latent_map_is_made_off_the_gui_thread_from_the_runs_validation_rows(qtbot, explorer, state,
                                                                                  mnist600, monkeypatch):
    import aegui.gui.panels.latent as latent

    threads = []
    real = latent.make_map

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(latent, "make_map", spy)
    val = np.arange(0, 600, 5)  # not the trainer's split: the panel must read the run's own
    run = make_run(state.spec, mnist600, val)
    explorer.set_weights(run)
    qtbot.wait(50)
    assert not threads and explorer.map is None  # hidden: nothing encoded yet
    explorer.show()
    qtbot.waitUntil(lambda: explorer.map is not None, timeout=WAIT_MS)
    assert threads[0] is not threading.main_thread()
    model = InferenceModel.from_run(run)
    expected, _ = project(model.encode(mnist600.as_float(val)))
    np.testing.assert_allclose(explorer.map.points, expected, atol=1e-4)
    assert len(explorer.scatters) == len(np.unique(mnist600.labels[val]))
    assert "120 validation samples" in explorer.status.text()
    assert explorer.decoded.image.image is not None and explorer.decoded.image.image.shape == (28, 28)
    # The tools below the map get the map's codes, and the sampling strip fills in.
    qtbot.waitUntil(lambda: explorer.tools.context is not None, timeout=WAIT_MS)
    np.testing.assert_array_equal(explorer.tools.codes, explorer.map.codes)
    np.testing.assert_array_equal(explorer.tools.rows, explorer.map.rows)
    assert explorer.prior_button.isEnabled()
    explorer.show_prior_samples()
    qtbot.waitUntil(lambda: explorer.gallery.images.image.image is not None, timeout=WAIT_MS)


def test_a_newer_run_supersedes_a_map_still_being_made(qtbot, explorer, state, mnist600, monkeypatch):
    import aegui.gui.panels.latent as latent

    gate = threading.Event()
    real = latent.make_map
    calls = []

    def held_first(token, run, *args):
        calls.append(run)
        if len(calls) == 1:
            gate.wait(5)  # the older map is slow, and finishes after the newer one was asked for
        return real(token, run, *args)

    monkeypatch.setattr(latent, "make_map", held_first)
    explorer.show()
    old = make_run(state.spec, mnist600, np.arange(0, 600, 10), seed=1)
    new = make_run(state.spec, mnist600, np.arange(0, 600, 10), seed=2)
    explorer.set_weights(old)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=WAIT_MS)
    drawn = []
    explorer.map_worker.done.connect(lambda result: drawn.append(result))
    explorer.set_weights(new)
    gate.set()
    qtbot.waitUntil(lambda: explorer.map is not None, timeout=WAIT_MS)
    assert explorer.map_worker.wait(5)
    qtbot.wait(50)
    assert len(drawn) == 1
    expected = InferenceModel.from_run(new).encode(mnist600.as_float(np.arange(0, 600, 10)))
    np.testing.assert_allclose(explorer.map.codes, expected, atol=1e-5)


def test_anomaly_scores_read_the_runs_split_and_its_held_out_class(qtbot, mnist600):
    from aegui.gui.dashboard.anomaly_panel import AnomalyPanel

    state = AppState(fit_to_input(get_preset("ae"), mnist600.kind, mnist600.sample_shape, mnist600.in_unit_range),
                     mnist600)
    panel = AnomalyPanel(state)
    qtbot.addWidget(panel)
    try:
        panel.show()
        # Trained without class 3: the split indexes the other 540 rows, in their order.
        kept = np.flatnonzero(mnist600.labels != 3)
        val_in_subset = np.arange(0, len(kept), 9)
        run = make_run(state.spec, mnist600, val_in_subset, train_index=np.arange(1, len(kept), 9),
                       excluded_label=3, full=mnist600)
        panel.set_weights(run)
        qtbot.waitUntil(lambda: panel.auc is not None, timeout=WAIT_MS)
        held = np.flatnonzero(mnist600.labels == 3)
        np.testing.assert_array_equal(panel.index, np.sort(np.concatenate([kept[val_in_subset], held])))
        panel.combo.setCurrentIndex(panel.combo.findData(3))
        assert int(panel.is_anomaly.sum()) == len(held)  # every sample of the unseen class was scored
        assert "held out of training" in panel.status.text() and "class 3" in panel.status.text()

        # A run of other data: nothing is scored, and the panel says why.
        other = make_run(state.spec, mnist600.subset(np.arange(300)), np.arange(30))
        errors = panel.errors
        panel.set_weights(other)
        qtbot.wait(100)
        assert panel.errors is errors and "not the one the model was trained on" in panel.status.text()
    finally:
        assert panel.shutdown()


# --- the window: runs, artifacts, queueing, snapshot cadence --------------------------------------------
def test_the_run_record_holds_the_runs_artifact(qtbot, window):
    from gui_helpers import set_epochs

    panel = window.data_panel
    index = panel.holdout_combo.findData(0)
    panel.holdout_combo.setCurrentIndex(index)
    panel.holdout_combo.activated.emit(index)
    set_epochs(qtbot, window, 2)
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT_MS * 3):
        window.train()
    run = window.state.runs[-1]
    artifact = run.artifact
    assert isinstance(artifact, RunArtifact) and artifact.result is not None
    assert run.stop_reason == "completed" and run.final_val_loss == pytest.approx(artifact.result.val_loss)
    assert [row["epoch"] for row in run.history] == [1, 2]
    # The reference is the full dataset, with the class it was trained without.
    assert artifact.dataset.size == len(window.state.dataset) and artifact.dataset.excluded_label == 0
    rows = artifact.validation_rows(window.state.dataset)
    assert len(rows) == len(artifact.val_index) and not np.any(window.state.dataset.labels[rows] == 0)


def test_runs_queued_through_the_controller_train_one_after_another(qtbot, window):
    controller = window.controller
    spec = window.state.spec
    spec.train.epochs = 1
    data = window.state.dataset
    finished, started = [], []
    controller.finished.connect(finished.append)
    controller.started.connect(lambda: started.append(controller.generation))
    ids = [controller.queue(spec, data), controller.queue(spec, data)]
    assert controller.runs.pending == [ids[1]] and controller.runs.current == ids[0]
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=WAIT_MS * 3)
    assert [r.stop_reason for r in finished] == ["completed", "completed"]
    assert started == [1, 2] and not controller.runs.active and controller.state == "idle"


def test_reports_carry_pictures_only_while_the_training_tab_is_shown(qtbot, window):
    controller = window.controller
    assert controller.snapshots_wanted  # the Training tab is the first
    window.tabs.setCurrentWidget(window.latent)
    assert not controller.snapshots_wanted
    window.tabs.setCurrentWidget(window.dashboard)
    assert controller.snapshots_wanted
    # A running run hears it too.
    from gui_helpers import set_epochs

    set_epochs(qtbot, window, 500)
    with qtbot.waitSignal(controller.started, timeout=5000):
        window.train()
    try:
        window.tabs.setCurrentWidget(window.canvas)
        assert controller._control.snapshots_wanted is False
        window.tabs.setCurrentWidget(window.dashboard)
        assert controller._control.snapshots_wanted is True
    finally:
        with qtbot.waitSignal(controller.finished, timeout=WAIT_MS * 3):
            window.stop()
