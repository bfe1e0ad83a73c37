"""Attention autoencoders: tokens (image patches or time steps) through transformer blocks.

The encoder pools tokens into the code, either by their mean or by one learned
query that attends over them ("cross"), whose weights show which patches the
code looks at. The decoder turns the code into a few memory tokens and lets one
query per output token attend back to them.
"""
from __future__ import annotations

import torch
from torch import nn

from ..spec import AutoencoderSpec, LayerSpec
from .common import Autoencoder, CodeHead, Encoded, linear, make_activation


class Tokenizer:
    """Splits samples into equal tokens and puts them back together."""

    def __init__(self, kind: str, shape: tuple[int, ...], patch: int):
        self.kind, self.shape, self.patch = kind, shape, patch
        if kind == "image":
            c, h, w = shape
            self.grid = (h // patch, w // patch)
            self.token_dim = c * patch * patch
        elif kind == "sequence":
            t, c = shape
            self.grid = (t // patch,)
            self.token_dim = c * patch
        else:
            self.grid = (shape[0] // patch,)
            self.token_dim = patch
        self.n_tokens = 1
        for g in self.grid:
            self.n_tokens *= g

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, p = x.shape[0], self.patch
        if self.kind == "image":
            c = self.shape[0]
            gh, gw = self.grid
            x = x.reshape(b, c, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, self.n_tokens, self.token_dim)

    def join(self, tokens: torch.Tensor) -> torch.Tensor:
        b, p = tokens.shape[0], self.patch
        if self.kind == "image":
            c, h, w = self.shape
            gh, gw = self.grid
            x = tokens.reshape(b, gh, gw, c, p, p).permute(0, 3, 1, 4, 2, 5)
            return x.reshape(b, c, h, w)
        return tokens.reshape(b, *self.shape)


def _layer_norm(width: int, bias: bool) -> nn.LayerNorm:
    return nn.LayerNorm(width, bias=bias)


class TransformerBlock(nn.Module):
    """Pre-norm attention + MLP. With ``cross`` the queries attend to a separate memory."""

    def __init__(self, width: int, heads: int, layer: LayerSpec, cross: bool = False):
        super().__init__()
        self.cross = cross
        self.norm_q = _layer_norm(width, layer.bias)
        self.norm_kv = _layer_norm(width, layer.bias) if cross else None
        self.attn = nn.MultiheadAttention(width, heads, dropout=layer.dropout, bias=layer.bias, batch_first=True)
        self.norm_mlp = _layer_norm(width, layer.bias)
        self.mlp = nn.Sequential(
            linear(width, 2 * width, layer.bias, layer.bias_init),
            make_activation(layer.activation),
            nn.Dropout(layer.dropout),
            linear(2 * width, width, layer.bias, 0.0),
        )
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        q = self.norm_q(x)
        kv = self.norm_kv(memory) if self.cross else q
        out, weights = self.attn(q, kv, kv, need_weights=True, average_attn_weights=True)
        self.last_attention = weights  # (B, queries, keys), averaged over heads
        x = x + out
        return x + self.mlp(self.norm_mlp(x))


class AttentionAutoencoder(Autoencoder):
    def __init__(self, spec: AutoencoderSpec):
        super().__init__(spec)
        opts = spec.attention
        layers = spec.encoder.layers
        width = layers[0].units
        self.tokens = Tokenizer(spec.input.kind, self.input_shape, opts.patch_size)
        n = self.tokens.n_tokens
        self.embed = linear(self.tokens.token_dim, width, layers[0].bias, layers[0].bias_init)
        self.position = nn.Parameter(torch.randn(1, n, width) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(width, opts.heads, layer) for layer in layers)
        self.pool_mode = opts.pool
        if opts.pool == "cross":
            self.pool_query = nn.Parameter(torch.randn(1, 1, width) * 0.02)
            self.pool = nn.MultiheadAttention(width, opts.heads, bias=layers[-1].bias, batch_first=True)
        self.pool_norm = _layer_norm(width, layers[-1].bias)
        self.head = CodeHead(width, spec.latent, self.variational)

        self.memory_tokens = opts.memory_tokens
        self.to_memory = linear(spec.latent.dim, opts.memory_tokens * width, layers[-1].bias, 0.0)
        self.queries = nn.Parameter(torch.randn(1, n, width) * 0.02)
        self.decoder_blocks = nn.ModuleList(
            TransformerBlock(width, opts.heads, layers[-1], cross=True) for _ in range(opts.decoder_blocks)
        )
        self.out_norm = _layer_norm(width, spec.decoder.output_bias)
        self.output = linear(width, self.tokens.token_dim, spec.decoder.output_bias, spec.decoder.output_bias_init)
        self.width = width

    def encode(self, x: torch.Tensor) -> Encoded:
        h = self.embed(self.tokens.split(x)) + self.position
        for block in self.blocks:
            h = block(h)
        if self.pool_mode == "cross":
            q = self.pool_query.expand(h.shape[0], -1, -1)
            pooled, weights = self.pool(q, h, h, need_weights=True)
            pooled, token_weights = pooled[:, 0], weights[:, 0]  # (B, width), (B, tokens)
        else:
            pooled = h.mean(dim=1)
            # How much attention each token receives in the last block, for display.
            token_weights = self.blocks[-1].last_attention.mean(dim=1)
        encoded = self.head(self.pool_norm(pooled))
        encoded.extras["attention"] = token_weights
        return encoded

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        memory = self.to_memory(code).reshape(code.shape[0], self.memory_tokens, self.width)
        h = self.queries.expand(code.shape[0], -1, -1)
        for block in self.decoder_blocks:
            h = block(h, memory)
        return self.tokens.join(self.output(self.out_norm(h)))

    def first_layer_filters(self) -> torch.Tensor:
        # Each embedding row is a pattern over one patch: show it as a patch image.
        w = self.embed.weight.detach()
        if self.tokens.kind == "image":
            return w.reshape(w.shape[0], self.input_shape[0], self.tokens.patch, self.tokens.patch)
        return w.reshape(w.shape[0], self.tokens.patch, -1)

    def output_bias_image(self) -> torch.Tensor | None:
        if self.output.bias is None:
            return None
        tiled = self.output.bias.detach().expand(1, self.tokens.n_tokens, -1)
        return self.tokens.join(tiled)[0]
