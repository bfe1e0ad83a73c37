"""`main.py experiments` and `main.py experiment NAME`: the list, the report folder, the JSON last line,
and one-line errors with exit code 2 for every user mistake."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aegui.cli import main
from aegui.cli.experiments import BUDGETS
from aegui.core.experiments import BUDGET_NAMES, EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """The command sets one torch thread for the process; the tests after these keep their own."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(argv: list[str], capsys, *words: str) -> str:
    code, out, err = run_main(argv, capsys)
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_experiments_lists_every_experiment_on_one_line_each(capsys):
    code, out, _ = run_main(["experiments"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(EXPERIMENTS)
    for line, experiment in zip(lines, EXPERIMENTS.values()):
        assert line.endswith(experiment.description)


def test_the_budgets_offered_are_the_engines():
    assert BUDGETS == BUDGET_NAMES


@pytest.mark.parametrize("name", ["biases", "variational"])
def test_an_experiment_runs_in_a_subprocess_and_ends_on_its_json_line(name, tmp_path):
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "main.py", "experiment", name, "--budget", "tiny", "--seed", "1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    experiment = EXPERIMENTS[name]
    assert summary["name"] == name and summary["budget"] == "tiny" and summary["seed"] == 1
    assert [arm["label"] for arm in summary["arms"]] == [arm.label for arm in experiment.arms]
    for arm in summary["arms"]:
        for figure in experiment.figures:
            assert isinstance(arm[figure], (int, float)), (arm["label"], figure)
    assert {f["holds"] for f in summary["findings"]} <= {True, False, None}
    for file in ("report.md", "report.html", "result.json", "figures.png"):
        assert (out / file).is_file(), file
    assert sorted(p.name for p in out.glob("*.png")) == sorted(["figures.png"] + [f"{v}.png" for v in experiment.views])
    assert json.loads((out / "result.json").read_text())["arms"][0]["label"] == experiment.arms[0].label
    assert "[1/" in done.stderr and "epoch" in done.stderr  # progress, on stderr
    assert not list(tmp_path.glob("report.incomplete-*"))


def test_unknown_name_bad_budget_and_bad_seed_are_one_line_errors(capsys):
    one_line_error(["experiment", "nope"], capsys, "unknown experiment 'nope'", "biases")
    one_line_error(["experiment", "biases", "--budget", "huge"], capsys, "--budget", "huge")
    one_line_error(["experiment", "biases", "--seed", "-1"], capsys, "--seed -1")
    one_line_error(["experiment"], capsys, "NAME")


def test_a_non_empty_out_folder_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "earlier"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier report")
    one_line_error(["experiment", "contractive", "--budget", "tiny", "--out", str(out)], capsys, "not empty")
    assert (out / "keep.txt").is_file()
    code, stdout, _ = run_main(["experiment", "contractive", "--budget", "tiny", "--out", str(out), "--overwrite"],
                               capsys)
    assert code == 0
    assert json.loads(stdout.splitlines()[-1])["out"] == str(out)
    assert (out / "report.md").is_file() and not (out / "keep.txt").exists()
