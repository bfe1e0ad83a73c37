"""Following a run folder another process writes: whole lines only, whole snapshots only, and the end
(the incomplete folder moved into place) loads the run."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from aegui.core.atomic import atomic_write_bytes
from aegui.core.models import build_model
from aegui.core.presets import fit_to_input, get_preset
from aegui.core.reports import EPOCH, FINISHED, PROGRESS, Report, StopReason
from aegui.core.run import DatasetRef, RunArtifact, TrainResult
from aegui.core.run_watch import (
    ENDED, GONE, RUNNING, WAITING, RunFollower, WatchError, report_from_snapshot, snapshot_bytes,
)


def make_spec(epochs: int = 3):
    spec = fit_to_input(get_preset("ae"), "image", (1, 28, 28), unit_range=True)
    spec.train.epochs = epochs
    return spec


def row(epoch: int, step: int, loss: float = 0.5) -> dict:
    return {"phase": "train", "epoch": epoch, "step": step, "time_s": epoch * 0.5, "lr": 0.001,
            "samples_per_s": 1000.0, "train_total": loss, "train_recon": loss, "val_total": loss + 0.1,
            "val_recon_mse": loss / 10}


def snapshot(step: int, kind=PROGRESS, value: float | None = None) -> Report:
    """A report whose pictures all hold ``value`` (default: the step), so a torn file would show."""
    value = float(step) if value is None else value
    return Report(kind=kind, step=step, epoch=step // 4, epoch_progress=step / 4, epochs_total=3, steps_per_epoch=4,
                  samples_per_s=900.0, elapsed_s=step / 10, losses={"total": 0.4, "recon": 0.4}, lr=0.001,
                  grad_norm=1.5, inputs=np.full((4, 1, 28, 28), value, np.float32),
                  reconstructions=np.full((4, 1, 28, 28), value, np.float32),
                  filters=np.full((8, 1, 28, 28), value, np.float32), output_bias=np.zeros((1, 28, 28), np.float32),
                  code_mean=np.full(16, value, np.float32), stop_reason=StopReason.COMPLETED if kind == FINISHED
                  else None, token_grid=(7, 7))


def started_run(tmp_path, name: str = "run", stamp: str = "20240101-000000"):
    """An OUT.incomplete-* folder as train leaves it at its start: the spec and an empty history."""
    work = tmp_path / f"{name}.incomplete-{stamp}"
    work.mkdir()
    make_spec().save(work / "spec.json")
    (work / "history.jsonl").write_bytes(b"")
    return tmp_path / name, work


def append(path, text: str) -> None:
    with open(path, "ab") as f:
        f.write(text.encode())


def finish(work, out, epochs: int = 3) -> RunArtifact:
    """Save a finished run into ``work`` and move it into place, as run_folder.finish does."""
    spec = make_spec(epochs)
    weights = {k: v.clone() for k, v in build_model(spec).state_dict().items()}
    ref = DatasetRef(name="mnist5k", source="mnist5k", size=600, sample_shape=(1, 28, 28), kind="image",
                     checksum="0" * 64, options={"limit": 600})
    result = TrainResult(StopReason.COMPLETED, "", epochs, epochs * 4, 0.3, 0.35, 0.03, 1000.0, "cpu")
    run = RunArtifact(spec=spec, weights=weights, dataset=ref, train_index=np.arange(540), val_index=np.arange(60),
                      history=[row(e, 4 * e) for e in range(1, epochs + 1)], result=result)
    run.save(work)
    work.rename(out)
    return run


# --- the history: whole lines only -----------------------------------------------------------------------
def test_a_partial_last_line_waits_until_it_is_whole(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    news = follower.poll()
    assert news.state == RUNNING and news.folder == work and news.spec.name == make_spec().name
    line = json.dumps(row(1, 4)) + "\n"
    second = json.dumps(row(2, 8, 0.25))
    append(work / "history.jsonl", line + second[:17])  # the writer is half-way through the second row
    reports = follower.poll().reports
    assert [(r.kind, r.step, r.epoch) for r in reports] == [(EPOCH, 4, 1)]
    assert reports[0].val_losses == {"total": pytest.approx(0.6), "recon_mse": pytest.approx(0.05)}
    assert follower.poll().reports == []
    append(work / "history.jsonl", second[17:] + "\n")
    reports = follower.poll().reports
    assert [(r.step, r.losses["total"]) for r in reports] == [(8, 0.25)]
    assert reports[0].epochs_total == 3  # from the run's spec


def test_a_damaged_line_is_skipped_and_said(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(work)  # the incomplete folder itself, picked by the user
    append(work / "history.jsonl", "{not json\n" + json.dumps(row(1, 4)) + "\n")
    news = follower.poll()
    assert [r.step for r in news.reports] == [4] and "damaged line" in news.note


def test_a_history_replaced_by_the_same_rows_gives_no_row_twice(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    rows = "".join(json.dumps(row(e, 4 * e)) + "\n" for e in (1, 2))
    append(work / "history.jsonl", rows)
    assert len(follower.poll().reports) == 2
    # The final save writes the whole history again, atomically (a new file, maybe shorter: no NaN spelling).
    atomic_write_bytes(work / "history.jsonl", json.dumps(row(1, 4)).encode() + b"\n")
    assert follower.poll().reports == []
    append(work / "history.jsonl", json.dumps(row(2, 8)) + "\n" + json.dumps(row(3, 12)) + "\n")
    assert [r.step for r in follower.poll().reports] == [12]


# --- the snapshot: one whole report ----------------------------------------------------------------------
def test_a_snapshot_keeps_every_number_and_picture():
    report = snapshot(12, kind=FINISHED)
    report.val_losses = {"total": 0.5, "recon_mse": float("nan")}
    report.live_changes = {"lr": 0.01}
    back = report_from_snapshot(snapshot_bytes(report))
    assert back.kind == FINISHED and back.stop_reason == StopReason.COMPLETED
    assert (back.step, back.epoch_progress, back.grad_norm, back.token_grid) == (12, 3.0, 1.5, (7, 7))
    assert back.val_losses["total"] == 0.5 and np.isnan(back.val_losses["recon_mse"])
    assert back.live_changes == {"lr": 0.01} and back.corrupted is None
    for name in ("inputs", "reconstructions", "filters", "output_bias", "code_mean"):
        np.testing.assert_array_equal(getattr(back, name), getattr(report, name))


def test_a_file_that_is_not_a_snapshot_is_one_line():
    with pytest.raises(WatchError, match="cannot be read"):
        report_from_snapshot(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")


def test_snapshots_replaced_atomically_are_always_read_whole(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    follower.poll()
    stop = threading.Event()

    def writer():
        step = 0
        while not stop.is_set():
            step += 1
            atomic_write_bytes(work / "snapshot.safetensors", snapshot_bytes(snapshot(step)))

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    try:
        while len(seen) < 20:
            for report in follower.poll().reports:
                # The numbers and every picture come from one report: never one file's header with another's data.
                assert report.reconstructions.min() == report.reconstructions.max() == report.step
                assert report.filters[0, 0, 0, 0] == report.step
                seen.append(report.step)
    finally:
        stop.set()
        thread.join()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_epoch_rows_keep_the_snapshot_pictures_but_not_its_reconstructions(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    atomic_write_bytes(work / "snapshot.safetensors", snapshot_bytes(snapshot(5)))
    append(work / "history.jsonl", json.dumps(row(1, 4)) + "\n")
    reports = follower.poll().reports
    assert [(r.kind, r.step) for r in reports] == [(EPOCH, 4), (PROGRESS, 5)]  # in step order, pictures last
    epoch = reports[0]
    assert epoch.reconstructions is None and epoch.inputs is None
    assert epoch.filters is not None and epoch.grad_norm == 1.5 and epoch.steps_per_epoch == 4


# --- the end ---------------------------------------------------------------------------------------------
def test_the_end_is_the_move_into_place_and_loads_the_run(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    append(work / "history.jsonl", json.dumps(row(1, 4)) + "\n")
    assert follower.poll().state == RUNNING
    append(work / "history.jsonl", json.dumps(row(2, 8)) + "\n")  # written, then moved before the next poll
    run = finish(work, out)
    news = follower.poll()
    assert news.state == ENDED and news.folder == out
    assert news.run.result.steps == run.result.steps and set(news.run.weights) == set(run.weights)
    # The rows it had not read yet, then a closing report made from the run's result (no snapshot was written).
    assert [(r.kind, r.step) for r in news.reports] == [(EPOCH, 8), (EPOCH, 12), (FINISHED, 12)]
    assert news.reports[-1].stop_reason == StopReason.COMPLETED
    assert follower.poll().reports == [] and follower.poll().state == ENDED


def test_the_final_snapshot_closes_the_run_when_there_is_one(tmp_path):
    out, work = started_run(tmp_path)
    follower = RunFollower(work)
    follower.poll()
    atomic_write_bytes(work / "snapshot.safetensors", snapshot_bytes(snapshot(12, kind=FINISHED)))
    finish(work, out)
    news = follower.poll()
    assert news.state == ENDED
    assert news.reports[-1].kind == FINISHED and news.reports[-1].reconstructions is not None


def test_a_finished_run_is_read_at_once(tmp_path):
    out, work = started_run(tmp_path)
    finish(work, out)
    news = RunFollower(out).poll()
    assert news.state == ENDED and [r.step for r in news.reports] == [4, 8, 12, 12]


def test_out_is_waited_for_then_followed_when_its_run_starts(tmp_path):
    follower = RunFollower(tmp_path / "run")
    assert follower.poll().state == WAITING
    out, work = started_run(tmp_path)
    news = follower.poll()
    assert news.state == RUNNING and news.folder == work


def test_a_killed_runs_leftover_older_than_the_finished_run_is_not_followed(tmp_path):
    import os

    out, stale = started_run(tmp_path, stamp="20230101-000000")
    os.utime(stale, (1_000_000, 1_000_000))  # killed long ago
    _, work = started_run(tmp_path, stamp="20240101-000000")
    finish(work, out)
    assert RunFollower(out).poll().state == ENDED


def test_a_folder_that_went_away_unfinished_is_said(tmp_path):
    import shutil

    out, work = started_run(tmp_path)
    follower = RunFollower(out)
    follower.poll()
    shutil.rmtree(work)
    news = follower.poll()
    assert news.state == GONE and "went away" in news.note


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.png").write_bytes(b"")
    with pytest.raises(WatchError, match="not a run folder"):
        RunFollower(tmp_path / "photos").poll()
    with pytest.raises(WatchError, match="does not exist"):
        RunFollower(tmp_path / "nowhere" / "run")
