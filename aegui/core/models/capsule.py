"""Capsule autoencoder: primary capsules routed by agreement to K latent capsules.

The code is the concatenation of the latent capsules' pose vectors; a capsule's
length (0-1 after squashing) says how present the entity it stands for is.
"""
from __future__ import annotations

from math import prod

import torch
from torch import nn

from ..spec import AutoencoderSpec
from ..validation import conv_out
from .common import Autoencoder, Encoded, init_bias, linear
from .conv import ConvOps, conv_encoder


def squash(s: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """Shrink a vector's length into 0-1 while keeping its direction."""
    norm_sq = (s * s).sum(dim=dim, keepdim=True)
    return s * (norm_sq / (1.0 + norm_sq)) / torch.sqrt(norm_sq + eps)


class CapsuleAutoencoder(Autoencoder):
    def __init__(self, spec: AutoencoderSpec):
        super().__init__(spec)
        cap = spec.capsule
        c_in, h, w = self.input_shape
        self.features, shapes = conv_encoder(spec, ConvOps(2), c_in, (h, w))
        c_feat, (fh, fw) = shapes[-1]
        self.primary = nn.Conv2d(c_feat, cap.primary_channels * cap.primary_dim, cap.primary_kernel,
                                 cap.primary_stride, padding=cap.primary_kernel // 2, bias=spec.latent.bias)
        init_bias(self.primary, spec.latent.bias, spec.latent.bias_init)
        ph, pw = conv_out(fh, cap.primary_kernel, cap.primary_stride), conv_out(fw, cap.primary_kernel, cap.primary_stride)
        self.n_primary = cap.primary_channels * ph * pw
        self.primary_dim, self.n_caps, self.caps_dim = cap.primary_dim, cap.num_capsules, cap.capsule_dim
        self.iterations = cap.routing_iterations
        # One transformation matrix per (primary capsule, latent capsule) pair.
        self.route_weights = nn.Parameter(
            torch.randn(self.n_primary, self.n_caps, self.caps_dim, self.primary_dim) * 0.05
        )
        layers, n = [], self.n_caps * self.caps_dim
        for units in cap.decoder_units:
            layers += [linear(n, units, spec.latent.bias, spec.latent.bias_init), nn.ReLU()]
            n = units
        self.decoder = nn.Sequential(*layers)
        self.output = linear(n, prod(self.input_shape), spec.decoder.output_bias, spec.decoder.output_bias_init)

    def encode(self, x: torch.Tensor) -> Encoded:
        b = x.shape[0]
        u = self.primary(self.features(x))  # (B, channels*dim, h, w)
        u = u.reshape(b, -1, self.primary_dim, u.shape[-2] * u.shape[-1])
        u = squash(u.permute(0, 1, 3, 2).reshape(b, self.n_primary, self.primary_dim))
        # Each primary capsule's prediction for each latent capsule: (B, N, K, D).
        u_hat = torch.einsum("nkdp,bnp->bnkd", self.route_weights, u)
        logits = torch.zeros(b, self.n_primary, self.n_caps, device=x.device, dtype=u_hat.dtype)
        # Routing refines the couplings without back-propagating through every iteration,
        # the usual trick that keeps dynamic routing stable.
        u_hat_detached = u_hat.detach()
        for i in range(self.iterations):
            coupling = torch.softmax(logits, dim=2)
            last = i == self.iterations - 1
            s = (coupling.unsqueeze(-1) * (u_hat if last else u_hat_detached)).sum(dim=1)
            v = squash(s)  # (B, K, D)
            if not last:
                logits = logits + (u_hat_detached * v.unsqueeze(1)).sum(dim=-1)
        encoded = Encoded(code=v.reshape(b, -1))
        encoded.extras["capsule_lengths"] = v.norm(dim=-1)
        return encoded

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.output(self.decoder(code)).reshape(code.shape[0], *self.input_shape)

    def first_layer_filters(self) -> torch.Tensor:
        return self.features[0][0].weight.detach()

    def output_bias_image(self) -> torch.Tensor | None:
        if self.output.bias is None:
            return None
        return self.output.bias.detach().reshape(self.input_shape)
