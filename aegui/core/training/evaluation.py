"""Validation: the objective on held-out data, with the same corruption every epoch.

The corruption is drawn from a generator seeded afresh for each evaluation, so
epochs are compared on the same noisy inputs and the run's own random streams
are not touched: a resumed run validates exactly as the original did.
"""
from __future__ import annotations

import torch

from .. import objectives as obj
from ..models.common import Autoencoder
from ..spec import AutoencoderSpec

VAL_CHUNK = 1024


@torch.no_grad()
def evaluate(model: Autoencoder, spec: AutoencoderSpec, x_all: torch.Tensor, to_float, live: dict[str, float],
             beta: float, value_range, generator: torch.Generator) -> dict[str, float]:
    """Validation terms: the objective (with fixed-seed corruption) and the clean recon MSE."""
    if len(x_all) == 0:
        return {}
    generator.manual_seed(spec.train.seed + 1)
    noise = spec.objective.noise
    was = model.training
    model.eval()
    try:
        totals, names = None, []
        for start in range(0, len(x_all), VAL_CHUNK):
            x = to_float(x_all[start:start + VAL_CHUNK])
            x_in = obj.corrupt(x, noise.kind, live["noise_level"], value_range, generator=generator)
            logits, encoded = model(x_in)
            recon = obj.reconstruction_loss(logits.float(), x, spec.likelihood)
            terms = {"recon": recon, "total": recon}
            if model.variational:
                kl = obj.kl_loss(obj.kl_per_dim(encoded.mu, encoded.logvar), spec.objective.variational.free_bits)
                terms["kl"] = kl
                terms["total"] = terms["total"] + beta * kl
            # Without noise the encoder already saw the clean input (eval mode is deterministic):
            # a second forward pass would double validation's cost for the same numbers.
            clean_logits = logits if noise.kind == "none" else model(x)[0]
            out = obj.output_from_logits(clean_logits.float(), spec.likelihood)
            terms["recon_mse"] = ((out - x) ** 2).mean()
            chunk = torch.stack([v * len(x) for v in terms.values()])
            totals = chunk if totals is None else totals + chunk
            names = list(terms)
        return dict(zip(names, (totals / len(x_all)).cpu().tolist()))
    finally:
        model.train(was)
