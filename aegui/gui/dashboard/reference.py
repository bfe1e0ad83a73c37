"""Reference loss bands: "is my loss good?" answered with figures this app measured.

``resources/reference_losses.json`` is written by ``benchmarks/reference_losses.py``:
for each built-in dataset and main preset, the validation losses after every
epoch over a few seeds. A run gets a band only when it is comparable: the same
built-in set at its full size and the stock preset (training length, device,
seed and reporting settings aside, since they do not change what an epoch
reaches). A modified preset gets no band: its losses need not be comparable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...core.data import DataError, Dataset
from ...core.data.builtin import BUILTIN_DATASETS, resources_dir
from ...core.presets import is_stock_preset
from ...core.spec import AutoencoderSpec

REFERENCE_FILE = "reference_losses.json"


@dataclass
class ReferenceBand:
    dataset: str
    preset: str
    term: str  # the validation term the band describes, e.g. "total"
    epochs: np.ndarray  # 1, 2, ... N
    low: np.ndarray
    high: np.ndarray
    tooltip: str


@lru_cache(maxsize=4)
def load_references(path: str | None = None) -> dict:
    """The parsed reference file ({} when it is missing or unreadable: bands are a bonus)."""
    try:
        file = Path(path) if path else resources_dir() / REFERENCE_FILE
        return json.loads(file.read_text())
    except (OSError, ValueError, DataError):
        return {}


def find_band(spec: AutoencoderSpec | None, dataset: Dataset | None, term: str = "total",
              references: dict | None = None) -> tuple[ReferenceBand | None, str]:
    """The band for this run, or None and a short reason why there is none."""
    if spec is None or dataset is None:
        return None, "no run"
    refs = load_references() if references is None else references
    if dataset.name not in BUILTIN_DATASETS or dataset.source != dataset.name:
        return None, "reference losses exist only for the built-in datasets"
    entry = next((e for e in refs.get("entries", [])
                  if e.get("dataset") == dataset.name and e.get("preset") == spec.name), None)
    if entry is None:
        return None, f"no reference measured for preset '{spec.name}' on {dataset.name}"
    if entry.get("samples") != len(dataset):
        return None, (f"the reference used all {entry.get('samples')} samples of {dataset.name}; "
                      f"this run has {len(dataset)}")
    if not is_stock_preset(spec, dataset):
        return None, f"the model differs from the stock '{spec.name}' preset the reference measured"
    runs = [r for r in entry.get(f"val_{term}", []) if r]
    if not runs:
        return None, f"no reference for the validation {term}"
    n = min(len(r) for r in runs)
    curves = np.array([r[:n] for r in runs], dtype=np.float64)
    seeds = len(runs)
    tooltip = (f"Reference: validation {term} of the stock '{spec.name}' preset on {dataset.name} "
               f"({entry.get('samples')} samples), min-max over {seeds} seed{'s' if seeds > 1 else ''} after "
               f"each of {n} epochs; after epoch {n}: {curves[:, -1].min():.4g}-{curves[:, -1].max():.4g}.\n"
               f"Measured by this app: `{refs.get('command', 'benchmarks/reference_losses.py')}` on "
               f"{refs.get('date', '?')} ({refs.get('device', 'cpu')}, torch {refs.get('torch', '?')}).")
    return ReferenceBand(dataset.name, spec.name, term, np.arange(1, n + 1, dtype=np.float64),
                         curves.min(axis=0), curves.max(axis=0), tooltip), ""
