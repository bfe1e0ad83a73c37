"""Drawing on the Draw tab: from a stroke's mouse event to its reconstruction on screen.

The real DrawCanvas, offscreen, shows a denoising model trained for a moment on 1,000 of the
embedded digits (the MLP `denoising` preset, then the `conv-denoising` one). A scripted pen
replays strokes at 120 mouse moves a second, each move a real QMouseEvent sent to the paint
area. A move's latency runs from the move to the end of the event-loop pass that painted a
reconstruction made at or after it, so a move coalesced into the next frame's reconstruction
counts its wait.

    python benchmarks/canvas_latency.py [--moves 480] [--epochs 1]

The last line is JSON: canvas_p50_ms, canvas_p99_ms (MLP), conv_canvas_p50_ms, conv_canvas_p99_ms,
and the one-reconstruction times mlp_reconstruct_ms, conv_reconstruct_ms. Goal: canvas_p99_ms ≤ 16.
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
from latent_drag import trained_run, wait_for  # noqa: E402  (the same trained run and event-loop wait)

RATE_HZ = 120


def stroke_path(moves: int) -> list[tuple[float, float, bool]]:
    """(row, column, starts a stroke) of a pen writing loops across the drawing, a stroke each 60 moves."""
    t = np.arange(moves)
    rows = 14 + 8 * np.sin(t / 9.0)
    cols = 14 + 9 * np.cos(t / 13.0)
    return [(float(r), float(c), i % 60 == 0) for i, (r, c) in enumerate(zip(rows, cols))]


def replay(app, canvas, moves: int) -> np.ndarray:
    """Latencies (ms) of ``moves`` mouse moves at 120 a second."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    paint = canvas.paint
    rect = paint.picture_rect()
    side = rect.width() / paint.image.shape[2]
    latencies, pending = [], []
    seen = canvas.shown_at
    path = stroke_path(moves)
    start = time.perf_counter()
    sent = 0
    while sent < moves or pending:
        now = time.perf_counter()
        if sent < moves and now >= start + sent / RATE_HZ:
            row, col, first = path[sent]
            pos = QPointF(rect.left() + (col + 0.5) * side, rect.top() + (row + 0.5) * side)
            kind = QEvent.Type.MouseButtonPress if first else QEvent.Type.MouseMove
            if first:
                canvas.clear()
            pending.append(time.perf_counter())
            app.sendEvent(paint, QMouseEvent(kind, pos, paint.mapToGlobal(pos), Qt.MouseButton.LeftButton,
                                             Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
            sent += 1
        app.processEvents()  # reconstructions due, and the paints of what changed
        if canvas.shown_at > seen:
            seen = canvas.shown_at
            painted = time.perf_counter()
            served = [t for t in pending if t <= seen]  # moves before the reconstruction's end
            latencies += [(painted - t) * 1e3 for t in served]
            pending = [t for t in pending if t > seen]
        else:
            time.sleep(0.0002)
        if time.perf_counter() - start > moves / RATE_HZ + 10:
            raise TimeoutError(f"{len(pending)} moves never got a reconstruction")
    return np.asarray(latencies)


def one_reconstruction_ms(model, shape) -> float:
    x = np.random.default_rng(0).random((1, *shape)).astype(np.float32)
    model.reconstruct(x)
    times = []
    for _ in range(50):
        start = time.perf_counter()
        model.reconstruct(x)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from aegui.core.data import load_dataset
    from aegui.gui.app import apply_gui_thread_policy, apply_theme
    from aegui.gui.panels.canvas import DrawCanvas
    from aegui.gui.state import AppState

    apply_gui_thread_policy()
    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    digits = load_dataset("mnist5k", limit=1000, seed=0)
    result = {}
    for name, preset in (("", "denoising"), ("conv_", "conv-denoising")):
        run = trained_run(preset, digits, args.epochs)
        canvas = DrawCanvas(AppState(run.spec, digits))
        canvas.resize(1200, 640)
        canvas.show()
        canvas.set_weights(run)
        wait_for(app, lambda: canvas.model is not None)
        replay(app, canvas, 60)  # warm-up: first paints, caches
        latency = replay(app, canvas, args.moves)
        one = one_reconstruction_ms(canvas.model, canvas.model.input_shape)
        label = name.rstrip("_") or "mlp"
        print(f"{label} ({preset}): one reconstruction {one:.2f} ms; {len(latency)} moves, "
              f"p50 {np.percentile(latency, 50):.2f} ms, p99 {np.percentile(latency, 99):.2f} ms, "
              f"max {latency.max():.2f} ms")
        result[f"{name}canvas_p50_ms"] = round(float(np.percentile(latency, 50)), 2)
        result[f"{name}canvas_p99_ms"] = round(float(np.percentile(latency, 99)), 2)
        result[f"{label}_reconstruct_ms"] = round(one, 3)
        canvas.shutdown()
        canvas.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
