"""Where a headless run writes, so that nothing finished is ever lost.

A run never writes into its ``--out`` folder while it trains. It writes into a fresh
``OUT.incomplete-*`` folder beside it (same filesystem, so the final move is one
rename) and moves that into place only once the weights are safely on disk. So a
run killed at any moment leaves the earlier contents of ``--out`` untouched, and
what it leaves behind is a folder whose name says what it is. An existing non-empty
``--out`` is refused unless ``--overwrite`` is given, and even then the old folder is
swapped out only after the new one is complete.

When the disk fills up or the folder vanishes, the trained weights are still in
memory: ``save_with_rescue`` tries the run's folder, then the system temp folder,
and names both in one line.
"""
from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .main import CliError

CHECKPOINT_NAME = "checkpoint.aeproj"


def check_out_folder(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, an ``--out`` that would destroy an earlier run or cannot be a folder."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: this is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CliError(f"--out {out}: this folder is not empty (it may hold an earlier run); choose another "
                       f"folder, or add --overwrite to replace it once this run has finished")


def _error_text(exc: OSError) -> str:
    return exc.strerror or str(exc)


class RunFolder:
    """The temporary folder a run writes into, and its move into place at the end."""

    def __init__(self, out: Path):
        self.out = out
        self.work: Path | None = None

    def create(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):
                work = self.out.with_name(f"{self.out.name}.incomplete-{stamp}" + (f"-{n}" if n > 1 else ""))
                try:
                    work.mkdir()
                except FileExistsError:
                    continue
                self.work = work
                return work
        except OSError as exc:
            raise CliError(f"cannot create output folder {self.out}: {_error_text(exc)}") from None
        raise CliError(f"cannot create output folder {self.out}: too many incomplete runs beside it")

    def discard(self) -> None:
        """Remove the temporary folder (the run never started, so it holds nothing of value)."""
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None

    def finish(self) -> Path:
        """Move the complete run to ``out``; an existing ``out`` (with --overwrite) goes only now."""
        assert self.work is not None
        (self.work / CHECKPOINT_NAME).unlink(missing_ok=True)  # the finished run supersedes it
        old = None
        if self.out.exists():
            old = self.out.with_name(f"{self.out.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
            self.out.rename(old)
        try:
            self.work.rename(self.out)
        except OSError:
            if old is not None:  # put the earlier run back rather than leave no --out at all
                old.rename(self.out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.work = None
        return self.out


def save_with_rescue(save, folder: RunFolder, name: str) -> tuple[Path | None, str]:
    """Save the run (``save(path)``) into its folder and move it into place; when that fails, into a
    fresh folder in the system temp folder. (where it is, or None when lost; one line saying what happened)."""
    try:
        save(folder.work)
        return folder.finish(), ""
    except OSError as exc:
        first = f"cannot write the run into {folder.work or folder.out}: {_error_text(exc)}"
    try:
        rescue = Path(tempfile.mkdtemp(prefix=f"aegui-{name}-"))
        save(rescue)
    except OSError as exc:
        return None, (f"{first}; nor into the system temp folder ({_error_text(exc)}): the trained weights "
                      f"are lost")
    return rescue, f"{first}; it was saved to {rescue} instead"


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class HistoryFile:
    """history.jsonl, one row a line. A failed write is cut back to the last whole line, so a full disk
    leaves a file that still parses, and the failure is reported once instead of raised."""

    def __init__(self, path: Path):
        self.path = path
        self.failure = ""  # what could not be written, once it could not
        self._good = 0  # bytes of whole lines on disk
        try:
            # Unbuffered: each write reaches the file now, so a failure is seen where it happens.
            self._file = open(path, "wb", buffering=0)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {_error_text(exc)}") from None

    def write(self, lines: list[str]) -> bool:
        if self.failure:
            return False
        view = memoryview("".join(line + "\n" for line in lines).encode("utf-8"))
        try:
            while view:
                view = view[self._file.write(view):]
        except OSError as exc:
            self.failure = f"cannot write {self.path}: {_error_text(exc)}"
            try:
                os.ftruncate(self._file.fileno(), self._good)
            except OSError:
                pass
            return False
        self._good = self._file.tell()
        return True

    def close(self) -> None:
        self._file.close()


def say(line: str) -> None:
    print(line, file=sys.stderr)
