"""A small CPU copy of a trained model, for looking at what it learnt.

It is rebuilt from a run's weights (a RunArtifact the training worker hands
over at a report boundary, or one loaded from a run folder), so nothing that
looks at a model ever runs the one being trained. Inputs and outputs are owned
numpy arrays. Work on many samples goes in chunks, and a ``cancel`` callable is
looked at between chunks so a caller in another thread can abandon it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .models import build_model
from .objectives import output_from_logits
from .spec import AutoencoderSpec

CHUNK = 1024  # samples a forward pass; bounds the memory of one chunk, not its speed


class Cancelled(Exception):
    """Raised between chunks when the caller's ``cancel()`` says the result is no longer wanted."""


def check_cancel(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled()


class InferenceModel:
    def __init__(self, spec: AutoencoderSpec, state_dict: dict):
        self.spec = spec
        self.model = build_model(spec)
        self.model.load_state_dict(state_dict)
        self.model.eval()
        self.code_dim = self.model.code_dim
        self.input_shape = tuple(spec.input.shape)

    @classmethod
    def from_run(cls, run) -> "InferenceModel":
        """From a RunArtifact (its spec and weights)."""
        return cls(run.spec, run.weights)

    @property
    def levels(self) -> tuple[float, float] | None:
        """Display levels of the model's outputs: 0-1 for a Bernoulli likelihood, else automatic."""
        return (0.0, 1.0) if self.spec.likelihood == "bernoulli" else None

    @torch.no_grad()
    def encode(self, x: np.ndarray, chunk: int = CHUNK, cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """Deterministic codes (the posterior mean for a VAE) for float inputs in model space."""
        out = []
        for start in range(0, len(x), chunk):
            check_cancel(cancel)
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + chunk], dtype=np.float32))
            out.append(self.model.encode(batch).mean_code.numpy().copy())
        return np.concatenate(out) if out else np.zeros((0, self.code_dim), np.float32)

    @torch.no_grad()
    def decode(self, codes: np.ndarray, chunk: int = CHUNK, cancel: Callable[[], bool] | None = None) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.float32).reshape(-1, self.code_dim)
        out = []
        for start in range(0, len(codes), chunk):
            check_cancel(cancel)
            z = torch.from_numpy(np.ascontiguousarray(codes[start:start + chunk]))
            out.append(output_from_logits(self.model.decode(z), self.spec.likelihood).numpy().copy())
        return np.concatenate(out) if out else np.zeros((0, *self.input_shape), np.float32)

    @torch.no_grad()
    def reconstruct(self, x: np.ndarray, chunk: int = CHUNK, cancel: Callable[[], bool] | None = None) -> np.ndarray:
        out = []
        for start in range(0, len(x), chunk):
            check_cancel(cancel)
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + chunk], dtype=np.float32))
            logits, _ = self.model(batch)
            out.append(output_from_logits(logits, self.spec.likelihood).numpy().copy())
        return np.concatenate(out) if out else np.zeros((0, *self.input_shape), np.float32)

    @torch.no_grad()
    def errors(self, x: np.ndarray, chunk: int = CHUNK, cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """Mean squared reconstruction error per sample, in model space (the anomaly score)."""
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), chunk):
            check_cancel(cancel)
            batch = np.ascontiguousarray(x[start:start + chunk], dtype=np.float32)
            logits, _ = self.model(torch.from_numpy(batch))
            recon = output_from_logits(logits.float(), self.spec.likelihood).numpy()
            out[start:start + len(batch)] = ((recon - batch) ** 2).reshape(len(batch), -1).mean(axis=1)
        return out
