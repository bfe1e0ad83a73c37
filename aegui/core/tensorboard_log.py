"""A run's reports as TensorBoard logs, through ``torch.utils.tensorboard`` (an optional extra).

The command line (``--tensorboard DIR``) and the window (Training > Log to TensorBoard) both feed
their reports here, so the two write the same tags:

- ``train/<term>``: each report's losses (averaged since the report before), at its step;
- ``train_epoch/<term>`` and ``val/<term>``: at each epoch's end; ``pretrain <k>/<term>`` for stage k
  of greedy pretraining;
- ``lr``, ``grad_norm``, ``samples_per_s``, ``beta``, ``noise_level``, ``sparsity_weight``,
  ``code/dead_units``;
- ``reconstructions``: one image (input, corrupted input, output rows) and the histograms
  ``code/values``, ``code/mean_activation``, ``code/kl_per_dim``, from the reports that carry pictures,
  at most every ``PICTURE_INTERVAL_S`` and always at the end. A picture costs far more than a scalar
  in the event file, and a minute-by-minute film of the reconstructions is as telling as a dense one.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .reports import EPOCH, FINISHED, Report

PICTURE_INTERVAL_S = 10.0
PICTURE_COLUMNS = 8  # samples across the reconstruction image
INSTALL_HINT = "pip install tensorboard"


def tensorboard_problem() -> str:
    """Why TensorBoard logs cannot be written here ('' when they can)."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return f"TensorBoard logging needs the tensorboard package ({INSTALL_HINT})"
    return ""


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def picture_grid(report: Report) -> np.ndarray | None:
    """(C, H, W) in 0..1: the first samples of the fixed batch, one row each of input, corrupted input and
    output; None for data that is not images."""
    rows = [a for a in (report.inputs, report.corrupted, report.reconstructions) if a is not None]
    if report.reconstructions is None or any(a.ndim != 4 for a in rows):
        return None
    n = min(PICTURE_COLUMNS, len(report.reconstructions))
    stack = np.stack([a[:n] for a in rows])  # (rows, n, C, H, W)
    lo, hi = float(np.nanmin(stack)), float(np.nanmax(stack))
    if lo < 0.0 or hi > 1.0:  # standardised data: the batch's own range, so the images compare
        stack = (stack - lo) / (hi - lo) if hi > lo else np.zeros_like(stack)
    r, n, c, h, w = stack.shape
    grid = stack.transpose(2, 0, 3, 1, 4).reshape(c, r * h, n * w)
    return np.clip(np.nan_to_num(grid), 0.0, 1.0).astype(np.float32)


class TensorBoardLog:
    """Writes reports into ``log_dir``; ``add`` per report, ``close`` at the end (flushes the file)."""

    def __init__(self, log_dir: str | Path, spec=None, clock=time.monotonic):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.clock = clock
        self._pictures_at = -math.inf
        self.pictures = 0  # how many reports' pictures were written
        if spec is not None:
            self.writer.add_text("spec", "```\n" + spec.to_json() + "\n```", 0)

    def add(self, report: Report) -> None:
        w, step = self.writer, report.step
        if report.pretraining:
            for term, value in report.losses.items():
                if _finite(value):
                    w.add_scalar(f"pretrain {report.stage}/{term}", value, step)
            return
        if report.kind == EPOCH:
            for term, value in report.losses.items():
                if _finite(value):
                    w.add_scalar(f"train_epoch/{term}", value, step)
        elif report.kind != FINISHED:
            for term, value in report.losses.items():
                if _finite(value):
                    w.add_scalar(f"train/{term}", value, step)
        if report.val_losses and report.kind in (EPOCH, FINISHED):
            for term, value in report.val_losses.items():
                if _finite(value):
                    w.add_scalar(f"val/{term}", value, step)
        if report.kind != FINISHED:
            for name in ("lr", "grad_norm", "samples_per_s", "beta", "noise_level", "sparsity_weight"):
                value = getattr(report, name)
                if _finite(value):
                    w.add_scalar(name, value, step)
            if report.code_active is not None and len(report.code_active):
                w.add_scalar("code/dead_units", float(np.mean(np.asarray(report.code_active) <= 0.0)), step)
        now = self.clock()
        if report.reconstructions is not None and (report.kind == FINISHED
                                                   or now - self._pictures_at >= PICTURE_INTERVAL_S):
            self._pictures_at = now
            self._add_pictures(report)
        if report.kind in (EPOCH, FINISHED):
            w.flush()

    def _add_pictures(self, report: Report) -> None:
        w, step = self.writer, report.step
        grid = picture_grid(report)
        if grid is not None:
            w.add_image("reconstructions", grid, step)
        for name, values in (("code/values", report.code_sample), ("code/mean_activation", report.code_mean),
                             ("code/kl_per_dim", report.kl_per_dim)):
            if values is not None and np.isfinite(values).all() and values.size:
                w.add_histogram(name, np.asarray(values).ravel(), step)
        self.pictures += 1

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def run_log_dir(parent: str | Path, name: str) -> Path:
    """A fresh folder for one run's logs under ``parent``: NAME-DATE-TIME, with -2, -3... for runs of the
    same second, so TensorBoard lists each run apart."""
    base = Path(parent) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    where, n = base, 1
    while where.exists():
        n += 1
        where = base.with_name(f"{base.name}-{n}")
    return where


def logged(reports, log_dir: str | Path | None, spec):
    """``reports`` passed on unchanged, each also written to TensorBoard in a new folder under ``log_dir``
    (None: passed on only). The log is closed when the reports end or the consumer stops early."""
    if log_dir is None:
        yield from reports
        return
    log = TensorBoardLog(run_log_dir(log_dir, spec.name), spec)
    try:
        for report in reports:
            log.add(report)
            yield report
    finally:
        log.close()
