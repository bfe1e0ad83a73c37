"""What train writes besides its run folder: --snapshots (at most twice a second, each file a whole
report), --tensorboard DIR (event files with scalars, pictures and histograms; one line without the
package), and progress that suits where stderr goes."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from aegui.cli import main
from aegui.cli import run_outputs
from aegui.cli.run_outputs import LogLines, RunOutputs, SnapshotWriter, TerminalBar, make_progress
from aegui.core.control import TrainControl
from aegui.core.reports import EPOCH, FINISHED, PROGRESS, Report
from aegui.core.run import RunArtifact
from aegui.core.run_watch import report_from_snapshot

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["train", "--preset", "ae", "--dataset", "mnist5k", "--limit", "600", "--epochs", "4"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def report(step: int, kind=PROGRESS, pictures: bool = True) -> Report:
    r = Report(kind=kind, step=step, epoch=step // 10, epoch_progress=step / 10, epochs_total=5, steps_per_epoch=10,
               samples_per_s=1000.0, elapsed_s=step / 10, losses={"total": 0.5}, val_losses={"total": 0.6})
    if pictures:
        r.inputs = r.reconstructions = np.full((4, 1, 8, 8), step / 100, np.float32)
        r.code_sample = np.linspace(-1, 1, 64, dtype=np.float32).reshape(4, 16)
    return r


def training(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 else None, err


# --- --snapshots --------------------------------------------------------------------------------------------
def test_the_snapshot_writer_keeps_half_a_second_between_files_except_the_last(tmp_path):
    clock = Clock()
    writer = SnapshotWriter(tmp_path / "snapshot.safetensors", clock=clock)
    for step in range(1, 101):  # ten seconds of reports, ten a second, every one with pictures
        clock.now = step / 10
        writer.write(report(step))
    assert 19 <= writer.writes <= 20
    assert not writer.write(report(101, pictures=False))  # nothing to show that the last file lacks
    clock.now += 0.01
    assert writer.write(report(102, kind=FINISHED))  # the end is always written: a watcher keeps it on show
    back = report_from_snapshot((tmp_path / "snapshot.safetensors").read_bytes())
    assert back.kind == FINISHED and back.step == 102 and back.reconstructions.shape == (4, 1, 8, 8)


def test_train_with_snapshots_writes_whole_reports_at_most_twice_a_second(capsys, tmp_path, monkeypatch):
    written = []  # (monotonic time, the report in the file)
    real = run_outputs.atomic_write_bytes

    def spy(path, data):
        real(path, data)
        written.append((run_outputs.time.monotonic(), report_from_snapshot(Path(path).read_bytes())))

    monkeypatch.setattr(run_outputs, "atomic_write_bytes", spy)
    out = tmp_path / "run"
    code, summary, err = training(capsys, *QUICK, "--snapshots", "--out", str(out))
    assert code == 0, err
    assert written and written[-1][1].kind == FINISHED and written[-1][1].step == summary["steps"]
    gaps = np.diff([t for t, _ in written[:-1]])
    assert (gaps >= run_outputs.SNAPSHOT_MIN_INTERVAL_S).all(), gaps
    assert all(r.reconstructions is not None for _, r in written)
    # The file stays in the finished run folder beside the run, which loads as before.
    assert report_from_snapshot((out / "snapshot.safetensors").read_bytes()).step == summary["steps"]
    assert RunArtifact.load(out).result.steps == summary["steps"]


def test_without_snapshots_no_snapshot_is_written(capsys, tmp_path):
    code, _, err = training(capsys, *QUICK, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert not (tmp_path / "run" / "snapshot.safetensors").exists()


def test_only_rank_0_shows_or_writes_anything(tmp_path):
    args = SimpleNamespace(quiet=False, snapshots=True, tensorboard=str(tmp_path / "tb"))
    trainer = SimpleNamespace(control=TrainControl(), spec=None)
    trainer.control.set_snapshots_wanted(False)
    outputs = RunOutputs(args, False, trainer, None)
    outputs.update(report(5, kind=FINISHED))
    outputs.close()
    assert (outputs.progress, outputs.snapshots, outputs.tensorboard) == (None, None, None)
    assert not trainer.control.snapshots_wanted and not (tmp_path / "tb").exists()


# --- --tensorboard ------------------------------------------------------------------------------------------
def test_tensorboard_logs_hold_the_scalars_reconstructions_and_code_histograms(capsys, tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, summary, err = training(capsys, *QUICK, "--tensorboard", str(tmp_path / "tb"), "--out",
                                  str(tmp_path / "run"))
    assert code == 0, err
    logs = tmp_path / "tb" / "run"  # one folder per run, named as its run folder
    assert list(logs.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(logs), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    # Epoch averages always; per-report ones (train/...) only when an epoch outlasts the report interval,
    # which 600 digits on a fast machine may not.
    assert {"train_epoch/total", "val/total", "val/recon_mse", "lr", "samples_per_s"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("val/total")][-1] == summary["steps"]
    assert "reconstructions" in tags["images"] and "code/values" in tags["histograms"]
    assert events.Scalars("val/recon_mse")[-1].value == pytest.approx(summary["val_recon_mse"], rel=1e-5)


def test_tensorboard_without_the_package_is_one_line_and_leaves_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as when not installed
    out = tmp_path / "run"
    code = main([*QUICK, "--tensorboard", str(tmp_path / "tb"), "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == ["error: --tensorboard: TensorBoard logging needs the tensorboard package "
                                "(pip install tensorboard)"]
    assert list(tmp_path.iterdir()) == []  # no run folder, no incomplete one, no log folder


# --- progress -----------------------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_file_is_plain_lines_now_and_then():
    stream, clock = io.StringIO(), Clock()
    lines = LogLines(stream, every_s=30, clock=clock)
    for step in range(1, 601):  # a minute of reports
        clock.now = step / 10
        lines.update(report(step, kind=EPOCH if step % 10 == 0 else PROGRESS))
    lines.update(report(601, kind=FINISHED))
    text = stream.getvalue()
    assert "\r" not in text and len(text.splitlines()) == 2
    assert text.splitlines()[0].startswith("train epoch 30.00/5 step 300 loss 0.5")
    assert isinstance(make_progress(io.StringIO()), LogLines)


def test_progress_on_a_terminal_is_a_bar_redrawn_in_place(monkeypatch):
    pytest.importorskip("tqdm")
    stream = Terminal()
    bar = make_progress(stream)
    assert isinstance(bar, run_outputs.TqdmBar)
    for step in range(1, 30):
        bar.update(report(step))
    bar.close()
    assert "\r" in stream.getvalue() and "train" in stream.getvalue()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # without tqdm: the bar of our own
    assert isinstance(make_progress(Terminal()), TerminalBar)


def test_a_run_whose_stderr_is_a_file_writes_no_carriage_return(tmp_path):
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.run([sys.executable, "main.py", *QUICK, "--epochs", "2", "--snapshots", "--out",
                               str(tmp_path / "run")], cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                              timeout=120)
    assert proc.returncode == 0, (tmp_path / "log.txt").read_text()
    assert "\r" not in (tmp_path / "log.txt").read_text()
    assert json.loads(proc.stdout.strip().splitlines()[-1])["epochs"] == 2
