"""Loss terms and input corruption, each usable with any model family.

Every function works on device tensors and returns device tensors: nothing here
reads a value back to the host, so a training step never waits on the GPU.
Reconstruction terms are summed over a sample's values and averaged over the
batch (the ELBO's convention), so KL and reconstruction are on one scale.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .models.common import Autoencoder, Encoded, random_like

# --- corruption (denoising) ----------------------------------------------------


def corrupt(x: torch.Tensor, kind: str, level: float, value_range: tuple[float, float] = (0.0, 1.0),
            uniform: torch.Tensor | None = None, normal: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of ``x``, made on x's device. The clean ``x`` is left alone.

    ``uniform`` and ``normal`` may supply the random draws (shaped like x), so a
    display batch can show the same noise pattern at every report.
    """
    if kind == "none" or level <= 0:
        return x
    lo, hi = value_range
    if kind == "gaussian":
        draw = random_like(x, True, generator) if normal is None else normal
        return (x + draw * (level * (hi - lo))).clamp(lo, hi)
    draw = random_like(x, False, generator) if uniform is None else uniform
    if kind == "masking":
        return torch.where(draw >= level, x, torch.full_like(x, lo))
    if kind == "salt_pepper":
        out = torch.where(draw < level / 2, torch.full_like(x, lo), x)
        return torch.where((draw >= level / 2) & (draw < level), torch.full_like(x, hi), out)
    raise ValueError(f"unknown noise kind {kind!r}")


# --- reconstruction ------------------------------------------------------------


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Negative log-likelihood per sample (summed over values), averaged over the batch."""
    if likelihood == "bernoulli":
        per_value = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    else:
        per_value = F.mse_loss(logits, target, reduction="none")
    return per_value.flatten(1).sum(dim=1).mean()


def output_from_logits(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The reconstruction in data space: the likelihood's link applied."""
    return torch.sigmoid(logits) if likelihood == "bernoulli" else logits


# --- sparsity --------------------------------------------------------------------


def sparsity_activations(encoded: Encoded, layer: int) -> torch.Tensor:
    return encoded.mean_code if layer == -1 else encoded.hidden[layer]


def l1_sparsity(activations: torch.Tensor) -> torch.Tensor:
    return activations.abs().sum(dim=1).mean()


def kl_sparsity(activations: torch.Tensor, target: float, eps: float = 1e-6) -> torch.Tensor:
    """KL(rho || rho_hat) summed over units, with rho_hat each unit's mean activation in the batch."""
    rho_hat = activations.mean(dim=0).clamp(eps, 1 - eps)
    rho = target
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


# --- contractive -------------------------------------------------------------------


def contractive_penalty(model: Autoencoder, x: torch.Tensor, encoded: Encoded | None = None) -> tuple[torch.Tensor, Encoded]:
    """Squared Frobenius norm of d(code)/d(input), averaged over the batch.

    A one-layer sigmoid encoder has the closed form sum_j (h_j(1-h_j))^2 ||W_j||^2,
    which costs one extra matmul. Any other encoder gets the exact norm from
    autograd, one backward pass per code unit.
    """
    spec = model.spec
    closed_form = (
        spec.family == "mlp" and not spec.encoder.layers and spec.latent.activation == "sigmoid"
        and not model.variational
    )
    if closed_form:
        if encoded is None:
            encoded = model.encode(x)
        h = encoded.code
        w_sq = (model.head.mu.weight ** 2).sum(dim=1)  # (code,)
        return ((h * (1 - h)) ** 2 * w_sq).sum(dim=1).mean(), encoded
    x = x.detach().requires_grad_(True)
    encoded = model.encode(x)
    code = encoded.mean_code
    total = x.new_zeros(())
    for j in range(code.shape[1]):
        (grad,) = torch.autograd.grad(code[:, j].sum(), x, create_graph=True)
        total = total + (grad ** 2).flatten(1).sum(dim=1).mean()
    return total, encoded


def jacobian_norm(model: Autoencoder, x: torch.Tensor) -> float:
    """Mean squared Frobenius norm of the encoder's Jacobian on ``x`` (for evaluation)."""
    was = model.training
    model.eval()
    try:
        x = x.detach().requires_grad_(True)
        code = model.encode(x).mean_code
        total = 0.0
        for j in range(code.shape[1]):
            (grad,) = torch.autograd.grad(code[:, j].sum(), x, retain_graph=True)
            total += float((grad ** 2).flatten(1).sum(dim=1).mean())
        return total
    finally:
        model.train(was)


# --- variational -----------------------------------------------------------------


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for each latent dimension, averaged over the batch."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0)


def kl_loss(per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Total KL; with free bits each dimension's KL counts as at least ``free_bits`` nats,
    so the optimiser gains nothing by squeezing it below that (against posterior collapse)."""
    if free_bits > 0:
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()


def beta_at(beta: float, warmup_epochs: float, epoch_progress: float) -> float:
    """β ramps linearly from 0 over the warm-up epochs."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, epoch_progress / warmup_epochs)


# --- adversarial (AAE) -------------------------------------------------------------


class Discriminator(nn.Module):
    """Tells codes drawn from the prior (real) from codes made by the encoder (fake)."""

    def __init__(self, code_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(code_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code).squeeze(-1)


def mixture_means(code_dim: int, components: int, radius: float = 2.0) -> torch.Tensor:
    """Component centres spread on a circle in the first two code dimensions."""
    angles = torch.arange(components, dtype=torch.float32) * (2 * math.pi / components)
    means = torch.zeros(components, code_dim)
    means[:, 0] = radius * torch.cos(angles)
    if code_dim > 1:
        means[:, 1] = radius * torch.sin(angles)
    return means


def sample_prior(n: int, code_dim: int, prior: str, means: torch.Tensor | None, device,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Codes from the prior: N(0, I), or a mixture of narrow gaussians around ``means``."""
    z = torch.randn(n, code_dim, device=device, generator=generator)
    if prior == "gaussian" or means is None:
        return z
    which = torch.randint(0, means.shape[0], (n,), device=device, generator=generator)
    return means.to(device)[which] + 0.5 * z


def discriminator_loss(disc: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    real_logits, fake_logits = disc(real), disc(fake.detach())
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(disc: Discriminator, fake: torch.Tensor) -> torch.Tensor:
    logits = disc(fake)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


# --- weight decay --------------------------------------------------------------------


def l1_decay(params: list[torch.Tensor]) -> torch.Tensor:
    return sum(p.abs().sum() for p in params)
