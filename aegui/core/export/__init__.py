"""Exports of a trained run (a RunArtifact): ONNX, TorchScript, standalone Python, images and CSV.

Every function takes the run and an output path and returns an ExportResult (the files written
and one-line notes on what was checked); a format that cannot express the run's model, or a
missing optional package, raises ExportError whose message is one line for the user.
"""
from __future__ import annotations

from .common import ExportError, ExportModel, ExportResult
from .images import export_images
from .onnx_export import export_onnx, onnx_paths
from .python_code import export_python, model_source
from .torchscript import export_torchscript

__all__ = ["ExportError", "ExportModel", "ExportResult", "export_images", "export_onnx", "export_python",
           "export_torchscript", "model_source", "onnx_paths"]
