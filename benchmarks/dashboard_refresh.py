"""What the dashboard's refreshes cost, with every live panel on screen.

Synthetic reports shaped like a real run of a 784-400-64 sparse VAE-like model
with a denoising corruption and an attention map (so that every panel has
something to draw): code of 64 units, a snapshot batch of 16 digits, 64
first-layer filters of 1x28x28, the output bias, KL per dimension, and the
loss terms total, recon, kl and sparsity. First a long run's worth of reports
is recorded without drawing, so the curves hold their full, decimated 4,000
points. Every cost below is a NEW report recorded + the drawing + the events it
causes (the scenes' dirty-item passes and the repaint), i.e. everything the GUI
thread does for it, in wall-clock milliseconds:

1. each panel alone, and every panel drawn at once (what one report costs if
   nothing were staggered or rate-limited);
2. the dashboard's own ``refresh()``, ticking in real time at its 30 a second
   with a new report on every tick (three times the trainer's rate), so its
   staggering and per-panel rates act as they do in the app. Its p50 and p99
   are the JSON's refresh_p50_ms and refresh_p99_ms; gui_busy_percent is the
   share of wall time the GUI thread spent on it.

    python benchmarks/dashboard_refresh.py [--refreshes 300] [--history 3500]

The last line is JSON with the keys refresh_p50_ms and refresh_p99_ms (and more).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

STEPS_PER_EPOCH = 35  # 4,500 digits in batches of 128
STEPS_PER_REPORT = 4  # ~10 reports a second at ~5,000 samples/s
EPOCHS = 400  # long enough that the measured run never reaches its end


def synthetic_report(i: int, rng: np.random.Generator, code_dim: int = 64, snapshot: int = 16,
                     epochs_total: int = EPOCHS):
    """The i-th report of a synthetic run; every STEPS_PER_EPOCH steps an epoch report with validation."""
    from aegui.core.reports import Report

    step = (i + 1) * STEPS_PER_REPORT
    epoch_progress = step / STEPS_PER_EPOCH
    decay = 1.0 / (1.0 + 0.01 * i)
    recon = 90 + 150 * decay + rng.normal(0, 2)
    kl = 20 + 5 * (1 - decay) + rng.normal(0, 0.3)
    sparsity = 3 * decay + 0.5 + abs(rng.normal(0, 0.05))
    crossed = step // STEPS_PER_EPOCH > (step - STEPS_PER_REPORT) // STEPS_PER_EPOCH
    kind = "epoch" if crossed else "progress"
    x = rng.random((snapshot, 1, 28, 28), dtype=np.float32)
    code = rng.random((snapshot, code_dim), dtype=np.float32) * 0.2
    r = Report(
        kind=kind, step=step, epoch=int(epoch_progress), epoch_progress=epoch_progress,
        epochs_total=epochs_total, steps_per_epoch=STEPS_PER_EPOCH, samples_per_s=5000 + rng.normal(0, 100),
        elapsed_s=step / 40, losses={"total": recon + kl + sparsity, "recon": recon, "kl": kl, "sparsity": sparsity},
        device="cpu", lr=1e-3, beta=1.0, noise_level=0.3, sparsity_weight=1.0, grad_norm=float(rng.random() * 50),
        code_mean=code.mean(axis=0), code_active=(rng.random(code_dim) > 0.1).astype(np.float32) * rng.random(code_dim),
        sparsity_target=0.05, code_sample=code, kl_per_dim=np.abs(rng.normal(0.5, 0.5, code_dim)).astype(np.float32),
        inputs=x, corrupted=np.clip(x + rng.normal(0, 0.3, x.shape).astype(np.float32), 0, 1),
        reconstructions=rng.random((snapshot, 1, 28, 28), dtype=np.float32),
        filters=rng.normal(0, 0.05, (64, 1, 28, 28)).astype(np.float32),
        output_bias=rng.normal(0, 1, (1, 28, 28)).astype(np.float32),
        attention=rng.dirichlet(np.ones(16), size=snapshot).astype(np.float32), token_grid=(4, 4),
    )
    if kind == "epoch":
        r.val_losses = {"total": recon + kl + 2, "recon": recon + 2, "kl": kl, "recon_mse": 0.03 * decay + 0.01}
    if i % 1200 == 600:  # a few live edits in a run, each marked on the loss plot
        r.live_changes = {"lr": 5e-4}
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refreshes", type=int, default=300)
    parser.add_argument("--history", type=int, default=3500, help="reports recorded before measuring")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    from aegui.gui.app import apply_gui_thread_policy, apply_theme

    apply_gui_thread_policy()
    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    from aegui.gui.panels.dashboard import REFRESH_MS, TrainingDashboard

    host = QWidget()
    dashboard = TrainingDashboard()
    QVBoxLayout(host).addWidget(dashboard)
    host.resize(930, 840)  # the central area of the 1500x940 window beside the Model dock
    host.show()
    app.processEvents()
    dashboard.clear()
    rng = np.random.default_rng(0)
    counter = iter(range(10**9))

    def feed(report=None):
        """Record a report as the dashboard would, without its timer (the benchmark ticks)."""
        report = report or synthetic_report(next(counter), rng)
        dashboard.add_report(report)
        dashboard._timer.stop()
        return report

    def settle() -> None:
        app.processEvents()  # the scenes' dirty-item passes and the repaint they post
        app.processEvents()

    for _ in range(args.history):
        dashboard.recorder.add(synthetic_report(next(counter), rng))
    for _ in range(30):  # warm-up: first draws create the items and lay out the panels
        feed()
        dashboard.refresh()
        settle()
    hidden = [name for name, s in dashboard.sections.items() if not s.showing]
    if hidden:
        raise SystemExit(f"every panel must be on screen, but these are collapsed: {hidden}")

    # 1. Each panel alone, and every panel at once, per new report.
    panels = dashboard.panels
    per_panel = {}
    for name, panel in panels.items():
        costs = []
        for _ in range(40):
            report = feed()
            t0 = time.perf_counter()
            panel.draw(report)
            settle()
            costs.append((time.perf_counter() - t0) * 1000)
        per_panel[name] = costs
    together = []
    for _ in range(args.refreshes // 3):
        report = feed()
        t0 = time.perf_counter()
        for panel in panels.values():
            panel.draw(report)
        settle()
        together.append((time.perf_counter() - t0) * 1000)

    # 2. The dashboard's own refresh, ticking in real time at its 30 a second, a new report every tick.
    costs = []
    drawn0 = dashboard.reports_drawn
    start = time.perf_counter()
    upcoming = synthetic_report(next(counter), rng)
    for k in range(args.refreshes):
        tick = start + k * REFRESH_MS / 1000
        time.sleep(max(0.0, tick - time.perf_counter()))
        t0 = time.perf_counter()
        feed(upcoming)  # recording the report is part of the cost; making it up is not
        dashboard.refresh()
        settle()
        costs.append((time.perf_counter() - t0) * 1000)
        upcoming = synthetic_report(next(counter), rng)
    elapsed = time.perf_counter() - start
    drawn = dashboard.reports_drawn - drawn0
    points = {k: len(h) for k, h in dashboard.recorder.curves.items()}
    dashboard.shutdown()
    host.close()

    def pct(values, q):
        return round(float(np.percentile(values, q)), 2)

    result = {
        "refresh_p50_ms": pct(costs, 50),
        "refresh_p99_ms": pct(costs, 99),
        "refresh_max_ms": round(max(costs), 2),
        "gui_busy_percent": round(100 * sum(costs) / 1000 / elapsed, 1),
        "refreshes_that_drew": drawn,
        "refreshes": len(costs),
        "all_panels_at_once_p50_ms": pct(together, 50),
        "all_panels_at_once_p99_ms": pct(together, 99),
        "panel_p50_ms": {name: pct(c, 50) for name, c in per_panel.items()},
        "curve_points": max(points.values()),
    }
    print("each panel alone, per new report (p50 ms): "
          + ", ".join(f"{k} {v}" for k, v in result["panel_p50_ms"].items()))
    print(f"every panel at once: p50 {result['all_panels_at_once_p50_ms']} ms, "
          f"p99 {result['all_panels_at_once_p99_ms']} ms")
    print(f"{len(costs)} refreshes at {1000 // REFRESH_MS}/s with a new report each and every panel visible "
          f"({drawn} drew): p50 {result['refresh_p50_ms']} ms, p99 {result['refresh_p99_ms']} ms, "
          f"max {result['refresh_max_ms']} ms; GUI thread busy {result['gui_busy_percent']}% of the time; "
          f"curves hold up to {result['curve_points']} points")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
