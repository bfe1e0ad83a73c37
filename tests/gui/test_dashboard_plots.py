"""Plots that keep their axes and their words: y labels on a narrow log range, a one-epoch run's
validation point, pretraining stages as separate curves with the y range for fine-tuning, a
legend row that never widens the panel, captions elided with the whole text on hover, and a runs
table that is its own legend."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from gui_helpers import draw_dashboard as draw

from aegui.core.reports import Report
from aegui.gui.dashboard.plots import LogAxis
from aegui.gui.dashboard.text import TextLine
from aegui.gui.widgets.diagram import ArchitectureDiagram




def report(step, epochs_total=5, **kw) -> Report:
    fields = dict(kind="progress", step=step, epoch=step // 10, epoch_progress=step / 10, epochs_total=epochs_total,
                  steps_per_epoch=10, samples_per_s=1.0, elapsed_s=1.0, losses={"total": 0.95 - step / 1000})
    fields.update(kw)
    return Report(**fields)


def labels(axis: pg.AxisItem, lo: float, hi: float, pixels: float = 300) -> list[str]:
    """The tick strings an axis draws over the view range (lo, hi), in view units."""
    out = []
    for spacing, values in axis.tickValues(lo, hi, pixels):
        values = [v for v in values if lo <= v <= hi]
        out += [s for s in axis.tickStrings(values, 1.0, spacing) if s]
    return out


@pytest.mark.parametrize("lo, hi", [(0.9, 0.95), (0.3, 2.5), (118.0, 131.0), (0.05, 30.0)])
def test_a_log_axis_keeps_at_least_two_labels_over_any_range(qapp, lo, hi):
    axis = LogAxis("left")
    axis.setLogMode(y=True)
    shown = labels(axis, np.log10(lo), np.log10(hi))
    assert len(shown) >= 2, shown
    if hi / lo < 10:  # under a decade: plain numbers inside the range
        assert all(lo - 1e-9 <= float(s) <= hi + 1e-9 for s in shown)


def test_the_loss_plot_labels_a_narrow_log_range(dashboard, qapp):
    for step in range(1, 41):
        dashboard.add_report(report(step))  # losses 0.949 .. 0.910: under a decade
    draw(dashboard, qapp)
    plot = dashboard.loss.plot
    axis = plot.getAxis("left")
    assert isinstance(axis, LogAxis) and axis.logMode
    lo, hi = plot.getViewBox().viewRange()[1]
    shown = labels(axis, lo, hi, plot.getViewBox().height())
    assert len(shown) >= 2 and all(0.85 < float(s) < 1.0 for s in shown), shown


def test_a_one_epoch_runs_validation_point_is_drawn_as_a_marker(dashboard, qapp):
    for step in range(1, 10):
        dashboard.add_report(report(step, epochs_total=1))
    dashboard.add_report(report(10, epochs_total=1, kind="epoch", val_losses={"total": 0.93, "recon": 0.9}))
    dashboard.add_report(report(10, epochs_total=1, kind="finished", val_losses={"total": 0.93, "recon": 0.9}))
    draw(dashboard, qapp)
    loss = dashboard.loss
    dot = loss.dots["val total"]
    assert isinstance(dot, pg.ScatterPlotItem) and dot.isVisible()
    x, y = dot.getData()
    assert list(x) == [1.0] and y[0] == pytest.approx(np.log10(0.93))
    lo, hi = loss.plot.getViewBox().viewRange()[1]
    assert lo < y[0] < hi  # inside the view
    assert not loss.dots["train total"].isVisible()  # a line of many points needs no marker
    # A second epoch makes it a line: the marker goes.
    dashboard.add_report(report(20, epochs_total=1, kind="epoch", val_losses={"total": 0.92, "recon": 0.9}))
    draw(dashboard, qapp)
    assert not dot.isVisible() and len(loss.curves["val total"].getData()[0]) == 2
    loss.kind_boxes["val"].setChecked(False)  # a hidden curve's marker hides with it
    dashboard.clear()
    dashboard.add_report(report(10, epochs_total=1, kind="epoch", val_losses={"total": 0.93}))
    draw(dashboard, qapp)
    assert not loss.dots["val total"].isVisible()


def test_pretraining_stages_are_separate_curves_and_the_y_range_follows_fine_tuning(dashboard, qapp):
    # Three greedy stages on very different scales (the first reconstructs pixels, deeper ones activations).
    for stage, scale in ((1, 100.0), (2, 5.0), (3, 0.2)):
        for p in (0.5, 1.0):
            dashboard.add_report(report(1, epochs_total=1, stage=stage, stages=3, epoch_progress=p,
                                        losses={"total": scale * (1.5 - p / 2)}))
    draw(dashboard, qapp)
    loss = dashboard.loss
    stages = [key for key in loss.curves if key.startswith("pretrain")]
    assert stages == ["pretrain 1", "pretrain 2", "pretrain 3"]
    assert len({loss.curves[k].opts["pen"].color().name() for k in stages}) == 3
    assert list(loss.term_boxes) == ["pretrain"]  # one legend entry for all stages
    assert loss.plot.getViewBox().viewRange()[0][0] < -2.5  # the x range reaches back to stage 1
    lo, hi = loss.plot.getViewBox().viewRange()[1]
    assert lo < np.log10(0.2) and hi > np.log10(100)  # only pretraining so far: it sets the range
    for step in range(1, 21):  # fine-tuning, losses 0.9 .. 0.93
        dashboard.add_report(report(step, epochs_total=2, losses={"total": 0.93 - step / 1000}))
    draw(dashboard, qapp)
    lo, hi = loss.plot.getViewBox().viewRange()[1]
    assert np.log10(0.85) < lo < np.log10(0.91) and np.log10(0.93) < hi < np.log10(1.0)  # fine-tuning fills it
    x, _ = loss.curves["pretrain 2"].getData()
    assert list(x) == [-1.5, -1.0]  # each stage keeps its own points, not joined to the next


def test_a_run_with_more_terms_does_not_widen_the_dashboard(dashboard, qapp):
    dashboard.add_report(report(1))
    draw(dashboard, qapp)
    width = dashboard.minimumSizeHint().width()
    losses = {t: 1.0 for t in ("total", "recon", "kl", "sparsity", "contractive", "adv_gen", "adv_disc",
                               "recon_mse", "a_long_extra_term", "another_long_extra_term")}
    dashboard.clear()
    dashboard.add_report(report(1, losses=losses))
    draw(dashboard, qapp)
    assert len([b for b in dashboard.loss.term_boxes.values() if not b.isHidden()]) == 10
    assert dashboard.minimumSizeHint().width() == width


def test_text_that_does_not_fit_is_elided_with_the_whole_text_on_hover(qtbot):
    line = TextLine("no reference band: the spec is not a stock preset on a built-in set")
    qtbot.addWidget(line)
    shown, cut = line.shown_lines(60)
    assert cut and shown[0].endswith("…")
    assert line.shown_lines(2000) == ([line.text()], False)
    wrapped = TextLine("first layer: 64 filters 28x28 · right: output bias (learns the data's mean)", lines=2)
    shown, cut = wrapped.shown_lines(120)
    assert len(shown) == 2 and cut and shown[1].endswith("…")
    shown, cut = wrapped.shown_lines(400)
    assert not cut and " ".join(shown) == wrapped.text()


def test_diagram_labels_wrap_and_elide_instead_of_clipping(qtbot):
    diagram = ArchitectureDiagram()
    qtbot.addWidget(diagram)
    lines, cut = diagram.label_lines("out 1x28x28", 60)
    assert lines == ["out", "1x28x28"] and not cut
    lines, cut = diagram.label_lines("out 1x28x28", 20)
    assert len(lines) == 2 and cut  # too narrow even so: elided, the whole label on hover
    assert diagram.label_lines("512", 60) == (["512"], False)
