"""The streaming data path: a memory-mapped .npy read batch by batch, training as in memory does."""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aegui.cli import main
from aegui.core.data import DataError, is_streamed, load_dataset
from aegui.core.data.streaming import RowReader, TrainStream, device_data_bytes
from aegui.core.presets import get_preset
from aegui.core.run import dataset_checksum
from aegui.core.training import Trainer

N = 300
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits_file(mnist_small, tmp_path_factory):
    """300 digits as a uint8 (N, 28, 28) file with their labels beside it, as a user would save them."""
    folder = tmp_path_factory.mktemp("stream")
    path = folder / "digits.npy"
    np.save(path, np.ascontiguousarray(mnist_small.x[:N, 0]))
    np.save(folder / "digits_labels.npy", mnist_small.labels[:N])
    return path


def spec_for(name: str, epochs: int = 1, **train):
    spec = get_preset(name)
    spec.train.epochs = epochs
    spec.train.batch_size = 32
    spec.train.report_every_steps = 2  # reports between batches: the stream must carry on across them
    for key, value in train.items():
        setattr(spec.train, key, value)
    return spec


def trained_weights(spec, dataset, **kwargs) -> dict[str, torch.Tensor]:
    trainer = Trainer(spec, dataset, device="cpu", **kwargs)
    result = trainer.fit()
    assert result.stop_reason == "completed"
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def saved_weights_equal(run_a, run_b) -> bool:
    """Whether two run folders hold bit-identical weights (not the files' bytes: safetensors writes
    its metadata in no fixed order)."""
    from safetensors.torch import load_file

    a, b = (load_file(str(run / "weights.safetensors")) for run in (run_a, run_b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- opening a file -------------------------------------------------------------------------------------
def test_a_streamed_file_stays_on_disk_and_holds_what_the_in_memory_load_holds(digits_file):
    streamed = load_dataset(digits_file, stream=True)
    loaded = load_dataset(digits_file)
    assert is_streamed(streamed) and not is_streamed(loaded)
    assert streamed.sample_shape == loaded.sample_shape == (1, 28, 28) and streamed.kind == "image"
    assert np.array_equal(streamed.labels, loaded.labels) and streamed.label_names == loaded.label_names
    # The run's checksum is the in-memory set's, so a streamed run's project reloads either way.
    assert dataset_checksum(streamed) == dataset_checksum(loaded)
    # Only the validation rows are put on the device.
    assert device_data_bytes(streamed, 0.1) == int(np.ceil(streamed.x.nbytes * 0.1))
    assert device_data_bytes(loaded, 0.1) == loaded.x.nbytes


def test_what_cannot_stream_is_refused_in_one_line(digits_file, tmp_path):
    with pytest.raises(DataError, match="--limit cannot be used with --stream"):
        load_dataset(digits_file, stream=True, limit=100)
    with pytest.raises(DataError, match="--image-size cannot be used with --stream"):
        load_dataset(digits_file, stream=True, image_size=14)
    with pytest.raises(DataError, match="--kind vector needs the data in memory"):
        load_dataset(digits_file, stream=True, kind="vector")
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((4, 8, 8), np.float32))
    with pytest.raises(DataError, match=r"holds float32 values; --stream reads images as uint8"):
        load_dataset(floats, stream=True)
    last = tmp_path / "last.npy"
    np.save(last, np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(DataError, match=r"shape \(4, 8, 8, 3\); --stream reads"):
        load_dataset(last, stream=True)
    fortran = tmp_path / "fortran.npy"
    np.save(fortran, np.asfortranarray(np.zeros((4, 1, 8, 8), np.uint8)))
    with pytest.raises(DataError, match="Fortran"):
        load_dataset(fortran, stream=True)
    cut = tmp_path / "cut.npy"
    cut.write_bytes(digits_file.read_bytes()[:-100])
    with pytest.raises(DataError, match="cut short"):
        load_dataset(cut, stream=True)
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="reads a .npy array file"):
        load_dataset(table, stream=True)
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing.npy", stream=True)


def test_a_row_reader_returns_rows_in_the_asked_order_and_pickles_without_its_data(digits_file):
    mapped = load_dataset(digits_file, stream=True).x
    reader = RowReader(mapped)
    rows = np.array([17, 3, 250, 3, 0])
    assert np.array_equal(reader[rows], np.asarray(mapped)[rows])
    blob = pickle.dumps(reader)
    assert len(blob) < 1000  # the path and the layout, not the 235 KB of pixels
    again = pickle.loads(blob)
    assert np.array_equal(again[rows], reader[rows])


# --- batches -------------------------------------------------------------------------------------------
def test_each_batch_holds_the_in_memory_batchs_rows_in_its_order(digits_file):
    mapped = load_dataset(digits_file, stream=True).x
    train_index = np.arange(10, N)
    order = torch.randperm(len(train_index), generator=torch.Generator().manual_seed(3))
    stream = TrainStream(mapped, train_index, 32, len(train_index) // 32, "cpu", workers=0)
    in_memory = torch.from_numpy(np.asarray(mapped)[train_index])
    for b in (0, 1, 2, 5, 3):  # a jump (a resumed run) restarts the reader at that batch
        assert torch.equal(stream.batch(order, b), in_memory[order[b * 32:(b + 1) * 32]]), b
    stream.close()


def test_each_rank_reads_only_its_rows_and_its_share_of_the_global_batch_is_the_in_memory_share(digits_file):
    mapped = load_dataset(digits_file, stream=True).x
    train_index = np.arange(N)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(5))
    in_memory = torch.from_numpy(np.array(mapped))
    world, batch = 4, 32
    share = batch // world
    streams = [TrainStream(mapped, train_index, batch, N // batch, "cpu", rank, world, workers=0)
               for rank in range(world)]
    read = [np.concatenate(s.plan(order.numpy(), 0)) for s in streams]
    assert all(len(rows) == (N // batch) * share for rows in read)
    assert sorted(np.concatenate(read).tolist()) == sorted(order[:(N // batch) * batch].tolist())  # a partition
    for rank, stream in enumerate(streams):
        x = stream.batch(order, 2)
        mine = slice(rank * share, (rank + 1) * share)
        assert torch.equal(x[mine], in_memory[order[2 * batch:3 * batch]][mine])
        assert x.shape[0] == batch and not x[:rank * share].any() and not x[(rank + 1) * share:].any()
        stream.close()


# --- training ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,workers", [("ae", 0), ("vae", 2), ("denoising", 2)])
def test_a_streamed_run_ends_with_the_in_memory_runs_weights_bit_for_bit(digits_file, name, workers):
    spec = spec_for(name, epochs=2)
    in_memory = trained_weights(spec, load_dataset(digits_file))
    streamed = trained_weights(spec, load_dataset(digits_file, stream=True), stream_workers=workers)
    assert in_memory.keys() == streamed.keys()
    assert all(torch.equal(in_memory[k], streamed[k]) for k in in_memory), name


def test_a_streamed_stacked_run_pretrains_and_resumes_mid_epoch_as_in_memory(digits_file):
    spec = spec_for("stacked", epochs=1)
    spec.objective.stacked.epochs_per_layer = 1
    dataset = load_dataset(digits_file, stream=True)
    straight = trained_weights(spec, load_dataset(digits_file))
    first = Trainer(spec, dataset, device="cpu", stream_workers=0)
    for report in first.run():
        if report.kind == "progress" and first.pos.phase_index == 1 and first.pos.batch_index == 4:
            state = first.state_dict()
            break
    first.stream.close()
    resumed = Trainer(spec, dataset, device="cpu", stream_workers=1)
    resumed.load_state_dict(state)
    assert resumed.fit().stop_reason == "completed"
    assert all(torch.equal(straight[k], v) for k, v in resumed.model.state_dict().items())


def test_a_streamed_run_without_validation_rows_shows_the_in_memory_snapshot(digits_file):
    spec = spec_for("ae", epochs=1, val_fraction=0.0)
    streamed = Trainer(spec, load_dataset(digits_file, stream=True), device="cpu", stream_workers=0)
    in_memory = Trainer(spec, load_dataset(digits_file), device="cpu")
    assert len(streamed.val_x) == 0
    assert torch.equal(streamed.snapshot.x, in_memory.snapshot.x)


def test_the_cli_streams_with_stream_and_its_run_matches_the_in_memory_run(digits_file, tmp_path, capsys):
    args = ["train", "--dataset", str(digits_file), "--epochs", "1", "--batch-size", "32", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "memory")]) == 0
    assert main([*args, "--stream", "--stream-workers", "1", "--out", str(tmp_path / "stream")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines[0]["val_loss"] == lines[1]["val_loss"] and lines[0]["steps"] == lines[1]["steps"]
    assert saved_weights_equal(tmp_path / "memory", tmp_path / "stream")
    assert main([*args, "--stream", "--without-class", "3", "--out", str(tmp_path / "x")]) == 2
    assert "--without-class cannot be used with --stream" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is needed")
def test_two_processes_streaming_their_own_rows_train_as_two_processes_in_memory(digits_file, tmp_path):
    args = ["main.py", "train", "--dataset", str(digits_file), "--preset", "denoising", "--epochs", "1",
            "--batch-size", "32", "--quiet", "--device", "cpu"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env["PYTHONPATH"] = str(ROOT)
    summaries = []
    for run, extra in (("memory", []), ("stream", ["--stream", "--stream-workers", "1"])):
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                               *args, *extra, "--out", str(tmp_path / run)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        summaries.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert all(s["world_size"] == 2 and s["replicas_agree"] is True for s in summaries)
    assert summaries[0]["val_loss"] == summaries[1]["val_loss"]
    assert saved_weights_equal(tmp_path / "memory", tmp_path / "stream")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_a_ctrl_c_to_the_whole_process_group_stops_a_streamed_run_once_and_saves_it(digits_file, tmp_path):
    """A terminal's Ctrl-C reaches the reading workers too: they leave the stop to the training process."""
    cmd = [sys.executable, "main.py", "train", "--dataset", str(digits_file), "--stream", "--stream-workers", "2",
           "--epochs", "100000", "--batch-size", "32", "--quiet", "--out", str(tmp_path / "run")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    job = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("run.incomplete-*/history.jsonl")) or not (
                list(tmp_path.glob("run.incomplete-*/history.jsonl"))[0].read_text()):
            assert job.poll() is None and time.monotonic() < deadline, job.communicate()
            time.sleep(0.2)  # an epoch has ended: the readers of the next are at work
        os.killpg(job.pid, signal.SIGINT)
        out, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert err.count("Ctrl-C: stopping") == 1, err
    assert json.loads(out.strip().splitlines()[-1])["stop_reason"] == "stopped"
    assert (tmp_path / "run" / "weights.safetensors").is_file()
