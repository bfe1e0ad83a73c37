"""Shared test set-up: Qt offscreen, small data, a fast CPU."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Before any Qt import: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch missing is a setup error reported elsewhere
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None and not has_cuda:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_small():
    """1,000 embedded digits (100 per class), shared read-only across tests."""
    from aegui.core.data import load_dataset

    return load_dataset("mnist5k", limit=1000, seed=0)
