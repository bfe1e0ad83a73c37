"""``--torchscript OUT.pt``: the model as a TorchScript archive any torch can load without this app.

``m = torch.jit.load("OUT.pt")`` gives ``m(x)`` (the reconstruction in data space), ``m.encode(x)``
(the code; the posterior mean for a variational model) and ``m.decode(code)``. The archive is
traced (``torch.jit.trace_module``) from the deterministic eval-mode wrapper, then loaded back
and compared with the app's model on a batch of another size than the one traced, so a batch
size baked into the graph, or a family the tracer cannot follow, is refused in one line.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..io import atomic_path
from .common import (
    CHECK_BATCH, TRACE_BATCH, ExportError, ExportResult, close_enough, example_code, example_input, export_model,
    family_words, first_line, max_difference, quiet,
)


def export_torchscript(run, out: str | Path, *, check: bool = True) -> ExportResult:
    """Write ``out`` (``OUT.pt``) for ``run`` (a RunArtifact); raises ExportError (one line)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = export_model(run)
    inputs = {"forward": (example_input(run, TRACE_BATCH),), "encode": (example_input(run, TRACE_BATCH),),
              "decode": (example_code(run, TRACE_BATCH),)}
    try:
        with quiet(), torch.no_grad():
            traced = torch.jit.trace_module(wrapper, inputs, check_trace=False)
        with atomic_path(out) as tmp, quiet():
            torch.jit.save(traced, str(tmp))
    except Exception as exc:  # the tracer's own errors: a construct TorchScript cannot record
        raise ExportError(f"TorchScript cannot express {family_words(run)}: {first_line(exc)}") from None
    result = ExportResult([out])
    if not check:
        return result
    x, code = example_input(run, CHECK_BATCH, 7), example_code(run, CHECK_BATCH, 8)
    with quiet(), torch.no_grad():
        loaded = torch.jit.load(str(out), map_location="cpu")
        worst = 0.0
        for name, got, want in (("forward", loaded(x), wrapper(x)), ("encode", loaded.encode(x), wrapper.encode(x)),
                                ("decode", loaded.decode(code), wrapper.decode(code))):
            diff = max_difference(got, want)
            if not close_enough(diff, want):
                raise ExportError(f"TorchScript cannot reproduce {family_words(run)}: its {name} differs from "
                                  f"torch by {diff:.3g} on a batch of {CHECK_BATCH}")
            worst = max(worst, diff)
    result.notes.append(f"checked by loading {out.name} back: largest difference {worst:.2g}")
    return result
