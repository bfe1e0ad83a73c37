"""``--onnx OUT.onnx``: the whole model, and its encoder and decoder, as ONNX graphs.

Three files: ``OUT.onnx`` (input ``x``, output ``reconstruction``), ``OUT.encoder.onnx``
(input ``x``, output ``code``: the posterior mean for a variational model) and
``OUT.decoder.onnx`` (input ``code``, output ``reconstruction``). The batch axis is dynamic;
the rest is the run's sample shape, ``(N, C, H, W)`` for images. Outputs are in data space.

The exporter is torch's TorchScript-based one (``dynamo=False``): it needs only the ``onnx``
package, and on the 2-core machine it exported the presets 3-5x faster than the
torch.export-based one (the attention preset: 2.7 s against 11 s). ``exporter="dynamo"``
picks the other, which also needs ``onnxscript``. Each file is run with onnxruntime, when it
is installed, and compared with torch on a batch of another size than the one traced.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..io import atomic_path
from .common import (
    CHECK_BATCH, TRACE_BATCH, DecoderPart, EncoderPart, ExportError, ExportResult, close_enough, example_code,
    example_input, export_model, family_words, first_line, max_difference, quiet,
)

OPSET = 17
INSTALL = "pip install onnx onnxscript onnxruntime"


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def onnx_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """(whole model, encoder, decoder) paths for ``OUT.onnx``."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix.lower() == ".onnx" else out
    return out, stem.with_name(stem.name + ".encoder.onnx"), stem.with_name(stem.name + ".decoder.onnx")


def _export_one(module: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str,
                exporter: str) -> None:
    with atomic_path(path) as tmp, quiet():
        if exporter == "dynamo":
            torch.onnx.export(module, (example,), str(tmp), input_names=[input_name], output_names=[output_name],
                              dynamic_shapes={input_name: {0: torch.export.Dim("batch")}}, opset_version=18,
                              dynamo=True, external_data=False)
        else:
            torch.onnx.export(module, (example,), str(tmp), input_names=[input_name], output_names=[output_name],
                              dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                              opset_version=OPSET, dynamo=False)


def _check_one(path: Path, module: torch.nn.Module, example: torch.Tensor, input_name: str, what: str) -> float:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {input_name: example.numpy()})[0]
    with torch.no_grad():
        want = module(example)
    diff = max_difference(got, want)
    if not close_enough(diff, want):
        raise ExportError(f"ONNX cannot reproduce {what}: {path.name} differs from torch by "
                          f"{diff:.3g} on a batch of {len(example)}")
    return diff


def export_onnx(run, out: str | Path, *, check: bool = True, exporter: str = "auto") -> ExportResult:
    """Write ``out`` (``OUT.onnx``), ``OUT.encoder.onnx`` and ``OUT.decoder.onnx`` for ``run`` (a RunArtifact).

    ``check``: compare each file with torch through onnxruntime when onnxruntime is installed.
    ``exporter``: "auto" or "torchscript" (needs onnx) or "dynamo" (needs onnx and onnxscript).
    Raises ExportError (one line) when a package is missing or the model cannot be expressed.
    """
    if exporter not in ("auto", "torchscript", "dynamo"):
        raise ValueError(f"unknown ONNX exporter {exporter!r}")
    if not have("onnx"):
        raise ExportError(f"ONNX export needs the onnx package: {INSTALL}")
    if exporter == "dynamo" and not have("onnxscript"):
        raise ExportError(f"ONNX export with the dynamo exporter needs the onnxscript package: {INSTALL}")
    wrapper = export_model(run)
    whole_path, enc_path, dec_path = onnx_paths(out)
    whole_path.parent.mkdir(parents=True, exist_ok=True)
    parts = [
        (wrapper, whole_path, "x", "reconstruction", example_input(run, TRACE_BATCH), example_input(run, CHECK_BATCH, 7)),
        (EncoderPart(wrapper), enc_path, "x", "code", example_input(run, TRACE_BATCH), example_input(run, CHECK_BATCH, 7)),
        (DecoderPart(wrapper), dec_path, "code", "reconstruction", example_code(run, TRACE_BATCH),
         example_code(run, CHECK_BATCH, 8)),
    ]
    kind = "dynamo" if exporter == "dynamo" else "torchscript"
    for module, path, in_name, out_name, trace_x, _ in parts:
        try:
            _export_one(module.eval(), trace_x, path, in_name, out_name, kind)
        except ExportError:
            raise
        except Exception as exc:  # the exporter's own errors: an operator or construct ONNX lacks
            raise ExportError(f"ONNX cannot express {family_words(run)}: {first_line(exc)}") from None
    result = ExportResult([whole_path, enc_path, dec_path])
    if not check:
        result.notes.append("ONNX files not checked (asked not to)")
    elif not have("onnxruntime"):
        result.notes.append("ONNX files not checked against torch: onnxruntime is not installed "
                            f"({INSTALL})")
    else:
        worst = 0.0
        for module, path, in_name, _, _, check_x in parts:
            try:
                worst = max(worst, _check_one(path, module, check_x, in_name, family_words(run)))
            except ExportError:
                raise
            except Exception as exc:  # onnxruntime could not load or run the graph
                raise ExportError(f"onnxruntime cannot run {path.name} for {family_words(run)}: "
                                  f"{first_line(exc)}") from None
        result.notes.append(f"checked with onnxruntime against torch: largest difference {worst:.2g}")
    return result
