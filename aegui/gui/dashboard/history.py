"""What the dashboard remembers of a run, in bounded memory.

Reports arrive about ten times a second for as long as a run lasts, so nothing
here grows with the run's length:

- ``CurveHistory`` keeps (step, epoch, value) points in preallocated numpy
  arrays and drops every other point when full. A one-hour run (36,000 reports)
  ends with at most ``MAX_POINTS`` points per curve, spread over the whole run.
- ``SnapshotRing`` keeps reconstruction snapshots in a fixed ring whose
  admission stride is chosen from the run's length, so the ring spans the run
  instead of only its last seconds, and never allocates after the first one.
- ``LiveChange`` records what the user changed mid-run, for markers.

Everything is plain numpy: the recording side runs on every report and must stay
far cheaper than drawing, and it is tested without a window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.spec_rules import LIVE_VALUE_SHORT

MAX_POINTS = 4000  # per curve: thin by half beyond this
SNAPSHOT_CAPACITY = 200  # reconstruction snapshots kept for the step slider
SNAPSHOT_BUDGET_BYTES = 16 << 20  # all snapshot arrays together


class CurveHistory:
    """Points of one curve, thinned by half whenever ``capacity`` is exceeded.

    It also keeps the curve's exponential moving average, updated one point per
    append (O(1)) rather than recomputed on every refresh; ``set_smoothing``
    recomputes it once when the weight changes.
    """

    def __init__(self, capacity: int = MAX_POINTS, smoothing: float = 0.0) -> None:
        self.capacity = capacity
        # Rows: step, epoch, value, smoothed value. One spare column: the append
        # that overflows is written before the thinning.
        self._data = np.empty((4, capacity + 1), dtype=np.float64)
        self.n = 0
        self.version = 0  # bumped on every change, so views can skip unchanged curves
        self.smoothing = smoothing
        self._ema = 0.0  # biased EMA of every value appended
        self._count = 0

    def __len__(self) -> int:
        return self.n

    def append(self, step: float, epoch: float, value: float) -> None:
        if value is None or not math.isfinite(value):
            return
        w = self.smoothing
        self._ema = w * self._ema + (1.0 - w) * value
        self._count += 1
        smoothed = self._ema / (1.0 - w ** self._count) if w > 0 else value
        self._data[:, self.n] = (step, epoch, value, smoothed)
        self.n += 1
        if self.n > self.capacity:
            kept = self._data[:, : self.n : 2].copy()
            self.n = kept.shape[1]
            self._data[:, : self.n] = kept
        self.version += 1

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = min(max(float(weight), 0.0), 0.999)
        if self.n:
            self._data[3, : self.n] = smooth(self.values, self.smoothing)
            # Continue the average from where the recomputed one ends.
            self._count = self.n
            self._ema = self._data[3, self.n - 1] * (1.0 - self.smoothing ** self.n)
        self.version += 1

    @property
    def steps(self) -> np.ndarray:
        return self._data[0, : self.n]

    @property
    def epochs(self) -> np.ndarray:
        return self._data[1, : self.n]

    @property
    def values(self) -> np.ndarray:
        return self._data[2, : self.n]

    @property
    def smoothed(self) -> np.ndarray:
        return self._data[3, : self.n]

    def last(self) -> float | None:
        return float(self._data[2, self.n - 1]) if self.n else None

    @property
    def nbytes(self) -> int:
        return self._data.nbytes


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (weight 0 returns the values).

    Vectorised in blocks (a Python loop over 4,000 points is ~2 ms a curve, too
    slow per refresh; scipy's lfilter would cost 1.3 s to import). Within a block
    the EMA is a cumulative sum of ``x_k * w**-k``; blocks are short enough that
    ``w**-k`` stays below 1e12, so no precision is lost.
    """
    x = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(x) < 2:
        return x
    w = min(float(weight), 0.999)
    block = int(max(1, min(512, 12 * math.log(10) / -math.log(w))))
    out = np.empty_like(x)
    carry = 0.0  # the (biased) EMA before the block
    for start in range(0, len(x), block):
        chunk = x[start:start + block]
        k = np.arange(len(chunk))
        grow = w ** -k.astype(np.float64)
        decay = w ** (k + 1.0)
        out[start:start + len(chunk)] = decay * (carry + (1.0 - w) / w * np.cumsum(chunk * grow))
        carry = out[start + len(chunk) - 1]
    return out / (1.0 - w ** np.arange(1, len(x) + 1, dtype=np.float64))


@dataclass
class LiveChange:
    step: int
    epoch: float
    text: str  # e.g. "lr 0.005"


class SnapshotRing:
    """The newest reconstruction snapshots, in a fixed ring, spaced to span the run.

    ``admit`` takes a snapshot only if ``stride`` steps passed since the last one;
    ``configure`` sets the stride so that ``capacity`` snapshots cover the run.
    Arrays are float16 (the display needs no more) and allocated once.
    """

    def __init__(self, capacity: int = SNAPSHOT_CAPACITY, budget_bytes: int = SNAPSHOT_BUDGET_BYTES) -> None:
        self.max_capacity = capacity
        self.budget_bytes = budget_bytes
        self.capacity = capacity
        self.total_steps = 0
        self._recon: np.ndarray | None = None
        self._corrupted: np.ndarray | None = None
        self._steps = np.zeros(capacity, dtype=np.int64)
        self._start = 0  # index of the oldest entry
        self.n = 0
        self._last_step = -(1 << 62)

    def configure(self, total_steps: int) -> None:
        """The run's length in steps: the stride is chosen so the ring spans all of it."""
        self.total_steps = max(0, int(total_steps))

    @property
    def stride(self) -> int:
        return max(1, math.ceil(self.total_steps / max(self.capacity, 1)))

    def clear(self) -> None:
        self._recon = self._corrupted = None
        self._start = self.n = 0
        self._last_step = -(1 << 62)
        self.total_steps = 0

    def __len__(self) -> int:
        return self.n

    def admit(self, step: int, reconstructions: np.ndarray, corrupted: np.ndarray | None) -> bool:
        if step - self._last_step < self.stride:
            return False
        if self._recon is None or self._recon.shape[1:] != reconstructions.shape:
            self._allocate(reconstructions.shape, corrupted is not None)
        slot = (self._start + self.n) % self.capacity
        if self.n == self.capacity:  # full: overwrite the oldest
            self._start = (self._start + 1) % self.capacity
        else:
            self.n += 1
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's huge values become inf, quietly
            self._recon[slot] = reconstructions
            if self._corrupted is not None and corrupted is not None and corrupted.shape == reconstructions.shape:
                self._corrupted[slot] = corrupted
        self._steps[slot] = step
        self._last_step = step
        return True

    def _allocate(self, shape: tuple[int, ...], with_corrupted: bool) -> None:
        per = 2 * int(np.prod(shape)) * (2 if with_corrupted else 1)
        self.capacity = max(2, min(self.max_capacity, self.budget_bytes // max(per, 1)))
        self._recon = np.zeros((self.capacity, *shape), dtype=np.float16)
        self._corrupted = np.zeros((self.capacity, *shape), dtype=np.float16) if with_corrupted else None
        self._steps = np.zeros(self.capacity, dtype=np.int64)
        self._start = self.n = 0

    def get(self, i: int) -> tuple[int, np.ndarray, np.ndarray | None]:
        """The i-th oldest snapshot: (step, reconstructions, corrupted or None) as float32."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        slot = (self._start + i) % self.capacity
        corrupted = None if self._corrupted is None else self._corrupted[slot].astype(np.float32)
        return int(self._steps[slot]), self._recon[slot].astype(np.float32), corrupted

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._recon, self._corrupted, self._steps) if a is not None)


MAX_MARKERS = 100  # live-change markers kept (the oldest go first)
PRETRAIN_KEY = "pretrain"  # stage k of greedy pretraining is the curve "pretrain k"


def pretrain_key(stage: int) -> str:
    return f"{PRETRAIN_KEY} {stage}"


def is_pretrain(key: str) -> bool:
    return key.startswith(PRETRAIN_KEY)

LIVE_NAMES = LIVE_VALUE_SHORT  # each live value's short label beside its marker


class RunRecorder:
    """Turns each report into points on bounded curves; called for every report, so it stays cheap.

    Curve keys: "train <term>", "val <term>" (epoch ends), "pretrain <k>" for stage k of greedy
    pretraining (at negative x, before fine-tuning), and "dead units" / "active units" for the
    code's activity.
    """

    def __init__(self) -> None:
        self.curves: dict[str, CurveHistory] = {}
        self.changes: list[LiveChange] = []
        self.smoothing = 0.0
        self.reports = 0
        self.run_length: tuple[int, int] | None = None  # (epochs, steps per epoch) of fine-tuning

    def clear(self) -> None:
        self.curves.clear()
        self.changes.clear()
        self.reports = 0
        self.run_length = None

    # --- a project keeps the curves (already thinned to at most MAX_POINTS each) ----------------
    def to_json(self) -> dict:
        """The curves as JSON-ready lists: enough to draw the Live tab's loss plot again."""
        return {"length": list(self.run_length) if self.run_length else None,
                "curves": {key: {"step": c.steps.tolist(), "epoch": c.epochs.tolist(), "value": c.values.tolist()}
                           for key, c in self.curves.items() if c.n}}

    def restore_history(self, rows: list[dict], epochs_total: int) -> None:
        """Curves from a run's per-epoch history, for a project written without the dashboard's own
        curves (by the command line): one point per epoch for every train and validation term."""
        self.clear()
        steps_per_epoch = 0
        for row in rows:
            if row.get("phase", "train") != "train":
                continue
            try:
                epoch, step = float(row["epoch"]), float(row.get("step", 0))
            except (KeyError, TypeError, ValueError):
                continue
            if epoch > 0 and step > 0:
                steps_per_epoch = round(step / epoch)
            for name, value in row.items():
                if name.startswith(("train_", "val_")) and isinstance(value, (int, float)):
                    where, term = name.split("_", 1)
                    self._point(f"{where} {term}", step, epoch, value)
        if steps_per_epoch:
            self.run_length = (max(int(epochs_total), 1), steps_per_epoch)

    def marks_to_json(self) -> list[dict]:
        return [{"step": c.step, "epoch": c.epoch, "text": c.text} for c in self.changes]

    def restore(self, curves: dict, marks: list[dict]) -> None:
        """Curves and marks saved by ``to_json``/``marks_to_json``; damaged entries are skipped, as a
        missing curve is better than no window."""
        self.clear()
        length = curves.get("length") if isinstance(curves, dict) else None
        if isinstance(length, list) and len(length) == 2:
            self.run_length = (int(length[0]), int(length[1]))
        saved = curves.get("curves") if isinstance(curves, dict) else None
        for key, points in (saved or {}).items():
            try:
                rows = zip(points["step"], points["epoch"], points["value"])
                for step, epoch, value in rows:
                    if value is not None:
                        self._point(str(key), float(step), float(epoch), float(value))
            except (KeyError, TypeError, ValueError):
                self.curves.pop(str(key), None)
        for mark in marks or []:
            try:
                self.changes.append(LiveChange(int(mark["step"]), float(mark["epoch"]), str(mark["text"])))
            except (KeyError, TypeError, ValueError):
                continue
        del self.changes[:-MAX_MARKERS]

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for key, curve in self.curves.items():
            if key.startswith("train"):
                curve.set_smoothing(weight)

    def _point(self, key: str, step: float, epoch: float, value) -> None:
        if value is None:
            return
        curve = self.curves.get(key)
        if curve is None:
            curve = self.curves[key] = CurveHistory(smoothing=self.smoothing if key.startswith("train") else 0.0)
        curve.append(step, epoch, float(value))

    def add(self, report) -> None:
        self.reports += 1
        step, x = report.step, report.epoch_progress
        if report.pretraining:
            # Greedy pretraining comes before fine-tuning's epoch 0, so it is drawn at negative x,
            # from -(layers x epochs per layer) up to 0. Each stage is its own curve: a deeper
            # layer reconstructs the activations below it, a loss on another scale, and joined
            # into one line the stages would make jumps that mean nothing.
            stage, stages = report.stage, report.stages
            done = (stage - 1) * report.epochs_total + x
            epochs = done - stages * report.epochs_total
            self._point(pretrain_key(stage), epochs * report.steps_per_epoch, epochs, report.losses.get("total"))
            return
        self.run_length = (report.epochs_total, report.steps_per_epoch)
        # An epoch report's training losses average the whole epoch; drawn at its end they would
        # make a saw-tooth beside the interval points, so they only stand in for an epoch too
        # short to have had a progress report.
        total = self.curves.get("train total")
        had_progress = total is not None and total.n and total.epochs[-1] > report.epoch - 1
        if report.kind == "progress" or (report.kind == "epoch" and not had_progress):
            for term, value in report.losses.items():
                self._point(f"train {term}", step, x, value)
        if report.val_losses and report.kind in ("epoch", "finished"):
            last = self.curves.get("val total")
            if report.kind == "epoch" or last is None or last.n == 0 or last.steps[-1] != step:
                for term, value in report.val_losses.items():
                    self._point(f"val {term}", step, x, value)
        if report.code_active is not None and len(report.code_active):
            active = np.asarray(report.code_active)
            self._point("dead units", step, x, float(np.mean(active <= 0.0)))
            self._point("active units", step, x, float(np.mean(active)))
        for name, value in report.live_changes.items():
            self.changes.append(LiveChange(step, x, f"{LIVE_NAMES.get(name, name)} {value:.3g}"))
        del self.changes[:-MAX_MARKERS]

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.curves.values())
