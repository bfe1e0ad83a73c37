"""The Experiments tab: one click runs an experiment's arms in a worker, the view shows the findings,
the measured figures and the pictures; the arms join the Runs tab; the report exports; cancelling
drops everything; the denoiser opens on the Draw tab."""
from __future__ import annotations

import math

import numpy as np
import pytest

from aegui.core.experiments import EXPERIMENTS, view_info
from aegui.gui.widgets.image_grid import ImageGrid, mosaic, to_display
from aegui.gui.state import AppState

WAIT_MS = 120_000


@pytest.fixture
def panel(qtbot, mnist600):
    from aegui.core.presets import fit_to_input, get_preset
    from aegui.gui.panels.experiments import ExperimentsPanel

    spec = fit_to_input(get_preset("ae"), mnist600.kind, mnist600.sample_shape, mnist600.in_unit_range)
    made = ExperimentsPanel(AppState(spec, mnist600))
    qtbot.addWidget(made)
    made.resize(1300, 900)
    made.show()
    qtbot.waitExposed(made)
    yield made
    assert made.shutdown()


def run(qtbot, panel, name: str):
    panel.select(name)
    panel.budget.setCurrentText("tiny")
    panel.run_button.click()
    assert panel.running and not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert panel.result is not None, panel.status.text()
    return panel.result


def test_every_experiment_is_listed_with_its_question(panel):
    titles = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert titles == [e.title for e in EXPERIMENTS.values()]
    panel.select("variational")
    assert EXPERIMENTS["variational"].question in panel.heading.text()
    with pytest.raises(ValueError):
        panel.select("no-such-experiment")


def test_biases_runs_and_its_view_shows_the_measured_figures_and_pictures(qtbot, panel, tmp_path):
    experiment = EXPERIMENTS["biases"]
    seen = []
    panel.runs.runYielded.connect(lambda _id, progress: seen.append(progress))
    result = run(qtbot, panel, "biases")
    assert seen and seen[-1].arm_index == len(experiment.arms) - 1  # progress came, arm by arm
    assert "finished" in panel.status.text()
    # The table is the result's own numbers, an arm a row.
    table = panel.view.table
    assert table.rowCount() == len(experiment.arms) == len(result.arms)
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    column = headers.index("val recon mse")
    for r, arm in enumerate(result.arms):
        assert table.verticalHeaderItem(r).text() == arm.label
        shown = float(table.item(r, column).text())
        assert shown == pytest.approx(arm.figures["val_recon_mse"], rel=1e-3)
    # Each finding is said, with its evidence.
    text = panel.view.findings.text()
    assert result.findings and all(f.evidence.replace("'", "&#x27;") in text or f.evidence in text
                                   for f in result.findings)
    # Every picture the experiment names is drawn: images per arm, or curves with a line per arm.
    names = {w.objectName() for w in panel.view.picture_widgets}
    for view in experiment.views:
        assert any(n.endswith(f"_{view}") or f"_{view}_" in n for n in names), (view, names)
    decoder_bias = panel.findChild(ImageGrid, "experimentImages_decoder_bias_0")
    np.testing.assert_allclose(decoder_bias.image.image, mosaic(to_display(result.arms[0].images["decoder_bias"]),
                                                                view_info("decoder_bias").columns), atol=1e-6)
    # The arms are in the Runs tab, with their artifacts.
    records = panel.state.runs
    assert [r.name for r in records] == [f"biases: {arm.label}" for arm in experiment.arms]
    assert all(r.artifact is arm.run and not r.running for r, arm in zip(records, result.arms))
    # The report exports in the background.
    panel.export(str(tmp_path))
    qtbot.waitUntil(lambda: "Report written" in panel.note.text(), timeout=WAIT_MS)
    assert {"report.md", "report.html", "result.json"} <= {p.name for p in tmp_path.iterdir()}
    assert any(p.suffix == ".png" for p in tmp_path.rglob("*.png"))


def test_cancel_drops_the_run_and_keeps_no_arm(qtbot, panel):
    panel.select("hidden-layers") if "hidden-layers" in EXPERIMENTS else panel.select(next(iter(EXPERIMENTS)))
    panel.budget.setCurrentText("default")
    panel.run_button.click()
    qtbot.waitUntil(lambda: "Arm 1" in panel.status.text(), timeout=WAIT_MS)
    panel.cancel_button.click()
    assert not panel.running and "Cancelled" in panel.status.text() and panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: panel.runs.current is None, timeout=WAIT_MS)
    qtbot.wait(200)
    assert panel.result is None and panel.state.runs == [] and panel.view.table.rowCount() == 0


def test_the_denoiser_opens_on_the_draw_tab_with_a_noisy_digit(qtbot, make_window):
    window = make_window()
    panel = window.experiments
    window.tabs.setCurrentWidget(panel)
    result = run(qtbot, panel, "denoising")
    assert panel.canvas_button.isVisible()
    denoiser = panel.denoiser()
    assert denoiser is result.arms[-1] and denoiser.run.spec.objective.noise.kind == "gaussian"
    with qtbot.waitSignal(window.projects.opened, timeout=WAIT_MS):
        panel.canvas_button.click()
    canvas = window.canvas
    assert window.tabs.currentWidget() is canvas
    qtbot.waitUntil(lambda: canvas.model is not None and canvas.restored is not None, timeout=WAIT_MS)
    noise = denoiser.run.spec.objective.noise
    assert canvas.controls.noise_kind.currentText() == noise.kind
    assert canvas.controls.noise_level.value() == pytest.approx(noise.level)
    assert window.state.spec == denoiser.run.spec
    assert canvas.editor.values.max() > 0 and not np.array_equal(canvas.noisy, canvas.fed)
    assert math.isfinite(float(canvas.restored.mean()))
    qtbot.waitUntil(lambda: not canvas._timer.isActive(), timeout=WAIT_MS)
