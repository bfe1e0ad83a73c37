"""Pieces every model family shares: the code head, activations, bias set-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import torch
from torch import nn

from ..spec import AutoencoderSpec, LatentSpec, LayerSpec


def make_activation(name: str) -> nn.Module:
    return {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "elu": nn.ELU,
        "gelu": nn.GELU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "linear": nn.Identity,
    }[name]()


def init_bias(module: nn.Module, enabled: bool, value: float) -> None:
    """Set a layer's bias to its chosen start value (the spec's ``bias_init``)."""
    if enabled and getattr(module, "bias", None) is not None:
        with torch.no_grad():
            module.bias.fill_(value)


def linear(n_in: int, n_out: int, bias: bool, bias_init: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    init_bias(layer, bias, bias_init)
    return layer


def block_tail(layer: LayerSpec, width: int, norm: type | None = None) -> list[nn.Module]:
    """Batch norm, activation and dropout that follow a layer's weights."""
    mods: list[nn.Module] = []
    if layer.batch_norm:
        mods.append((norm or nn.BatchNorm1d)(width, affine=layer.bias))
    mods.append(make_activation(layer.activation))
    if layer.dropout > 0:
        mods.append(nn.Dropout(layer.dropout))
    return mods


@dataclass
class Encoded:
    """What an encoder produced for a batch.

    ``code`` is what the decoder reads: a sample for a VAE in training, its mean
    otherwise. ``hidden`` holds each encoder layer's activations (mlp only) so
    sparsity can target any of them. ``extras`` carries family-specific views
    (attention maps, capsule lengths).
    """

    code: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    hidden: list[torch.Tensor] = field(default_factory=list)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def mean_code(self) -> torch.Tensor:
        """The deterministic code: the posterior mean for a VAE."""
        return self.mu if self.mu is not None else self.code


def random_like(x: torch.Tensor, normal: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random values shaped like ``x`` on x's device, drawn from ``generator`` when one is given
    (a run's own stream) and from the global stream otherwise."""
    draw = torch.randn if normal else torch.rand
    if generator is None:
        return draw(x.shape, device=x.device, dtype=x.dtype)
    if generator.device == x.device or (generator.device.type == x.device.type == "cuda"):
        return draw(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    # A backend without its own generators (MPS) draws on the CPU.
    return draw(x.shape, dtype=x.dtype, generator=generator).to(x.device)


def random_rows(x: torch.Tensor, normal: bool, generator: torch.Generator | None,
                shard: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """``random_like`` for one process's rows of a batch split over several, ``shard`` being
    (rank, world size): the whole batch's values are drawn and this rank's rows kept, so the
    run's stream advances as one process's would and each row gets the noise it gets there."""
    rank, world = shard
    if world == 1:
        return random_like(x, normal, generator)
    n = x.shape[0]
    whole = random_like(x.new_empty((n * world, *x.shape[1:])), normal, generator)
    return whole[rank * n:(rank + 1) * n]


class CodeHead(nn.Module):
    """Features -> code. A VAE gets mean and log-variance heads and samples in training."""

    def __init__(self, n_features: int, latent: LatentSpec, variational: bool):
        super().__init__()
        self.variational = variational
        self.mu = linear(n_features, latent.dim, latent.bias, latent.bias_init)
        self.logvar = linear(n_features, latent.dim, latent.bias, 0.0) if variational else None
        self.activation = make_activation(latent.activation)
        # The run's own random stream for the reparameterisation (set by the trainer); None draws
        # from the global one, as inference does.
        self.noise_generator: torch.Generator | None = None
        self.noise_shard = (0, 1)  # (rank, world size) when a distributed run splits the batch

    def forward(self, features: torch.Tensor) -> Encoded:
        if not self.variational:
            return Encoded(code=self.activation(self.mu(features)))
        mu = self.mu(features)
        # Clamped so one bad batch cannot overflow exp() into inf.
        logvar = self.logvar(features).clamp(-12.0, 8.0)
        if self.training:
            code = mu + random_rows(mu, True, self.noise_generator, self.noise_shard) * torch.exp(0.5 * logvar)
        else:
            code = mu
        return Encoded(code=code, mu=mu, logvar=logvar)


class Autoencoder(nn.Module):
    """Base of every family: ``encode`` -> Encoded, ``decode`` -> logits shaped like the input."""

    def __init__(self, spec: AutoencoderSpec):
        super().__init__()
        self.spec = spec
        self.input_shape = tuple(spec.input.shape)
        self.input_size = prod(self.input_shape)
        self.code_dim = spec.code_dim
        self.variational = spec.is_variational

    def encode(self, x: torch.Tensor) -> Encoded:
        raise NotImplementedError

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Encoded]:
        encoded = self.encode(x)
        return self.decode(encoded.code), encoded

    def set_noise_generator(self, generator: torch.Generator | None, shard: tuple[int, int] = (0, 1)) -> None:
        """Draw the reparameterisation noise of every code head from ``generator``; ``shard`` (rank,
        world size) when this process trains on its share of a batch split over several."""
        for module in self.modules():
            if isinstance(module, CodeHead):
                module.noise_generator = generator
                module.noise_shard = shard

    def first_layer_filters(self) -> torch.Tensor | None:
        """The first layer's weights as (filters, ...) images, for display."""
        return None

    def output_bias_image(self) -> torch.Tensor | None:
        """The decoder's output bias laid out like one input sample (None without biases)."""
        return None

    def stages(self) -> list[tuple[nn.Module, nn.Module]]:
        """(encoder part, decoder part) pairs for greedy layer-wise pretraining."""
        return []
