"""Convolutional autoencoders for images (2-D) and sequences (1-D)."""
from __future__ import annotations

from math import prod

import torch
from torch import nn

from ..spec import AutoencoderSpec, LayerSpec
from ..validation import conv_out, transpose_padding_1d
from .common import Autoencoder, CodeHead, Encoded, block_tail, init_bias, linear, make_activation


def transpose_padding(sizes_in, sizes_out, kernel: int, stride: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per-dimension (padding, output_padding) so a transposed conv maps ``sizes_in`` exactly to ``sizes_out``."""
    pairs = [_transpose_padding_1d(i, o, kernel, stride) for i, o in zip(sizes_in, sizes_out)]
    return tuple(p for p, _ in pairs), tuple(e for _, e in pairs)


def _transpose_padding_1d(size_in: int, size_out: int, kernel: int, stride: int) -> tuple[int, int]:
    found = transpose_padding_1d(size_in, size_out, kernel, stride)
    if found is not None:
        return found
    raise ValueError(f"no padding maps {size_in} to {size_out} with kernel {kernel} and stride {stride}")


class ConvOps:
    """The 1-D or 2-D flavour of each layer type, chosen once from the input kind."""

    def __init__(self, dims: int):
        self.conv = nn.Conv2d if dims == 2 else nn.Conv1d
        self.deconv = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose1d
        self.norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d


def conv_encoder(spec: AutoencoderSpec, ops: ConvOps, in_channels: int, sizes: tuple[int, ...]):
    """Conv blocks for the encoder; returns (Sequential, per-layer (channels, sizes) list)."""
    blocks, shapes = [], [(in_channels, sizes)]
    for layer in spec.encoder.layers:
        conv = ops.conv(in_channels, layer.channels, layer.kernel, layer.stride, padding=layer.kernel // 2,
                        bias=layer.bias)
        init_bias(conv, layer.bias, layer.bias_init)
        blocks.append(nn.Sequential(conv, *block_tail(layer, layer.channels, ops.norm)))
        in_channels = layer.channels
        sizes = tuple(conv_out(s, layer.kernel, layer.stride) for s in sizes)
        shapes.append((in_channels, sizes))
    return nn.Sequential(*blocks), shapes


class ConvAutoencoder(Autoencoder):
    def __init__(self, spec: AutoencoderSpec):
        super().__init__(spec)
        self.sequence = spec.input.kind == "sequence"
        if self.sequence:
            steps, channels = self.input_shape
            in_channels, sizes = channels, (steps,)
        else:
            in_channels, sizes = self.input_shape[0], tuple(self.input_shape[1:])
        ops = ConvOps(len(sizes))
        self.encoder, shapes = conv_encoder(spec, ops, in_channels, sizes)
        last_channels, last_sizes = shapes[-1]
        self.feature_shape = (last_channels, *last_sizes)
        n_features = prod(self.feature_shape)
        self.head = CodeHead(n_features, spec.latent, self.variational)

        enc_layers = spec.encoder.layers
        dec = spec.decoder
        first = enc_layers[-1]
        self.expand = nn.Sequential(
            linear(spec.latent.dim, n_features, first.bias, first.bias_init), make_activation(first.activation)
        )
        blocks: list[nn.Module] = []
        if dec.mirror:
            # Walk the encoder backwards: block k undoes encoder layer k+1 with that layer's settings.
            for k in range(len(enc_layers) - 1, 0, -1):
                layer = enc_layers[k]
                (c_out, s_out), (c_in, s_in) = shapes[k], shapes[k + 1]
                blocks.append(self._deconv_block(ops, layer, c_in, c_out, s_in, s_out))
            c_last, s_last = shapes[1]
            out_layer = enc_layers[0]
            kernel, stride = out_layer.kernel, out_layer.stride
        else:
            c_in, s_in = self.feature_shape[0], last_sizes
            for layer in dec.layers:
                s_out = tuple(s * layer.stride for s in s_in)
                blocks.append(self._deconv_block(ops, layer, c_in, layer.channels, s_in, s_out))
                c_in, s_in = layer.channels, s_out
            c_last, s_last = c_in, s_in
            kernel, stride = 3, 1
        self.decoder = nn.Sequential(*blocks)
        pad, extra = transpose_padding(s_last, sizes, kernel, stride)
        self.output = ops.deconv(c_last, in_channels, kernel, stride, padding=pad, output_padding=extra,
                                 bias=dec.output_bias)
        init_bias(self.output, dec.output_bias, dec.output_bias_init)
        self._out_sizes = sizes

    @staticmethod
    def _deconv_block(ops: ConvOps, layer: LayerSpec, c_in: int, c_out: int, s_in, s_out) -> nn.Module:
        pad, extra = transpose_padding(s_in, s_out, layer.kernel, layer.stride)
        deconv = ops.deconv(c_in, c_out, layer.kernel, layer.stride, padding=pad, output_padding=extra, bias=layer.bias)
        init_bias(deconv, layer.bias, layer.bias_init)
        return nn.Sequential(deconv, *block_tail(layer, c_out, ops.norm))

    def encode(self, x: torch.Tensor) -> Encoded:
        if self.sequence:
            x = x.transpose(1, 2)  # (B, T, C) -> (B, C, T): channels first for Conv1d
        features = self.encoder(x)
        return self.head(features.flatten(1))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        h = self.expand(code).reshape(code.shape[0], *self.feature_shape)
        out = self.output(self.decoder(h))
        # Guard the exact size: a transposed conv can only be asked, not forced.
        if tuple(out.shape[2:]) != self._out_sizes:
            raise RuntimeError(f"decoder produced {tuple(out.shape[2:])}, expected {self._out_sizes}")
        return out.transpose(1, 2) if self.sequence else out

    def first_layer_filters(self) -> torch.Tensor:
        return self.encoder[0][0].weight.detach()

    def output_bias_image(self) -> torch.Tensor | None:
        if self.output.bias is None:
            return None
        bias = self.output.bias.detach()
        if self.sequence:
            return bias.expand(self.input_shape[0], -1).clone()
        return bias[:, None, None].expand(*self.input_shape).clone()
