"""The one rule for writing a file the user sees: all of it, or none of it.

A crash, a kill or a full disk mid-write must never leave a half-written file
where a good one was. ``atomic_path`` hands out a temporary name beside the
target; once the writer has finished, the data is fsynced, renamed over the
target in one step, and the folder is fsynced so the rename itself survives a
power cut. Any failure removes the temporary file and leaves the target as it
was. This module imports only the standard library, so the spec layer can use it.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def fsync_folder(folder: str | Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:  # Windows, or a folder we may not open: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the data itself is already on disk
    finally:
        os.close(fd)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    ``keep_suffix`` ends the temporary name in the target's suffix too, for writers that choose
    the format by the name (Qt's image writers)."""
    path = Path(path)
    tmp = None
    try:
        # Inside the try: an interrupt right after the temporary file is made must still remove it.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                   suffix=".tmp" + (path.suffix if keep_suffix else ""))
        os.close(fd)
        # mkstemp makes the file private (0600); the user's file keeps its mode, a new one gets the
        # usual 0666 less the umask, as any other program's save would.
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = _new_file_mode()
        os.chmod(tmp, mode)
        yield Path(tmp)
        with open(tmp, "rb+") as f:  # flushed to disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_folder(path.parent)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "fsync_folder"]
