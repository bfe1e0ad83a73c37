"""Writing and reading model weights (safetensors) with atomic replaces.

A crash mid-write must never leave a half-written file where a good one was,
so everything is written beside the target and moved over it in one step.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .spec import AutoencoderSpec


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_weights(model: torch.nn.Module, path: str | Path, spec: AutoencoderSpec | None = None) -> None:
    path = Path(path)
    # safetensors refuses shared or strided storage: give it owned contiguous copies.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {"format": "aegui-weights", "spec": spec.to_json()} if spec is not None else {"format": "aegui-weights"}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    state = load_file(str(path))
    model.load_state_dict(state)
