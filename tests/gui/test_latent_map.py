"""The latent explorer's map (issue 13): dragging decodes, coalesced; the manifold grid tiles the view;
the legend hides classes; every family and kind of data draws; nothing slow runs on the GUI thread;
the tab clears itself when the data or the model changes."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from aegui.core.data import load_dataset
from aegui.core.presets import fit_to_input, get_preset
from aegui.gui.state import AppState
from test_explore import make_run

WAIT_MS = 20_000


def open_explorer(qtbot, dataset, preset="vae"):
    from aegui.gui.panels.latent import LatentExplorer

    spec = fit_to_input(get_preset(preset), dataset.kind, dataset.sample_shape, dataset.in_unit_range)
    state = AppState(spec, dataset)
    panel = LatentExplorer(state)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    run = make_run(spec, dataset, np.arange(0, len(dataset), 3))
    panel.set_weights(run)
    qtbot.waitUntil(lambda: panel.map is not None, timeout=WAIT_MS)
    return panel, state


@pytest.fixture
def explorer(qtbot, mnist600):
    panel, _ = open_explorer(qtbot, mnist600)
    yield panel
    assert panel.shutdown()


def test_the_map_reads_the_validation_split_with_a_legend_of_class_names(qtbot, explorer, mnist600):
    assert len(explorer.map.codes) == 200 and "200 validation samples" in explorer.plot.getPlotItem().titleLabel.text
    names = [explorer.plot.legend.item(i).text() for i in range(explorer.plot.legend.count())]
    assert names == [f"■ {mnist600.label_name(v)}" for v in range(10)]
    # Unticking a class hides its points; the next map keeps it hidden.
    from PySide6.QtCore import Qt

    explorer.plot.legend.item(3).setCheckState(Qt.CheckState.Unchecked)
    assert not explorer.scatters[3].isVisible() and explorer.scatters[2].isVisible()
    explorer.which_combo.setCurrentIndex(explorer.which_combo.findData("all"))
    qtbot.waitUntil(lambda: len(explorer.map.codes) == 600, timeout=WAIT_MS)
    assert "whole set" in explorer.plot.getPlotItem().titleLabel.text
    assert not explorer.scatters[3].isVisible()


def test_dragging_decodes_the_code_under_the_handle_at_most_once_a_frame(qtbot, explorer, monkeypatch):
    model = explorer.model
    decodes = []
    real = model.decode
    monkeypatch.setattr(model, "decode", lambda codes, **kw: decodes.append(len(codes)) or real(codes, **kw))
    explorer._last_decode = time.perf_counter()  # a decode just happened: the next waits for the frame
    base = explorer.code.copy()
    for x in np.linspace(-1.0, 1.0, 10):  # ten moves before the event loop runs
        explorer.plot.handle.setPos(float(x), 0.5)
    assert decodes == []
    qtbot.waitUntil(lambda: len(decodes) == 1, timeout=2000)
    qtbot.wait(50)
    assert decodes == [1]  # coalesced: only the latest position was decoded
    expected = explorer.map.projection.code_at(1.0, 0.5, base)
    np.testing.assert_allclose(explorer.code, expected, atol=1e-5)
    np.testing.assert_allclose(explorer.map.projection.points(explorer.code[None])[0], [1.0, 0.5], atol=1e-4)
    np.testing.assert_allclose(explorer.decoded.image.image, real(expected[None])[0, 0], atol=1e-5)


def test_clicking_pins_a_point_and_shift_clicks_pick_the_interpolation_ends(qtbot, explorer):
    explorer.pick(7)
    np.testing.assert_allclose(explorer.code, explorer.map.codes[7])
    np.testing.assert_allclose(explorer.decoded.image.image, explorer.model.decode(explorer.map.codes[7:8])[0, 0],
                               atol=1e-5)
    assert f"Sample {explorer.map.rows[7]}" in explorer.hover_caption.text()
    np.testing.assert_allclose(explorer.hover_recon.image.image, explorer.map.reconstructions[7, 0], atol=1e-6)
    np.testing.assert_array_equal(explorer.tools.pinned, explorer.map.codes[7])
    explorer.pick(20, as_end=True)
    explorer.pick(40, as_end=True)
    assert explorer.ends == [20, 40]
    np.testing.assert_array_equal(explorer.tools.endpoints[0], explorer.map.codes[20])
    np.testing.assert_array_equal(explorer.tools.endpoints[1], explorer.map.codes[40])
    explorer.pick(60, as_end=True)  # a third pick replaces the first end
    assert explorer.ends == [60, 40]


def test_the_sliders_and_the_handle_agree(qtbot, explorer):
    tools = explorer.tools
    qtbot.waitUntil(lambda: tools.context is not None and len(tools.sliders) > 0, timeout=WAIT_MS)
    # Dragging the handle puts its full code on the sliders.
    explorer.plot.handle.setPos(0.7, -0.4)
    qtbot.waitUntil(lambda: np.allclose(explorer.map.projection.points(tools.code[None])[0], [0.7, -0.4],
                                        atol=1e-4), timeout=2000)
    np.testing.assert_allclose(tools.code, explorer.code)
    for dim, slider, _, _ in tools.sliders:
        assert slider.value() == tools._to_slider(dim, explorer.code[dim])
    # A slider moves the handle to the new code's place, and the large view decodes it.
    dim, slider, _, _ = tools.sliders[0]
    slider.setValue(slider.maximum())
    np.testing.assert_allclose(explorer.code, tools.code)
    pos = explorer.plot.handle.pos()
    np.testing.assert_allclose(explorer.map.projection.points(explorer.code[None])[0], [pos.x(), pos.y()],
                               atol=1e-4)
    np.testing.assert_allclose(explorer.decoded.image.image, explorer.model.decode(explorer.code[None])[0, 0],
                               atol=1e-5)
    # Dragging again keeps the slider's value off the plane.
    explorer.plot.handle.setPos(0.0, 0.0)
    qtbot.waitUntil(lambda: np.allclose(explorer.map.projection.points(tools.code[None])[0], 0, atol=1e-4),
                    timeout=2000)
    moved = explorer.code - tools.code
    assert np.allclose(explorer.map.projection.points(explorer.code[None])[0], [0.0, 0.0], atol=1e-4)
    offplane = explorer.code - explorer.map.projection.code_at(0.0, 0.0)
    assert np.abs(offplane).max() > 1e-3 and np.abs(moved).max() < 1e-6


def test_the_manifold_grid_has_n_by_n_tiles_over_the_view_and_follows_it(qtbot, explorer):
    explorer.grid_spin.setValue(6)
    explorer.grid_check.setChecked(True)
    qtbot.waitUntil(lambda: explorer.plot.grid_image.image is not None, timeout=WAIT_MS)
    assert explorer.plot.grid_image.image.shape == (6 * 28, 6 * 28)

    def grid_rect():
        rect = explorer.plot.grid_image.mapRectToParent(explorer.plot.grid_image.boundingRect())
        return rect.left(), rect.right(), rect.top(), rect.bottom()

    explorer.plot.getPlotItem().getViewBox().setRange(xRange=(-3, 2), yRange=(1, 4), padding=0)
    qtbot.waitUntil(lambda: np.allclose(grid_rect(), (-3, 2, 1, 4), atol=1e-3), timeout=WAIT_MS)
    explorer.grid_spin.setValue(9)
    qtbot.waitUntil(lambda: explorer.plot.grid_image.image.shape == (9 * 28, 9 * 28), timeout=WAIT_MS)
    # The top-left tile is the decoding at the centre of the top-left cell, off-plane from the handle's code.
    code = explorer.map.projection.code_at(-3 + 5 / 18, 4 - 3 / 18, explorer.code)
    np.testing.assert_allclose(explorer.plot.grid_image.image[:28, :28], explorer.model.decode(code[None])[0, 0],
                               atol=1e-5)
    explorer.grid_check.setChecked(False)
    assert not explorer.plot.grid_image.isVisible()


def test_a_slow_projection_never_stops_the_gui_thread(qtbot, explorer, monkeypatch):
    import aegui.gui.panels.latent_map as latent_map

    real = latent_map.project

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(latent_map, "project", slow)
    ticks: list[float] = []
    timer = QTimer(explorer, interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        explorer.projection_combo.setCurrentIndex(explorer.projection_combo.findData("dims"))
        assert explorer.progress.isVisibleTo(explorer) and explorer.cancel_button.isVisibleTo(explorer)
        qtbot.waitUntil(lambda: explorer.map.projection.kind == "dims", timeout=WAIT_MS)
    finally:
        timer.stop()
    assert len(ticks) > 20 and np.diff(ticks).max() < 0.1
    assert not explorer.progress.isVisibleTo(explorer)


def test_projection_choices_follow_what_is_installed(qtbot, explorer, monkeypatch):
    import aegui.core.latent as latent

    def offered():
        return [explorer.projection_combo.itemData(i) for i in range(explorer.projection_combo.count())]

    assert offered() == ["pca", "dims"]  # neither umap-learn, openTSNE nor scikit-learn here
    monkeypatch.setattr(latent.importlib.util, "find_spec", lambda name: object() if name == "sklearn" else None)
    explorer._fill_projection_choices(explorer.model.code_dim, "pca")
    assert offered() == ["pca", "dims", "tsne"]


@pytest.mark.parametrize("preset, name, kind", [
    ("ae", "mnist5k", "image"), ("conv-vae", "mnist5k", "image"), ("attention", "mnist5k", "image"),
    ("capsule", "mnist5k", "image"), ("ae", "signals", "signal"), ("vae", "transactions", "table"),
])
def test_every_family_and_kind_of_data_draws_its_map_and_decodings(qtbot, preset, name, kind):
    dataset = load_dataset(name, limit=150, seed=0)
    panel, _ = open_explorer(qtbot, dataset, preset)
    try:
        assert panel.map.codes.shape == (50, panel.model.code_dim)
        assert np.isfinite(panel.map.points).all()
        assert panel.decoded.kind == kind
        panel.pick(3)
        assert panel.hover_input.kind == kind and panel.hover_recon.kind == kind
        assert panel.spread_check.isEnabled() == ("vae" in preset)
    finally:
        assert panel.shutdown()


def test_unlabelled_data_is_coloured_by_reconstruction_error(qtbot, mnist600):
    panel, _ = open_explorer(qtbot, dataclasses.replace(mnist600, labels=None))
    try:
        assert "reconstruction error" in panel.status.text()
        assert panel.plot.legend.item(0).text().startswith("■ error")
        sizes = [len(item.data) for item in panel.scatters]
        assert sum(sizes) == 200 and len(sizes) == 8
    finally:
        assert panel.shutdown()


def test_new_data_clears_the_tab_and_says_so(qtbot, explorer, mnist600):
    state = explorer._watched
    explorer.grid_check.setChecked(True)
    qtbot.waitUntil(lambda: explorer.plot.grid_image.image is not None, timeout=WAIT_MS)
    state.set_dataset(mnist600.subset(np.arange(300), name="other digits"))
    assert explorer.map is None and explorer.scatters == [] and explorer.decoded.image.image is None
    assert explorer.plot.grid_image.image is None
    assert explorer.status.text().startswith("The data changed")
    assert not explorer.plot.handle.isEnabled()


def test_while_training_the_shown_map_follows_the_newest_weights(qtbot, window):
    """The Latent space tab asks for the newest weights every few seconds while a run trains (an epoch can
    take minutes), and only while it is on screen."""
    from gui_helpers import set_epochs

    refresh = window._latent_refresh
    refresh.setInterval(50)
    set_epochs(qtbot, window, 300)  # stopped below
    spec = window.state.spec
    spec.train.batch_size = 16  # epochs of ~30 steps, so the 50 ms timer lands inside them
    window.state.edit_spec(spec, "small batches")
    artifacts = []
    window.controller.weightsReady.connect(artifacts.append)
    window.train()  # which shows the Training tab
    assert not refresh.isActive()
    window.tabs.setCurrentWidget(window.latent)
    qtbot.waitUntil(lambda: refresh.isActive(), timeout=10_000)
    qtbot.waitUntil(lambda: len(artifacts) >= 12 or not window.controller.is_active, timeout=60_000)
    epochs_done = [len(run.history) for run in artifacts]
    window.tabs.setCurrentWidget(window.dashboard)
    assert not refresh.isActive()  # another tab: no refresh
    window.controller.stop()
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=60_000)
    assert len(artifacts) >= 12, len(artifacts)
    assert not refresh.isActive()
    # Epoch ends send weights anyway; two artifacts of the same epoch count mean the timer asked mid-epoch.
    assert len(set(epochs_done)) < len(epochs_done), epochs_done


def test_a_drawing_sent_from_the_canvas_is_marked_and_becomes_an_interpolation_end(qtbot, window):
    from gui_helpers import set_epochs

    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train()
    qtbot.waitUntil(lambda: not window.controller.is_active, timeout=60_000)
    window.tabs.setCurrentWidget(window.canvas)
    qtbot.waitUntil(lambda: window.canvas.model is not None, timeout=30_000)
    drawing = window.state.dataset.as_float(np.array([7]))[0, 0]
    window.canvas.editor.set_values(drawing[None])
    window.canvas.controls.send_button.click()  # before the explorer has a map: kept until it has one
    latent = window.latent
    assert window.tabs.currentWidget() is latent
    qtbot.waitUntil(lambda: len(latent.plot.drawing_marker.data) == 1, timeout=30_000)
    code = latent.model.encode(drawing[None, None])[0]
    np.testing.assert_allclose(latent.tools.endpoints[0], code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(latent.code, code, rtol=1e-5, atol=1e-6)
    qtbot.waitUntil(lambda: not latent.drag_worker.busy, timeout=10_000)
