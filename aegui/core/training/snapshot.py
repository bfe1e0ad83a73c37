"""The pictures a report carries: a fixed batch through the model, the filters, the output bias.

A snapshot costs a forward pass and a few copies (about 2 ms on the 2-core
machine), so it is sent at most twice a second, and only while someone shows it
(``TrainControl.snapshots_wanted``); the scalar reports in between stay cheap.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .. import objectives as obj
from ..reports import MAX_FILTERS, Report, ReportKind, to_numpy

SNAPSHOT_INTERVAL_S = 0.5


class SnapshotBatch:
    """A fixed batch, with fixed noise, shown in every snapshot so changes are the model's own."""

    def __init__(self, source: torch.Tensor, size: int, to_float, device: torch.device):
        # Spread over the set: its rows are often grouped by class, and the first few would all be alike.
        n = min(size, len(source))
        pick = torch.from_numpy(np.linspace(0, len(source) - 1, n).round().astype(np.int64)).to(source.device)
        self.x = to_float(source[pick])
        gen = torch.Generator().manual_seed(1234)
        self.uniform = torch.rand(self.x.shape, generator=gen).to(device)
        self.normal = torch.randn(self.x.shape, generator=gen).to(device)
        self.last_sent = -float("inf")

    def due(self, kind: ReportKind, wanted: bool, every_steps: int) -> bool:
        """Whether this report carries a snapshot. The finished report always does (it is what
        stays on screen); reports counted in steps always do, as a caller asking for them wants
        each one whole; others at most every SNAPSHOT_INTERVAL_S, and only when wanted."""
        if kind == ReportKind.FINISHED:
            return True
        if not wanted:
            return False
        return every_steps > 0 or time.perf_counter() - self.last_sent >= SNAPSHOT_INTERVAL_S

    @torch.no_grad()
    def fill(self, report: Report, model, spec, noise_level: float, value_range) -> None:
        self.last_sent = time.perf_counter()
        noise = spec.objective.noise
        x_in = obj.corrupt(self.x, noise.kind, noise_level, value_range, uniform=self.uniform, normal=self.normal)
        was = model.training
        model.eval()
        try:
            logits, encoded = model(x_in)
        finally:
            model.train(was)
        report.inputs = to_numpy(self.x)
        report.corrupted = to_numpy(x_in) if noise.kind != "none" else None
        report.reconstructions = to_numpy(obj.output_from_logits(logits.float(), spec.likelihood))
        report.code_sample = to_numpy(encoded.mean_code)
        report.filters = to_numpy(model.first_layer_filters(), MAX_FILTERS)
        report.output_bias = to_numpy(model.output_bias_image())
        if "attention" in encoded.extras:
            report.attention = to_numpy(encoded.extras["attention"])
            report.token_grid = model.tokens.grid
        if "capsule_lengths" in encoded.extras:
            report.capsule_lengths = to_numpy(encoded.extras["capsule_lengths"])
