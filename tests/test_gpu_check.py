"""benchmarks/gpu_check.py, the script run in one go on a CUDA machine, on its CPU path here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402


@pytest.mark.slow
def test_the_quick_cpu_run_prints_every_parts_figure_or_why_it_was_skipped(tmp_path):
    saved = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--quick", "--device", "cpu",
                           "--json-out", str(saved)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert json.loads(saved.read_text()) == figures  # what a stopped run would have left, complete here
    assert set(gpu_check.PARTS) <= set(figures) and figures["environment"]["device"] == "cpu"
    assert figures["sync_debug"]["result"] == "skipped: needs a CUDA GPU"  # pytest ran it, conftest skipped it
    throughput = figures["train_throughput"]
    assert throughput["device"] == "cpu" and throughput["ratio"] > 0 and throughput["bare_samples_per_s"] > 0
    conv = figures["conv_vae"]
    assert conv["image"] == [1, 64, 64] and conv["params"] > 0
    for key in ("bare_samples_per_s", "amp_off_samples_per_s", "stream_samples_per_s"):
        assert conv[key] > 0, key
    assert conv["amp_on_samples_per_s"].startswith("skipped: AMP is CUDA-only")
    assert conv["train_flops_per_sample"] > 1e6 and conv["bare_tflop_per_s"] > 0
    data = figures["data_path"]
    for key in ("one_process_rows_per_s", "stream_1_workers_rows_per_s", "png_decode_images_per_s_one_core"):
        assert data[key] > 0, key
    assert figures["gui_vs_cli"].startswith("skipped:")
    ddp = figures["ddp_2gpu"]
    for run in ("two_processes", "two_processes_stream"):
        assert ddp[run]["world_size"] == 2 and ddp[run]["replicas_agree"] is True, ddp[run]
    assert ddp["two_processes"]["val_loss"] == ddp["two_processes_stream"]["val_loss"]  # streaming changes nothing
    assert all(value.startswith("not measured") for value in figures["goals"].values())


def test_the_goals_are_read_from_a_full_gpu_runs_figures():
    results = {"environment": {"device": "cuda"}, "quick": False,
               "sync_debug": {"result": "passed"}, "train_throughput": {"ratio": 0.9, "goal_ratio_0_95_met": False},
               "gui_vs_cli": "skipped: no --device"}
    assert gpu_check.goals(results) == {"zero_host_syncs_in_a_step": True,
                                        "trainer_at_least_0_95_of_bare_loop": False,
                                        "gui_at_least_0_95_of_cli": "not measured"}
    results["sync_debug"] = {"result": "error (exit 4)"}
    assert gpu_check.goals(results)["zero_host_syncs_in_a_step"] == "not measured"
    results["quick"] = True
    assert all(v.startswith("not measured") for v in gpu_check.goals(results).values())
