"""The live dashboard fed synthetic reports: curves, bars and images update, with the right
number of points; only the newest report is drawn; panels that do not apply collapse."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gui_helpers import draw_dashboard as draw

from aegui.core.reports import Report
from aegui.gui.dashboard.code_panels import KL_USED_NATS
from aegui.gui.dashboard.weights_panel import NO_BIAS_TEXT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from dashboard_refresh import synthetic_report  # noqa: E402




def feed(d, reports) -> None:
    for r in reports:
        d.add_report(r)


def simple(step, kind="progress", **kw) -> Report:
    fields = dict(kind=kind, step=step, epoch=step // 10, epoch_progress=step / 10, epochs_total=5,
                  steps_per_epoch=10, samples_per_s=1234.0, elapsed_s=step / 10, device="cpu", lr=1e-3,
                  losses={"total": 2.0 + 1 / step, "recon": 1.5 + 1 / step})
    fields.update(kw)
    return Report(**fields)


def test_synthetic_reports_update_curves_bars_and_images(dashboard, qapp):
    rng = np.random.default_rng(0)
    reports = [synthetic_report(i, rng, epochs_total=20) for i in range(40)]
    feed(dashboard, reports)
    draw(dashboard, qapp)
    last = reports[-1]
    assert dashboard.reports_drawn >= 4

    # Loss: every term, training and validation; each point drawn (this few need no decimation).
    # Epoch reports add validation points; their whole-epoch training means are not drawn.
    curves = dashboard.loss.curves
    assert {"train total", "train recon", "train kl", "train sparsity", "val total", "val recon"} <= set(curves)
    x, y = curves["train recon"].getData()
    hist = dashboard.recorder.curves["train recon"]
    assert len(x) == len(hist) == sum(r.kind == "progress" for r in reports)
    assert np.allclose(y, np.log10(hist.values))  # the log axis gets log10 values
    assert len(curves["val total"].getData()[0]) == sum(r.kind == "epoch" for r in reports)

    # Sparsity: one bar per unit at its mean activation, the target line, the histogram of the snapshot.
    edges, heights = dashboard.sparsity.bars.getData()
    assert np.allclose(heights, last.code_mean) and len(edges) == 65
    assert dashboard.sparsity.target_line.value() == pytest.approx(0.05)
    assert dashboard.sparsity.hist.getData()[1].sum() == last.code_sample.size
    assert len(dashboard.sparsity.dead_curve.getData()[0]) == 40

    # VAE health: KL bars of the dimensions in use.
    kl_heights = dashboard.vae.active_bars.getData()[1]
    used = last.kl_per_dim >= KL_USED_NATS
    assert np.allclose(kl_heights[used], last.kl_per_dim[used]) and not kl_heights[~used].any()

    # Images: input / corrupted / output rows of 8, the 64 filters as 8x8 tiles, the bias, the attention.
    assert dashboard.recon_grid.image.image.shape == (3 * 29 - 1, 8 * 29 - 1)
    assert np.allclose(dashboard.recon_grid.image.image[58:86, :28], last.reconstructions[0, 0])
    assert dashboard.weights.filter_image.image.shape == (8 * 29 - 1, 8 * 29 - 1)  # gaps: a value the LUT colours
    assert dashboard.weights.bias_view.isVisible() and dashboard.weights.bias_image.image.shape == (28, 28)
    assert dashboard.attention.image.image.shape == (2 * 29 - 1, 4 * 29 - 1, 3)

    # Statistics.
    texts = {k: label.text() for k, label in dashboard.stats.labels.items()}
    assert f"step {last.step:,}" in texts["phase"] and "samples/s" in texts["speed"]
    assert texts["device"] == "device cpu" and texts["lr"] == "lr 0.001"
    assert "β 1" in texts["knob"] and "noise 0.3" in texts["knob"]
    assert dashboard.progress.value() == int(100 * last.epoch_progress / 20)


def test_only_the_newest_report_is_drawn(dashboard, qapp):
    feed(dashboard, [simple(4), simple(8), simple(12)])
    draw(dashboard, qapp)
    assert "step 12" in dashboard.stats.labels["phase"].text()
    assert len(dashboard.loss.curves["train total"].getData()[0]) == 3  # every report was recorded
    drawn = dashboard.reports_drawn
    dashboard.refresh()  # nothing new: no drawing, and the timer stops
    assert dashboard.reports_drawn == drawn and not dashboard._timer.isActive()


def test_long_histories_are_peak_decimated_for_drawing(dashboard, qapp):
    reports = [simple(s, epochs_total=400) for s in range(1, 3001)]
    reports[1500].losses["total"] = 50.0  # a spike must survive the decimation
    for r in reports:
        dashboard.recorder.add(r)
    dashboard.add_report(simple(3001, epochs_total=400))
    draw(dashboard, qapp)
    x, y = dashboard.loss.curves["train total"].getData()
    width = dashboard.loss.plot.getViewBox().width()
    assert len(x) <= width + 10 < 3000
    assert y.max() == pytest.approx(np.log10(50.0))


def test_axis_units_log_scale_smoothing_and_legend_toggles(dashboard, qapp):
    feed(dashboard, [simple(s, kind="epoch" if s % 10 == 0 else "progress",
                            val_losses={"total": 2.5, "recon": 2.0} if s % 10 == 0 else None) for s in range(1, 31)])
    draw(dashboard, qapp)
    loss = dashboard.loss
    hist = dashboard.recorder.curves["train total"]
    loss.log_check.setChecked(False)
    assert np.allclose(loss.curves["train total"].getData()[1], hist.values)
    loss.x_combo.setCurrentText("steps")
    assert np.allclose(loss.curves["train total"].getData()[0], hist.steps)
    assert loss.plot.getViewBox().viewRange()[0][1] >= 50  # the run's length in steps
    loss.smooth_slider.setValue(90)
    assert np.allclose(loss.curves["train total"].getData()[1], hist.smoothed)
    assert not np.allclose(hist.smoothed, hist.values)
    loss.term_boxes["recon"].setChecked(False)
    assert not loss.curves["train recon"].isVisible() and not loss.curves["val recon"].isVisible()
    assert loss.curves["train total"].isVisible()
    loss.kind_boxes["val"].setChecked(False)
    assert not loss.curves["val total"].isVisible() and loss.curves["train total"].isVisible()


def test_live_changes_are_marked_on_the_loss_plot(dashboard, qapp):
    feed(dashboard, [simple(5), simple(10, live_changes={"lr": 0.005}), simple(15)])
    draw(dashboard, qapp)
    markers = dashboard.loss._markers
    assert len(markers) == 1 and markers[0].value() == pytest.approx(1.0)  # epoch 1.0
    assert "lr 0.005" in markers[0].label.format
    dashboard.loss.x_combo.setCurrentText("steps")
    assert markers[0].value() == pytest.approx(10)
    # The next run reuses the marker line: it must show the new change, not the old one's text.
    dashboard.clear()
    feed(dashboard, [simple(2)])
    draw(dashboard, qapp)  # no change yet in this run: the old line is hidden
    assert not markers[0].isVisible()
    feed(dashboard, [simple(5), simple(10, live_changes={"beta": 3.0}), simple(15)])
    draw(dashboard, qapp)
    assert markers[0].isVisible() and "β 3" in markers[0].label.toPlainText()
    assert "lr" not in markers[0].label.toPlainText()


def test_panels_that_do_not_apply_collapse_and_say_why(dashboard, qapp):
    feed(dashboard, [simple(1, code_mean=np.zeros(8, np.float32))])
    draw(dashboard, qapp)
    sections = dashboard.sections
    assert not sections["sparsity"].relevant and "no sparsity" in sections["sparsity"].header.text()
    assert not sections["vae"].relevant and "not a variational" in sections["vae"].header.text()
    assert not sections["attention"].relevant and sections["weights"].relevant
    dashboard.clear()
    feed(dashboard, [simple(1, kl_per_dim=np.ones(4, np.float32), beta=1.0)])
    draw(dashboard, qapp)
    assert sections["vae"].relevant and sections["vae"].header.text() == "VAE health"


def test_posterior_collapse_is_flagged_after_the_warm_up(dashboard, qapp):
    kl = np.array([0.05, 0.001, 0.002, 0.0, 0.03], np.float32)  # no dimension carries anything
    feed(dashboard, [simple(5, kl_per_dim=kl, beta=1.0)])  # half an epoch: too early to judge
    draw(dashboard, qapp)
    assert dashboard.vae.warning.text() == ""
    assert dashboard.vae.caption.text().startswith("0/5 dims in use")
    feed(dashboard, [simple(25, kl_per_dim=kl, beta=1.0)])
    draw(dashboard, qapp)
    assert dashboard.vae.warning.text().startswith("Posterior collapse") and dashboard.vae.collapsed


def test_a_model_without_biases_says_so(dashboard, qapp):
    filters = np.random.default_rng(0).normal(size=(16, 1, 3, 3)).astype(np.float32)  # conv kernels
    feed(dashboard, [simple(1, filters=filters, output_bias=None)])
    draw(dashboard, qapp)
    assert dashboard.weights.bias_note.text() == NO_BIAS_TEXT
    assert not dashboard.weights.bias_view.isVisible()
    assert dashboard.weights.filter_image.image.shape == (4 * 10 - 1, 4 * 10 - 1)  # 3x3 kernels drawn 9x9
    assert "output bias" not in dashboard.weights.caption.text()  # no talk of a picture that is not there


def test_a_report_without_pictures_keeps_the_bias_shown(dashboard, qapp):
    bias = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    feed(dashboard, [simple(1, output_bias=bias)])
    draw(dashboard, qapp)
    assert dashboard.weights.bias_view.isVisible() and dashboard.weights.bias_note.text() == ""
    dashboard.weights.draw(simple(2))  # most live reports carry no pictures (it said "no output bias")
    assert dashboard.weights.bias_view.isVisible() and dashboard.weights.bias_note.text() == ""


def test_capsules_and_signals(dashboard, qapp):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 128, 1)).astype(np.float32)
    lengths = rng.random((16, 10)).astype(np.float32)
    feed(dashboard, [simple(1, inputs=x, reconstructions=x * 0.5, capsule_lengths=lengths,
                            filters=rng.normal(size=(8, 128, 1)).astype(np.float32),
                            output_bias=np.zeros((128, 1), np.float32))])
    draw(dashboard, qapp)
    assert dashboard.sections["attention"].relevant
    assert dashboard.attention.image.image.shape == (16, 10) and dashboard.attention.mode == "capsules"
    view = dashboard.recon.view
    assert view.currentWidget() is view.traces  # signals are traces, not one-pixel strips
    xs, _ = view.traces.curves[0].getData()
    assert len(xs) == 8 * (128 + 1)  # 8 samples of 128 steps, NaN between them
    assert dashboard.weights.filter_image.image.shape == (8, 128)


def test_the_step_slider_scrubs_back_through_snapshots(dashboard, qapp):
    base = np.zeros((16, 1, 28, 28), np.float32)
    for step in range(1, 21):
        dashboard.add_report(simple(step, inputs=base, reconstructions=base + step / 100))
    draw(dashboard, qapp)
    recon = dashboard.recon
    assert len(dashboard.ring) == 20 and recon.following
    recon.slider.setValue(0)
    assert not recon.following and recon.step_label.text().startswith("step 1 ")
    assert dashboard.recon_grid.image.image[30, 0] == pytest.approx(0.01, abs=1e-3)
    dashboard.add_report(simple(21, inputs=base, reconstructions=base + 0.21))
    draw(dashboard, qapp)
    assert dashboard.recon_grid.image.image[30, 0] == pytest.approx(0.01, abs=1e-3)  # held while scrubbing
    recon.slider.setValue(recon.slider.maximum())
    assert recon.following and recon.step_label.text().startswith("live")
    assert dashboard.recon_grid.image.image[30, 0] == pytest.approx(0.21, abs=1e-3)


def test_shutdown_stops_the_timer(dashboard):
    dashboard.add_report(simple(1))
    assert dashboard._timer.isActive()
    dashboard.shutdown()
    assert not dashboard._timer.isActive()


def test_the_closing_report_keeps_the_last_step_figures(dashboard, qapp):
    # The finished report carries no gradient norm or step loss; the last ones stay on show.
    feed(dashboard, [simple(1, grad_norm=3.25)])
    draw(dashboard, qapp)
    feed(dashboard, [simple(50, kind="finished", losses={}, stop_reason="completed")])
    draw(dashboard, qapp)
    labels = dashboard.stats.labels
    assert labels["grad"].text() == "grad norm 3.25"
    assert labels["loss"].text().startswith("loss 3")
    assert "finished in" in labels["eta"].text() or "completed" in labels["eta"].text()


def test_a_live_change_retires_the_reference_band(dashboard, qapp):
    import numpy as np

    from aegui.gui.dashboard.reference import ReferenceBand

    epochs = np.arange(1, 4, dtype=np.float64)
    band = ReferenceBand("mnist5k", "ae", "total", epochs, epochs * 0 + 1, epochs * 0 + 2, "tip")
    dashboard.loss.set_reference(band)
    feed(dashboard, [simple(5)])
    assert dashboard.loss.band is band
    feed(dashboard, [simple(10, live_changes={"lr": 0.01})])
    assert dashboard.loss.band is None
    assert "changed while training" in dashboard.loss.reference_label.toolTip()
    draw(dashboard, qapp)


def test_the_empty_loss_plot_says_what_will_appear(dashboard, qapp):
    placeholder = dashboard.loss._placeholder
    assert placeholder.isVisible() and "once training starts" in placeholder.textItem.toPlainText()
    feed(dashboard, [simple(5)])
    draw(dashboard, qapp)
    assert not placeholder.isVisible()
    dashboard.clear()
    assert placeholder.isVisible()
