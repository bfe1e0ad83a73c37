"""The dashboard's bounded memory and its drawing schedule, without a window.

Curve histories thin themselves, snapshots live in a fixed ring spread over the
run, smoothing matches TensorBoard's debiased moving average, peak decimation
keeps the spikes, and the schedule staggers panels and limits their rates.
"""
from __future__ import annotations

import numpy as np
import pytest

from aegui.core.reports import Report
from aegui.gui.dashboard.history import (
    MAX_POINTS, CurveHistory, RunRecorder, SnapshotRing, smooth,
)
from aegui.gui.dashboard.plots import peak_decimate
from aegui.gui.panels.dashboard import GROUPS, DrawSchedule


def reference_ema(values, weight):
    out, ema = [], 0.0
    for i, v in enumerate(values):
        ema = weight * ema + (1 - weight) * v
        out.append(ema / (1 - weight ** (i + 1)))
    return np.array(out)


def test_curve_history_stays_bounded_and_spans_the_run():
    hist = CurveHistory()
    nbytes = hist.nbytes
    n = 36_000  # an hour of reports at ten a second
    for i in range(n):
        hist.append(i, i / 100, 1.0 / (1 + i))
    assert MAX_POINTS // 2 <= len(hist) <= MAX_POINTS
    assert hist.nbytes == nbytes  # preallocated: nothing grows
    assert hist.steps[0] == 0 and hist.steps[-1] >= n - 2 * n // MAX_POINTS
    assert np.all(np.diff(hist.steps) > 0)
    hist.append(n, n / 100, float("nan"))  # not finite: not recorded
    assert hist.steps[-1] < n


def test_smoothing_is_the_debiased_moving_average_and_updates_in_constant_time():
    rng = np.random.default_rng(0)
    values = rng.random(700) + 1
    for weight in (0.3, 0.9, 0.99):
        assert np.allclose(smooth(values, weight), reference_ema(values, weight))
    hist = CurveHistory(smoothing=0.9)
    for i, v in enumerate(values):
        hist.append(i, i, v)
    assert np.allclose(hist.smoothed, reference_ema(values, 0.9))
    hist.set_smoothing(0.5)
    assert np.allclose(hist.smoothed, reference_ema(values, 0.5))
    assert np.array_equal(smooth(values, 0.0), values)


def test_snapshot_ring_is_fixed_size_and_spread_over_the_run():
    ring = SnapshotRing(capacity=50)
    ring.configure(total_steps=10_000)
    recon = np.zeros((16, 1, 28, 28), np.float32)
    admitted = sum(ring.admit(step, recon + step / 10_000, None) for step in range(10_000))
    assert admitted == len(ring) == 50
    steps = [ring.get(i)[0] for i in range(len(ring))]
    assert steps[0] == 0 and steps[-1] >= 9_800  # the whole run, not its last seconds
    assert ring.nbytes < 50 * recon.nbytes  # float16
    step, images, corrupted = ring.get(len(ring) - 1)
    assert corrupted is None and images.dtype == np.float32
    assert images[0, 0, 0, 0] == pytest.approx(step / 10_000, abs=1e-3)
    # Admitted past its span (a longer run than configured): the oldest are overwritten.
    for step in range(10_000, 20_000, 200):
        ring.admit(step, recon, recon)
    assert len(ring) == 50 and ring.get(0)[0] > 0


def test_snapshot_ring_respects_its_memory_budget():
    budget = 8 << 20
    ring = SnapshotRing(capacity=200, budget_bytes=budget)
    big = np.zeros((16, 3, 64, 64), np.float32)  # 1.5 MiB a snapshot in float16, with its corrupted twin
    ring.admit(0, big, big)
    assert 2 <= ring.capacity < 200
    assert ring.nbytes <= budget + 8 * ring.capacity


def report(step, kind="progress", **kw):
    defaults = dict(kind=kind, step=step, epoch=step // 10, epoch_progress=step / 10,
                    epochs_total=5, steps_per_epoch=10, samples_per_s=100.0, elapsed_s=step / 10,
                    losses={"total": 2.0, "recon": 1.5, "kl": 0.5})
    defaults.update(kw)
    return Report(**defaults)


def test_recorder_records_terms_validation_activity_and_live_changes():
    rec = RunRecorder()
    rec.add(report(5, code_active=np.array([0.0, 0.5, 1.0, 0.0], np.float32)))
    rec.add(report(10, kind="epoch", val_losses={"total": 2.2, "recon": 1.6, "recon_mse": 0.1}))
    rec.add(report(12, live_changes={"lr": 0.005, "beta": 2.0}))
    rec.add(report(1, stage=1, stages=2, losses={"total": 9.0}))
    assert len(rec.curves["train total"]) == 2  # the epoch mean is not drawn beside interval points
    assert rec.curves["val recon_mse"].values.tolist() == [0.1]
    assert rec.curves["dead units"].values.tolist() == [0.5]
    assert rec.curves["active units"].values.tolist() == [pytest.approx(0.375)]
    assert [c.text for c in rec.changes] == ["lr 0.005", "β 2"]
    assert rec.curves["pretrain 1"].values.tolist() == [9.0]


def test_peak_decimation_keeps_spikes_and_about_two_points_a_pixel():
    x = np.arange(10_000, dtype=float)
    y = np.zeros_like(x)
    y[4321] = 50.0
    y[8765] = -20.0
    dx, dy = peak_decimate(x, y, pixels=500)
    assert len(dx) <= 2 * 500 + 20
    assert dy.max() == 50.0 and dy.min() == -20.0
    assert peak_decimate(x[:300], y[:300], pixels=500)[0] is not None  # fewer points than pixels: unchanged
    assert len(peak_decimate(x[:300], y[:300], pixels=500)[0]) == 300


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_schedule_draws_one_group_a_tick_and_limits_slow_panels():
    clock = FakeClock()
    schedule = DrawSchedule(clock=clock)
    applies = lambda name: True  # noqa: E731
    schedule.new_report()
    drawn = []
    while schedule.pending:
        group = schedule.next_group(applies)
        assert group and set(group) <= set(schedule.names)
        drawn.append(group)
    assert sorted(n for g in drawn for n in g) == sorted(schedule.names)
    assert len(drawn) == len(GROUPS)
    # A new report 50 ms later: the fast panels draw it, the rate-limited ones wait.
    clock.now = 0.05
    schedule.new_report()
    later = [n for _ in range(len(GROUPS)) for n in schedule.next_group(applies)]
    assert "loss" in later and "weights" not in later and "sparsity" not in later
    assert schedule.pending  # weights, sparsity... still owe the newest report
    clock.now = 1.0
    rest = [n for _ in range(len(GROUPS)) for n in schedule.next_group(applies)]
    assert {"weights", "sparsity", "vae"} <= set(rest)
    assert not schedule.pending


def test_schedule_skips_panels_that_do_not_apply():
    schedule = DrawSchedule(clock=FakeClock())
    schedule.new_report()
    drawn = []
    while schedule.pending:
        drawn += schedule.next_group(lambda name: name in ("loss", "stats"))
    assert sorted(drawn) == ["loss", "stats"]


def test_an_hour_of_reports_keeps_the_recorder_bounded():
    rec = RunRecorder()
    active = np.linspace(0, 1, 64, dtype=np.float32)
    for step in range(36_000):
        rec.add(report(step, code_active=active, live_changes={"lr": 1e-3} if step % 500 == 0 else {}))
        if step == 10_000:
            size = rec.nbytes
    assert rec.nbytes == size  # every curve preallocated: an hour costs what ten minutes did
    assert all(len(c) <= MAX_POINTS for c in rec.curves.values())
    assert len(rec.changes) <= 100


def test_each_pretraining_stage_is_its_own_curve_left_of_epoch_zero():
    from aegui.core.reports import Report
    from aegui.gui.dashboard.history import RunRecorder, pretrain_key

    rec = RunRecorder()
    for k in (1, 2, 3):
        for p in (0.5, 1.0):
            rec.add(Report(kind="progress", stage=k, stages=3, step=1, epoch=0, epoch_progress=p,
                           epochs_total=1, steps_per_epoch=10, samples_per_s=0.0, elapsed_s=0.0,
                           losses={"total": 10.0 ** k, "recon": 1.0}))
    # Stages reconstruct different things on different scales: never joined into one line.
    assert list(rec.curves) == [pretrain_key(1), pretrain_key(2), pretrain_key(3)]
    assert [list(rec.curves[pretrain_key(k)].epochs) for k in (1, 2, 3)] == [[-2.5, -2.0], [-1.5, -1.0], [-0.5, 0.0]]
    assert list(rec.curves[pretrain_key(2)].steps) == [-15, -10]
    assert list(rec.curves[pretrain_key(3)].values) == [1000.0, 1000.0]


def test_a_run_history_without_saved_curves_becomes_one_point_per_epoch():
    rec = RunRecorder()
    rows = [{"phase": "pretrain 1/2", "epoch": 1, "train_total": 9.0},
            {"phase": "train", "epoch": 1, "step": 35, "train_total": 3.0, "val_total": 2.5, "val_recon_mse": 0.1},
            {"phase": "train", "epoch": 2, "step": 70, "train_total": 2.0, "val_total": 1.9, "val_recon_mse": None}]
    rec.restore_history(rows, epochs_total=10)
    assert rec.curves["train total"].values.tolist() == [3.0, 2.0]
    assert rec.curves["val total"].epochs.tolist() == [1.0, 2.0]
    assert rec.curves["val recon_mse"].values.tolist() == [0.1]  # a null value is no point
    assert rec.run_length == (10, 35) and "pretrain" not in " ".join(rec.curves)
