"""Dragging the latent explorer's handle while a model trains beside it: decode-plus-paint latency.

The real LatentExplorer, offscreen, shows a VAE trained for a moment on 1,000 of
the embedded digits (the MLP `vae` preset, then the `conv-vae`). A second run
trains in a plain thread the whole time, as the app's RunManager runs one. A
scripted mouse path replays 120 moves a second through the handle (its
``setPos``, which is what a mouse drag calls); each move's latency runs from the
move to the end of the event-loop pass that painted a decoding made at or after
it, so a move that was coalesced into a later decode counts its wait.

    python benchmarks/latent_drag.py [--moves 360] [--train-epochs 2]

Also timed: the manifold grid at n = 20 (submit to picture painted) and PCA of
5,000 codes. The last line is JSON: drag_p50_ms, drag_p99_ms, conv_drag_p50_ms,
conv_drag_p99_ms, grid20_ms, pca5000_ms.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

RATE_HZ = 120


def trained_run(preset: str, dataset, epochs: int):
    from aegui.core.presets import fit_to_input, get_preset
    from aegui.core.run import DatasetRef, RunArtifact
    from aegui.core.training import Trainer

    spec = fit_to_input(get_preset(preset), dataset.kind, dataset.sample_shape, dataset.in_unit_range)
    spec.train.epochs = epochs
    trainer = Trainer(spec, dataset)
    for _ in trainer.run():
        pass
    return RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(dataset))


def background_training(dataset):
    """A long run in a plain thread, as the app trains; returns (thread, control)."""
    from aegui.core.control import TrainControl
    from aegui.core.presets import get_preset
    from aegui.core.training import Trainer
    from aegui.gui.controller import training_threads

    control = TrainControl()
    spec = get_preset("vae")
    spec.train.epochs = 1000

    def work():
        import torch

        threads = training_threads()
        if threads:
            torch.set_num_threads(threads)
        for _ in Trainer(spec, dataset, control=control).run():
            pass

    thread = threading.Thread(target=work, name="bench-train", daemon=True)
    thread.start()
    return thread, control


def wait_for(app, condition, timeout=120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the explorer did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def drag(app, panel, moves: int) -> np.ndarray:
    """Latencies (ms) of ``moves`` handle moves at 120 a second along a loop over the map."""
    (x0, x1), (y0, y1) = panel.plot.view_ranges()
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 3, (y1 - y0) / 3
    angles = np.linspace(0, 4 * np.pi, moves)
    latencies, pending = [], []
    seen = panel.decoded.shown_at
    start = time.perf_counter()
    sent = 0
    while sent < moves or pending:
        now = time.perf_counter()
        if sent < moves and now >= start + sent / RATE_HZ:
            panel.plot.handle.setPos(cx + rx * np.cos(angles[sent]), cy + ry * np.sin(angles[sent]))
            pending.append(time.perf_counter())
            sent += 1
        app.processEvents()  # decodes due, and paints what changed
        if panel.decoded.shown_at > seen:
            seen = panel.decoded.shown_at
            painted = time.perf_counter()
            # Moves before the decode's own start are served by it (a later one waits for the next).
            served = [t for t in pending if t <= seen]
            latencies += [(painted - t) * 1e3 for t in served]
            pending = [t for t in pending if t > seen]
        if time.perf_counter() - start > moves / RATE_HZ + 10:
            raise TimeoutError(f"{len(pending)} moves never got a decoding")
    return np.asarray(latencies)


def open_panel(app, state, run):
    from aegui.gui.panels.latent import LatentExplorer

    panel = LatentExplorer(state)
    panel.resize(1400, 900)
    panel.show()
    panel.set_weights(run)
    wait_for(app, lambda: panel.map is not None)
    wait_for(app, lambda: panel.tools.context is not None)
    return panel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=360)
    parser.add_argument("--train-epochs", type=int, default=2)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from aegui.core.data import load_dataset
    from aegui.core.inference import InferenceModel
    from aegui.core.latent import encode_rows, project
    from aegui.gui.app import apply_gui_thread_policy, apply_theme
    from aegui.gui.state import AppState

    apply_gui_thread_policy()
    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    digits = load_dataset("mnist5k", limit=1000, seed=0)
    mlp_run = trained_run("vae", digits, args.train_epochs)
    conv_run = trained_run("conv-vae", digits, 1)

    # PCA of 5,000 codes: the map job's projection step, on its own.
    full = load_dataset("mnist5k")
    codes = encode_rows(InferenceModel.from_run(mlp_run), full, np.arange(5000))
    project(codes)  # warm-up
    pca = []
    for _ in range(5):
        start = time.perf_counter()
        project(codes)
        pca.append((time.perf_counter() - start) * 1e3)

    thread, control = background_training(digits)
    result = {}
    try:
        for name, run in (("", mlp_run), ("conv_", conv_run)):
            state = AppState(run.spec, digits)
            panel = open_panel(app, state, run)
            drag(app, panel, 30)  # warm-up: first paints, caches
            latency = drag(app, panel, args.moves)
            inline = panel.map.decode_ms < 8.0
            print(f"{name or 'mlp_'}vae: one decode {panel.map.decode_ms:.2f} ms "
                  f"({'on the GUI thread' if inline else 'in the drag worker'}); {len(latency)} moves, "
                  f"p50 {np.percentile(latency, 50):.2f} ms, p99 {np.percentile(latency, 99):.2f} ms, "
                  f"max {latency.max():.2f} ms")
            result[f"{name}drag_p50_ms"] = round(float(np.percentile(latency, 50)), 2)
            result[f"{name}drag_p99_ms"] = round(float(np.percentile(latency, 99)), 2)
            if not name:
                panel.grid_spin.setValue(20)
                grid = []
                for _ in range(3):
                    shown = panel.plot.grid_image.image
                    start = time.perf_counter()
                    panel.grid_check.setChecked(True)
                    panel.refresh_grid()
                    wait_for(app, lambda: panel.plot.grid_image.image is not shown
                             and panel.plot.grid_image.image is not None)
                    app.processEvents()
                    grid.append((time.perf_counter() - start) * 1e3)
                    panel.grid_check.setChecked(False)
                result["grid20_ms"] = round(float(np.median(grid)), 1)
            panel.shutdown()
            panel.close()
    finally:
        control.stop()
        thread.join(30)
    result["pca5000_ms"] = round(float(np.median(pca)), 2)
    print(f"manifold grid n=20: {result['grid20_ms']} ms; PCA of 5,000 x {codes.shape[1]} codes: "
          f"{result['pca5000_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
