"""No panel keeps showing, or keeps running, an earlier model (issue 10, section 2).

A tiny real run trains in the window; every view of its model is shown; then the preset and the
dataset change under them. Nothing drawn from the earlier model may stay on screen, each view
says why it is empty, no slot raises, and drawing on the canvas after loading other data runs
no model. A greedy-pretraining run starts with no picture of the run before it, and its progress
and the status bar follow the pretraining. The anomaly view's log axis labels plain numbers
that never overlap.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QComboBox

from aegui.core.data import load_dataset
from aegui.core.presets import fit_to_input, get_preset
from gui_helpers import find_one, set_epochs

RUN_TIMEOUT_MS = 60_000
WAIT_MS = 20_000


def shows_image(grid) -> bool:
    """Whether an ImageGrid (or a SampleView's image grid) has a picture on screen."""
    grid = getattr(grid, "images", grid)
    return grid.image.image is not None


def train_one_epoch(qtbot, window) -> None:
    set_epochs(qtbot, window, 1)
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT_MS):
        window.train()
    assert window.state.runs[-1].stop_reason == "completed"


def show_every_view(qtbot, window) -> None:
    """Bring up each view of the trained model and wait until it has drawn from it."""
    latent, canvas, anomaly = window.latent, window.canvas, window.dashboard.anomaly
    qtbot.waitUntil(lambda: shows_image(window.dashboard.recon.view), timeout=WAIT_MS)

    window.tabs.setCurrentWidget(latent)
    qtbot.waitUntil(lambda: latent.map is not None and shows_image(latent.decoded), timeout=WAIT_MS)
    latent.show_prior_samples()
    qtbot.waitUntil(lambda: shows_image(latent.gallery), timeout=WAIT_MS)

    window.tabs.setCurrentWidget(canvas)
    qtbot.waitUntil(lambda: canvas.model is not None, timeout=WAIT_MS)
    canvas.load_random_sample()
    qtbot.waitUntil(lambda: shows_image(canvas.output), timeout=WAIT_MS)
    assert "the reconstruction follows" in canvas.status.text()

    window.tabs.setCurrentWidget(window.dashboard)
    window.dashboard.tabs.setCurrentWidget(anomaly)
    qtbot.waitUntil(lambda: anomaly.errors is not None, timeout=WAIT_MS)
    assert shows_image(anomaly.worst) and len(anomaly.normal_bars.getData()[0]) and anomaly.line.isVisible()
    window.dashboard.tabs.setCurrentWidget(window.dashboard.live)


def assert_nothing_of_the_old_model(window, why: str) -> None:
    latent, canvas, anomaly, dashboard = window.latent, window.canvas, window.dashboard.anomaly, window.dashboard
    # Latent space: no map, no decoded image, no gallery, and it says why.
    assert latent.map is None and latent.shown_run is None
    assert latent.scatters == [] and not shows_image(latent.decoded) and not shows_image(latent.gallery)
    assert latent.gallery_caption.text() == "" and not latent.prior_button.isEnabled()
    assert latent.status.text().startswith(why)
    # Draw: no model, no reconstruction, and it no longer promises one.
    assert canvas.model is None and not shows_image(canvas.output)
    assert "the reconstruction follows" not in canvas.status.text() and canvas.status.text().startswith(why)
    # Anomalies: no histogram, threshold, scores or worst samples.
    assert anomaly.errors is None and anomaly.auc is None and not anomaly.line.isVisible()
    for bars in (anomaly.normal_bars, anomaly.anomaly_bars):
        assert len(bars.getData()[0]) == 0
    assert not shows_image(anomaly.worst) and anomaly.worst_caption.text() == ""
    assert anomaly.threshold_label.text() == "" and anomaly.status.text().startswith(why)
    # The Live tab: no reconstructions or curves of the old run.
    assert not shows_image(dashboard.recon.view) and dashboard.recon.caption.text() == ""
    assert all(len(curve.getData()[0]) == 0 for curve in dashboard.loss.curves.values())
    assert dashboard.stats.labels["phase"].text().startswith(why)


def test_a_preset_or_dataset_change_clears_every_view_of_the_trained_model(qtbot, window):
    with qtbot.captureExceptions() as exceptions:
        train_one_epoch(qtbot, window)
        show_every_view(qtbot, window)

        # The preset, through the builder as a person changes it.
        combo = find_one(window, QComboBox, "presetCombo")
        combo.setCurrentIndex(combo.findText("vae"))
        combo.activated.emit(combo.currentIndex())  # what a user's pick emits
        assert window.state.spec.name == "vae"
        qtbot.wait(200)  # anything still in flight must not bring the old model back
        assert_nothing_of_the_old_model(window, "The model changed")

        # Other data (32x32 shapes): the spec is refitted and every view says the data changed.
        window.state.set_dataset(load_dataset("shapes"))
        qtbot.wait(200)
        assert_nothing_of_the_old_model(window, "The data changed")

        # Drawing on the canvas now runs no model (it once raised "mat1 and mat2 shapes cannot be
        # multiplied (1x1024 and 784x256)" on every stroke), and each view, shown, stays empty.
        canvas = window.canvas
        window.tabs.setCurrentWidget(canvas)
        assert canvas.paint.image.shape == (1, 32, 32)
        qtbot.mousePress(canvas.paint, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
        for x in range(40, 200, 20):
            qtbot.mouseMove(canvas.paint, QPoint(x, 60))
        qtbot.mouseRelease(canvas.paint, Qt.MouseButton.LeftButton, pos=QPoint(200, 60))
        canvas.add_noise()
        qtbot.wait(100)
        assert canvas.paint.image.max() > 0 and not shows_image(canvas.output)
        window.tabs.setCurrentWidget(window.latent)
        window.tabs.setCurrentWidget(window.dashboard)
        window.dashboard.tabs.setCurrentWidget(window.dashboard.anomaly)
        qtbot.wait(200)
        assert_nothing_of_the_old_model(window, "The data changed")
    assert not exceptions, [str(e[1]) for e in exceptions]


def test_a_hidden_views_waiting_run_is_dropped_with_the_model(qtbot, window):
    """A run that arrived while its view was hidden is not used once the model has changed."""
    with qtbot.captureExceptions() as exceptions:
        train_one_epoch(qtbot, window)
        latent = window.latent
        assert not latent.isVisible() and latent._pending is not None  # never shown yet
        window.state.edit_spec(fit_to_input(get_preset("deep"), "image", (1, 28, 28), True))
        window.tabs.setCurrentWidget(latent)
        qtbot.wait(300)
        assert latent.map is None and not latent.map_worker.busy
        assert latent.status.text().startswith("The model changed")
    assert not exceptions, [str(e[1]) for e in exceptions]


def test_the_live_values_kept_after_a_run_are_not_a_new_model(qtbot, window):
    """The builder writes a learning rate changed during the run back into the spec when it ends:
    the run's own results stay."""
    train_one_epoch(qtbot, window)
    qtbot.waitUntil(lambda: shows_image(window.dashboard.recon.view), timeout=WAIT_MS)
    window.tabs.setCurrentWidget(window.latent)
    qtbot.waitUntil(lambda: window.latent.map is not None, timeout=WAIT_MS)
    spec = window.state.spec
    spec.train.lr = spec.train.lr * 0.5
    assert window.state.edit_spec(spec, "keep the live learning rate")
    assert window.latent.map is not None and shows_image(window.latent.decoded)
    assert shows_image(window.dashboard.recon.view)
    spec.latent.dim += 1  # but the architecture is another model
    assert window.state.edit_spec(spec)
    assert window.latent.map is None and not shows_image(window.latent.decoded)


def test_greedy_pretraining_starts_clean_and_shows_its_progress(qtbot, window, monkeypatch):
    train_one_epoch(qtbot, window)
    qtbot.waitUntil(lambda: shows_image(window.dashboard.recon.view), timeout=WAIT_MS)
    assert window.statusBar().currentMessage().startswith("Training finished")

    ds = window.state.dataset
    spec = fit_to_input(get_preset("stacked"), ds.kind, ds.sample_shape, ds.in_unit_range)
    spec.objective.stacked.epochs_per_layer = 2
    spec.train.epochs = 1
    assert window.state.edit_spec(spec)

    # What the window shows after each dashboard refresh during pretraining.
    seen = []
    dashboard, stats = window.dashboard, window.dashboard.stats
    real_refresh = dashboard.refresh

    def refresh():
        real_refresh()
        report = dashboard._newest
        if report is not None and report.pretraining and stats.labels["phase"].text():
            seen.append((report.stage, report.stages, stats.progress.value(), window.statusBar().currentMessage(),
                         shows_image(dashboard.recon.view), dashboard.recon.caption.text(),
                         stats.labels["phase"].text()))

    monkeypatch.setattr(dashboard, "refresh", refresh)
    dashboard._timer.timeout.disconnect()
    dashboard._timer.timeout.connect(refresh)
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT_MS):
        window.train()
        # The last run's pictures and words are gone as the new run starts.
        assert not shows_image(window.dashboard.recon.view)
        assert window.statusBar().currentMessage() == ""
        assert stats.progress.value() == 0
        qtbot.waitUntil(lambda: len(seen) >= 1, timeout=RUN_TIMEOUT_MS)

    assert seen, "no pretraining report was drawn"
    stage, stages, percent, message, has_image, caption, phase = seen[0]
    assert stages >= 2
    assert message == f"Pretraining layer {stage} of {stages}"
    assert not has_image
    assert any(s[5].startswith("Greedy pretraining") for s in seen)
    assert phase.startswith(f"pretraining layer {stage} of {stages}")
    percents = [s[2] for s in seen]
    assert percents == sorted(percents) and max(percents) > 0, percents
    later = [s for s in seen if s[0] == stages]
    assert not later or later[-1][2] >= int(100 * (stages - 1) / stages)  # the last layer starts past the others
    assert window.statusBar().currentMessage().startswith("Training finished")


# --- the error axis (section 4) -----------------------------------------------------------------------
@pytest.fixture
def axis(qtbot):
    from aegui.gui.dashboard.anomaly_panel import AnomalyPanel

    panel = AnomalyPanel()
    qtbot.addWidget(panel)
    yield panel.plot.getAxis("bottom")
    assert panel.shutdown()


def label_rects(axis, lo: float, hi: float, size: float) -> list[tuple[float, float]]:
    """Each label's (left, right) extent in pixels along the axis."""
    from PySide6.QtGui import QFontMetrics

    (_, values), *_ = axis.tickValues(np.log10(lo), np.log10(hi), size)
    metrics = QFontMetrics(axis.style["tickFont"] or axis.font())
    out = []
    for v, text in zip(values, axis.tickStrings(values, 1.0, 1.0)):
        x = (v - np.log10(lo)) / (np.log10(hi) - np.log10(lo)) * size
        w = metrics.horizontalAdvance(text)
        out.append((x - w / 2, x + w / 2))
    return out


def test_the_error_axis_labels_plain_numbers_that_do_not_overlap(axis):
    # A narrow range, within one decade: the minor values are labelled, as numbers.
    assert axis.labels(np.log10(0.035), np.log10(0.095), 600) == ["0.04", "0.05", "0.06", "0.07", "0.08", "0.09"]
    assert axis.labels(np.log10(0.035), np.log10(0.095), 150) == ["0.04", "0.06", "0.08"]
    # A wide range: decades.
    assert axis.labels(np.log10(1e-4), np.log10(1.0), 200) == ["0.0001", "0.001", "0.01", "0.1", "1"]
    # Narrower than any minor step of a decade still gets round labels.
    assert axis.labels(np.log10(0.0412), np.log10(0.0415), 500) == ["0.0412", "0.0413", "0.0414", "0.0415"]
    for lo, hi in ((0.035, 0.095), (1e-4, 1.0), (0.02, 0.3), (1e-7, 10.0), (0.19, 0.23)):
        for size in (60, 150, 300, 600, 1200):
            rects = label_rects(axis, lo, hi, size)
            assert rects, (lo, hi, size)
            assert all(a[1] < b[0] for a, b in zip(rects, rects[1:])), (lo, hi, size, rects)
            assert not any("·" in s or "x0.0" in s for s in axis.labels(np.log10(lo), np.log10(hi), size))
    assert axis.labelText == "reconstruction error (MSE per sample)" and not axis.autoSIPrefix
