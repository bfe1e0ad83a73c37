"""The guided experiments engine: every experiment runs headless on the tiny budget and holds what its
view shows, a seed repeats its figures, the verdicts follow the numbers, and the report is complete."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from aegui.core.experiments import (
    BUDGET_NAMES, EXPERIMENTS, VIEWS, WALL_CLOCK_FIGURES, ArmResult, Cancelled, ExperimentProgress, ExperimentResult,
    get_experiment, iter_experiment, run_experiment,
)
from aegui.core.experiments.measures import PROVIDERS
from aegui.core.experiments.report import write_report
from aegui.core.experiments.runner import apply_override, arm_spec, experiment_data
from aegui.core.experiments.verdicts import Comparison, biases, paired
from aegui.core.presets import get_preset
from aegui.core.run import RunArtifact

BASIC = ("val_recon_mse", "seconds", "params")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """As the CLI trains: one thread (a busy 2-core machine stalls a team of two), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_results():
    """Every experiment, run once on the tiny budget (shared by the tests that look at results)."""
    return {name: run_experiment(experiment, "tiny", seed=0) for name, experiment in EXPERIMENTS.items()}


def view_values(arm: ArmResult, name: str) -> list[np.ndarray]:
    """The arrays arm ``arm`` holds for view ``name``, as VIEWS says the view is drawn."""
    kind = VIEWS[name].kind
    if kind == "images":
        return [arm.images[name]]
    if kind == "scatter":
        return [np.asarray(arm.curves[f"{name}.{axis}"], np.float64) for axis in ("x", "y")]
    return [np.asarray(arm.curves[name], np.float64)]


# --- the catalogue ------------------------------------------------------------------------------------
def test_every_named_figure_and_view_has_a_measure_and_a_way_to_be_drawn():
    for experiment in EXPERIMENTS.values():
        for name in experiment.figures + experiment.views:
            assert name in PROVIDERS, (experiment.name, name)
        for name in experiment.views:
            assert name in VIEWS, (experiment.name, name)
        assert set(BASIC) <= set(experiment.figures), experiment.name
        assert set(experiment.budgets) == set(BUDGET_NAMES), experiment.name
        assert len(experiment.arms) >= 2 and len({a.label for a in experiment.arms}) == len(experiment.arms)


@pytest.mark.parametrize("budget", BUDGET_NAMES)
def test_every_arm_builds_a_valid_spec_with_its_overrides_at_every_budget(budget):
    for experiment in EXPERIMENTS.values():
        dataset, _ = experiment_data(experiment, "tiny", 0)  # the data's shape is all a spec needs here
        for i, arm in enumerate(experiment.arms):
            spec = arm_spec(experiment, i, dataset, budget, seed=5)
            assert spec.train.epochs == experiment.budgets[budget].epochs
            assert spec.train.seed == 5 and spec.train.report_every_steps > 0
            for path, value in arm.overrides.items():
                if "[" not in path and not hasattr(value, "what"):
                    from aegui.core.spec_rules import get_path

                    assert get_path(spec, path) == value, (experiment.name, arm.label, path)


def test_overrides_reach_every_layer_and_a_misspelt_path_is_refused():
    spec = get_preset("deep")
    apply_override(spec, "encoder.layers[*].bias", False)
    assert [layer.bias for layer in spec.encoder.layers] == [False, False, False]
    apply_override(spec, "encoder.layers[1].units", 77)
    assert spec.encoder.layers[1].units == 77
    with pytest.raises(ValueError, match="names no field"):
        apply_override(spec, "train.learning_rate", 0.1)


def test_the_biases_arm_starts_its_output_bias_at_the_data_mean():
    experiment = get_experiment("biases")
    dataset, _ = experiment_data(experiment, "tiny", 0)
    spec = arm_spec(experiment, 2, dataset, "tiny", 0)
    mean = float(dataset.as_float().mean())
    assert 1 / (1 + math.exp(-spec.decoder.output_bias_init)) == pytest.approx(mean, abs=0.01)
    no_bias = arm_spec(experiment, 1, dataset, "tiny", 0)
    assert not no_bias.decoder.output_bias and not no_bias.latent.bias
    assert not any(layer.bias for layer in no_bias.encoder.layers)


def test_an_unknown_experiment_or_budget_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="unknown experiment 'nope'; choose one of biases"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        run_experiment(get_experiment("biases"), "huge")


# --- running every experiment -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_runs_on_tiny_and_holds_every_figure_and_picture_it_names(name, tiny_results, tmp_path):
    experiment, result = EXPERIMENTS[name], tiny_results[name]
    assert [arm.label for arm in result.arms] == [arm.label for arm in experiment.arms]
    for arm in result.arms:
        assert isinstance(arm.run, RunArtifact) and arm.run.result is not None
        for figure in experiment.figures:
            value = arm.figures[figure]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (name, arm.label, figure)
            assert math.isfinite(value), (name, arm.label, figure, value)
        for view in experiment.views:
            for values in view_values(arm, view):
                assert np.isfinite(values).all(), (name, arm.label, view)
            if VIEWS[view].kind == "images":
                images = arm.images[view]
                assert images.ndim == 4 and len(images) > 0 and images.min() >= 0 and images.max() <= 1, (name, view)
            elif VIEWS[view].kind == "scatter":
                assert len(arm.curves[f"{view}.x"]) == len(arm.curves[f"{view}.y"]) > 0
            elif VIEWS[view].kind == "bars":
                assert len(arm.curves[view]) > 0
    assert result.findings, name
    for finding in result.findings:
        assert finding.holds in (True, False, None)
        assert any(c.isdigit() for c in finding.evidence), finding.evidence  # measured numbers, not canned text
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["name"] == name and data["budget"] == "tiny" and len(data["arms"]) == len(experiment.arms)
    assert all(set(BASIC) <= set(arm) and "label" in arm for arm in data["arms"])
    written = write_report(result, experiment, tmp_path)
    for view in experiment.views:
        with Image.open(written[f"{view}.png"]) as picture:
            assert picture.width > 100 and picture.height > 100
    assert {"report.md", "report.html", "result.json", "figures.png"} <= set(written)


def test_the_learning_rate_sweep_shows_the_nan_guard_at_its_highest_rate(tiny_results):
    result = tiny_results["learning-rate"]
    top = result.arms[-1]
    assert top.figures["diverged"] == 1
    assert "NaN" in top.message and "restored" in top.message
    assert all(arm.figures["diverged"] == 0 for arm in result.arms[:-1])
    assert result.findings[0].holds is True and top.message in result.findings[0].evidence


def test_the_biases_experiment_is_reproducible_with_a_seed():
    experiment = get_experiment("biases")
    first, second = (run_experiment(experiment, "tiny", seed=3) for _ in range(2))
    other = run_experiment(experiment, "tiny", seed=4)

    def figures(result: ExperimentResult) -> list[dict]:
        return [{k: v for k, v in arm.figures.items() if k not in WALL_CLOCK_FIGURES} for arm in result.arms]

    assert figures(first) == figures(second)
    for a, b in zip(first.arms, second.arms):
        assert a.curves == b.curves
        assert a.images.keys() == b.images.keys()
        assert all(np.array_equal(a.images[k], b.images[k]) for k in a.images)
    assert [f.to_json() for f in first.findings] == [f.to_json() for f in second.findings]
    assert figures(other) != figures(first)  # the seed is what the figures depend on


# --- callbacks: progress, cancel, a caller's own training --------------------------------------------------
def test_progress_names_each_arm_and_cancel_stops_with_cancelled():
    experiment = get_experiment("contractive")
    seen = []
    run_experiment(experiment, "tiny", progress=seen.append)
    assert {(p.arm_index, p.arm_count) for p in seen} == {(0, 2), (1, 2)}
    assert any(p.epoch == p.epochs and "epoch" in p.message for p in seen)
    with pytest.raises(Cancelled):
        run_experiment(experiment, "tiny", cancel=lambda: True)


def test_iter_experiment_yields_the_progress_and_returns_the_result():
    steps = iter_experiment(get_experiment("contractive"), "tiny", seed=0)
    seen = []
    while True:
        try:
            seen.append(next(steps))
        except StopIteration as finished:
            result = finished.value
            break
    assert all(isinstance(p, ExperimentProgress) for p in seen) and len(seen) >= 4
    assert isinstance(result, ExperimentResult) and [a.label for a in result.arms] == ["plain AE", "contractive"]


def test_a_callers_train_arm_trains_each_arm_with_the_arm_spec_and_seed():
    from aegui.core.training import Trainer

    calls = []

    def train_arm(spec, dataset, label, seed):
        calls.append((label, seed, spec.train.seed, spec.objective.contractive.weight))
        trainer = Trainer(spec, dataset)
        trainer.fit()
        return RunArtifact.from_trainer(trainer)

    result = run_experiment(get_experiment("contractive"), "tiny", seed=2, train_arm=train_arm)
    assert calls == [("plain AE", 2, 2, 0.0), ("contractive", 2, 2, 1.0)]
    assert [arm.run.spec.objective.contractive.weight for arm in result.arms] == [0.0, 1.0]


# --- verdicts --------------------------------------------------------------------------------------------
def test_a_difference_within_the_noise_is_inconclusive_and_a_clear_one_is_not():
    assert Comparison(a=1.0, b=1.01, diff=-0.01, se=0.01, n=100).lower() is None  # under twice the noise
    assert Comparison(a=1.0, b=1.01, diff=-0.01, se=0.0001, n=100).lower() is None  # under 2% of the values
    assert Comparison(a=1.0, b=1.2, diff=-0.2, se=0.01, n=100).lower() is True
    assert Comparison(a=1.2, b=1.0, diff=0.2, se=0.01, n=100).lower() is False


def fake_biases(intensity_without: float, mse_without: float, n: int = 200) -> ExperimentResult:
    """A biases result with chosen numbers: the arm without biases at the given per-sample values."""
    rng = np.random.default_rng(0)

    def arm(label, intensity, mse):
        noise = rng.normal(0, 0.001, n)
        figures = {"data_mean_intensity": 0.13, "mean_intensity": 0.13 + intensity, "val_mse_epoch1": 0.05,
                   "val_recon_mse": mse}
        curves = {"samples.intensity_error": (intensity + noise).tolist(), "samples.val_mse": (mse + noise).tolist()}
        return ArmResult(label, figures, curves, {}, None)

    arms = [arm("with biases", 0.01, 0.03), arm("no biases", intensity_without, mse_without),
            arm("output bias at the data's mean", 0.01, 0.03)]
    return ExperimentResult("biases", "tiny", 0, arms, [])


def test_the_biases_verdict_follows_the_numbers_and_says_when_the_run_contradicts_the_tutorial():
    agrees = biases(fake_biases(intensity_without=0.05, mse_without=0.05))
    assert [f.holds for f in agrees[:2]] == [True, True]
    fake = fake_biases(intensity_without=0.002, mse_without=0.02)
    contradicts = biases(fake)
    assert [f.holds for f in contradicts[:2]] == [False, False]
    measured = np.mean(fake.arm("no biases").curves["samples.val_mse"])
    assert f"{measured:.4g} against" in contradicts[1].evidence  # the run's own number
    level = biases(fake_biases(intensity_without=0.01, mse_without=0.03))
    assert [f.holds for f in level[:2]] == [None, None]
    assert paired(fake_biases(0.05, 0.05), "no biases", "with biases", "samples.val_mse").n == 200


def test_the_report_is_self_contained_and_escapes_its_text(tiny_results, tmp_path):
    experiment, result = EXPERIMENTS["biases"], tiny_results["biases"]
    result.arms[0].message = "<script>alert(1)</script>"
    try:
        written = write_report(result, experiment, tmp_path)
    finally:
        result.arms[0].message = ""
    page = written["report.html"].read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("data:image/png;base64,") == len(experiment.views) + 1
    assert "src='http" not in page and 'src="http' not in page
    text = written["report.md"].read_text(encoding="utf-8")
    assert text.startswith(f"# {experiment.title}") and experiment.question in text
    for arm in result.arms:
        assert f"| {arm.label} |" in text
    for finding in result.findings:
        assert finding.evidence in text
    for view in experiment.views:
        assert f"]({view}.png)" in text
    saved = json.loads(written["result.json"].read_text(encoding="utf-8"))
    assert saved["arms"][0]["val_recon_mse"] == result.arms[0].figures["val_recon_mse"]
    assert saved["arms"][0]["curves"]["val_recon_mse"] == result.arms[0].curves["val_recon_mse"]
