"""How long saving and opening a project takes, and how big it is.

The project is the default model (the `ae` preset on the embedded 5,000 digits) after a
10-epoch run, with its training state for an exact resume, its history and a run list:
what File > Save project writes after a first session. Saving includes building the
members (state capture excluded: the window captures it on the training thread); opening
includes every check of the reader (hashes, sizes, weights against the spec).

    python benchmarks/project_io.py [--repeats 7]

The last line of stdout is JSON: save_ms, open_ms (medians), size_bytes. Goal: each under 300 ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aegui.core.data import load_dataset  # noqa: E402
from aegui.core.presets import get_preset  # noqa: E402
from aegui.core.project import Project, load_project, save_project  # noqa: E402
from aegui.core.run import DatasetRef, RunArtifact  # noqa: E402
from aegui.core.training import Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    dataset = load_dataset("mnist5k")
    spec = get_preset("ae")
    spec.train.epochs = 10
    trainer = Trainer(spec, dataset)
    trainer.fit()
    run = RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(dataset), with_state=True)
    project = Project(spec=trainer.spec, run=run, dataset=run.dataset,
                      runs=[{"name": "run 1: ae", "history": run.history, "result": run.result.to_json()}])
    saves, opens = [], []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.aeproj"
        for _ in range(args.repeats):
            start = time.perf_counter()
            save_project(project, path)
            saves.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            load_project(path)
            opens.append((time.perf_counter() - start) * 1000)
        size = path.stat().st_size
    save_ms, open_ms = statistics.median(saves), statistics.median(opens)
    print(f"default model after 10 epochs: save {save_ms:.0f} ms, open {open_ms:.0f} ms (median of "
          f"{args.repeats}), {size / 1e6:.1f} MB")
    print(json.dumps({"save_ms": round(save_ms, 1), "open_ms": round(open_ms, 1), "size_bytes": size,
                      "repeats": args.repeats}))


if __name__ == "__main__":
    main()
