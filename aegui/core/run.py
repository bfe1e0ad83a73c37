"""A run is one thing you can hold: what was trained, on what, how it went, and how to go on.

``RunArtifact`` gathers what used to be scattered: the spec and the weights, the
data's normalisation, the history and the result, the train/validation split, a
reference to the dataset (name or path, size, checksum), and optionally the full
training state for an exact resume. The command line's run folder is its
``save``; the GUI keeps one per run and hands it to the panels that need a model.

A run folder holds:
    spec.json, weights.safetensors, history.jsonl, run.json, split.safetensors,
    normalisation.json (standardised data only),
    training_state.json + training_state.safetensors (only when the state is kept).
Every file is written atomically; nothing is a pickle.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .data import Dataset
from .io import atomic_write_bytes, state_from_members, state_to_members, tensors_from_bytes, tensors_to_bytes
from .reports import StopReason
from .serialize import SpecError
from .spec import AutoencoderSpec

RUN_SCHEMA_VERSION = 1
STATE_STEM = "training_state"


class RunError(ValueError):
    """A run folder could not be read; the message is meant for the user."""


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class TrainResult:
    stop_reason: StopReason
    message: str
    epochs: int
    steps: int
    train_loss: float
    val_loss: float
    val_recon_mse: float
    samples_per_s: float
    device: str

    def to_json(self) -> dict:
        return {k: _json_safe(v.value if isinstance(v, StopReason) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "TrainResult":
        values = {f.name: data.get(f.name) for f in fields(cls)}
        for name in ("train_loss", "val_loss", "val_recon_mse", "samples_per_s"):
            values[name] = math.nan if values[name] is None else float(values[name])
        values["stop_reason"] = StopReason(values["stop_reason"])
        return cls(**values)


def dataset_checksum(dataset: Dataset) -> str:
    """sha256 of the samples and labels, so a reloaded dataset can be told apart from a changed one."""
    h = hashlib.sha256()
    h.update(str((dataset.x.dtype.str, dataset.x.shape)).encode())
    h.update(np.ascontiguousarray(dataset.x).data)
    if dataset.labels is not None:
        h.update(np.ascontiguousarray(dataset.labels, dtype=np.int64).data)
    return h.hexdigest()


@dataclass
class DatasetRef:
    """Which data a run trained on: enough to find it again and to know it is the same."""

    name: str
    source: str  # a built-in name, a file or folder path, or "torchvision:Name"
    size: int  # samples in the full dataset (before a held-out class was removed)
    sample_shape: tuple[int, ...]
    kind: str
    checksum: str
    excluded_label: int | None = None  # the class held out of training, for anomaly experiments
    options: dict = field(default_factory=dict)  # how it was imported: limit, image_size, channels, kind, ...

    @classmethod
    def from_dataset(cls, dataset: Dataset, excluded_label: int | None = None,
                     options: dict | None = None) -> "DatasetRef":
        return cls(name=dataset.name, source=dataset.source or dataset.name, size=len(dataset),
                   sample_shape=dataset.sample_shape, kind=dataset.kind, checksum=dataset_checksum(dataset),
                   excluded_label=excluded_label, options=dict(options or {}))

    def trained_rows(self, dataset: Dataset) -> np.ndarray:
        """Rows of ``dataset`` (the full set this refers to) that the run's split indexes into."""
        if self.excluded_label is None or dataset.labels is None:
            return np.arange(len(dataset))
        return np.flatnonzero(dataset.labels != self.excluded_label)

    def to_json(self) -> dict:
        data = asdict(self)
        data["sample_shape"] = list(self.sample_shape)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "DatasetRef":
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in dict(data).items() if k in names}
        data["sample_shape"] = tuple(int(s) for s in data["sample_shape"])
        return cls(**data)


@dataclass
class RunArtifact:
    spec: AutoencoderSpec
    weights: dict[str, torch.Tensor]  # owned CPU tensors
    dataset: DatasetRef
    train_index: np.ndarray  # rows of the trained data (see DatasetRef.trained_rows) used for training
    val_index: np.ndarray  # and for validation
    history: list[dict] = field(default_factory=list)  # one row per epoch (and per pretraining epoch)
    result: TrainResult | None = None
    normalisation: dict[str, np.ndarray] | None = None  # feature_mean, feature_std of standardised data
    training_state: dict | None = None  # Trainer.state_dict(), for an exact resume

    @classmethod
    def from_trainer(cls, trainer, dataset_ref: DatasetRef | None = None, with_state: bool = False) -> "RunArtifact":
        """Everything about ``trainer``'s run now; call it on the thread that runs the trainer."""
        data = trainer.dataset
        norm = None
        if data.feature_mean is not None:
            norm = {"feature_mean": np.asarray(data.feature_mean, np.float32).copy(),
                    "feature_std": np.asarray(data.feature_std, np.float32).copy()}
        return cls(
            spec=trainer.spec.copy(),
            weights={k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()},
            dataset=dataset_ref or DatasetRef.from_dataset(data),
            train_index=trainer.train_index.copy(), val_index=trainer.val_index.copy(),
            history=[dict(row) for row in trainer.history], result=trainer.result, normalisation=norm,
            training_state=trainer.state_dict() if with_state else None,
        )

    # --- the model --------------------------------------------------------------------------
    def build_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        from .models import build_model

        model = build_model(self.spec)
        model.load_state_dict(self.weights)
        return model.to(device).eval()

    def validation_rows(self, dataset: Dataset) -> np.ndarray:
        """Rows of the full ``dataset`` that this run validated on."""
        return self.dataset.trained_rows(dataset)[self.val_index]

    # --- files --------------------------------------------------------------------------------
    def to_members(self) -> dict[str, bytes]:
        """The run as named files' bytes: a run folder writes them, a project zips them."""
        members = {
            "spec.json": self.spec.to_json().encode("utf-8"),
            "weights.safetensors": tensors_to_bytes(self.weights, {"format": "aegui-weights",
                                                                   "spec": self.spec.to_json()}),
            "history.jsonl": "".join(json.dumps({k: _json_safe(v) for k, v in row.items()}) + "\n"
                                     for row in self.history).encode("utf-8"),
            "split.safetensors": tensors_to_bytes({"train_index": torch.from_numpy(self.train_index.astype(np.int64)),
                                                   "val_index": torch.from_numpy(self.val_index.astype(np.int64))},
                                                  {"format": "aegui-split"}),
        }
        if self.normalisation is not None:
            # Tables and signals were standardised: these map the model's numbers back to the data's.
            members["normalisation.json"] = json.dumps(
                {k: np.asarray(v).tolist() for k, v in self.normalisation.items()}).encode("utf-8")
        if self.training_state is not None:
            members.update(state_to_members(self.training_state, STATE_STEM))
        members["run.json"] = json.dumps({
            "format": "aegui-run", "schema_version": RUN_SCHEMA_VERSION,
            "dataset": self.dataset.to_json(),
            "result": self.result.to_json() if self.result is not None else None,
            "has_training_state": self.training_state is not None,
        }, indent=1).encode("utf-8")
        return members

    @classmethod
    def from_members(cls, read: Callable[[str], bytes | None], where: str, with_state: bool = True) -> "RunArtifact":
        """The run from named files' bytes; ``read(name)`` gives None for a missing member. Every
        problem is one RunError line naming ``where``; the weights must fit the spec exactly."""
        def need(name: str) -> bytes:
            data = read(name)
            if data is None:
                raise RunError(f"{where} is not complete: {name} is missing")
            return data

        for name in REQUIRED_MEMBERS:
            need(name)
        try:
            meta = json.loads(need("run.json"))
            if not isinstance(meta, dict) or meta.get("format") != "aegui-run":
                raise RunError(f"{where}: run.json is not an Autoencoder Studio run file")
            if int(meta.get("schema_version", 0)) > RUN_SCHEMA_VERSION:
                raise RunError(f"{where} was written by a newer version (run schema {meta['schema_version']})")
            spec = AutoencoderSpec.from_json(need("spec.json").decode("utf-8"))
            weights = tensors_from_bytes(need("weights.safetensors"))
            problem = weights_problem(spec, weights)
            if problem:
                raise RunError(f"{where}: the weights do not fit the spec: {problem}")
            split = tensors_from_bytes(need("split.safetensors"))
            history = [json.loads(line) for line in need("history.jsonl").decode("utf-8").splitlines() if line.strip()]
            norm = None
            raw_norm = read("normalisation.json")
            if raw_norm is not None:
                norm = {k: np.asarray(v, np.float32) for k, v in json.loads(raw_norm).items()}
            state = None
            if with_state and meta.get("has_training_state"):
                state = state_from_members(need(f"{STATE_STEM}.json"), need(f"{STATE_STEM}.safetensors"))
            return cls(spec=spec, weights=weights, dataset=DatasetRef.from_json(meta["dataset"]),
                       train_index=split["train_index"].numpy(), val_index=split["val_index"].numpy(),
                       history=history, result=TrainResult.from_json(meta["result"]) if meta.get("result") else None,
                       normalisation=norm, training_state=state)
        except RunError:
            raise
        except SpecError as exc:
            raise RunError(f"{where}: {exc.first_line}") from None
        except Exception as exc:  # a damaged member: safetensors, JSON or a field of the wrong type
            raise RunError(f"{where}: cannot read the run ({type(exc).__name__}: {str(exc)[:200]})") from None

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.to_members().items():
            atomic_write_bytes(folder / name, data)
        return folder

    @classmethod
    def load(cls, folder: str | Path, with_state: bool = True) -> "RunArtifact":
        folder = Path(folder)

        def read(name: str) -> bytes | None:
            path = folder / name
            return path.read_bytes() if path.is_file() else None

        return cls.from_members(read, str(folder), with_state)


REQUIRED_MEMBERS = ("run.json", "spec.json", "weights.safetensors", "split.safetensors", "history.jsonl")


def weights_problem(spec: AutoencoderSpec, weights: dict[str, torch.Tensor]) -> str:
    """Why ``weights`` cannot be this spec's model's state ('' when they fit): names, shapes, dtypes."""
    from .models import build_model

    expected = build_model(spec).state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        return f"missing {missing[:3]}, unexpected {extra[:3]}".replace("missing [], ", "").replace(", unexpected []", "")
    for name, value in expected.items():
        got = weights[name]
        if tuple(got.shape) != tuple(value.shape) or got.dtype != value.dtype:
            return (f"{name} is {got.dtype} {list(got.shape)} but the model needs "
                    f"{value.dtype} {list(value.shape)}")
    return ""
