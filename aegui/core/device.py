"""Choosing the compute device and the mixed-precision context for it."""
from __future__ import annotations

import contextlib

import torch


class DeviceError(ValueError):
    pass


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{name}' was asked for, but this machine has no CUDA GPU that torch can use")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device '{name}' does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device(name)
    if name == "mps":
        if not mps_available():
            raise DeviceError("device 'mps' was asked for, but Apple's Metal backend is not available here")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps")


def autocast_context(device: torch.device, enabled: bool):
    """(a factory of fresh autocast contexts, a GradScaler or None): bf16 autocast on CUDA where
    supported, fp16 with loss scaling otherwise; nothing off CUDA."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext, None
    if torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), None
    # fp16 needs loss scaling to keep small gradients from flushing to zero.
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")
