"""Training through the real (offscreen) window against a bare loop in the same process.

The network is the VAE 784-400-20 on the embedded digits. Each round runs the
bare loop (benchmarks/train_throughput.py's) and then a run through
MainWindow's Train with live updates on, while a 16 ms probe timer on the GUI
thread records how late it fires.

    python benchmarks/gui_training.py [--rounds 5] [--epochs 3] [--policy gui1|default] [--gc gui|auto]

--policy chooses the torch thread policy of the GUI thread: 'gui1' (the app's:
one intra-op thread on the GUI thread) or 'default' (torch's default there),
so the policy can be measured rather than guessed.

The last line is JSON: ratio, lateness_p50_ms, lateness_p99_ms, lateness_max_ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--policy", choices=["gui1", "default"], default="gui1")
    parser.add_argument("--gc", choices=["gui", "auto"], default="gui",
                        help="gui: cyclic garbage collected on the GUI thread only, as the app does; auto: Python's own")
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from aegui.core.data import load_dataset
    from aegui.core.presets import get_preset
    from aegui.gui.app import apply_gui_thread_policy, apply_theme
    from train_throughput import bare_loop

    if args.policy == "gui1":
        apply_gui_thread_policy()
    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    if args.gc == "gui":
        from aegui.gui.gc_policy import collect_on_gui_thread

        collect_on_gui_thread(app)
    from aegui.gui import MainWindow

    dataset = load_dataset("mnist5k")
    spec = get_preset("vae")
    spec.train.epochs = args.epochs
    # A fresh folder: the window keeps a hot-exit recovery project beside its settings file, and one left
    # in /tmp by an earlier run (or by the app) would be restored and trained instead of this VAE.
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="aegui-bench-")) / "aegui-bench.ini"),
                         QSettings.Format.IniFormat)
    window = MainWindow(dataset=dataset, spec=spec, settings=settings)
    window.resize(1500, 940)
    window.show()
    app.processEvents()

    lateness: list[float] = []
    last = [time.perf_counter()]
    probe = QTimer()
    probe.setInterval(16)

    def on_probe() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - 16))
        last[0] = now

    probe.timeout.connect(on_probe)

    def gui_run() -> float:
        done = []
        loop = QEventLoop()

        def on_finished(report) -> None:
            done.append(report)
            loop.quit()

        window.controller.finished.connect(on_finished)
        window.train()
        last[0] = time.perf_counter()
        probe.start()
        loop.exec()  # a real event loop, as the app runs: it sleeps (without the GIL) when idle
        probe.stop()
        window.controller.finished.disconnect(on_finished)
        report = done[0]
        # The trainer's own training-time rate, as the bare loop measures its own.
        return report.samples_per_s

    device = torch.device("cpu")
    bare_loop(spec, dataset, device, 1)  # warm-up
    bares, guis = [], []
    for r in range(args.rounds):
        bares.append(bare_loop(spec, dataset, device, args.epochs))
        guis.append(gui_run())
        print(f"round {r + 1}: bare {bares[-1]:8.0f}  gui {guis[-1]:8.0f} samples/s  "
              f"(drawn {window.dashboard.reports_drawn} reports so far)")
    window.close()
    lat = np.asarray(lateness)
    b, g = statistics.median(bares), statistics.median(guis)
    # Paired rounds cancel the machine's drift (see train_throughput.py): the median of the
    # per-round ratios is the figure, the ratio of the medians is printed beside it.
    paired = statistics.median(gui / bare for gui, bare in zip(guis, bares))
    result = {
        "ratio": round(paired, 4),
        "ratio_of_medians": round(g / b, 4),
        "lateness_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "lateness_p99_ms": round(float(np.percentile(lat, 99)), 2),
        "lateness_max_ms": round(float(lat.max()), 2),
        "bare_samples_per_s": round(b, 1),
        "gui_samples_per_s": round(g, 1),
        "policy": args.policy,
        "probe_ticks": int(lat.size),
    }
    print(f"median bare {b:.0f}, gui {g:.0f} samples/s, ratio {paired:.3f} (ratio of medians {g / b:.3f}); probe lateness p50 "
          f"{result['lateness_p50_ms']} ms, p99 {result['lateness_p99_ms']} ms, max {result['lateness_max_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
