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


def run_probe(args: list[str], *, timeout: float = 120, cwd=None, env=None, stdin=None,
              rss_limit_mb: int | None = None, preexec=None) -> Probe:
    """Run ``python args...`` in a child and measure it: os.wait4 gives that one child's peak RSS.

    ``rss_limit_mb`` caps the child's address space (RLIMIT_AS) as a safety net, so a regression
    fails the test with a MemoryError rather than bringing down the machine that runs the suite.
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
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, stdin=stdin or subprocess.DEVNULL,
                                cwd=cwd, env=child_env, preexec_fn=limit)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Probe(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                     seconds, usage.ru_maxrss / 1024)


@pytest.fixture
def probe():
    """``probe([...])`` runs python with those arguments in a child and returns a Probe."""
    return run_probe
