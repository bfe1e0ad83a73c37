"""Fully connected autoencoders: plain, deep, stacked, sparse, contractive, VAE, AAE."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..spec import AutoencoderSpec, LayerSpec
from .common import Autoencoder, CodeHead, Encoded, block_tail, init_bias, linear


class TiedLinear(nn.Module):
    """A decoder layer that reuses the transpose of an encoder layer's weight.

    Only the bias is its own, which is why tying halves the weights but keeps
    every layer able to learn its own offset.
    """

    def __init__(self, source: nn.Linear, bias: bool, bias_init: float):
        super().__init__()
        self.source = [source]  # a list so the source is not registered twice as a submodule
        n_out = source.weight.shape[1]
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None
        init_bias(self, bias, bias_init)

    @property
    def weight(self) -> torch.Tensor:
        return self.source[0].weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class DenseBlock(nn.Module):
    """Linear -> [batch norm] -> activation -> [dropout]."""

    def __init__(self, n_in: int, layer: LayerSpec, width: int, linear_module: nn.Module | None = None):
        super().__init__()
        self.linear = linear_module or linear(n_in, width, layer.bias, layer.bias_init)
        self.tail = nn.Sequential(*block_tail(layer, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.linear(x))


class MLPAutoencoder(Autoencoder):
    def __init__(self, spec: AutoencoderSpec):
        super().__init__(spec)
        enc_layers = spec.encoder.layers
        widths = [self.input_size] + [layer.units for layer in enc_layers]
        self.encoder_blocks = nn.ModuleList(
            DenseBlock(widths[i], layer, layer.units) for i, layer in enumerate(enc_layers)
        )
        self.head = CodeHead(widths[-1], spec.latent, self.variational)

        dec = spec.decoder
        if dec.mirror:
            # Decoder layer k undoes encoder layer k: same width, same settings.
            dec_specs = list(reversed(enc_layers))
            dec_widths = [layer.units for layer in reversed(enc_layers)]
        else:
            dec_specs = list(dec.layers)
            dec_widths = [layer.units for layer in dec.layers]
        n_in = spec.latent.dim
        blocks = []
        sources = [self.head.mu] + [b.linear for b in reversed(self.encoder_blocks)]
        for k, (layer, width) in enumerate(zip(dec_specs, dec_widths)):
            tied = TiedLinear(sources[k], layer.bias, layer.bias_init) if dec.tied_weights else None
            blocks.append(DenseBlock(n_in, layer, width, tied))
            n_in = width
        self.decoder_blocks = nn.ModuleList(blocks)
        if dec.tied_weights:
            self.output = TiedLinear(sources[-1], dec.output_bias, dec.output_bias_init)
        else:
            self.output = linear(n_in, self.input_size, dec.output_bias, dec.output_bias_init)

    def encode(self, x: torch.Tensor) -> Encoded:
        h = x.reshape(x.shape[0], -1)
        hidden = []
        for block in self.encoder_blocks:
            h = block(h)
            hidden.append(h)
        encoded = self.head(h)
        encoded.hidden = hidden
        return encoded

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        h = code
        for block in self.decoder_blocks:
            h = block(h)
        return self.output(h).reshape(code.shape[0], *self.input_shape)

    def first_layer_filters(self) -> torch.Tensor:
        first = self.encoder_blocks[0].linear if len(self.encoder_blocks) else self.head.mu
        return first.weight.detach().reshape(-1, *self.input_shape)

    def output_bias_image(self) -> torch.Tensor | None:
        if self.output.bias is None:
            return None
        return self.output.bias.detach().reshape(self.input_shape)

    def stages(self) -> list[tuple[nn.Module, nn.Module]]:
        """Encoder layer k pairs with the decoder layer that maps back to its input.

        The first pair reconstructs the data itself; deeper pairs reconstruct the
        (frozen) activations of the layer below, as in greedy stacking.
        """
        if not self.spec.decoder.mirror:
            return []
        encoders = list(self.encoder_blocks) + [self.head]
        decoders = [self.output] + list(reversed(self.decoder_blocks))
        return list(zip(encoders, decoders))
