"""A project file (.aeproj): everything a person made, in one zip, and a reader that trusts nothing.

Members:
    project.json      format, app version, schema_version, name, and a manifest: each other
                      member's size and sha256
    spec.json         the model as it stands in the builder
    session.json      the run list (each run's curves and result), the dashboard's curves, the
                      live-edit marks, and the dataset reference (built-in name or path, import
                      options, size, checksum)
    run/...           the current run: RunArtifact's members (spec, weights, history, split,
                      normalisation, run.json) and its training state for an exact resume
Only JSON and safetensors: nothing in a project is ever a pickle, and nothing is extracted to
disk. Loading refuses, with one line: a damaged zip, a member path that is absolute or climbs
out (zip-slip), a member or a total larger than its manifest entry or a sane bound (zip bomb),
a hash that does not match, a missing or unexpected member, weights that do not fit the spec,
and an unknown or newer schema. Saving is atomic (core.io.atomic_path): a crash mid-save
leaves the old file as it was.
"""
from __future__ import annotations

import hashlib
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .. import __version__
from .io import atomic_path
from .run import DatasetRef, RunArtifact, RunError
from .serialize import SpecError
from .spec import AutoencoderSpec

PROJECT_SUFFIX = ".aeproj"
PROJECT_FORMAT = "aegui-project"
PROJECT_SCHEMA_VERSION = 1
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 4 << 30  # 4 GiB: far above any model the app trains, far below a zip bomb's claim
MAX_TOTAL_BYTES = 8 << 30
MAX_HEADER_BYTES = 1 << 20  # project.json
RUN_PREFIX = "run/"

# Older schema -> a function that upgrades (header, members) one version. Every later schema change
# adds one, and tests/core/test_project.py opens the saved fixture of each version forever after.
MIGRATIONS: dict[int, Callable[[dict, dict[str, bytes]], None]] = {}


class ProjectError(ValueError):
    """A project could not be read or written; the message is the one line the user sees."""


@dataclass
class Project:
    spec: AutoencoderSpec
    run: RunArtifact | None = None  # the trained model, with its training state for an exact resume
    dataset: DatasetRef | None = None  # what was loaded (the run's own reference when there is a run)
    runs: list[dict] = field(default_factory=list)  # the session's run list, JSON-ready
    curves: dict = field(default_factory=dict)  # the dashboard's curves of the current run, JSON-ready
    marks: list[dict] = field(default_factory=list)  # live-edit marks
    name: str = ""

    def to_members(self) -> dict[str, bytes]:
        members = {
            "spec.json": self.spec.to_json().encode("utf-8"),
            "session.json": json.dumps(_finite({
                "runs": self.runs, "curves": self.curves, "marks": self.marks,
                "dataset": self.dataset.to_json() if self.dataset is not None else None,
            }), allow_nan=False).encode("utf-8"),
        }
        if self.run is not None:
            members.update({RUN_PREFIX + k: v for k, v in self.run.to_members().items()})
        return members


def _finite(value):
    """JSON-ready: NaN and infinities (a diverged run's losses) become null, numpy values plain ones."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _finite(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a {type(value).__name__} cannot go into a project")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- saving ---------------------------------------------------------------------------------------
def save_project(project: Project, path: str | Path) -> Path:
    """Write ``project`` to ``path`` atomically; a ProjectError names what went wrong (the project
    in memory is untouched, so the user can save elsewhere)."""
    path = Path(path)
    try:
        members = project.to_members()
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"cannot save the project: {exc}") from None
    header = {
        "format": PROJECT_FORMAT, "app_version": __version__, "schema_version": PROJECT_SCHEMA_VERSION,
        "name": project.name or path.stem,
        "manifest": {name: {"size": len(data), "sha256": _sha256(data)} for name, data in members.items()},
    }
    try:
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w") as zf:
                zf.writestr("project.json", json.dumps(header, indent=1), zipfile.ZIP_DEFLATED)
                for name, data in members.items():
                    # Tensors barely compress; storing them keeps saving and opening fast.
                    method = zipfile.ZIP_STORED if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED
                    zf.writestr(name, data, method)
    except OSError as exc:
        raise ProjectError(f"cannot save {path}: {exc.strerror or exc}") from None
    return path


# --- loading --------------------------------------------------------------------------------------
def _check_name(name: str, where: str) -> None:
    pure = PurePosixPath(name)
    if (name.startswith(("/", "\\")) or "\\" in name or ".." in pure.parts or (len(name) > 1 and name[1] == ":")
            or not name or name.endswith("/")):
        raise ProjectError(f"{where}: refused: the member path '{name[:80]}' is absolute or leaves the project")


def read_members(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """(header, members) of a project file, every check made; nothing is written anywhere."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ProjectError(f"{where}: no such project file" if not path.exists() else f"{where} is not a file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ProjectError(f"{where} is not a project file (not a readable zip: {exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ProjectError(f"{where}: refused: {len(infos)} members, more than a project has")
        seen: set[str] = set()
        for info in infos:
            _check_name(info.filename, where)
            if info.filename in seen:
                raise ProjectError(f"{where}: refused: the member {info.filename} appears twice")
            seen.add(info.filename)
        if "project.json" not in seen:
            raise ProjectError(f"{where} is not a project file: project.json is missing")
        header = _read_header(zf, where)
        manifest = header["manifest"]
        unexpected = sorted(seen - set(manifest) - {"project.json"})
        if unexpected:
            raise ProjectError(f"{where}: refused: {unexpected[0]} is not listed in the manifest")
        total = 0
        members: dict[str, bytes] = {}
        for name, entry in manifest.items():
            _check_name(name, where)
            if name not in seen:
                raise ProjectError(f"{where} is damaged: the member {name} is missing")
            size = entry.get("size") if isinstance(entry, dict) else None
            if not isinstance(size, int) or size < 0 or size > MAX_MEMBER_BYTES:
                raise ProjectError(f"{where}: refused: {name} claims a size of {size!r} bytes")
            total += size
            if total > MAX_TOTAL_BYTES:
                raise ProjectError(f"{where}: refused: the members add up to more than {MAX_TOTAL_BYTES >> 30} GiB")
            info = zf.getinfo(name)
            if info.file_size != size:
                raise ProjectError(f"{where}: refused: {name} holds {info.file_size:,} bytes but the manifest says "
                                   f"{size:,}")
            try:
                with zf.open(info) as f:
                    data = f.read(size + 1)  # never more than the manifest allows, whatever the zip claims
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise ProjectError(f"{where} is damaged: cannot read {name} ({exc})") from None
            if len(data) != size:
                raise ProjectError(f"{where}: refused: {name} is not the size the manifest says")
            if _sha256(data) != entry.get("sha256"):
                raise ProjectError(f"{where} is damaged: {name} does not match its checksum")
            members[name] = data
    return header, members


def _read_header(zf: zipfile.ZipFile, where: str) -> dict:
    info = zf.getinfo("project.json")
    if info.file_size > MAX_HEADER_BYTES:
        raise ProjectError(f"{where}: refused: project.json is {info.file_size:,} bytes")
    try:
        with zf.open(info) as f:
            header = json.loads(f.read(MAX_HEADER_BYTES + 1))
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, RecursionError) as exc:
        raise ProjectError(f"{where} is damaged: project.json cannot be read ({str(exc)[:120]})") from None
    if not isinstance(header, dict) or header.get("format") != PROJECT_FORMAT:
        raise ProjectError(f"{where} is not an Autoencoder Studio project")
    version = header.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ProjectError(f"{where}: unknown project schema version {version!r}")
    if version > PROJECT_SCHEMA_VERSION:
        raise ProjectError(f"{where} was saved by a newer version of Autoencoder Studio "
                           f"({header.get('app_version', '?')}, project schema {version}); update the app to open it")
    if not isinstance(header.get("manifest"), dict):
        raise ProjectError(f"{where} is damaged: project.json has no manifest")
    return header


def load_project(path: str | Path) -> Project:
    """Read and check a project file; every problem is one ProjectError line."""
    where = str(path)
    header, members = read_members(path)
    version = header["schema_version"]
    while version < PROJECT_SCHEMA_VERSION:  # each step upgrades by one version
        MIGRATIONS[version](header, members)
        version += 1
    try:
        spec = AutoencoderSpec.from_json(_need(members, "spec.json", where).decode("utf-8"))
        session = json.loads(_need(members, "session.json", where))
        if not isinstance(session, dict):
            raise ProjectError(f"{where} is damaged: session.json is not an object")
        run = None
        if any(name.startswith(RUN_PREFIX) for name in members):
            run = RunArtifact.from_members(lambda n: members.get(RUN_PREFIX + n), where)
        dataset = session.get("dataset")
        return Project(spec=spec, run=run, dataset=DatasetRef.from_json(dataset) if dataset else None,
                       runs=list(session.get("runs") or []), curves=dict(session.get("curves") or {}),
                       marks=list(session.get("marks") or []), name=str(header.get("name") or Path(path).stem))
    except ProjectError:
        raise
    except RunError as exc:
        raise ProjectError(str(exc)) from None
    except SpecError as exc:
        raise ProjectError(f"{where}: the spec is invalid: {exc.first_line}") from None
    except (ValueError, TypeError, KeyError, RecursionError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{where} is damaged: {type(exc).__name__}: {str(exc)[:160]}") from None


def _need(members: dict[str, bytes], name: str, where: str) -> bytes:
    if name not in members:
        raise ProjectError(f"{where} is damaged: the member {name} is missing")
    return members[name]
