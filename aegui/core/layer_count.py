"""The memory a spec's model needs, counted from its layer sizes alone: no torch, no allocation.

memory_estimate traces a model on the meta device when it can; a model too deep to trace quickly,
or one with an op that has no meta kernel, is counted here instead. The count matches the traced
parameters exactly for every preset, and its activations within 0.88-1.0 of the trace's.
"""
from __future__ import annotations

from dataclasses import dataclass

from .spec import AutoencoderSpec
from .validation import conv_out


def with_backward_peak(kept_bytes: int, largest: int) -> int:
    """Backward starts with everything kept alive, and holds about two activation gradients at once."""
    return kept_bytes + 2 * largest


# Activations that keep their input for backward as well as the output the next layer keeps.
KEEPS_INPUT = {"gelu", "leaky_relu", "elu"}
VARIATIONAL_CODE_COPIES = 6  # mean, log-variance before and after clamping, std, noise, sample


@dataclass
class LayerCount:
    """Sizes counted from the spec; activations in elements per sample, as the model would keep them."""

    parameters: int = 0
    biases: int = 0
    buffers: int = 0
    kept: float = 0.0
    largest: int = 0
    encoder_kept: float = 0.0  # up to the code: what each contractive Jacobian row keeps again
    discriminator_parameters: int = 0

    def weights(self, n: int, bias: int = 0) -> None:
        self.parameters += n + bias
        self.biases += bias

    def keep(self, elements: int, times: float = 1.0) -> None:
        self.kept += elements * times
        self.largest = max(self.largest, elements)

    def tail(self, layer, width: int, positions: int = 1) -> None:
        """A layer's output and the batch norm, activation and dropout after it (block_tail)."""
        if layer.batch_norm:
            self.weights(width if layer.bias else 0, width if layer.bias else 0)
            self.buffers += 2 * width + 2  # running mean and variance, and an int64 count
        times = 1 + layer.batch_norm + (layer.activation in KEEPS_INPUT) + (1.25 if layer.dropout > 0 else 0)
        self.keep(width * positions, times)

    def head(self, spec: AutoencoderSpec, n_features: int) -> None:
        lat, heads = spec.latent, 2 if spec.is_variational else 1
        self.weights(heads * n_features * lat.dim, heads * lat.dim if lat.bias else 0)
        self.keep(lat.dim, VARIATIONAL_CODE_COPIES if spec.is_variational else 1 + (lat.activation in KEEPS_INPUT))
        self.encoder_kept = self.kept

    def bytes_for(self, batch: int) -> tuple[int, int]:
        """(activation bytes with backward's peak, parameter and buffer bytes) in float32."""
        return with_backward_peak(int(self.kept * batch * 4), self.largest * batch * 4), \
            4 * (self.parameters + self.buffers)


def _prod(values) -> int:
    total = 1
    for v in values:
        total *= v
    return total


def _count_mlp(spec: AutoencoderSpec, c: LayerCount) -> None:
    n_in, enc, dec = _prod(spec.input.shape), spec.encoder.layers, spec.decoder
    width = n_in
    for layer in enc:
        c.weights(width * layer.units, layer.units if layer.bias else 0)
        c.tail(layer, layer.units)
        width = layer.units
    c.head(spec, width)
    layers = list(reversed(enc)) if dec.mirror else list(dec.layers)
    width = spec.latent.dim
    for layer in layers:  # a tied layer keeps only its bias
        c.weights(0 if dec.tied_weights else width * layer.units, layer.units if layer.bias else 0)
        c.tail(layer, layer.units)
        width = layer.units
    c.weights(0 if dec.tied_weights else width * n_in, n_in if dec.output_bias else 0)


def _conv_stack(spec: AutoencoderSpec, c: LayerCount, channels: int, sizes: tuple[int, ...]):
    shapes = [(channels, sizes)]
    for layer in spec.encoder.layers:
        c.weights(channels * layer.channels * layer.kernel ** len(sizes), layer.channels if layer.bias else 0)
        channels, sizes = layer.channels, tuple(conv_out(s, layer.kernel, layer.stride) for s in sizes)
        c.tail(layer, channels, _prod(sizes))
        shapes.append((channels, sizes))
    return shapes


def _count_conv(spec: AutoencoderSpec, c: LayerCount) -> None:
    shape, enc, dec = tuple(spec.input.shape), spec.encoder.layers, spec.decoder
    in_channels, sizes = (shape[1], shape[:1]) if spec.input.kind == "sequence" else (shape[0], shape[1:])
    dims = len(sizes)
    shapes = _conv_stack(spec, c, in_channels, sizes)
    channels, last_sizes = shapes[-1]
    n_features = channels * _prod(last_sizes)
    c.head(spec, n_features)
    first = enc[-1]
    c.weights(spec.latent.dim * n_features, n_features if first.bias else 0)
    c.keep(n_features, 1 + (first.activation in KEEPS_INPUT))
    if dec.mirror:
        for k in range(len(enc) - 1, 0, -1):
            (c_out, s_out), c_in = shapes[k], shapes[k + 1][0]
            c.weights(c_in * c_out * enc[k].kernel ** dims, c_out if enc[k].bias else 0)
            c.tail(enc[k], c_out, _prod(s_out))
        c_last, kernel = shapes[1][0], enc[0].kernel
    else:
        c_last, s_in = channels, last_sizes
        for layer in dec.layers:
            s_in = tuple(s * layer.stride for s in s_in)
            c.weights(c_last * layer.channels * layer.kernel ** dims, layer.channels if layer.bias else 0)
            c.tail(layer, layer.channels, _prod(s_in))
            c_last = layer.channels
        kernel = 3
    c.weights(c_last * in_channels * kernel ** dims, in_channels if dec.output_bias else 0)


def _count_block(c: LayerCount, width: int, heads: int, layer, queries: int, keys: int, cross: bool) -> None:
    """One pre-norm transformer block: its layer norms, attention, two-layer MLP and what they keep."""
    bias = layer.bias
    for _ in range(2 + cross):  # norm_q, norm_mlp and, across, norm_kv
        c.weights(width, width if bias else 0)
    c.weights(4 * width * width, 4 * width if bias else 0)  # in_proj (q, k, v) and out_proj
    c.weights(4 * width * width, 3 * width if bias else 0)  # the MLP: width -> 2 width -> width
    c.keep(queries * width, 10 + (layer.activation in KEEPS_INPUT) * 2 + (2.5 if layer.dropout > 0 else 0))
    c.keep(keys * width, 3 if cross else 0)
    c.keep(heads * queries * keys, 2 + (1.25 if layer.dropout > 0 else 0))


def _count_attention(spec: AutoencoderSpec, c: LayerCount) -> None:
    opts, layers, shape = spec.attention, spec.encoder.layers, tuple(spec.input.shape)
    width, patch, last = layers[0].units, opts.patch_size, layers[-1]
    if spec.input.kind == "image":
        tokens, token_dim = (shape[1] // patch) * (shape[2] // patch), shape[0] * patch * patch
    elif spec.input.kind == "sequence":
        tokens, token_dim = shape[0] // patch, shape[1] * patch
    else:
        tokens, token_dim = shape[0] // patch, patch
    c.weights(token_dim * width + tokens * width, width if layers[0].bias else 0)  # embedding, positions
    for layer in layers:
        _count_block(c, width, opts.heads, layer, tokens, tokens, cross=False)
    if opts.pool == "cross":
        c.weights(width + 4 * width * width, 4 * width if last.bias else 0)
        c.keep(tokens * width, 2)
    c.weights(width, width if last.bias else 0)
    c.head(spec, width)
    memory = opts.memory_tokens * width
    c.weights(spec.latent.dim * memory + tokens * width, memory if last.bias else 0)  # to_memory, queries
    for _ in range(opts.decoder_blocks):
        _count_block(c, width, opts.heads, last, tokens, opts.memory_tokens, cross=True)
    out_bias = spec.decoder.output_bias
    c.weights(width + width * token_dim, width + token_dim if out_bias else 0)


def _count_capsule(spec: AutoencoderSpec, c: LayerCount) -> None:
    cap, shape = spec.capsule, tuple(spec.input.shape)
    channels, (fh, fw) = _conv_stack(spec, c, shape[0], shape[1:])[-1]
    primary = cap.primary_channels * cap.primary_dim
    c.weights(channels * primary * cap.primary_kernel ** 2, primary if spec.latent.bias else 0)
    n_primary = cap.primary_channels * conv_out(fh, cap.primary_kernel, cap.primary_stride) \
        * conv_out(fw, cap.primary_kernel, cap.primary_stride)
    c.keep(n_primary * cap.primary_dim, 3.5)  # the primary conv's output, squashed, and its norms
    c.weights(n_primary * cap.num_capsules * cap.capsule_dim * cap.primary_dim)
    c.keep(n_primary * cap.num_capsules)  # the couplings; the predictions are not kept...
    c.largest = max(c.largest, n_primary * cap.num_capsules * cap.capsule_dim)  # ...but their gradient is made
    c.encoder_kept = c.kept
    width = cap.num_capsules * cap.capsule_dim
    for units in cap.decoder_units:
        c.weights(width * units, units if spec.latent.bias else 0)
        c.keep(units)
        width = units
    c.weights(width * _prod(shape), _prod(shape) if spec.decoder.output_bias else 0)


FAMILY_COUNTS = {"mlp": _count_mlp, "conv": _count_conv, "attention": _count_attention, "capsule": _count_capsule}


def closed_form_contractive(spec: AutoencoderSpec) -> bool:
    """objectives.contractive_penalty's one-matmul case; any other encoder keeps a graph per code unit."""
    return spec.family == "mlp" and not spec.encoder.layers and spec.latent.activation == "sigmoid" \
        and not spec.is_variational


def count_layers(spec: AutoencoderSpec) -> LayerCount:
    """Parameters, biases and kept activations counted from the spec's layer sizes."""
    c = LayerCount()
    n_in = _prod(spec.input.shape)
    c.keep(n_in, 1 + (spec.objective.noise.kind != "none"))  # the batch, and its corrupted copy
    FAMILY_COUNTS[spec.family](spec, c)
    c.keep(n_in)  # the output's logits
    if spec.objective.contractive.weight > 0 and not closed_form_contractive(spec):
        c.kept += spec.code_dim * c.encoder_kept
    if spec.objective.adversarial.enabled:
        hidden = spec.objective.adversarial.hidden_units
        c.discriminator_parameters = spec.code_dim * hidden + hidden * hidden + 2 * hidden + hidden + 1
    return c


