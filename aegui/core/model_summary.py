"""Parameter count, per-layer output shapes, diagram blocks and the memory training needs, for a spec.

The model is built on the meta device and traced (``memory_estimate.trace_model``), so the
figures are the ones torch produces and nothing is allocated: two 65,536-unit layers cost the
builder no more than a preset. The builder calls this on a short debounce after edits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .memory_estimate import (
    MemoryEstimate, budget_problem, estimate_from_trace, format_bytes, memory_budget, trace_model,
)
from .device import resolve_device
from .spec import AutoencoderSpec


@dataclass
class ModelSummary:
    headline: str
    parameters: int = 0
    shapes: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[tuple[str, int, str]] = field(default_factory=list)
    estimate: MemoryEstimate | None = None
    memory_text: str = ""  # "about 60 MB to train", or what limit it is over
    memory_problem: str = ""  # the line that keeps Train disabled, or ''


def _blocks(spec: AutoencoderSpec) -> list[tuple[str, int, str]]:
    inp = 1
    for s in spec.input.shape:
        inp *= s
    enc = []
    for layer in spec.encoder.layers:
        width = layer.channels if spec.family in ("conv", "capsule") else layer.units
        enc.append((str(width or "?"), width or 1, "encoder"))
    code = (f"z {spec.code_dim}", spec.code_dim, "code")
    if spec.decoder.mirror or spec.family == "attention":  # attention builds its decoder from its own settings
        dec = [(label, width, "decoder") for label, width, _ in reversed(enc)]
    else:  # the explicit layers, none at all meaning the code maps straight to the output
        dec = [(str(layer.units or layer.channels), (layer.units or layer.channels or 1), "decoder")
               for layer in spec.decoder.layers]
    if spec.family == "capsule":
        dec = [(str(u), u, "decoder") for u in spec.capsule.decoder_units]
    shape = "x".join(map(str, spec.input.shape))
    return [(f"in {shape}", inp, "input"), *enc, code, *dec, (f"out {shape}", inp, "output")]


# Where a module sits, in the builder's words, by the first part of its name in the model.
PLACES = {"encoder_blocks": "encoder", "encoder": "encoder", "features": "encoder", "blocks": "encoder block",
          "decoder_blocks": "decoder", "decoder": "decoder", "expand": "decoder input", "head": "code",
          "output": "output", "embed": "token embedding", "primary": "primary capsules", "pool_norm": "pooling",
          "to_memory": "decoder memory", "out_norm": "output"}
HEAD_PARTS = {"mu": "mean", "logvar": "log-variance", "activation": "activation", "linear": "linear"}


def readable_layer(name: str, module, variational: bool = True) -> str:
    """'encoder_blocks.0.linear' as 'encoder 1 · Linear': the shapes list speaks the builder's words."""
    parts = name.split(".")
    place = PLACES.get(parts[0], parts[0].replace("_", " "))
    if len(parts) > 1 and parts[1].isdigit() and parts[0] != "expand":
        place = f"{place} {int(parts[1]) + 1}"
    if parts[0] == "head" and len(parts) > 1:
        part = HEAD_PARTS.get(parts[1], parts[1])
        place = "code" if part == "mean" and not variational else f"code {part}"  # a plain code has no mean
    kind = type(module).__name__ if module is not None else parts[-1]
    return f"{place} · {kind}"


def summarize(spec: AutoencoderSpec, issues: list[tuple[str, str]], data_bytes: int = 0) -> ModelSummary:
    """The summary of a valid spec (``issues`` empty), or the count of its problems; ``data_bytes``
    (the loaded data's size) joins the memory estimate, as the trainer copies the data."""
    if issues:
        n = len(issues)
        return ModelSummary(headline=f"{n} problem{'s' if n > 1 else ''} to fix before this model can be built",
                            blocks=_blocks(spec))
    try:
        trace = trace_model(spec)
    except Exception as exc:  # a spec validation let through; show it rather than crash the builder
        return ModelSummary(headline=f"cannot build this model: {exc}", blocks=_blocks(spec))
    shapes = [(readable_layer(name, trace.modules.get(name), spec.is_variational), "x".join(map(str, shape)))
              for name, shape in trace.shapes]
    if trace.method != "traced":
        shapes = [("layers", "too many to trace here; the counts come from the layer sizes")]
    bias_text = f"{trace.biases:,} of them biases" if trace.biases else "no biases"
    estimate = estimate_from_trace(spec, trace, data_bytes)
    problem, memory_text = _memory_words(spec, estimate)
    return ModelSummary(headline=f"{trace.parameters:,} parameters ({bias_text})", parameters=trace.parameters,
                        shapes=shapes, blocks=_blocks(spec), estimate=estimate, memory_text=memory_text,
                        memory_problem=problem)


def _memory_words(spec: AutoencoderSpec, estimate: MemoryEstimate) -> tuple[str, str]:
    """(the over-budget line or '', the builder's short words) for the device the spec trains on."""
    try:
        device = resolve_device(spec.train.device)
        budget = memory_budget(device)
    except ValueError:  # no such device, or an unreadable AEGUI_MEMORY_LIMIT: Train says which
        return "", f"{estimate.text} to train"
    problem = budget_problem(estimate, device, budget)
    if problem:
        return problem, f"{estimate.text} to train, over the {format_bytes(budget.limit_bytes)} limit"
    return "", f"{estimate.text} to train"
