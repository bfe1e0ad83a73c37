"""Hundreds of dashboard repaints in a fresh interpreter.

PySide6 6.12.0 with pyqtgraph crashed with 'Fatal Python error: none_dealloc'
within a few hundred repaints (a reference-count bug in the binding's paint
path). A crash like that kills the interpreter, so the repaints run in a
subprocess and the test only reads its exit status and output; it exists to
catch the next such release before users do (see pyproject.toml's pin).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORTS = 600
TIMEOUT_S = 90  # the run itself takes a few seconds; a hang must still end the test

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from aegui.core.data import load_dataset
    from aegui.core.reports import Report
    from aegui.gui import MainWindow
    from aegui.gui.widgets.image_grid import ImageGrid

    n_reports, ini = int(sys.argv[1]), sys.argv[2]
    window = MainWindow(dataset=load_dataset("mnist5k", limit=100),
                        settings=QSettings(ini, QSettings.Format.IniFormat))
    window.resize(900, 700)
    window.show()
    app.processEvents()
    dashboard = window.dashboard
    grid = dashboard.recon_grid
    extra = ImageGrid(columns=4, levels=None)  # the data preview's auto-levels path
    extra.resize(300, 200)
    extra.show()
    rng = np.random.default_rng(0)
    inputs = rng.random((16, 1, 28, 28), dtype=np.float32)
    t0 = time.perf_counter()
    steps_per_epoch = 20
    for i in range(n_reports):
        epoch, within = divmod(i + 1, steps_per_epoch)
        is_epoch = within == 0
        loss = 200.0 / (1 + 0.01 * i) + float(rng.random())
        report = Report(
            kind="epoch" if is_epoch else "progress", step=i + 1, epoch=epoch,
            epoch_progress=float(epoch) if is_epoch else epoch + within / steps_per_epoch,
            epochs_total=n_reports // steps_per_epoch, steps_per_epoch=steps_per_epoch,
            samples_per_s=1000.0 + i, elapsed_s=0.1 * i,
            losses={"total": loss, "recon": loss * 0.9, "kl": loss * 0.1},
            val_losses={"total": loss * 1.1, "recon": loss, "recon_mse": 0.05} if is_epoch else None,
            lr=1e-3, beta=1.0, grad_norm=float(rng.random()),
            inputs=inputs,
            corrupted=np.clip(inputs + rng.normal(0, 0.3, inputs.shape).astype(np.float32), 0, 1)
            if i % 2 else None,
            reconstructions=rng.random((16, 1, 28, 28), dtype=np.float32),
            message="" if i % 50 else f"message {i}",
        )
        dashboard.add_report(report)
        dashboard.refresh()
        dashboard.repaint()
        grid.repaint()
        if i % 3 == 0:
            extra.set_samples(rng.normal(size=(8, 1, 28, 28)).astype(np.float32))
            extra.repaint()
        app.processEvents()
    assert dashboard.reports_drawn >= n_reports, dashboard.reports_drawn
    window.close()
    extra.close()
    app.processEvents()
    print(f"OK {n_reports} repaints in {time.perf_counter() - t0:.1f} s", flush=True)
    """
)


def test_hundreds_of_dashboard_repaints_do_not_crash(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    script = tmp_path / "paint_stress.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(REPORTS), str(tmp_path / "stress.ini")],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    detail = f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "none_dealloc" not in proc.stderr, detail
    assert proc.returncode == 0, detail
    assert proc.stdout.startswith("OK"), detail
