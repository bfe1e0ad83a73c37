"""Tensors and training state on disk, written atomically, and nothing is ever a pickle.

Every write goes through ``core.atomic`` (temporary file, fsync, rename, folder
fsync), re-exported here for the callers that write tensors too. Weights and any nested
training state go to safetensors (tensors) plus JSON (everything else):
``flatten_state`` splits a nested structure into the two, ``unflatten_state``
puts it back together.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as tensors_from_bytes
from safetensors.torch import load_file, save_file
from safetensors.torch import save as _safetensors_bytes

from .atomic import atomic_path, atomic_write_bytes, atomic_write_text
from .spec import AutoencoderSpec

_TENSOR = "__tensor__"  # JSON marker: this value is the named tensor in the companion file
_NDARRAY = "__ndarray__"  # the same, for a numpy array (given back as numpy)
_TUPLE = "__tuple__"


def _owned(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors that share no storage, as safetensors needs. Only those that would share
    (tied weights, views) or are strided are copied: cloning all of them was 70% of a project save."""
    out, seen = {}, set()
    for name, value in tensors.items():
        value = value.detach().to("cpu")
        storage = value.untyped_storage().data_ptr() if value.numel() else None
        if not value.is_contiguous() or storage in seen or value.storage_offset() or \
                value.untyped_storage().nbytes() != value.numel() * value.element_size():
            value = value.contiguous().clone()
        elif storage is not None:
            seen.add(storage)
        out[name] = value
    return out


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as tmp:
        save_file(_owned(tensors), str(tmp), metadata=metadata)


def tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file's bytes, for a member of a zip (a project) or a file written atomically."""
    return _safetensors_bytes(_owned(tensors), metadata=metadata)


__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "flatten_state", "load_state", "load_weights",
           "save_state", "save_tensors", "save_weights", "state_from_members", "state_to_members",
           "tensors_from_bytes", "tensors_to_bytes", "unflatten_state"]


def save_weights(model_or_state: torch.nn.Module | dict, path: str | Path, spec: AutoencoderSpec | None = None) -> None:
    state = model_or_state.state_dict() if isinstance(model_or_state, torch.nn.Module) else model_or_state
    metadata = {"format": "aegui-weights"}
    if spec is not None:
        metadata["spec"] = spec.to_json()
    save_tensors(state, path, metadata)


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    model.load_state_dict(load_file(str(path)))


# --- nested state <-> (JSON, tensors) ------------------------------------------------------------
def flatten_state(value, tensors: dict[str, torch.Tensor] | None = None, prefix: str = "s"):
    """(json_value, tensors): every tensor or numpy array in a nested dict/list/tuple becomes a
    reference into ``tensors``; ints, floats (inf and NaN included), strings, bools and None stay."""
    tensors = {} if tensors is None else tensors
    if isinstance(value, torch.Tensor):
        key = f"{prefix}"
        tensors[key] = value.detach().to("cpu")  # made contiguous and unshared where written (_owned)
        return {_TENSOR: key}, tensors
    if isinstance(value, np.ndarray):
        key = f"{prefix}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {_NDARRAY: key}, tensors
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            # JSON keys are strings; optimiser states key parameters by int, so remember which were.
            name = f"#{k}" if isinstance(k, int) and not isinstance(k, bool) else str(k)
            out[name] = flatten_state(v, tensors, f"{prefix}.{name}")[0]
        return out, tensors
    if isinstance(value, (list, tuple)):
        items = [flatten_state(v, tensors, f"{prefix}.{i}")[0] for i, v in enumerate(value)]
        return ({_TUPLE: items} if isinstance(value, tuple) else items), tensors
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item(), tensors
    if value is None or isinstance(value, (bool, int, float, str)):
        return value, tensors
    raise TypeError(f"cannot store a {type(value).__name__} in a state file (only tensors, arrays and JSON values)")


def unflatten_state(value, tensors: dict[str, torch.Tensor]):
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _NDARRAY in value:
            return tensors[value[_NDARRAY]].numpy()
        if _TUPLE in value:
            return tuple(unflatten_state(v, tensors) for v in value[_TUPLE])
        return {(int(k[1:]) if k.startswith("#") else k): unflatten_state(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [unflatten_state(v, tensors) for v in value]
    return value


def state_to_members(state: dict, stem: str) -> dict[str, bytes]:
    """``stem.json`` (structure and scalars) and ``stem.safetensors`` (every tensor) as bytes."""
    structure, tensors = flatten_state(state)
    return {f"{stem}.json": json.dumps(structure).encode("utf-8"),
            f"{stem}.safetensors": tensors_to_bytes(tensors, {"format": "aegui-state"})}


def state_from_members(structure_json: bytes, tensors_bytes: bytes) -> dict:
    return unflatten_state(json.loads(structure_json), tensors_from_bytes(tensors_bytes))


def save_state(state: dict, folder: str | Path, stem: str) -> None:
    """``stem.json`` and ``stem.safetensors`` in ``folder``, each written atomically."""
    for name, data in state_to_members(state, stem).items():
        atomic_write_bytes(Path(folder) / name, data)


def load_state(folder: str | Path, stem: str) -> dict:
    folder = Path(folder)
    return state_from_members((folder / f"{stem}.json").read_bytes(), (folder / f"{stem}.safetensors").read_bytes())
