"""The Draw tab's editors for non-image data, each on its own: the curve editor on `signals` and the
row editor on `transactions`. Strokes are real mouse events sent to the plot's viewport."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from aegui.core.data import load_dataset
from aegui.gui.panels.canvas_curve import CurveEditor, error_ceiling
from aegui.gui.panels.canvas_table import RowEditor, explain, tick_label

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton


@pytest.fixture(scope="module")
def signals():
    return load_dataset("signals")


@pytest.fixture(scope="module")
def transactions():
    return load_dataset("transactions")


def shown(qtbot, editor):
    qtbot.addWidget(editor)
    editor.resize(800, 420)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


@pytest.fixture
def curve(qtbot, signals):
    editor = CurveEditor()
    editor.reset(signals.sample_shape, signals.value_range)
    return shown(qtbot, editor)


@pytest.fixture
def rows(qtbot, transactions):
    editor = RowEditor()
    editor.reset(transactions.sample_shape, transactions.value_range, transactions.feature_names)
    editor.set_units(transactions.feature_mean, transactions.feature_std)
    return shown(qtbot, editor)


def pixel(editor, x, y):
    """The viewport pixel of the view point (x, y) of the editor's drawing plot."""
    scene = editor.view.target.mapViewToScene(QPointF(x, y))
    return editor.view.mapFromScene(scene)


def stroke(qtbot, editor, points, button=LEFT):
    """Press at the first point, move through the rest, release at the last."""
    viewport = editor.view.viewport()
    qtbot.mousePress(viewport, button, pos=pixel(editor, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, pos=pixel(editor, *point))
    qtbot.mouseRelease(viewport, button, pos=pixel(editor, *points[-1]))


def pixel_height(editor) -> float:
    """One pixel of the drawing plot, in value units: how close a drawn value can land."""
    (_, _), (lo, hi) = editor.view.target.viewRange()
    return (hi - lo) / editor.view.target.height()


def record(editor) -> list[str]:
    events = []
    editor.strokeStarted.connect(lambda: events.append("started"))
    editor.changed.connect(lambda: events.append("changed"))
    return events


# --- the curve editor ------------------------------------------------------------------------------
def test_reset_gives_a_blank_curve_of_the_sample_shape(curve, signals):
    assert curve.values.shape == signals.sample_shape == (128, 1)
    assert curve.values.dtype == np.float32 and not curve.values.any()
    assert curve.view.target.viewRange()[0] == pytest.approx([0, 127])
    assert not curve.channel_row.isVisibleTo(curve)  # one channel: nothing to choose


def test_a_fast_stroke_sets_every_step_it_crosses_and_nothing_else(qtbot, curve):
    events = record(curve)
    view_before = curve.view.target.viewRange()
    stroke(qtbot, curve, [(30, -2.0), (50, 2.0)])  # one move across 20 steps
    drawn = curve.values[:, 0]
    expected = np.interp(np.arange(30, 51), [30, 50], [-2.0, 2.0])
    np.testing.assert_allclose(drawn[30:51], expected, atol=3 * pixel_height(curve))
    assert not drawn[:30].any() and not drawn[51:].any()
    assert events[0] == "started" and events.count("started") == 1 and "changed" in events
    assert curve.view.target.viewRange() == view_before  # the drag drew; it did not pan
    np.testing.assert_array_equal(curve.clean_curve.getData()[1], drawn)


def test_right_drag_returns_the_values_under_it_to_the_mean(qtbot, curve):
    curve.set_values(np.ones((128, 1), np.float32))
    stroke(qtbot, curve, [(60, 1.0), (64, 0.0), (70, -1.0)], button=RIGHT)
    assert not curve.values[60:71, 0].any()
    assert (curve.values[:60, 0] == 1).all() and (curve.values[71:, 0] == 1).all()


def test_the_mouse_draws_only_the_chosen_channel(qtbot, curve):
    curve.reset((64, 3), (-3.0, 3.0))
    assert curve.channel_row.isVisibleTo(curve) and len(curve.channel_curves) == 3
    curve.channel.setValue(2)
    stroke(qtbot, curve, [(10, 1.5), (12, 1.5)])
    assert curve.values[10:13, 2] == pytest.approx([1.5] * 3, abs=3 * pixel_height(curve))
    assert not curve.values[:, :2].any()
    np.testing.assert_array_equal(curve.channel_curves[2].getData()[1], curve.values[:, 2])


def test_set_values_copies_the_drawing_and_says_so(qtbot, curve, signals):
    sample = signals.x[7].copy()
    with qtbot.waitSignal(curve.changed, timeout=1000):
        curve.set_values(sample)
    sample[:] = 0
    np.testing.assert_array_equal(curve.values, signals.x[7])
    assert curve.values.dtype == np.float32
    with pytest.raises(ValueError, match="does not fit"):
        curve.set_values(np.zeros((10, 1)))


def test_show_result_overlays_the_given_layers_and_their_error(curve, signals):
    clean = signals.x[3]
    noisy, restored = clean + 0.5, clean * 0.9
    curve.set_values(clean)
    curve.show_result(noisy, restored)
    np.testing.assert_allclose(curve.noisy_curve.getData()[1], noisy[:, 0])
    np.testing.assert_allclose(curve.restored_curve.getData()[1], restored[:, 0])
    np.testing.assert_allclose(curve.error_curve.getData()[1], np.abs(restored - clean)[:, 0], rtol=1e-6)
    assert curve.noisy_curve.isVisible() and curve.restored_curve.isVisible() and curve.error_curve.isVisible()
    top = curve.error_plot.getViewBox().viewRange()[1][1]
    assert top >= np.abs(restored - clean).max()  # the error plot's range holds the whole error
    curve.show_result(None, restored)
    assert not curve.noisy_curve.isVisible() and curve.restored_curve.isVisible()
    curve.show_result(noisy, None)
    assert not curve.restored_curve.isVisible() and not curve.error_curve.isVisible()


def test_the_error_axis_keeps_its_top_until_the_error_outgrows_it_or_falls_far_under_it():
    assert error_ceiling(0.0, 0.3) == 0.5  # the first error sets it, a 1-2-5 value above
    assert error_ceiling(0.5, 0.4) == 0.5 and error_ceiling(0.5, 0.13) == 0.5  # no re-layout per frame
    assert error_ceiling(0.5, 0.6) == 1.0
    assert error_ceiling(0.5, 0.1) == 0.2
    assert error_ceiling(0.5, 0.0) == 0.5


def test_the_curve_picture_grabs_the_plots(curve):
    image = curve.picture().grab()
    assert not image.isNull() and image.width() > 100 and image.height() > 100


# --- the row editor ----------------------------------------------------------------------------------
def test_reset_gives_a_blank_row_named_by_the_features(rows, transactions):
    assert rows.values.shape == transactions.sample_shape == (10,)
    assert rows.values.dtype == np.float32 and not rows.values.any()
    ticks = rows.plot.getAxis("bottom")._tickLevels[0]
    assert [t[1].replace("\n", "_") for t in ticks][:2] == ["amount", "hour"]


def test_a_drag_moves_the_pressed_bar_only(qtbot, rows):
    events = record(rows)
    view_before = rows.view.target.viewRange()
    stroke(qtbot, rows, [(2, 0.0), (2.4, 3.0), (4.0, 5.0)])  # ends over another bar: still bar 2
    assert rows.values[2] == pytest.approx(5.0, abs=3 * pixel_height(rows))
    assert not np.delete(rows.values, 2).any()
    assert events[0] == "started" and events.count("started") == 1 and "changed" in events
    assert rows.view.target.viewRange() == view_before
    assert rows.bars.opts["height"] == pytest.approx(rows.values)


def test_a_right_click_returns_a_feature_to_the_mean(qtbot, rows):
    rows.set_values(np.arange(1, 11, dtype=np.float32))
    events = record(rows)
    stroke(qtbot, rows, [(3, 8.0)], button=RIGHT)
    assert rows.values[3] == 0 and events == ["started", "changed"]
    np.testing.assert_array_equal(np.delete(rows.values, 3), np.delete(np.arange(1, 11), 3))


def test_the_explanation_names_the_largest_error_first(rows, transactions):
    clean = transactions.x[0]
    restored = clean.copy()
    names = transactions.feature_names
    restored[names.index("distance_from_home_km")] += 3.0  # squared error 9
    restored[names.index("amount")] += 2.0  # squared error 4
    rows.set_values(clean)
    rows.show_result(clean + 0.1, restored)
    assert rows.explanation() == "most of the error: distance_from_home_km 69%, amount 31%"
    rows.show_result(None, None)
    assert rows.explanation() == ""


def test_explain_stops_once_most_of_the_error_is_named():
    names = ["a", "b", "c", "d"]
    assert explain(np.array([0.0, 85.0, 10.0, 5.0]), names) == "most of the error: b 85%"
    assert explain(np.array([30.0, 30.0, 20.0, 20.0]), names) == "most of the error: a 30%, b 30%, c 20%"
    assert explain(np.zeros(4), names) == "no reconstruction error"


def test_row_show_result_marks_the_layers_and_the_squared_error(rows, transactions):
    clean = transactions.x[2]
    noisy, restored = clean + 0.25, clean * 0.5
    rows.set_values(clean)
    rows.show_result(noisy, restored)
    np.testing.assert_allclose(rows.noisy_markers.getData()[1], noisy)
    np.testing.assert_allclose(rows.restored_markers.getData()[1], restored)
    heights = rows.error_bars.getData()[1]
    np.testing.assert_allclose(heights[0::2], (restored - clean) ** 2, rtol=1e-6)
    assert not heights[1::2].any()  # the gaps between the error bars
    rows.show_result(None, restored)
    assert not rows.noisy_markers.isVisible() and rows.restored_markers.isVisible()
    rows.show_result(noisy, None)
    assert not rows.restored_markers.isVisible() and not rows.error_bars.isVisible()


def test_the_tooltip_gives_raw_units_when_the_canvas_gives_them(rows, transactions):
    rows.set_values(np.full(10, 2.0, np.float32))
    raw = 2.0 * transactions.feature_std[0] + transactions.feature_mean[0]
    assert rows.describe(0) == f"amount: +2.00 (standardised) = {raw:.4g}"
    rows.set_units(None, None)
    assert rows.describe(0) == "amount: +2.00 (standardised)"
    with pytest.raises(ValueError, match="do not fit"):
        rows.set_units(np.zeros(3), np.ones(3))


def test_hovering_a_bar_names_it_in_the_tooltip(qtbot, rows):
    rows.set_values(np.full(10, -1.0, np.float32))
    qtbot.mouseMove(rows.view.viewport(), pos=pixel(rows, 4, 2.0))  # over the column, above the bar
    assert rows.view.target.toolTip() == rows.describe(4)
    assert rows.describe(4).startswith("amount_to_median: -1.00 (standardised) = ")
    assert (rows.values == -1).all()  # hovering edits nothing


def test_long_feature_names_wrap_into_short_lines():
    assert tick_label("amount") == "amount"
    assert tick_label("distance_from_home_km") == "distance\nfrom_home\nkm"
    assert all(len(line) <= 10 for line in tick_label("transactions_last_24h_and_more_words").split("\n"))


def test_the_row_picture_grabs_the_plots_and_the_explanation(rows):
    assert rows.explanation_label in rows.picture().findChildren(type(rows.explanation_label))
    image = rows.picture().grab()
    assert not image.isNull() and image.width() > 100 and image.height() > 100
