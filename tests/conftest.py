"""Shared test set-up: Qt offscreen, small data, a fast CPU."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Before any Qt import: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch missing is a setup error reported elsewhere
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None and not has_cuda:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_small():
    """1,000 embedded digits (100 per class), shared read-only across tests."""
    from aegui.core.data import load_dataset

    return load_dataset("mnist5k", limit=1000, seed=0)


class Probe:
    """What one child process did: its exit code, output, wall time and peak resident memory."""

    def __init__(self, rc: int, stdout: str, stderr: str, seconds: float, peak_mb: float):
        self.rc, self.stdout, self.stderr, self.seconds, self.peak_mb = rc, stdout, stderr, seconds, peak_mb

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __repr__(self) -> str:
        return (f"Probe(rc={self.rc}, seconds={self.seconds:.1f}, peak_mb={self.peak_mb:.0f}, "
                f"stderr={self.stderr[-600:]!r})")


# Runs the child's own command and, at its exit, writes its VmHWM (the peak RSS of the process image
# after exec) to the file named by AEGUI_PROBE_HWM. Not ru_maxrss: Linux carries that across exec from
# the forked copy of the parent, so a child of a 2 GB pytest would "peak" at 2 GB before doing anything.
_PROBE_WRAPPER = r"""
import atexit, os, runpy, sys
def _write_hwm():
    try:
        with open("/proc/self/status") as status:
            kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        with open(os.environ["AEGUI_PROBE_HWM"], "w") as out:
            out.write(kb)
    except (OSError, StopIteration):
        pass
atexit.register(_write_hwm)
args = sys.argv[1:]
if args[0] == "-c":
    sys.argv = ["-c", *args[2:]]
    exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
elif args[0] == "-m":
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
    runpy.run_path(args[0], run_name="__main__")
"""


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    except (OSError, StopIteration, ValueError):
        return 0


def run_probe(args: list[str], *, timeout: float = 120, cwd=None, env=None, stdin=None,
              rss_limit_mb: int | None = None, preexec=None) -> Probe:
    """Run ``python args...`` (a script, ``-c CODE`` or ``-m MODULE``) in a child and measure it.

    The peak is the child's own VmHWM, written by the child at exit, or the highest value polled
    from /proc while it ran when it dies by a signal. ``rss_limit_mb`` caps the child's address
    space (RLIMIT_AS) as a safety net, so a regression fails the test with a MemoryError rather than
    bringing down the machine that runs the suite.
    """
    import resource
    import subprocess
    import tempfile
    import time

    def limit():
        if rss_limit_mb is not None:
            resource.setrlimit(resource.RLIMIT_AS, (rss_limit_mb << 20, rss_limit_mb << 20))
        if preexec is not None:
            preexec()

    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONPATH", str(ROOT))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as scratch:
        hwm_file = Path(scratch) / "hwm"
        child_env["AEGUI_PROBE_HWM"] = str(hwm_file)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _PROBE_WRAPPER, *args], stdout=out, stderr=err,
                                stdin=stdin or subprocess.DEVNULL, cwd=cwd, env=child_env, preexec_fn=limit)
        deadline = started + timeout
        polled_kb = 0
        while True:
            polled_kb = max(polled_kb, _vm_hwm_kb(proc.pid))
            if proc.poll() is not None:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        try:
            peak_kb = int(hwm_file.read_text())
        except (OSError, ValueError):
            peak_kb = polled_kb
        out.seek(0)
        err.seek(0)
        return Probe(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                     seconds, peak_kb / 1024)


@pytest.fixture
def probe():
    """``probe([...])`` runs python with those arguments in a child and returns a Probe."""
    return run_probe
