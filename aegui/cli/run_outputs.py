"""What ``train`` writes besides its run folder, report by report, on rank 0 only.

- Progress on stderr, which behaves wherever stderr goes: on a terminal a bar (tqdm when it is
  installed, else a one-line bar of our own); in a log file (stderr not a terminal) no carriage returns,
  only a plain line every ``LOG_EVERY_S`` seconds, so a short run's log holds nothing but its result and
  a long one's shows it is alive; under torchrun only rank 0 shows it.
- ``--snapshots``: the latest report (numbers and pictures) as ``snapshot.safetensors`` in the run's
  folder, replaced atomically at most twice a second, for the window's File > Watch run folder
  (core/run_watch.py reads it). The trainer already spaces its pictures 0.5 s apart; the floor here
  keeps that promise for runs that report every N steps.
- ``--tensorboard DIR``: the reports as TensorBoard logs in DIR/<the run's folder name>
  (core/tensorboard_log.py, the same writer the window uses).

tqdm and tensorboard are optional extras (``pip install aegui[logging]``); without tensorboard,
``--tensorboard`` is refused in one line before anything is written.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from ..core.atomic import atomic_write_bytes
from ..core.reports import FINISHED
from .main import CliError
from .run_folder import say

SNAPSHOT_MIN_INTERVAL_S = 0.5
LOG_EVERY_S = 30.0
BAR_REFRESH_S = 0.1


def check_outputs(args) -> None:
    """Refuse, before any folder is made, a ``--tensorboard`` that cannot be written."""
    directory = getattr(args, "tensorboard", None)
    if directory is None:
        return
    from ..core.tensorboard_log import tensorboard_problem

    if not directory.strip():
        raise CliError("--tensorboard: give a folder name")
    problem = tensorboard_problem()
    if problem:
        raise CliError(f"--tensorboard: {problem}")
    if Path(directory).exists() and not Path(directory).is_dir():
        raise CliError(f"--tensorboard {directory}: this is a file, not a folder")


def _loss_text(report) -> str:
    parts = []
    loss = report.losses.get("total")
    if loss is not None and math.isfinite(loss):
        parts.append(f"loss {loss:.4g}")
    val = (report.val_losses or {}).get("total")
    if val is not None and math.isfinite(val):
        parts.append(f"val {val:.4g}")
    parts.append(f"{report.samples_per_s:,.0f} samples/s")
    return " ".join(parts)


# --- progress ------------------------------------------------------------------------------------------
class LogLines:
    """stderr is a file: a plain line now and then, never a carriage return."""

    def __init__(self, stream, every_s: float = LOG_EVERY_S, clock=time.monotonic):
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self._last = clock()

    def update(self, report) -> None:
        now = self.clock()
        if report.kind == FINISHED or now - self._last < self.every_s:
            return
        self._last = now
        self.stream.write(f"{report.phase} epoch {report.epoch_progress:.2f}/{report.epochs_total} "
                          f"step {report.step} {_loss_text(report)}\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class TerminalBar:
    """A one-line bar on a terminal, redrawn in place (without tqdm)."""

    def __init__(self, stream, clock=time.perf_counter):
        self.stream, self.clock = stream, clock
        self._last = 0.0
        self._drawn = False

    def update(self, report) -> None:
        now = self.clock()
        if now - self._last < BAR_REFRESH_S:
            return
        self._last = now
        frac = min(1.0, report.epoch_progress / max(report.epochs_total, 1))
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        self.stream.write(f"\r{report.phase:>13} [{bar}] {report.epoch_progress:5.2f}/{report.epochs_total} ep "
                          f"{_loss_text(report)}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class TqdmBar:
    """tqdm's bar, one per phase (each greedy pretraining stage has its own epochs)."""

    def __init__(self, stream):
        from tqdm import tqdm

        self._tqdm, self.stream = tqdm, stream
        self.bar = None
        self.phase = None

    def update(self, report) -> None:
        if self.bar is None or report.phase != self.phase:
            self.close()
            self.phase = report.phase
            self.bar = self._tqdm(total=report.epochs_total, desc=report.phase, unit="ep", file=self.stream,
                                  dynamic_ncols=True, mininterval=BAR_REFRESH_S, leave=True,
                                  bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total} ep "
                                             "[{elapsed}<{remaining}{postfix}]")  # tqdm puts ", " before it
        self.bar.set_postfix_str(_loss_text(report), refresh=False)
        done = min(float(report.epoch_progress), float(report.epochs_total))
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)  # through update(), so tqdm's rate and ETA follow

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def make_progress(stream=None):
    """The progress display that suits ``stream`` (stderr by default)."""
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        return LogLines(stream)
    try:
        return TqdmBar(stream)
    except ImportError:
        return TerminalBar(stream)


# --- snapshots -------------------------------------------------------------------------------------------
class SnapshotWriter:
    """The latest report with pictures, replaced atomically, at most every ``min_interval_s``; the
    finished report always (it is what a watcher keeps on screen)."""

    def __init__(self, path: Path, min_interval_s: float = SNAPSHOT_MIN_INTERVAL_S, clock=time.monotonic):
        self.path, self.min_interval_s, self.clock = path, min_interval_s, clock
        self._last = -math.inf
        self.writes = 0
        self.failure = ""

    def write(self, report) -> bool:
        if self.failure:
            return False
        now = self.clock()
        if report.kind != FINISHED and (report.reconstructions is None or now - self._last < self.min_interval_s):
            return False
        from ..core.run_watch import snapshot_bytes

        try:
            atomic_write_bytes(self.path, snapshot_bytes(report))
        except OSError as exc:  # a full disk: the run matters more than its snapshots
            self.failure = f"cannot write {self.path}: {exc.strerror or exc}"
            say(f"warning: {self.failure}; the run goes on without snapshots")
            return False
        self._last = now
        self.writes += 1
        return True


# --- all of it ---------------------------------------------------------------------------------------------
class RunOutputs:
    """Everything ``train`` shows or writes per report; only rank 0 (``main``) has any of it.

    ``update(report)`` for every report; ``close()`` ends the progress display (called again, or before
    more reports while the run stops, it does no harm: the files go on until the finished report)."""

    def __init__(self, args, main: bool, trainer, work: Path | None):
        self.progress = make_progress() if main and not getattr(args, "quiet", False) else None
        self.snapshots = None
        self.tensorboard = None
        if main and work is not None and getattr(args, "snapshots", False):
            from ..core.run_watch import SNAPSHOT_NAME

            self.snapshots = SnapshotWriter(Path(work) / SNAPSHOT_NAME)
        if main and getattr(args, "tensorboard", None):
            from ..core.run_watch import final_folder
            from ..core.tensorboard_log import TensorBoardLog

            where = Path(args.tensorboard) / (final_folder(Path(work)).name if work is not None else "run")
            try:
                self.tensorboard = TensorBoardLog(where, trainer.spec)
            except OSError as exc:
                say(f"warning: cannot write TensorBoard logs into {where}: {exc.strerror or exc}; the run goes "
                    f"on without them")
        if self.snapshots is not None or self.tensorboard is not None:
            trainer.control.set_snapshots_wanted(True)  # someone will look at the pictures after all

    def update(self, report) -> None:
        if self.progress is not None:
            self.progress.update(report)
        if self.snapshots is not None:
            self.snapshots.write(report)
        if self.tensorboard is not None:
            self.tensorboard.add(report)
            if report.kind == FINISHED:
                self.tensorboard.close()
                self.tensorboard = None

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        if self.tensorboard is not None:
            self.tensorboard.flush()
