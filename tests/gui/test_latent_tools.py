"""The explorer's sliders and strips: the full code on every move, importance order, ±3 std ranges,
traversal, interpolation, arithmetic, sampling, every kind of data, decodes off the GUI thread,
and PNG export."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer

from aegui.core.data import load_dataset
from aegui.core.inference import InferenceModel
from aegui.core.models import build_model
from aegui.core.presets import fit_to_input, get_preset

WAIT_MS = 20_000


def rows_of(data):
    return np.linspace(0, len(data) - 1, 150).astype(int)  # every class of the sorted digits


def model_for(preset, data, seed=0):
    spec = fit_to_input(get_preset(preset), data.kind, data.sample_shape, data.in_unit_range)
    torch.manual_seed(seed)
    return InferenceModel(spec, build_model(spec).state_dict())


@pytest.fixture
def tools(qtbot):
    from aegui.gui.panels.latent_tools import LatentTools

    widget = LatentTools()
    qtbot.addWidget(widget)
    widget.resize(1100, 520)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown()


def give(qtbot, tools, model, data, rows=None):
    rows = rows_of(data) if rows is None else rows
    codes = model.encode(data.as_float(rows))
    labels = data.labels[rows] if data.labels is not None else None
    with qtbot.waitSignal(tools.ready, timeout=WAIT_MS):
        tools.set_context(model, codes, labels, data.label_names, data, rows)
    return codes


def show(qtbot, tools, name):
    with qtbot.waitSignal(tools.stripShown, timeout=WAIT_MS, check_params_cb=lambda n: n == name):
        tools.tabs.setCurrentIndex(tools.STRIPS.index(name))
        tools.refresh(name)
    return tools.shown[name]


def test_a_slider_emits_the_full_code_and_set_code_round_trips_silently(qtbot, tools, mnist600):
    model = model_for("ae", mnist600)
    give(qtbot, tools, model, mnist600)
    assert len(tools.sliders) == model.code_dim
    dim, slider, _, _ = tools.sliders[0]
    before = tools.code.copy()
    with qtbot.waitSignal(tools.codeChanged) as signal:
        slider.setValue(slider.maximum())
    code = signal.args[0]
    assert code.shape == (model.code_dim,) and code.dtype == np.float32
    assert code[dim] == pytest.approx(tools.context["high"][dim])
    np.testing.assert_array_equal(np.delete(code, dim), np.delete(before, dim))
    emitted = []
    tools.codeChanged.connect(emitted.append)
    target = tools.context["mean"] + 0.5 * tools.context["std"]
    tools.set_code(target)
    assert not emitted
    np.testing.assert_allclose(tools.code, target)
    for d, s, _, _ in tools.sliders:
        lo, hi = tools.context["low"][d], tools.context["high"][d]
        assert lo + (hi - lo) * s.value() / 1000 == pytest.approx(target[d], abs=(hi - lo) / 1000)
    tools.reset()
    np.testing.assert_allclose(emitted[-1], tools.context["mean"])
    tools.randomise()
    assert len(emitted) == 2 and not np.allclose(emitted[-1], tools.context["mean"])


def test_sliders_are_ordered_by_importance_with_three_std_ranges(qtbot, tools, mnist600):
    model = model_for("ae", mnist600)
    codes = give(qtbot, tools, model, mnist600)
    variance = codes.var(axis=0)
    assert tools.sliders[0][0] == int(np.argmax(variance))
    assert [d for d, *_ in tools.sliders] == list(np.argsort(-variance, kind="stable"))
    np.testing.assert_allclose(tools.context["low"], codes.mean(0) - 3 * codes.std(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tools.context["high"], codes.mean(0) + 3 * codes.std(0), rtol=1e-4, atol=1e-5)
    assert "variance" in tools.status.text()


def test_a_vae_is_ordered_by_kl(qtbot, tools, mnist600):
    from aegui.core.latent_paths import posterior_kl

    model = model_for("vae", mnist600)
    rows = rows_of(mnist600)
    give(qtbot, tools, model, mnist600, rows)
    kl = posterior_kl(model, mnist600.as_float(rows))
    assert tools.sliders[0][0] == int(np.argmax(kl)) and "KL" in tools.status.text()


def test_the_traversal_has_nine_tiles_varying_only_the_chosen_dimension(qtbot, tools, mnist600):
    model = model_for("vae", mnist600)
    give(qtbot, tools, model, mnist600)
    tools.dim_combo.setCurrentIndex(2)
    dim = tools.dim_combo.currentData()
    codes, decoded = show(qtbot, tools, "traversal")
    assert codes.shape == (9, model.code_dim) and decoded.shape == (9, 1, 28, 28)
    others = np.delete(codes, dim, axis=1)
    np.testing.assert_array_equal(others, np.repeat(np.delete(tools.code, dim)[None], 9, axis=0))
    assert np.all(np.diff(codes[:, dim]) > 0)
    assert tools.views["traversal"].images.image.image.shape[1] > 9 * 28  # nine tiles side by side


def test_the_interpolation_runs_between_the_two_chosen_samples(qtbot, tools, mnist600):
    model = model_for("vae", mnist600)
    give(qtbot, tools, model, mnist600)
    tools.sample_spins[0].setValue(5)
    tools.sample_spins[1].setValue(17)
    tools.path_combo.setCurrentIndex(1)
    codes, decoded = show(qtbot, tools, "interpolation")
    ends = model.encode(mnist600.as_float(np.array([5, 17])))
    np.testing.assert_allclose(decoded[0], model.decode(ends[:1])[0], atol=1e-5)
    np.testing.assert_allclose(decoded[-1], model.decode(ends[1:])[0], atol=1e-5)
    picked = np.full(model.code_dim, 0.7, np.float32)
    tools.set_endpoint(0, picked)  # a point clicked on the map wins over the sample index
    codes, decoded = show(qtbot, tools, "interpolation")
    np.testing.assert_allclose(codes[0], picked)
    np.testing.assert_allclose(decoded[0], model.decode(picked[None])[0], atol=1e-5)


def test_arithmetic_at_strength_zero_is_the_pinned_point(qtbot, tools, mnist600):
    model = model_for("ae", mnist600)
    codes = give(qtbot, tools, model, mnist600)
    pinned = codes[3]
    tools.set_pinned(pinned)
    tools.class_combos[0].setCurrentIndex(tools.class_combos[0].findText("7"))
    tools.class_combos[1].setCurrentIndex(tools.class_combos[1].findText("1"))
    tools.strength.setValue(0)
    strip, decoded = show(qtbot, tools, "arithmetic")
    expected = model.decode(pinned[None])[0]
    for tile in decoded:
        np.testing.assert_allclose(tile, expected, atol=1e-5)
    tools.strength.setValue(200)
    strip, decoded = show(qtbot, tools, "arithmetic")
    labels = mnist600.labels[rows_of(mnist600)]
    vector = codes[labels == 7].mean(0) - codes[labels == 1].mean(0)
    np.testing.assert_allclose(strip[-1], pinned + 2.0 * vector, rtol=1e-4, atol=1e-4)
    assert "pinned" in tools.captions["arithmetic"].text()


@pytest.mark.parametrize("preset, kind", [("vae", "prior"), ("ae", "fitted gaussian")])
def test_the_sampling_grid_draws_from_what_the_model_has(qtbot, tools, mnist600, preset, kind):
    model = model_for(preset, mnist600)
    give(qtbot, tools, model, mnist600)
    codes, decoded = show(qtbot, tools, "sampling")
    assert tools._sampling.kind == kind and len(decoded) == 64
    assert tools.note.isVisible() == (kind == "fitted gaussian")


def test_a_conv_model_and_a_signals_model_work(qtbot, tools, mnist600):
    give(qtbot, tools, model_for("conv-vae", mnist600), mnist600)
    _, decoded = show(qtbot, tools, "traversal")
    assert decoded.shape == (9, 1, 28, 28)
    signals = load_dataset("signals", limit=200, seed=0)
    give(qtbot, tools, model_for("ae", signals), signals)
    _, decoded = show(qtbot, tools, "traversal")
    assert decoded.shape[0] == 9
    view = tools.views["traversal"]
    assert view.currentWidget() is view.traces
    x, y = view.traces.curves[2].getData()
    assert np.isfinite(y).sum() == decoded.size  # every decoded value is on a curve


def test_tables_are_drawn_as_bar_rows(qtbot, tools):
    table = load_dataset("transactions", limit=200, seed=0)
    give(qtbot, tools, model_for("ae", table), table)
    _, decoded = show(qtbot, tools, "traversal")
    view = tools.views["traversal"]
    assert view.currentWidget() is view.bars
    assert len(view.bars.bars.opts["height"]) == decoded[:9].size


def test_shapes_names_a_factor_beside_each_slider(qtbot, tools):
    shapes = load_dataset("shapes", limit=300, seed=0)
    give(qtbot, tools, model_for("conv", shapes), shapes)
    names = [name.text() for _, _, name, _ in tools.sliders]
    assert all(any(f in n for f in ("shape", "scale", "rotation", "x", "y")) for n in names)


def test_decodes_run_off_the_gui_thread(qtbot, tools, mnist600, monkeypatch):
    model = model_for("ae", mnist600)
    give(qtbot, tools, model, mnist600)
    real, threads = model.decode, []

    def slow_decode(codes, *args, **kwargs):
        threads.append(threading.current_thread())
        time.sleep(0.6)
        return real(codes, *args, **kwargs)

    monkeypatch.setattr(model, "decode", slow_decode)
    ticks = []
    clock = QTimer(interval=10)
    clock.timeout.connect(lambda: ticks.append(time.monotonic()))
    clock.start()
    try:
        show(qtbot, tools, "sampling")
    finally:
        clock.stop()
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert len(ticks) > 20 and np.max(np.diff(ticks)) < 0.1  # the event loop kept ticking


def test_animate_sweeps_one_dimension_and_stops_when_hidden_or_cleared(qtbot, tools, mnist600):
    give(qtbot, tools, model_for("ae", mnist600), mnist600)
    dim = tools.dim_combo.currentData()
    codes = []
    tools.codeChanged.connect(codes.append)
    tools.animate.setChecked(True)
    qtbot.waitUntil(lambda: len(codes) >= 4, timeout=5000)
    moved = np.array(codes)
    assert np.ptp(moved[:, dim]) > 0 and np.ptp(np.delete(moved, dim, axis=1), axis=0).max() == 0
    tools.hide()
    assert not tools.animate_timer.isActive() and not tools.animate.isChecked()
    tools.show()
    tools.animate.setChecked(True)
    tools.clear("The model changed.")
    assert not tools.animate_timer.isActive() and tools.status.text() == "The model changed."
    assert not tools.sliders and tools.code is None


def test_a_strip_exports_as_png(qtbot, tools, mnist600, tmp_path):
    give(qtbot, tools, model_for("vae", mnist600), mnist600)
    show(qtbot, tools, "traversal")
    path = tmp_path / "traversal.png"
    tools.export_strip(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["traversal.png"]  # no temporary file left


def test_new_codes_in_the_same_order_keep_the_sliders_and_the_code(qtbot, tools, mnist600):
    model = model_for("ae", mnist600)
    codes = give(qtbot, tools, model, mnist600)
    sliders = [s for _, s, _, _ in tools.sliders]
    tools.sliders[0][1].setValue(900)
    code = tools.code.copy()
    with qtbot.waitSignal(tools.ready, timeout=WAIT_MS):
        tools.set_context(model, codes, mnist600.labels[rows_of(mnist600)], mnist600.label_names, mnist600,
                          rows_of(mnist600))
    assert [s for _, s, _, _ in tools.sliders] == sliders
    np.testing.assert_array_equal(tools.code, code)
    assert tools.sliders[0][1].value() == 900


def test_a_mixture_aae_samples_one_row_per_component(qtbot, tools, mnist600):
    model = model_for("aae", mnist600)
    model.spec.objective.adversarial.prior = "mixture"
    model.spec.objective.adversarial.mixture_components = 4
    give(qtbot, tools, model, mnist600)
    codes, decoded = show(qtbot, tools, "sampling")
    assert tools._sampling.kind == "mixture" and len(decoded) == 4 * 16
    assert "4-component" in tools.captions["sampling"].text() and not tools.note.isVisible()
    labels = [item.textItem.toPlainText() for item in tools.views["sampling"].images._labels]
    assert [text for text in labels if text] == [f"component {i}" for i in range(4)]


def test_a_strip_of_table_rows_clears_and_repaints(qtbot):
    """Cleared bar rows must paint: their bases used to stay behind, 90 of them for 0 heights."""
    from aegui.gui.dashboard.strip_view import StripView

    view = StripView()
    qtbot.addWidget(view)
    view.show()
    view.show_samples(np.random.default_rng(0).random((9, 10), dtype=np.float32), "vector", (0.0, 1.0))
    view.grab()
    view.clear()
    view.grab()  # an exception while painting fails the test (pytest-qt)
    assert len(view.bars.bars.opts["x"]) == 0
