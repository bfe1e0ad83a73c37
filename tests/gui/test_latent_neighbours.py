"""A drawing sent to the latent explorer shows its 5 nearest TRAINING samples (issue 14): found off the
GUI thread from the run's training rows only, the codes kept per run, cleared with the run, and no
thread left behind at close."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import aegui.gui.panels.latent_neighbours as latent_neighbours
from aegui.core.data import load_dataset
from test_explore import make_run
from test_latent_map import WAIT_MS, open_explorer


@pytest.fixture
def explorer(qtbot, mnist600):
    panel, _ = open_explorer(qtbot, mnist600)
    yield panel
    assert panel.shutdown()


def training_rows(run, dataset) -> np.ndarray:
    return run.dataset.trained_rows(dataset)[run.train_index]


def send(qtbot, explorer, drawing):
    strip = explorer.neighbours
    strip.shown = None
    assert explorer.receive_drawing(drawing)
    qtbot.waitUntil(lambda: strip.shown is not None, timeout=WAIT_MS)
    return strip.shown


def test_a_drawn_training_sample_is_its_own_nearest_neighbour_at_distance_zero(qtbot, explorer, mnist600):
    run = explorer._run
    train = training_rows(run, mnist600)
    row = int(train[37])
    found = send(qtbot, explorer, mnist600.as_float(np.array([row]))[0])
    assert found.rows[0] == row and found.distances[0] == pytest.approx(0.0, abs=1e-4)
    # The true 5 nearest, nearest first: a brute-force sort over the training codes agrees.
    codes = explorer.model.encode(mnist600.as_float(train))
    brute = np.sqrt(((codes - codes[37]) ** 2).sum(axis=1))
    np.testing.assert_array_equal(found.rows, train[np.argsort(brute)[:5]])
    np.testing.assert_allclose(found.distances, np.sort(brute)[:5], atol=1e-4)
    # Five thumbnails of the rows' own images, captioned with row, class and distance.
    strip = explorer.neighbours
    assert strip.isVisible() and f"Nearest of {len(train):,} training samples" in strip.title.text()
    for thumb, caption, r, d in zip(strip.thumbs, strip.captions, found.rows, found.distances):
        np.testing.assert_allclose(thumb.image.image, mnist600.as_float(np.array([r]))[0, 0])
        assert thumb.kind == "image"
        assert caption.text().startswith(f"row {r} · {mnist600.label_name(int(mnist600.labels[r]))}\n")
    assert strip.captions[0].text().endswith("d ≈ 0")
    assert strip.captions[1].text().endswith(f"d = {found.distances[1]:.3g}")


def test_only_training_rows_are_neighbours_never_the_validation_split(qtbot, explorer, mnist600):
    run = explorer._run
    validation = run.validation_rows(mnist600)
    row = int(validation[5])  # a validation digit: it must not find itself
    found = send(qtbot, explorer, mnist600.as_float(np.array([row]))[0])
    assert len(found.rows) == 5
    assert not set(found.rows.tolist()) & set(validation.tolist())
    assert set(found.rows.tolist()) <= set(training_rows(run, mnist600).tolist())
    assert found.distances[0] > 1e-3


def test_a_held_out_class_is_no_neighbour(qtbot, mnist600):
    """With a class held out of training, trained_rows skips it: the split indexes the rest."""
    panel, state = open_explorer(qtbot, mnist600)
    try:
        kept = np.flatnonzero(mnist600.labels != 3)
        run = make_run(state.spec, mnist600, np.arange(0, len(kept), 3), excluded_label=3)
        run.train_index = np.setdiff1d(np.arange(len(kept)), run.val_index)
        panel.set_weights(run)
        qtbot.waitUntil(lambda: panel._run is run and not panel.map_worker.busy, timeout=WAIT_MS)
        three = int(np.flatnonzero(mnist600.labels == 3)[0])
        found = send(qtbot, panel, mnist600.as_float(np.array([three]))[0])
        assert not np.any(mnist600.labels[found.rows] == 3)
        assert set(found.rows.tolist()) <= set(kept[run.train_index].tolist())
    finally:
        assert panel.shutdown()


def test_a_second_drawing_only_searches_the_kept_codes(qtbot, explorer, mnist600, monkeypatch):
    first = send(qtbot, explorer, mnist600.as_float(np.array([10]))[0])
    encodes = []
    real = latent_neighbours.encode_rows
    monkeypatch.setattr(latent_neighbours, "encode_rows", lambda *a, **k: encodes.append(1) or real(*a, **k))
    second = send(qtbot, explorer, mnist600.as_float(np.array([400]))[0])
    assert encodes == []
    assert second.training is first.training  # the same codes, searched again
    assert not np.array_equal(second.rows, first.rows)


def test_new_weights_clear_the_neighbours_then_the_drawing_follows_the_new_model(qtbot, explorer, mnist600):
    drawing = mnist600.as_float(np.array([10]))[0]
    send(qtbot, explorer, drawing)
    ends = [None if e is None else e.copy() for e in explorer.tools.endpoints]
    strip = explorer.neighbours
    state = explorer._watched
    newer = make_run(state.spec, mnist600, np.arange(0, len(mnist600), 3), seed=1)
    explorer.set_weights(newer)
    assert strip.shown is None and strip.training is None and not strip.isVisible()
    assert all(thumb.image.image is None for thumb in strip.thumbs)
    assert all(caption.text() == "" for caption in strip.captions)
    # When the new map arrives (every few seconds while training), the drawing's star and its
    # neighbours follow the new model without being sent again; its interpolation ends stay.
    qtbot.waitUntil(lambda: strip.shown is not None, timeout=WAIT_MS)
    assert strip.shown.training.run is newer and strip.isVisible()
    x, y = explorer.map.projection.points(explorer.model.encode(drawing[None]))[0]
    marker = explorer.plot.drawing_marker.getData()
    np.testing.assert_allclose([marker[0][0], marker[1][0]], [x, y], rtol=1e-5, atol=1e-5)
    for kept, now in zip(ends, explorer.tools.endpoints):
        assert (kept is None and now is None) or np.array_equal(kept, now)


def test_changed_data_clears_the_neighbours(qtbot, explorer, mnist600):
    send(qtbot, explorer, mnist600.as_float(np.array([10]))[0])
    explorer._watched.set_dataset(mnist600.subset(np.arange(300), name="other digits"))
    strip = explorer.neighbours
    assert strip.shown is None and strip.training is None and not strip.isVisible()
    assert all(thumb.image.image is None for thumb in strip.thumbs)


def test_a_drawing_sent_before_the_map_exists_finds_its_neighbours_when_it_arrives(qtbot, mnist600):
    from aegui.core.presets import fit_to_input, get_preset
    from aegui.gui.panels.latent import LatentExplorer
    from aegui.gui.state import AppState

    spec = fit_to_input(get_preset("vae"), mnist600.kind, mnist600.sample_shape, mnist600.in_unit_range)
    panel = LatentExplorer(AppState(spec, mnist600))
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    try:
        run = make_run(spec, mnist600, np.arange(0, len(mnist600), 3))
        row = int(training_rows(run, mnist600)[0])
        assert not panel.receive_drawing(mnist600.as_float(np.array([row]))[0])
        assert not panel.neighbours.isVisible()
        panel.set_weights(run)
        qtbot.waitUntil(lambda: panel.neighbours.shown is not None, timeout=WAIT_MS)
        assert panel.neighbours.shown.rows[0] == row
    finally:
        assert panel.shutdown()


def test_data_that_is_not_the_runs_is_said_in_place(qtbot, explorer, mnist600):
    other = mnist600.subset(np.arange(300), name="other digits")
    explorer.neighbours.find(explorer._run, other, other.as_float(np.array([0]))[0])
    assert explorer.neighbours.isVisible() and "not the data this model was trained on" in \
        explorer.neighbours.title.text()
    assert not explorer.neighbours.worker.busy


@pytest.mark.parametrize("name, kind", [("signals", "signal"), ("transactions", "table")])
def test_signals_and_table_rows_show_as_curves_and_bars(qtbot, name, kind):
    dataset = load_dataset(name, limit=150, seed=0)
    panel, _ = open_explorer(qtbot, dataset, "ae")
    try:
        row = int(training_rows(panel._run, dataset)[4])
        found = send(qtbot, panel, dataset.as_float(np.array([row]))[0])
        assert found.rows[0] == row and found.distances[0] < 1e-4
        assert [thumb.kind for thumb in panel.neighbours.thumbs] == [kind] * 5
    finally:
        assert panel.shutdown()


def test_shutdown_mid_search_leaves_no_thread_running(qtbot, explorer, mnist600, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def slow_encode(model, dataset, rows, cancel=None, **kw):
        started.set()
        while not cancel():  # a long encode that looks at its cancel flag, as encode_rows does per chunk
            release.wait(0.01)
        raise RuntimeError("cancelled")

    monkeypatch.setattr(latent_neighbours, "encode_rows", slow_encode)
    explorer.receive_drawing(mnist600.as_float(np.array([10]))[0])
    assert started.wait(10)
    thread = explorer.neighbours.worker.thread
    assert thread is not None and thread.is_alive()
    assert explorer.shutdown()
    assert not thread.is_alive() and explorer.neighbours.worker.threads() == []
