"""``--python DIR``: ``DIR/model.py`` (one readable file of plain torch) and ``DIR/weights.safetensors``.

``from model import load; m = load()`` gives an ``nn.Module`` in eval mode that needs only torch
and safetensors: ``m(x)`` is the reconstruction in data space, ``m.encode(x)`` the code (the
posterior mean for a variational model), ``m.decode(code)`` the reconstruction of a code.
The file is written from the app's model built from the spec, layer by layer, with the app's
attribute names, so the weights file holds exactly the app's state dict and loads with
``strict=True``. Before anything is written the generated source is run here and must
reproduce the app's reconstruction; otherwise the export is refused.
"""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write_text, save_tensors
from .common import (
    CHECK_BATCH, ExportError, ExportResult, close_enough, example_code, example_input, export_model, family_words,
    first_line, max_difference, quiet,
)
from .families import family_code, indent_statements

MODEL_FILE = "model.py"
WEIGHTS_FILE = "weights.safetensors"


def _in_docstring(text: str) -> str:
    """The user's text, escaped for the module's docstring: a name or description holding three quotes
    must not end it early and turn the rest into code that runs when model.py is imported."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _data_space(run) -> str:
    if run.spec.input.kind == "image":
        return "floats from 0 to 1 (a pixel's value / 255), shaped (N, C, H, W)"
    if run.normalisation is not None:
        return ("standardised values: (value - mean) / std per feature (the last axis); standardise() and "
                "unstandardise() below map between your units and data space")
    return "the values as the model was fed them (this run's data was not standardised)"


def _header(run, model) -> str:
    spec = run.spec
    shape = tuple(spec.input.shape)
    batch = "(N, " + ", ".join(str(s) for s in shape) + ")"
    variational = " (the posterior mean: this model is variational, and nothing here samples)" \
        if spec.is_variational else ""
    output = ("a sigmoid maps the decoder's logits to 0-1" if spec.likelihood == "bernoulli"
              else "the decoder's values as they are (gaussian likelihood)")
    description = f" - {_in_docstring(spec.description)}" if spec.description else ""
    return f'''"""Autoencoder "{_in_docstring(spec.name)}"{description}

Exported by Autoencoder Studio as plain torch code: {"an" if spec.family[0] in "aeiou" else "a"} {spec.family} autoencoder for {spec.input.kind}
samples shaped {shape}, trained on "{_in_docstring(run.dataset.name)}". No part of the app is needed to use it.

    from model import load
    m = load()              # an nn.Module in eval mode, weights from weights.safetensors beside this file
    recon = m(x)            # x: a batch shaped {batch} -> its reconstruction, the same shape
    code = m.encode(x)      # (N, {spec.code_dim}){variational}
    recon = m.decode(code)  # codes -> reconstructions

Data space, what the model takes and gives: {_data_space(run)}.
Outputs: {output}. Everything is deterministic in eval mode.
Needs torch and safetensors.
"""
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
{{functional}}
INPUT_SHAPE = {shape}
CODE_DIM = {spec.code_dim}
'''


def _numbers(values: np.ndarray) -> str:
    items = [repr(float(v)) for v in np.asarray(values, np.float32).reshape(-1)]
    lines = [", ".join(items[i:i + 6]) for i in range(0, len(items), 6)]
    return "[\n    " + ",\n    ".join(lines) + ",\n]" if items else "[]"


def _normalisation(run) -> str:
    norm = run.normalisation
    if norm is None or run.spec.input.kind == "image":
        return ""
    return f'''

# The data's per-feature statistics: the model works on (value - FEATURE_MEAN) / FEATURE_STD.
FEATURE_MEAN = {_numbers(norm["feature_mean"])}
FEATURE_STD = {_numbers(norm["feature_std"])}


def standardise(values):
    """Your units -> data space (what the model takes)."""
    values = torch.as_tensor(values, dtype=torch.float32)
    return (values - torch.tensor(FEATURE_MEAN)) / torch.tensor(FEATURE_STD)


def unstandardise(z):
    """Data space (what the model gives) -> your units."""
    return torch.as_tensor(z, dtype=torch.float32) * torch.tensor(FEATURE_STD) + torch.tensor(FEATURE_MEAN)
'''


def _link(likelihood: str) -> str:
    if likelihood == "bernoulli":
        return "torch.sigmoid(self.decode_logits(code))  # bernoulli likelihood: probabilities in 0-1"
    return "self.decode_logits(code)  # gaussian likelihood: the values themselves"


def model_source(run, model: torch.nn.Module | None = None) -> str:
    """The text of ``model.py`` for ``run`` (a RunArtifact)."""
    model = model if model is not None else run.build_model("cpu")
    code = family_code(model, run.spec.family)
    helpers = "\n".join(h.strip("\n") + "\n\n" for h in code.helpers)
    functional = "from torch.nn import functional as F\n" if "F." in helpers + code.methods else ""
    header = _header(run, model).replace("{functional}", functional)
    return f'''{header}{_normalisation(run)}

{helpers}
class Autoencoder(nn.Module):
    """The {run.spec.family} autoencoder; attribute names match the app's, so the weights load as they are."""

    def __init__(self):
        super().__init__()
{indent_statements(code.init)}{code.methods}
    def decode(self, code):
        """Codes -> reconstructions in data space."""
        return {_link(run.spec.likelihood)}

    def forward(self, x):
        """A batch -> its reconstruction in data space, using the code (never a sample)."""
        return self.decode(self.encode(x))


def load(weights=None, device="cpu"):
    """The model in eval mode with its trained weights (default: {WEIGHTS_FILE} beside this file)."""
    path = Path(__file__).with_name("{WEIGHTS_FILE}") if weights is None else Path(weights)
    model = Autoencoder()
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device).eval()
'''


def _run_source(source: str, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """Execute the generated source as its own module and load the weights, strictly."""
    module = types.ModuleType("aegui_exported_model")
    module.__file__ = "<generated model.py>"
    exec(compile(source, "<generated model.py>", "exec"), module.__dict__)  # our own generated text
    net = module.Autoencoder()
    net.load_state_dict(weights, strict=True)
    return net.eval()


def export_python(run, out_dir: str | Path) -> ExportResult:
    """Write ``out_dir/model.py`` and ``out_dir/weights.safetensors`` for ``run`` (a RunArtifact).

    The generated model is checked here first (strict weight loading; forward, encode and decode
    against the app's model); ExportError (one line) when it cannot be written or does not match.
    """
    wrapper = export_model(run)
    try:
        source = model_source(run, wrapper.model)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"--python cannot write {family_words(run)}: {first_line(exc)}") from None
    weights = {k: v.detach().to("cpu") for k, v in wrapper.model.state_dict().items()}
    try:
        with quiet():
            net = _run_source(source, weights)
    except Exception as exc:
        raise ExportError(f"--python wrote code for {family_words(run)} that does not load its weights: "
                          f"{first_line(exc)}") from None
    x, code = example_input(run, CHECK_BATCH, 7), example_code(run, CHECK_BATCH, 8)
    worst = 0.0
    with torch.no_grad():
        for name, got, want in (("forward", net(x), wrapper(x)), ("encode", net.encode(x), wrapper.encode(x)),
                                ("decode", net.decode(code), wrapper.decode(code))):
            diff = max_difference(got, want)
            if not close_enough(diff, want, 1e-5):
                raise ExportError(f"--python cannot reproduce {family_words(run)}: its {name} differs from the "
                                  f"app's by {diff:.3g}")
            worst = max(worst, diff)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_tensors(weights, out_dir / WEIGHTS_FILE, {"format": "pt", "spec_name": run.spec.name})
    atomic_write_text(out_dir / MODEL_FILE, source)
    return ExportResult([out_dir / MODEL_FILE, out_dir / WEIGHTS_FILE],
                        [f"checked the generated model against the app's: largest difference {worst:.2g}"])
