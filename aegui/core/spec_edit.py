"""Edits that keep a spec whole when one choice changes: a new family, an unmirrored decoder.

The builder calls these after a person's edit; they are plain spec logic (no Qt), so they live
in the engine, beside the rules in ``spec_rules``, and are tested without a window.
"""
from __future__ import annotations

from .spec import AutoencoderSpec, LayerSpec
from .spec_rules import sync_capsule_code


def blank_spec(kind: str = "image", shape=(1, 28, 28)) -> AutoencoderSpec:
    """A model to start from: one hidden layer of 128 and the default code."""
    spec = AutoencoderSpec(name="blank", description="A blank model: one hidden layer to start from")
    spec.encoder.layers = [LayerSpec(units=128)]
    return spec.with_input(kind, shape)


def mirrored_decoder_layers(spec: AutoencoderSpec) -> list[LayerSpec]:
    """Explicit decoder layers like the mirrored decoder (mlp: the same; conv: each encoder layer undone)."""
    enc = spec.encoder.layers
    if spec.family == "mlp":
        return [LayerSpec(**vars(layer)) for layer in reversed(enc)]
    if spec.family == "conv":
        # Block k undoes encoder layer k: it upsamples by that layer's stride to the channels before it.
        out = []
        for k in range(len(enc) - 1, -1, -1):
            layer = LayerSpec(**vars(enc[k]))
            layer.channels = enc[k - 1].channels if k > 0 else enc[0].channels
            out.append(layer)
        return out
    return []


def retarget_family_layers(spec: AutoencoderSpec) -> None:
    """Give each layer the width field its new family reads, so a family switch stays valid (in place)."""
    for layer in spec.encoder.layers:
        if spec.family in ("conv", "capsule"):
            layer.channels = layer.channels or min(64, layer.units or 32)
            layer.stride = layer.stride if layer.channels else 2
        else:
            layer.units = layer.units or max(16, (layer.channels or 64) * 2)
    if spec.family == "attention":
        width = spec.encoder.layers[0].units if spec.encoder.layers else 64
        for layer in spec.encoder.layers:
            layer.units = width
    sync_capsule_code(spec)
