"""Reference losses: what the main presets reach on the built-in datasets.

The training dashboard draws these as bands behind the loss curves, to answer
"is my loss good?" with figures this app measured itself. Each (dataset, preset)
pair is trained headless through ``aegui.core.Trainer`` with the preset's stock
settings fitted to the set (``fit_to_input``: its own epochs and learning rate, batch
128, Adam, 10% validation, no LR schedule) once per seed, and the validation terms
are recorded after every epoch. Without an LR schedule an epoch-k figure does not
depend on how many epochs the run was set for, so the per-epoch curves apply to
runs of any length.

    python benchmarks/reference_losses.py [--seeds 2] [--out resources/reference_losses.json]

Training uses one torch thread, so the figures do not depend on the core count
(the losses are deterministic per seed on the CPU). The last line of stdout is
JSON: entries, seconds, out.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from aegui.core import Trainer, get_preset, load_dataset  # noqa: E402
from aegui.core.presets import fit_to_input  # noqa: E402

# (dataset, preset, epochs, limit): epochs None is the preset's own default. No pair is subsampled
# (limit None): a subsample has fewer steps per epoch, so its epoch-k loss would not
# describe a run on the whole set. The conv preset is the slowest (~2 s an epoch on one
# core), so it is measured on the digits only.
PLAN = [
    ("mnist5k", "ae", None, None), ("mnist5k", "sparse-l1", None, None), ("mnist5k", "sparse-kl", None, None),
    ("mnist5k", "denoising", None, None), ("mnist5k", "vae", None, None), ("mnist5k", "beta-vae", None, None),
    ("mnist5k", "conv", None, None),
    ("shapes", "ae", None, None), ("shapes", "denoising", None, None), ("shapes", "vae", None, None),
    ("signals", "ae", None, None), ("signals", "sparse-kl", None, None), ("signals", "denoising", None, None),
    ("signals", "vae", None, None),
    ("transactions", "ae", None, None), ("transactions", "sparse-kl", None, None),
    ("transactions", "denoising", None, None), ("transactions", "vae", None, None),
]
TERMS = ("total", "recon", "recon_mse")


def measure(dataset, preset: str, epochs: int, seed: int) -> dict[str, list[float]]:
    spec = fit_to_input(get_preset(preset), dataset.kind, dataset.sample_shape, dataset.in_unit_range)
    spec.train.epochs = epochs or spec.train.epochs
    spec.train.seed = seed
    spec.train.device = "cpu"
    curves: dict[str, list[float]] = {t: [] for t in TERMS}
    for report in Trainer(spec, dataset).run():
        if report.kind == "epoch" and report.val_losses:
            for t in TERMS:
                curves[t].append(round(float(report.val_losses.get(t, float("nan"))), 6))
    return curves


def spread(runs: list[list[float]]) -> dict[str, float]:
    finals = [r[-1] for r in runs if r]
    return {"min": min(finals), "max": max(finals), "mean": round(sum(finals) / len(finals), 6)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2, help="runs per pair; the band is their min-max")
    parser.add_argument("--out", default=str(ROOT / "resources" / "reference_losses.json"))
    parser.add_argument("--only", default="", help="comma-separated dataset names to measure (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    only = {s for s in args.only.split(",") if s}
    start = time.perf_counter()
    entries, cache = [], {}
    for name, preset, epochs, limit in PLAN:
        if only and name not in only:
            continue
        if (name, limit) not in cache:
            cache[(name, limit)] = load_dataset(name, limit=limit)
        dataset = cache[(name, limit)]
        t0 = time.perf_counter()
        epochs = epochs or get_preset(preset).train.epochs
        runs = [measure(dataset, preset, epochs, seed) for seed in range(args.seeds)]
        seconds = time.perf_counter() - t0
        entry = {
            "dataset": name, "preset": preset, "epochs": epochs, "limit": limit, "samples": len(dataset),
            "seeds": list(range(args.seeds)),
            **{f"val_{t}": [r[t] for r in runs] for t in TERMS},
            "final": {f"val_{t}": spread([r[t] for r in runs]) for t in TERMS},
            "seconds": round(seconds, 1),
        }
        entries.append(entry)
        final = entry["final"]["val_total"]
        print(f"{name:13s} {preset:10s} {epochs:2d} epochs x {args.seeds} seeds: val total "
              f"{final['min']:.4g}-{final['max']:.4g}, val recon MSE {entry['final']['val_recon_mse']['mean']:.4g} "
              f"({seconds:.1f} s)", flush=True)
    total = time.perf_counter() - start
    command = "python benchmarks/reference_losses.py" + (f" --seeds {args.seeds}" if args.seeds != 2 else "")
    doc = {
        "about": "Validation losses after each epoch, per (dataset, preset), from headless training with the "
                 "preset's stock settings; the dashboard draws the min-max over seeds as a band.",
        "command": command,
        "date": dt.date.today().isoformat(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cpu, 1 torch thread",
        "seconds": round(total, 1),
        "entries": entries,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out)
    print(json.dumps({"entries": len(entries), "seconds": round(total, 1), "out": str(out)}))


if __name__ == "__main__":
    main()
