"""The engine and the command line never import Qt."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, json, pkgutil, sys
import aegui.core
import aegui.cli
import aegui.core.run
import aegui.core.training
from aegui.core import Trainer, build_model, get_preset, load_dataset, validate
from aegui.core.reports import FINISHED

# Every engine module, found by walking the package, so a new or moved one is covered too.
engine = [m.name for m in pkgutil.walk_packages(aegui.core.__path__, "aegui.core.")]
for name in engine:
    importlib.import_module(name)

spec = get_preset("ae")
spec.train.epochs = 1
spec.train.batch_size = 64
assert validate(spec) == []
model = build_model(spec)
trainer = Trainer(spec, load_dataset("mnist5k", limit=200, seed=0))
kinds = [r.kind for r in trainer.run()]
assert kinds[-1] == FINISHED, kinds
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6", "superqt", "PyQt5", "PyQt6"))
gui = sorted(m for m in sys.modules if m.startswith("aegui.gui"))
print(json.dumps({"qt": qt, "gui": gui, "engine": engine, "result": trainer.result.stop_reason}))
"""


def test_engine_and_cli_import_build_and_train_without_qt():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["result"] == "completed", out["result"]
    assert {"aegui.core.run", "aegui.core.training"} <= set(out["engine"]), out["engine"]
    assert out["qt"] == [], f"Qt modules imported by the engine: {out['qt']}"
    assert out["gui"] == [], f"GUI modules imported by the engine: {out['gui']}"
