"""Nothing finished is ever lost: output folders, signals, full disks and interrupts on the command line.

Each case builds its situation in a temporary folder and runs the real command line, in a child
process where a signal, a kill or the process's own exit is the point.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aegui.cli import main
from aegui.core.run import RunArtifact

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--epochs", "1", "--limit", "200", "--quiet"]


def train(capsys, *args: str) -> tuple[int, str, list[str]]:
    code = main(["train", *args])
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def one_error(lines: list[str], *words: str) -> str:
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def incomplete(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f"{out.name}.incomplete-*"))


def start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for_epochs(out: Path, proc: subprocess.Popen, epochs: int = 1, timeout: float = 90) -> Path:
    """The run's working folder, once its history holds ``epochs`` rows (training is under way)."""
    deadline = time.time() + timeout
    while True:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        for work in incomplete(out):
            history = work / "history.jsonl"
            if history.exists() and len(history.read_text().splitlines()) >= epochs:
                return work
        time.sleep(0.05)


# --- the output folder ---------------------------------------------------------------------------------------
def test_a_non_empty_out_is_refused_and_left_as_it_was(capsys, tmp_path):
    out = tmp_path / "X"
    code, _, err = train(capsys, *QUICK, "--out", str(out))
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = train(capsys, "--preset", "deep", *QUICK, "--out", str(out))
    assert code == 2
    one_error(err, "not empty", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not incomplete(out)


def test_overwrite_replaces_only_once_the_new_run_has_finished(capsys, tmp_path):
    out = tmp_path / "X"
    assert train(capsys, *QUICK, "--out", str(out))[0] == 0
    code, _, err = train(capsys, "--preset", "deep", *QUICK, "--out", str(out), "--overwrite")
    assert code == 0, err
    assert RunArtifact.load(out).spec.name == "deep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X"]  # no incomplete or replaced folder left


def test_a_killed_overwrite_keeps_the_earlier_run(capsys, tmp_path):
    out = tmp_path / "X"
    assert train(capsys, *QUICK, "--out", str(out))[0] == 0
    earlier = RunArtifact.load(out)
    proc = start(["train", "--preset", "deep", "--epochs", "500", "--limit", "500", "--quiet", "--out", str(out),
                  "--overwrite"])
    wait_for_epochs(out, proc)
    proc.kill()
    proc.communicate(timeout=30)
    kept = RunArtifact.load(out)  # still the whole earlier run: spec, weights and history agree
    assert kept.spec.name == earlier.spec.name == "ae"
    assert kept.history == earlier.history
    assert len(incomplete(out)) == 1  # what the killed run had written, under a name that says so


def test_empty_names_are_refused(capsys, tmp_path):
    code, _, err = train(capsys, *QUICK, "--out", "")
    assert code == 2
    one_error(err, "--out")
    code, _, err = train(capsys, "--preset", "", *QUICK, "--out", str(tmp_path / "o"))
    assert code == 2
    one_error(err, "preset")
    assert not (tmp_path / "o").exists()


def test_a_model_that_fails_to_build_leaves_no_folder(capsys, tmp_path, monkeypatch):
    import aegui.core.training as training

    def refuse(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(training, "Trainer", refuse)
    out = tmp_path / "o"
    code, _, err = train(capsys, *QUICK, "--out", str(out))
    assert code == 1
    one_error(err, "out of memory")
    assert list(tmp_path.iterdir()) == []


def test_every_file_of_a_run_has_the_same_mode(capsys, tmp_path):
    out = tmp_path / "o"
    assert train(capsys, *QUICK, "--out", str(out))[0] == 0
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {0o666 & ~umask}, modes


# --- signals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM"),
                                                (signal.SIGHUP, 129, "SIGHUP")])
def test_a_stop_signal_stops_cleanly_and_keeps_the_run(tmp_path, signum, code, word):
    out = tmp_path / "run"
    proc = start(["train", "--preset", "ae", "--epochs", "500", "--limit", "2000", "--quiet", "--out", str(out)])
    wait_for_epochs(out, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and word in lines[0], lines
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["stop_reason"] == "stopped" and summary["epochs"] < 500
    assert RunArtifact.load(out).result.epochs == summary["epochs"]
    assert not incomplete(out)


def test_a_second_signal_aborts_without_a_traceback_or_a_stray_file(tmp_path):
    out = tmp_path / "run"
    proc = start(["train", "--preset", "ae", "--epochs", "500", "--limit", "2000", "--quiet", "--out", str(out),
                  "--project", str(tmp_path / "p.aeproj")])
    wait_for_epochs(out, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
    assert not list(tmp_path.rglob("*.tmp")), list(tmp_path.rglob("*"))


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2])
def test_ctrl_c_while_starting_up_is_one_line(tmp_path, delay):
    """torch takes a second or two to import: an interrupt then is still one line, never a traceback."""
    proc = start(["train", *QUICK, "--out", str(tmp_path / "o")])
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    if proc.returncode != 0:  # a fast machine may have finished, or stopped the run cleanly, by then
        assert len(lines) == 1 and proc.returncode == 130, (proc.returncode, stderr)


def test_checkpoints_bound_what_a_hard_kill_loses(tmp_path):
    out = tmp_path / "run"
    proc = start(["train", "--preset", "ae", "--epochs", "500", "--limit", "500", "--quiet", "--out", str(out),
                  "--checkpoint-every", "2"])
    work = wait_for_epochs(out, proc, epochs=3)
    deadline = time.time() + 30
    while not (work / "checkpoint.aeproj").exists():
        assert time.time() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=30)
    resumed = subprocess.run([sys.executable, "main.py", "train", "--resume", str(work / "checkpoint.aeproj"),
                              "--epochs", "6", "--quiet", "--out", str(tmp_path / "resumed")], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["epochs"] == 6


def test_checkpoint_every_must_be_positive(capsys, tmp_path):
    code, _, err = train(capsys, *QUICK, "--checkpoint-every", "0", "--out", str(tmp_path / "o"))
    assert code == 2
    one_error(err, "--checkpoint-every")


# --- a full disk -------------------------------------------------------------------------------------------------
def test_a_full_disk_mid_run_stops_it_and_keeps_the_weights(capsys, tmp_path, monkeypatch):
    """history.jsonl hits ENOSPC (it is /dev/full here): one line says what and where, the run stops, and
    the weights are saved; the history file keeps only whole lines."""
    from aegui.cli import run_folder

    real_open = open

    def full_disk_open(path, *args, **kwargs):
        if str(path).endswith("history.jsonl"):
            return real_open("/dev/full", "wb", buffering=0)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(run_folder, "open", full_disk_open, raising=False)
    out = tmp_path / "o"
    code, stdout, err = train(capsys, "--epochs", "5", "--limit", "200", "--quiet", "--out", str(out))
    assert code == 1
    one_error(err, "history.jsonl", "No space left on device", "stopping the run")
    assert json.loads(stdout.strip().splitlines()[-1])["epochs"] == 1
    assert RunArtifact.load(out).result.epochs == 1


def test_when_the_run_cannot_be_written_it_goes_to_the_temp_folder(capsys, tmp_path, monkeypatch):
    real_save = RunArtifact.save

    def save(self, folder):
        if str(folder).startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, folder)

    monkeypatch.setattr(RunArtifact, "save", save)
    out = tmp_path / "o"
    code, stdout, err = train(capsys, *QUICK, "--out", str(out))
    assert code == 1
    line = one_error(err, "cannot write the run into", "No space left on device", "saved to")
    rescue = Path(json.loads(stdout.strip().splitlines()[-1])["out"])
    assert str(rescue) in line and not str(rescue).startswith(str(tmp_path))
    try:
        assert RunArtifact.load(rescue).result.epochs == 1
    finally:
        import shutil

        shutil.rmtree(rescue)


def _small_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def test_a_really_full_disk_keeps_the_run_in_the_temp_folder(tmp_path):
    """A 96 KB filesystem: the spec and history fit, the weights do not (needs root to mount; skipped without)."""
    disk = tmp_path / "disk"
    if not _small_tmpfs(disk, "96k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        proc = subprocess.run([sys.executable, "main.py", "train", *QUICK, "--out", str(disk / "o")], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        one_error(lines, "No space left on device", "saved to")
        rescue = Path(json.loads(proc.stdout.strip().splitlines()[-1])["out"])
        assert RunArtifact.load(rescue).result.epochs == 1
        import shutil

        shutil.rmtree(rescue)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# --- no display ------------------------------------------------------------------------------------------------
def test_the_window_without_a_display_says_so_in_one_line(probe):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = probe(["main.py"], cwd=ROOT, env=env, timeout=30)
    assert result.rc == 2, result
    assert len(result.error_lines) == 1 and "no display" in result.error_lines[0], result
    assert "train" in result.error_lines[0]


# --- models over the memory budget -------------------------------------------------------------------------------
def _huge_spec(tmp_path: Path, layers: list[int]) -> Path:
    from aegui.core.presets import get_preset
    from aegui.core.spec import LayerSpec

    spec = get_preset("ae")
    spec.encoder.layers = [LayerSpec(units=u) for u in layers]
    path = tmp_path / "huge.json"
    spec.save(path)
    return path


@pytest.mark.parametrize("layers, words", [([65536, 65536], "billion parameters"),
                                           ([1024] * 2000, "billion parameters")])
def test_a_model_over_the_budget_is_refused_before_it_is_built(probe, tmp_path, layers, words):
    spec = _huge_spec(tmp_path, layers)
    result = probe(["main.py", "train", "--spec", str(spec), *QUICK, "--out", str(tmp_path / "o")], cwd=ROOT,
                   rss_limit_mb=3000, timeout=120)
    assert result.rc == 2, result
    assert len(result.error_lines) == 1 and "this model needs about" in result.error_lines[0], result
    assert words in result.error_lines[0] and "--memory-limit" in result.error_lines[0]
    assert not (tmp_path / "o").exists() and not incomplete(tmp_path / "o")
    assert result.peak_mb < 800, result
    assert result.seconds < 30, result


def test_the_memory_limit_option_is_obeyed(capsys, tmp_path):
    code, _, err = train(capsys, *QUICK, "--memory-limit", "1MB", "--out", str(tmp_path / "o"))
    assert code == 2
    one_error(err, "needs about", "the limit is 1.0 MB", "--memory-limit")
    code, _, err = train(capsys, *QUICK, "--memory-limit", "lots", "--out", str(tmp_path / "o"))
    assert code == 2
    one_error(err, "--memory-limit", "not a memory size")
    code, _, err = train(capsys, *QUICK, "--memory-limit", "8GB", "--out", str(tmp_path / "o"))
    assert code == 0, err
