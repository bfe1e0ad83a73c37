"""The one object that holds what the user is working on, and says when it changes.

Views read from here and ask here for changes; none of them keeps its own copy
of the spec or the dataset. Spec edits go through an undo stack so every edit
the builder makes can be undone and redone.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.data import Dataset
from ..core.presets import fit_to_input, get_preset
from ..core.reports import StopReason
from ..core.run import RunArtifact, TrainResult
from ..core.spec import AutoencoderSpec
from ..core.spec_rules import input_fits
from ..core.validation import validate


@dataclass
class RunRecord:
    """One training run of this session, for the run list and comparisons.

    What the run did lives in its RunArtifact (history, result, split, weights), as the
    trainer recorded it: the newest snapshot while it trains, the finished run at the end.
    The record adds only what the session knows: a name, when it started and ended, and
    why it failed when it raised."""

    name: str
    preset: str
    dataset: str
    started: float
    spec: AutoencoderSpec
    artifact: RunArtifact | None = None
    ended: float | None = None
    error: str = ""  # the one-line message of a run that raised
    # A run read back from a project keeps only its numbers (a project holds one run's weights):
    # its history and result, used while it has no artifact.
    saved_history: list | None = None
    saved_result: TrainResult | None = None

    @property
    def running(self) -> bool:
        return self.ended is None

    @property
    def history(self) -> list[dict]:
        """Per-epoch rows of fine-tuning (greedy pretraining's rows have epochs of their own)."""
        rows = self.artifact.history if self.artifact is not None else (self.saved_history or [])
        return [row for row in rows if row.get("phase", "train") == "train"]

    @property
    def result(self) -> TrainResult | None:
        return self.artifact.result if self.artifact is not None else self.saved_result

    def to_json(self) -> dict:
        """What the Runs tab needs to list and overlay this run again (a project's session.json)."""
        result = self.result
        return {"name": self.name, "preset": self.preset, "dataset": self.dataset, "started": self.started,
                "ended": self.ended if self.ended is not None else time.time(), "error": self.error,
                "spec": json.loads(self.spec.to_json()), "history": self.history,
                "result": result.to_json() if result is not None else None}

    @classmethod
    def from_json(cls, data: dict) -> "RunRecord":
        """A record of a saved project; KeyError, TypeError or ValueError when it is damaged."""
        result = data.get("result")
        started = float(data["started"])
        ended = data.get("ended")
        return cls(name=str(data["name"]), preset=str(data.get("preset", "")), dataset=str(data.get("dataset", "")),
                   started=started, ended=float(ended) if ended is not None else started,
                   spec=AutoencoderSpec.from_json(json.dumps(data["spec"])), error=str(data.get("error") or ""),
                   saved_history=[dict(row) for row in data.get("history") or []],
                   saved_result=TrainResult.from_json(result) if result else None)

    @property
    def final_val_loss(self) -> float | None:
        return self.result.val_loss if self.result is not None else None

    @property
    def stop_reason(self) -> StopReason | None:
        if self.error:
            return StopReason.FAILED
        return self.result.stop_reason if self.result is not None else None

    @property
    def seconds(self) -> float:
        return (self.ended if self.ended is not None else time.time()) - self.started


class _SpecEdit(QUndoCommand):
    def __init__(self, state: "AppState", before: AutoencoderSpec, after: AutoencoderSpec, text: str):
        super().__init__(text)
        self._state, self._before, self._after = state, before, after

    def redo(self) -> None:
        self._state._apply_spec(self._after)

    def undo(self) -> None:
        self._state._apply_spec(self._before)


class AppState(QObject):
    specChanged = Signal(object)  # AutoencoderSpec
    datasetChanged = Signal(object)  # Dataset
    runsChanged = Signal()
    lockedChanged = Signal(bool)  # spec read-only while training
    holdoutChanged = Signal(object)  # the label trained without (int), or None

    def __init__(self, spec: AutoencoderSpec | None = None, dataset: Dataset | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._spec = spec or get_preset("ae")
        self._dataset = dataset
        self._issues = validate(self._spec)
        self._locked = False
        self._holdout: int | None = None
        # How the dataset was loaded (load_dataset's keyword arguments), so a project can load it again.
        self.dataset_options: dict = {}
        self.undo_stack = QUndoStack(self)
        self.runs: list[RunRecord] = []

    # --- spec --------------------------------------------------------------------------------
    @property
    def spec(self) -> AutoencoderSpec:
        """A copy: callers edit it and hand it back with ``edit_spec``."""
        return self._spec.copy()

    @property
    def issues(self) -> list[tuple[str, str]]:
        return list(self._issues)

    @property
    def locked(self) -> bool:
        return self._locked

    def set_locked(self, locked: bool) -> None:
        if locked != self._locked:
            self._locked = locked
            self.lockedChanged.emit(locked)

    def edit_spec(self, new_spec: AutoencoderSpec, text: str = "edit model") -> bool:
        """Replace the spec as one undoable edit; refused while training."""
        if self._locked or new_spec == self._spec:
            return False
        self.undo_stack.push(_SpecEdit(self, self._spec.copy(), new_spec.copy(), text))
        return True

    def replace_spec(self, spec: AutoencoderSpec) -> None:
        """A new document (File > New, opening a project): the spec, with no undo history of the last one."""
        self.undo_stack.clear()
        self._apply_spec(spec)

    def _apply_spec(self, spec: AutoencoderSpec) -> None:
        self._spec = spec.copy()
        self._issues = validate(self._spec)
        self.specChanged.emit(self._spec.copy())

    # --- dataset -------------------------------------------------------------------------------
    @property
    def dataset(self) -> Dataset | None:
        return self._dataset

    def set_dataset(self, dataset: Dataset, options: dict | None = None) -> None:
        """Make ``dataset`` current and fit the spec's input to it (one undoable edit). ``options``:
        the keyword arguments it was loaded with."""
        self._dataset = dataset
        self.dataset_options = dict(options or {})
        if self._holdout is not None:
            self._holdout = None
            self.holdoutChanged.emit(None)
        spec = self._spec
        if not input_fits(spec, dataset) and not self._locked:
            fitted = fit_to_input(spec, dataset.kind, dataset.sample_shape, dataset.in_unit_range)
            self.edit_spec(fitted, f"fit input to {dataset.name}")
        self.datasetChanged.emit(dataset)

    # --- a class held out of training (anomaly detection: learn "normal", score the rest) ----------
    @property
    def holdout(self) -> int | None:
        return self._holdout

    def set_holdout(self, label: int | None) -> None:
        if self._locked or label == self._holdout:
            return
        self._holdout = label
        self.holdoutChanged.emit(label)

    def holdout_name(self) -> str:
        ds, label = self._dataset, self._holdout
        return "" if label is None or ds is None else ds.label_name(label)

    def training_index(self) -> np.ndarray | None:
        """Rows of the dataset a run trains on: all (None), or all but the held-out class."""
        ds = self._dataset
        if self._holdout is None or ds is None or ds.labels is None:
            return None
        return np.flatnonzero(ds.labels != self._holdout)

    def training_dataset(self) -> Dataset | None:
        """The data a run trains on (the engine's ``without_label`` when a class is held out)."""
        if self._holdout is None or self._dataset is None or self._dataset.labels is None:
            return self._dataset
        return self._dataset.without_label(self._holdout)

    # --- runs -------------------------------------------------------------------------------------
    def add_run(self, preset: str, dataset_name: str | None = None) -> RunRecord:
        """A record for a run about to start on ``dataset_name`` (default: the current dataset's)."""
        name = f"run {len(self.runs) + 1}: {preset}"
        if dataset_name is None:
            dataset_name = self._dataset.name if self._dataset else ""
        record = RunRecord(name=name, preset=preset, dataset=dataset_name,
                           started=time.time(), spec=self._spec.copy())
        self.runs.append(record)
        self.runsChanged.emit()
        return record

    def update_run(self, record: RunRecord, artifact: RunArtifact) -> None:
        """A newer snapshot of a running run (no signal: the run list reads it when shown)."""
        record.artifact = artifact

    def finish_run(self, record: RunRecord, artifact: RunArtifact | None) -> None:
        """The run ended with ``artifact`` (its result says how)."""
        if artifact is not None:
            record.artifact = artifact
        record.ended = time.time()
        self.runsChanged.emit()

    def fail_run(self, record: RunRecord, message: str) -> None:
        """The run raised: it keeps its last snapshot, and says why it ended."""
        record.error = message or "failed"
        record.ended = time.time()
        self.runsChanged.emit()

    def resume_run(self, record: RunRecord) -> None:
        """``record`` trains on (Continue training): running again, the same entry in the list."""
        record.ended, record.error = None, ""
        self.runsChanged.emit()

    def set_runs(self, records: list[RunRecord]) -> None:
        """The run list of an opened project (or none, for a new one)."""
        self.runs = list(records)
        self.runsChanged.emit()

    def runs_changed(self) -> None:
        self.runsChanged.emit()
