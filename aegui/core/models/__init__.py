"""Model families, one module each, built from an AutoencoderSpec."""
from __future__ import annotations

from contextlib import contextmanager

import torch

from ..spec import AutoencoderSpec
from ..validation import check
from .attention import AttentionAutoencoder
from .capsule import CapsuleAutoencoder
from .common import Autoencoder, CodeHead, Encoded
from .conv import ConvAutoencoder
from .mlp import MLPAutoencoder

FAMILY_CLASSES = {
    "mlp": MLPAutoencoder,
    "conv": ConvAutoencoder,
    "attention": AttentionAutoencoder,
    "capsule": CapsuleAutoencoder,
}

__all__ = ["Autoencoder", "CodeHead", "Encoded", "build_model", "count_parameters", "layer_shapes",
           "record_layer_shapes"]


def build_model(spec: AutoencoderSpec) -> Autoencoder:
    """Validate ``spec`` (raising SpecError with every problem) and build its model."""
    check(spec)
    return FAMILY_CLASSES[spec.family](spec)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@contextmanager
def record_layer_shapes(model: Autoencoder, shapes: list[tuple[str, tuple[int, ...]]]):
    """While inside, every leaf layer the model runs appends (module name, output shape of one sample)."""
    hooks = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            def hook(mod, args, out, name=name):
                if isinstance(out, tuple):
                    out = out[0]
                if isinstance(out, torch.Tensor):
                    shapes.append((name, tuple(out.shape[1:])))
            hooks.append(module.register_forward_hook(hook))
    try:
        yield shapes
    finally:
        for h in hooks:
            h.remove()


def layer_shapes(model: Autoencoder) -> list[tuple[str, tuple[int, ...]]]:
    """(module name, output shape of one sample) for every leaf layer, in call order.

    Found by running one dummy sample through the model with hooks, so the
    shapes are the ones torch really produces, not a second calculation. A model
    on the meta device gives them without allocating anything.
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []
    was_training = model.training
    model.eval()
    try:
        with record_layer_shapes(model, shapes), torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, *model.input_shape, device=device))
    finally:
        model.train(was_training)
    return shapes
