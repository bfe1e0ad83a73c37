"""A small CPU copy of the trained model for the latent explorer and the canvas.

It is rebuilt from a weights snapshot the training worker hands over at a
report boundary, so the GUI never runs the model that is being trained.
Inputs and outputs are numpy arrays; the torch work is a few milliseconds.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.models import build_model
from ..core.objectives import output_from_logits
from ..core.spec import AutoencoderSpec


class InferenceModel:
    def __init__(self, spec: AutoencoderSpec, state_dict: dict):
        self.spec = spec
        self.model = build_model(spec)
        self.model.load_state_dict(state_dict)
        self.model.eval()
        self.code_dim = self.model.code_dim
        self.input_shape = tuple(spec.input.shape)

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Deterministic codes (the posterior mean for a VAE) for float inputs in model space."""
        out = []
        for start in range(0, len(x), 1024):
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + 1024], dtype=np.float32))
            out.append(self.model.encode(batch).mean_code.numpy().copy())
        return np.concatenate(out) if out else np.zeros((0, self.code_dim), np.float32)

    @torch.no_grad()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        z = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
        return output_from_logits(self.model.decode(z), self.spec.likelihood).numpy().copy()

    @torch.no_grad()
    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        logits, _ = self.model(batch)
        return output_from_logits(logits, self.spec.likelihood).numpy().copy()


def pca_2d(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (N,2), mean (D,), components (2,D)); codes of 2 dims or fewer are used as they are."""
    mean = codes.mean(axis=0)
    d = codes.shape[1]
    if d <= 2:
        comps = np.eye(2, d, dtype=np.float32)
        return (codes - mean) @ comps.T, mean, comps
    # Eigenvectors of the small D x D covariance: the same axes as an SVD of the
    # N x D codes at a fraction of the cost (and no BLAS thread pool woken up).
    centred = (codes - mean).astype(np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    comps = vectors[:, ::-1][:, :2].T.astype(np.float32)
    return (codes - mean) @ comps.T, mean, comps
