"""What every export format shares: the error, the deterministic model wrapper, checks, quiet exporters."""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..objectives import output_from_logits

CHECK_BATCH = 3  # the batch a written file is checked on; exports trace with TRACE_BATCH, so a
TRACE_BATCH = 2  # batch size baked into the graph shows up as a failed check


class ExportError(ValueError):
    """A run could not be exported in a format; the message is one line meant for the user."""


@dataclass
class ExportResult:
    """The files an export wrote and what it checked, each note one line for the user."""

    paths: list[Path]
    notes: list[str] = field(default_factory=list)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ExportModel(nn.Module):
    """A run's model in eval mode with the three deterministic entry points every format writes.

    ``forward(x)`` is the reconstruction in data space; ``encode(x)`` the code (the posterior
    mean for a variational model, never a sample); ``decode(code)`` the reconstruction in data space.
    """

    def __init__(self, model: nn.Module, likelihood: str):
        super().__init__()
        self.model = model.eval()
        self.likelihood = likelihood

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x).mean_code

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return output_from_logits(self.model.decode(code), self.likelihood)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class EncoderPart(nn.Module):
    def __init__(self, wrapper: ExportModel):
        super().__init__()
        self.wrapper = wrapper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wrapper.encode(x)


class DecoderPart(nn.Module):
    def __init__(self, wrapper: ExportModel):
        super().__init__()
        self.wrapper = wrapper

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.wrapper.decode(code)


def export_model(run) -> ExportModel:
    """The wrapper around a fresh CPU copy of ``run``'s model (a RunArtifact)."""
    try:
        model = run.build_model("cpu")
    except Exception as exc:  # a spec or weights that do not build: still one line for the user
        raise ExportError(f"cannot build the run's model: {first_line(exc)}") from None
    return ExportModel(model, run.spec.likelihood).eval()


def example_input(run, batch: int, seed: int = 0) -> torch.Tensor:
    """A batch shaped like the run's samples, with values of the kind the model is fed."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, *run.spec.input.shape)
    if run.spec.likelihood == "bernoulli":
        return torch.rand(shape, generator=generator)
    return torch.randn(shape, generator=generator)


def example_code(run, batch: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, run.spec.code_dim, generator=generator)


def max_difference(a, b) -> float:
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max()) if a.size else 0.0


def close_enough(diff: float, reference, tolerance: float = 1e-4) -> bool:
    """Within ``tolerance``, relative to the reference's size where that is over 1."""
    ref = reference.detach().numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference)
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    return diff <= tolerance * scale


@contextlib.contextmanager
def quiet():
    """Exporters warn, log and print about their own internals; none of that is for our user."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def family_words(run) -> str:
    return f"the {run.spec.family} family ({run.spec.name})"
