"""Following a run folder that another process is writing, from what that run writes. Qt-free.

A headless or distributed run (``main.py train``) writes, in order (cli/run_folder.py, cli/train.py,
cli/run_outputs.py):

- into ``OUT.incomplete-STAMP/`` while it trains, moved to ``OUT`` in one rename once the finished run
  is on disk, so the end of a run *is* that rename;
- ``spec.json`` at the start;
- ``history.jsonl``: one JSON row per epoch, appended, so a reader can meet a partial last line;
- with ``--snapshots``, ``snapshot.safetensors``: the latest report, its numbers as JSON in the
  header's metadata and its pictures as tensors, in one file replaced atomically (at most twice a
  second), so a reader always sees one whole report and never numbers of one with pictures of another.

``RunFollower.poll`` reads what is new and turns it into ``Report``s that a dashboard takes as it takes a
live run's; at the end it loads the run (``RunArtifact.load``). The folder may be given as ``OUT`` (then
the newest ``OUT.incomplete-*`` beside it is followed) or as the incomplete folder itself. Every read
is by whole files or whole lines, and the folder is opened afresh each poll: it may be on a shared or
mounted filesystem, where a file kept open would not see another machine's replacements.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .reports import EPOCH, FINISHED, Report, ReportKind, StopReason

SNAPSHOT_NAME = "snapshot.safetensors"
HISTORY_NAME = "history.jsonl"
SPEC_NAME = "spec.json"
INCOMPLETE = ".incomplete-"
SNAPSHOT_FORMAT = "aegui-snapshot"
# A snapshot holds a fixed batch and at most 64 filters (a few MB for 64x64 colour images): a larger
# file is not one, and is not read.
MAX_SNAPSHOT_BYTES = 64 << 20
MAX_HISTORY_READ = 8 << 20  # per poll: a long history already written is caught up over a few polls

WAITING, RUNNING, ENDED, GONE = "waiting", "running", "ended", "gone"

_ARRAYS = tuple(f.name for f in dataclasses.fields(Report) if "ndarray" in str(f.type))
_PICTURES = ("inputs", "corrupted", "reconstructions")  # what only the report that carries them shows


class WatchError(ValueError):
    """The folder cannot be followed; the message is one line for the user."""


# --- a report as one file --------------------------------------------------------------------------------
def snapshot_bytes(report: Report) -> bytes:
    """The report as a safetensors file's bytes: its arrays as tensors, everything else as JSON metadata."""
    from safetensors.numpy import save

    numbers = {}
    for f in dataclasses.fields(report):
        value = getattr(report, f.name)
        if f.name in _ARRAYS:
            continue
        if isinstance(value, (ReportKind, StopReason)):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        numbers[f.name] = value
    arrays = {name: np.ascontiguousarray(getattr(report, name), dtype=np.float32)
              for name in _ARRAYS if getattr(report, name) is not None}
    return save(arrays, metadata={"format": SNAPSHOT_FORMAT, "report": json.dumps(numbers)})


def report_from_snapshot(data: bytes, where: str = SNAPSHOT_NAME) -> Report:
    """The report in a snapshot file's bytes; WatchError (one line) when they are not one."""
    from safetensors.numpy import load

    try:
        (size,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8:8 + size]).get("__metadata__") or {}
        if meta.get("format") != SNAPSHOT_FORMAT:
            raise WatchError(f"{where} is not an Autoencoder Studio snapshot")
        numbers = json.loads(meta["report"])
        arrays = load(data)
        known = {f.name for f in dataclasses.fields(Report)}
        values = {k: v for k, v in numbers.items() if k in known and k not in _ARRAYS}
        values["kind"] = ReportKind(values["kind"])
        if values.get("stop_reason") is not None:
            values["stop_reason"] = StopReason(values["stop_reason"])
        if values.get("token_grid") is not None:
            values["token_grid"] = tuple(int(v) for v in values["token_grid"])
        values.update({k: v for k, v in arrays.items() if k in _ARRAYS})
        return Report(**values)
    except WatchError:
        raise
    except Exception as exc:  # struct, JSON, safetensors or a field of the wrong kind
        raise WatchError(f"{where} cannot be read ({type(exc).__name__}: {str(exc)[:120]})") from None


# --- an epoch row as a report -----------------------------------------------------------------------------
def report_from_row(row: dict, spec, template: Report | None) -> Report | None:
    """The epoch report a history row stands for (None for a row that is not one). Settings and the
    slowly changing pictures (filters, codes) come from ``template``, the newest snapshot, so the panels
    keep showing them; the reconstructions do not, as they belong to the snapshot's own step."""
    try:
        epoch, step = int(row["epoch"]), int(row["step"])
    except (KeyError, TypeError, ValueError):
        return None
    phase = str(row.get("phase", "train"))
    stage = stages = 0
    epochs_total = spec.train.epochs if spec is not None else max(epoch, 1)
    if phase.startswith("pretrain "):
        try:
            stage, stages = (int(v) for v in phase.split()[1].split("/"))
        except ValueError:
            return None
        epochs_total = spec.objective.stacked.epochs_per_layer if spec is not None else max(epoch, 1)
    base = template if template is not None else Report(kind=EPOCH, step=0, epoch=0, epoch_progress=0.0,
                                                         epochs_total=epochs_total, steps_per_epoch=0,
                                                         samples_per_s=0.0, elapsed_s=0.0)
    steps_per_epoch = base.steps_per_epoch or (round(step / epoch) if epoch and not stage else 1)

    def terms(prefix: str) -> dict[str, float]:
        return {k[len(prefix):]: float(v) if v is not None else float("nan") for k, v in row.items()
                if k.startswith(prefix) and (v is None or isinstance(v, (int, float)))}

    return dataclasses.replace(
        base, kind=EPOCH, step=step, epoch=epoch, epoch_progress=float(epoch), epochs_total=epochs_total,
        steps_per_epoch=steps_per_epoch, samples_per_s=float(row.get("samples_per_s") or 0.0),
        elapsed_s=float(row.get("time_s") or base.elapsed_s), lr=float(row.get("lr") or base.lr),
        losses=terms("train_"), val_losses=terms("val_") or None, beta=row.get("beta", base.beta),
        stage=stage, stages=stages, live_changes={}, message="", stop_reason=None,
        **dict.fromkeys(_PICTURES))


def finished_report(run, template: Report | None) -> Report:
    """The closing report of a run that wrote no snapshot of its end: from its result and history."""
    result = run.result
    last = run.history[-1] if run.history else {}
    base = report_from_row(last, run.spec, template) if last else None
    base = base or template or Report(kind=FINISHED, step=0, epoch=0, epoch_progress=0.0,
                                      epochs_total=run.spec.train.epochs, steps_per_epoch=1,
                                      samples_per_s=0.0, elapsed_s=0.0)
    if result is None:
        return dataclasses.replace(base, kind=FINISHED)
    return dataclasses.replace(
        base, kind=FINISHED, step=result.steps, epoch=result.epochs, epoch_progress=float(result.epochs),
        epochs_total=run.spec.train.epochs, samples_per_s=result.samples_per_s, device=result.device,
        val_losses={"total": result.val_loss, "recon_mse": result.val_recon_mse}, message=result.message,
        stop_reason=result.stop_reason, stage=0, stages=0)


# --- where the run is ------------------------------------------------------------------------------------
def final_folder(path: Path) -> Path:
    """OUT for OUT.incomplete-STAMP (and OUT itself)."""
    name = path.name
    return path.with_name(name.split(INCOMPLETE)[0]) if INCOMPLETE in name else path


def has_finished_run(folder: Path) -> bool:
    return (folder / "run.json").is_file()


def incomplete_beside(out: Path) -> list[Path]:
    """The OUT.incomplete-* folders of runs writing towards ``out``, newest first."""
    found = [p for p in out.parent.glob(glob.escape(out.name) + INCOMPLETE + "*") if p.is_dir()]
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class WatchNews:
    """What one poll found: reports to feed in order, and where the run stands."""

    state: str
    folder: Path | None = None
    reports: list[Report] = field(default_factory=list)
    spec: object | None = None  # the run's spec, the first time it is read
    run: object | None = None  # the finished RunArtifact, once the run has ended
    note: str = ""  # one line for the user: a damaged file, a folder that went away
    quiet_s: float = 0.0  # seconds since the run last wrote anything

    @property
    def changed(self) -> bool:
        return bool(self.reports or self.spec is not None or self.run is not None or self.note
                    or self.state in (ENDED, GONE))


class RunFollower:
    """Reads a run folder's news, one ``poll`` at a time (call it from one thread only)."""

    def __init__(self, path: str | Path):
        path = Path(path).expanduser()
        self.out = final_folder(path)
        self.work: Path | None = path if INCOMPLETE in path.name else None
        if not self.out.parent.is_dir():
            raise WatchError(f"{self.out.parent} does not exist")
        if path.exists() and not path.is_dir():
            raise WatchError(f"{path} is a file, not a run folder")
        self.spec = None
        self.state = WAITING
        self.template: Report | None = None  # the newest snapshot's report
        self.rows_seen = 0
        self._offset = 0  # bytes of whole history lines read
        self._file_rows = 0  # lines in those bytes
        self._snapshot_key: tuple | None = None
        self._val_steps: set[int] = set()  # epoch ends whose validation has been fed
        self._written = time.time()

    @property
    def folder(self) -> Path:
        """The folder being read: the incomplete one while the run trains, OUT once it has ended."""
        return self.work if self.work is not None and self.state != ENDED else self.out

    def poll(self) -> WatchNews:
        if self.state in (ENDED, GONE):
            return WatchNews(self.state, self.folder)
        news = WatchNews(RUNNING)
        if self.work is None:
            self.work = self._newest_work()
            if self.work is None:
                if has_finished_run(self.out):
                    return self._end(news)
                if self.out.is_dir() and not (self.out / SPEC_NAME).exists() and any(self.out.iterdir()):
                    raise WatchError(f"{self.out} is not a run folder (it has no {SPEC_NAME})")
                news.state = self.state = WAITING
                news.folder = self.out
                return news
        if self.work.is_dir():
            self.state = RUNNING
            news.folder = self.work
            try:
                self._read(self.work, news)
            except FileNotFoundError:
                pass  # moved into place while it was read: the next poll finds the end
            news.quiet_s = max(0.0, time.time() - self._written)
            return news
        if has_finished_run(self.out):
            return self._end(news)
        self.state = news.state = GONE
        news.folder = self.work
        news.note = (f"{self.work.name} went away before the run finished, and {self.out.name} holds no finished "
                     f"run (was the run stopped, or saved elsewhere? its log says where)")
        return news

    def _newest_work(self) -> Path | None:
        """The newest incomplete folder beside OUT, unless OUT already holds a run finished after it."""
        found = incomplete_beside(self.out)
        if not found:
            return None
        if has_finished_run(self.out) and _mtime(self.out) >= _mtime(found[0]):
            return None  # a killed run's leftover, older than the finished one
        return found[0]

    # --- reading ---------------------------------------------------------------------------------------
    def _read(self, folder: Path, news: WatchNews) -> None:
        if self.spec is None and (folder / SPEC_NAME).is_file():
            from .serialize import SpecError
            from .spec import AutoencoderSpec

            try:
                self.spec = news.spec = AutoencoderSpec.from_json((folder / SPEC_NAME).read_text("utf-8"))
            except (SpecError, UnicodeDecodeError) as exc:
                raise WatchError(f"{folder / SPEC_NAME}: {getattr(exc, 'first_line', exc)}") from None
        # The snapshot first, then the history: rows are written before the snapshots that follow them,
        # so every row up to the snapshot's step is on disk by the time the history is read.
        snapshot = self._read_snapshot(folder / SNAPSHOT_NAME, news)
        rows = self._read_history(folder / HISTORY_NAME, news)
        self._feed(rows, snapshot, news)

    def _read_snapshot(self, path: Path, news: WatchNews) -> Report | None:
        """The snapshot when it is another file than the last one read. Opened first and then measured,
        so the file read is the file measured even when it is replaced meanwhile."""
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
                if key == self._snapshot_key:
                    return None
                big = stat.st_size > MAX_SNAPSHOT_BYTES
                data = b"" if big else f.read()
        except FileNotFoundError:
            return None  # not written yet, or moved meanwhile: read again at the next poll
        self._snapshot_key = key
        self._written = max(self._written, stat.st_mtime)
        if big:
            news.note = f"{path.name} is {stat.st_size >> 20} MB: too large for a snapshot, not read"
            return None
        try:
            return report_from_snapshot(data, path.name)
        except WatchError as exc:
            news.note = str(exc)
            return None

    def _read_history(self, path: Path, news: WatchNews) -> list[dict]:
        """The rows appended since the last read. A file replaced by another (the final save writes the
        whole history again) is read again from its start, and only rows past those already given count."""
        try:
            with open(path, "rb") as f:
                if f.seek(0, 2) < self._offset:
                    self._offset, self._file_rows = 0, 0
                f.seek(self._offset)
                data = f.read(MAX_HISTORY_READ)
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # whole lines only: the writer may be half-way through the last
        if end == 0:
            return []
        self._offset += end
        self._written = max(self._written, _mtime(path))
        lines = [line for line in data[:end].splitlines() if line.strip()]
        first, self._file_rows = self._file_rows, self._file_rows + len(lines)
        rows = []
        for line in lines[max(0, self.rows_seen - first):]:
            try:
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                news.note = f"{path.name}: a damaged line was skipped"
                continue
            if isinstance(row, dict):
                rows.append(row)
        self.rows_seen = max(self.rows_seen, self._file_rows)
        return rows

    def _feed(self, rows: list[dict], snapshot: Report | None, news: WatchNews) -> None:
        """Reports in step order, each epoch's validation once; the snapshot last at its step, so the
        newest report a dashboard draws carries the pictures."""
        made = []
        for row in rows:
            report = report_from_row(row, self.spec, snapshot or self.template)
            if report is not None:
                made.append(report)
        if snapshot is not None:
            self.template = snapshot
            made.append(snapshot)
        made.sort(key=lambda r: (r.step, r.kind == FINISHED, r.reconstructions is not None))
        for report in made:
            if report.kind == EPOCH and report.val_losses:
                if report.step in self._val_steps:
                    report = dataclasses.replace(report, val_losses=None)
                self._val_steps.add(report.step)
            news.reports.append(report)

    def _end(self, news: WatchNews) -> WatchNews:
        """The run has moved into place: the rest of its history, its last snapshot, and the run itself."""
        from .run import RunArtifact, RunError

        try:
            run = RunArtifact.load(self.out)
        except RunError as exc:
            raise WatchError(str(exc)) from None
        if self.spec is None:
            self.spec = news.spec = run.spec
        snapshot = self._read_snapshot(self.out / SNAPSHOT_NAME, news)
        rows = run.history[self.rows_seen:]
        self.rows_seen = len(run.history)
        self._feed(rows, snapshot, news)
        if not news.reports or news.reports[-1].kind != FINISHED:
            if self.template is None or self.template.kind != FINISHED:
                news.reports.append(finished_report(run, self.template))
        self.state = news.state = ENDED
        news.folder, news.run = self.out, run
        return news
