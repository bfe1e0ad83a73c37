"""Distributed training under torchrun: 2 CPU processes on gloo, started by the tests.

Each torchrun start costs a few seconds (two fresh interpreters importing torch), so the
runs are small (600 digits, 2 epochs) and one start covers several runs where it can
(tests/distributed_worker.py trains five presets and two upsets in one process group).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from aegui.cli import main
from aegui.core.models.common import random_like, random_rows
from aegui.core.training import Trainer
from aegui.core.training.distributed import Distributed, DistributedError, LossModule, launch_from_env

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from distributed_worker import load_digits, spec_for  # noqa: E402

LIMIT, EPOCHS, BATCH = 600, 2, 64
STEPS = EPOCHS * ((LIMIT - LIMIT // 10) // BATCH)  # 540 training digits: 8 steps an epoch
TRAIN_ARGS = ["train", "--limit", str(LIMIT), "--batch-size", str(BATCH), "--quiet"]
PRESETS = ("ae", "vae", "contractive", "aae", "stacked")

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")


def torchrun(args: list[str], cwd: Path, timeout: float = 100) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node=2 ARGS`` (a free port, so parallel runs do not meet)."""
    return subprocess.run(_torchrun_command(args), cwd=cwd, env=_child_env(), capture_output=True, text=True,
                          timeout=timeout)


def _torchrun_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *args]


def _child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def our_errors(stderr: str) -> list[str]:
    """Our lines on stderr (torchrun adds its own log and failure report)."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "warning:", "rank "))]


def single_process_summary(capsys, tmp_path: Path, args: list[str]) -> dict:
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# --- where a process stands ----------------------------------------------------------------------------------
def test_torchruns_variables_say_where_a_process_stands():
    assert launch_from_env({}) is None  # no torchrun: one process, as always
    launch = launch_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "GROUP_RANK": "1"})
    assert (launch.rank, launch.local_rank, launch.world_size, launch.node_rank) == (3, 1, 4, 1)
    assert not launch.is_main
    with pytest.raises(DistributedError, match="WORLD_SIZE"):
        launch_from_env({"RANK": "0", "LOCAL_RANK": "0"})
    with pytest.raises(DistributedError, match="whole numbers"):
        launch_from_env({"RANK": "zero", "LOCAL_RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(DistributedError, match="do not fit"):
        launch_from_env({"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2"})


def test_the_ranks_shares_of_each_batch_partition_the_epochs_permutation():
    order = torch.randperm(540, generator=torch.Generator().manual_seed(0))
    for world in (1, 2, 4):
        shares = [torch.cat([Distributed(rank, world).shard(order[b * 64:(b + 1) * 64]) for b in range(8)])
                  for rank in range(world)]
        assert all(len(share) == 512 // world for share in shares)
        assert torch.equal(torch.sort(torch.cat(shares)).values, torch.sort(order[:512]).values)


def test_each_ranks_noise_is_its_rows_of_the_whole_batchs_draw_and_the_stream_advances_alike():
    whole_gen, x = torch.Generator().manual_seed(5), torch.zeros(8, 3)
    whole = random_like(x, True, whole_gen)
    rows, states = [], []
    for rank in range(2):
        gen = torch.Generator().manual_seed(5)
        rows.append(random_rows(x[:4], True, gen, (rank, 2)))
        states.append(gen.get_state())
    assert torch.equal(torch.cat(rows), whole)
    assert all(torch.equal(state, whole_gen.get_state()) for state in states)


def test_a_parameter_left_out_of_the_loss_is_named_before_the_ranks_drift_apart():
    # DDP would leave that parameter's bucket unreduced and the replicas would part silently.
    used, idle = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    loss = LossModule(lambda x: used(x).sum(), used, idle)
    loss(torch.ones(4, 3)).backward()
    with pytest.raises(DistributedError, match=r"parameter weight \(and 1 more\) took no part"):
        Distributed.check_all_used(SimpleNamespace(module=loss))
    idle(torch.ones(1, 3)).sum().backward()
    Distributed.check_all_used(SimpleNamespace(module=loss))
    assert loss.checked


# --- the command line under torchrun ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("preset", ["ae", "vae"])
def test_two_processes_train_one_model_and_rank_0_alone_writes_the_run(preset, tmp_path, capsys):
    args = [*TRAIN_ARGS, "--preset", preset, "--epochs", str(EPOCHS)]
    done = torchrun([str(ROOT / "main.py"), *args, "--out", "run"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout  # one JSON line, from rank 0 only
    summary = json.loads(lines[0])
    assert summary["world_size"] == 2 and summary["replicas_agree"] is True
    assert summary["steps"] == STEPS and summary["stop_reason"] == "completed" and summary["samples_per_s"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no folder from rank 1, nothing incomplete
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == EPOCHS
    single = single_process_summary(capsys, tmp_path, args)
    assert single["world_size"] == 1 and single["steps"] == STEPS
    assert summary["val_recon_mse"] == pytest.approx(single["val_recon_mse"], rel=0.15)


@pytest.mark.slow
def test_a_batch_that_does_not_divide_among_the_processes_is_refused_in_one_line(tmp_path):
    done = torchrun([str(ROOT / "main.py"), *TRAIN_ARGS, "--batch-size", "63", "--out", "run"], cwd=tmp_path)
    assert done.returncode != 0
    assert our_errors(done.stderr) == ["error: batch size 63 does not divide among the 2 processes torchrun "
                                       "started: it is the global batch, split evenly; give a multiple of 2"]
    assert "exitcode: 2" in done.stderr.replace("exitcode  :", "exitcode:")  # both processes: a user's mistake
    assert not any(tmp_path.iterdir())


# --- replicas, and decisions taken together -----------------------------------------------------------------
@pytest.fixture(scope="module")
def worker_runs(tmp_path_factory) -> Path:
    """One torchrun start of tests/distributed_worker.py: the five presets, then a stop and a NaN on rank 1."""
    out = tmp_path_factory.mktemp("ranks")
    runs = ",".join([*PRESETS, "stop:ae", "nan:ae"])
    done = torchrun([str(ROOT / "tests" / "distributed_worker.py"), "--out", str(out), "--runs", runs,
                     "--limit", str(LIMIT), "--epochs", str(EPOCHS), "--batch-size", str(BATCH)], cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _rank_files(out: Path, tag: str):
    from safetensors.torch import load_file

    weights = [load_file(str(out / f"{tag}-rank{rank}.safetensors")) for rank in (0, 1)]
    results = [json.loads((out / f"{tag}-rank{rank}.json").read_text()) for rank in (0, 1)]
    return weights, results


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_both_ranks_end_with_identical_weights_and_the_single_process_optimisation(worker_runs, preset):
    # Covers each path that does not go through a plain model(x): the contractive term's autograd.grad and
    # separate decode, the AAE's discriminator (a DDP of its own), greedy pretraining of layer pairs.
    (w0, w1), (r0, r1) = _rank_files(worker_runs, preset)
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0), preset
    dataset = load_digits(LIMIT)
    single = Trainer(spec_for(preset, dataset, EPOCHS, BATCH), dataset)
    result = single.fit()
    assert r0["result"]["steps"] == r1["result"]["steps"] == result.steps
    # The same random draws (permutations, noise, prior samples), the same global-batch gradient: only the
    # order of float sums differs.
    assert r0["result"]["val_recon_mse"] == pytest.approx(result.val_recon_mse, rel=1e-3)
    assert [row["train_total"] for row in r0["history"]] == pytest.approx(
        [row["train_total"] for row in single.history], rel=1e-3)
    reference = single.model.state_dict()
    for name, value in reference.items():
        if value.is_floating_point():
            scale = float(value.abs().max()) or 1.0
            assert float((w0[name] - value).abs().max()) <= 2e-3 * scale, (preset, name)


@pytest.mark.slow
def test_a_stop_asked_on_one_rank_stops_both_after_the_same_step(worker_runs):
    (w0, w1), (r0, r1) = _rank_files(worker_runs, "stop-ae")
    assert r0["result"]["stop_reason"] == r1["result"]["stop_reason"] == "stopped"
    assert r0["result"]["steps"] == r1["result"]["steps"] >= 3
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


@pytest.mark.slow
def test_a_nan_on_one_rank_stops_both_with_the_step_named_and_good_weights_back(worker_runs):
    (w0, w1), (r0, r1) = _rank_files(worker_runs, "nan-ae")
    for result in (r0["result"], r1["result"]):
        assert result["stop_reason"] == "non_finite" and "at step 3;" in result["message"]
    assert all(torch.equal(w0[k], w1[k]) and bool(torch.isfinite(w0[k]).all()) for k in w0)


# --- a process that dies --------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _rank_of(pid: int) -> int | None:
    try:
        env = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    ranks = [int(item[5:]) for item in env if item.startswith(b"RANK=")]
    return ranks[0] if ranks else None


def _signal_rank_1_after_the_first_epoch(tmp_path: Path, signum: int) -> tuple[int, str, str]:
    """A long 2-process run; once its first epoch is written, ``signum`` to rank 1 alone. (exit code,
    stdout, stderr) of torchrun, which must end within 30 s of the signal."""
    command = _torchrun_command([str(ROOT / "main.py"), *TRAIN_ARGS, "--epochs", "500", "--out", "run"])
    job = subprocess.Popen(command, cwd=tmp_path, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and job.poll() is None:
            histories = list(tmp_path.glob("run.incomplete-*/history.jsonl"))
            if histories and histories[0].read_text().strip():
                break
            time.sleep(0.1)
        assert job.poll() is None, "the run ended before it could be interrupted"
        victims = [pid for pid in _children(job.pid) if _rank_of(pid) == 1]
        assert len(victims) == 1
        os.kill(victims[0], signum)
        out, err = job.communicate(timeout=30)  # ends within 30 s, or this raises
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()
    return job.returncode, out, err


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds torchrun's workers through /proc")
def test_sigterm_to_one_process_stops_both_and_rank_0_saves_the_run(tmp_path):
    code, out, err = _signal_rank_1_after_the_first_epoch(tmp_path, signal.SIGTERM)
    assert code != 0  # a signalled run says so (each process exits 143; torchrun reports the failure)
    (summary,) = json_lines(out)
    assert summary["stop_reason"] == "stopped" and summary["replicas_agree"] is True
    assert f"stopped by request at step {summary['steps']}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (tmp_path / "run" / "weights.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds torchrun's workers through /proc")
def test_killing_one_process_ends_the_job_soon_with_a_clear_line(tmp_path):
    code, out, err = _signal_rank_1_after_the_first_epoch(tmp_path, signal.SIGKILL)
    assert code != 0
    assert not json_lines(out)
    lines = our_errors(err)
    assert len(lines) == 1 and lines[0].startswith("error: rank 0 of 2: another process of this run failed or was "
                                                   "killed"), err[-3000:]
    assert "keeps what was written" in lines[0]


# --- resuming on another number of processes ---------------------------------------------------------------
@pytest.mark.slow
def test_a_run_saved_by_one_process_resumes_on_two_and_back_on_one(tmp_path, capsys):
    project = tmp_path / "run.aeproj"
    args = [*TRAIN_ARGS, "--preset", "vae"]
    capsys.readouterr()
    assert main([*args, "--epochs", "1", "--project", str(project), "--out", str(tmp_path / "first")]) == 0
    done = torchrun([str(ROOT / "main.py"), "train", "--resume", str(project), "--epochs", "2", "--quiet",
                     "--out", "second"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (two,) = json_lines(done.stdout)
    assert two["world_size"] == 2 and two["steps"] == STEPS
    capsys.readouterr()
    assert main(["train", "--resume", str(project), "--epochs", "3", "--quiet", "--out", str(tmp_path / "third")]) == 0
    three = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    straight = single_process_summary(capsys, tmp_path, [*args, "--epochs", "3"])
    # The saved state is rank 0's, which is every rank's; the data order and every random draw are the
    # single-process run's on any number of processes, so only float rounding tells the runs apart.
    assert three["steps"] == straight["steps"] == 3 * STEPS // 2
    assert three["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-3)
    assert three["val_recon_mse"] == pytest.approx(straight["val_recon_mse"], rel=1e-3)
    history = [json.loads(line) for line in (tmp_path / "third" / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2, 3]
