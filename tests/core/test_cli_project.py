"""The command line's projects: --project writes one, --resume continues it exactly, export reads it."""
from __future__ import annotations

import json
import zipfile

import pytest

from aegui.cli import main
from aegui.core.project import load_project


def run_main(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


COMMON = ["--limit", "400", "--batch-size", "64", "--quiet"]


@pytest.mark.parametrize("preset", ["ae", "vae"])
def test_training_two_epochs_into_a_project_then_resuming_to_four_matches_a_straight_run(preset, tmp_path, capsys):
    project = tmp_path / "p.aeproj"
    code, out, _ = run_main(["train", "--preset", preset, "--epochs", "2", "--project", str(project),
                             "--out", str(tmp_path / "a"), *COMMON], capsys)
    assert code == 0 and last_json(out)["project"] == str(project)
    assert load_project(project).run.result.epochs == 2
    code, out, err = run_main(["train", "--resume", str(project), "--epochs", "4", "--out", str(tmp_path / "b"),
                               "--quiet"], capsys)
    assert code == 0, err
    resumed = last_json(out)
    code, out, _ = run_main(["train", "--preset", preset, "--epochs", "4", "--out", str(tmp_path / "c"), *COMMON],
                            capsys)
    straight = last_json(out)
    for key in ("epochs", "steps", "train_loss", "val_loss", "val_recon_mse"):
        assert resumed[key] == straight[key], key
    back = load_project(project)  # the file itself was updated
    assert back.run.result.epochs == 4 and [row["epoch"] for row in back.run.history] == [1, 2, 3, 4]


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("proj")
    project = folder / "small.aeproj"
    assert main(["train", "--preset", "ae", "--epochs", "1", "--project", str(project), "--out",
                 str(folder / "run"), *COMMON]) == 0
    return project


@pytest.mark.parametrize("option, value", [("--lr", "0.1"), ("--dataset", "shapes"), ("--latent", "8"),
                                           ("--batch-size", "32"), ("--limit", "100"), ("--seed", "3"),
                                           ("--preset", "vae")])
def test_resume_refuses_options_that_change_the_run_naming_them(small_project, option, value, capsys):
    code, _, err = run_main(["train", "--resume", str(small_project), "--epochs", "3", option, value], capsys)
    assert code == 2 and option in err and err.count("\n") == 1


def test_resume_refuses_a_total_at_or_below_what_was_trained(small_project, capsys):
    code, _, err = run_main(["train", "--resume", str(small_project), "--epochs", "1"], capsys)
    assert code == 2 and "already trained 1 epochs" in err
    code, _, err = run_main(["train", "--resume", str(small_project)], capsys)
    assert code == 2 and "--epochs" in err


def test_a_damaged_project_is_one_line_for_resume_and_export(small_project, tmp_path, capsys):
    bad = tmp_path / "bad.aeproj"
    data = bytearray(small_project.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    for argv in (["train", "--resume", str(bad), "--epochs", "3"], ["export", str(bad), "--python", str(tmp_path / "o")]):
        code, _, err = run_main(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_export_writes_python_and_torchscript_from_a_project(small_project, tmp_path, capsys):
    code, out, err = run_main(["export", str(small_project), "--python", str(tmp_path / "py")], capsys)
    assert code == 0, err
    assert {p.name for p in (tmp_path / "py").iterdir()} == {"model.py", "weights.safetensors"}
    assert "import aegui" not in (tmp_path / "py" / "model.py").read_text()
    code, out, err = run_main(["export", str(small_project), "--torchscript", str(tmp_path / "m.pt")], capsys)
    assert code == 0 and zipfile.is_zipfile(tmp_path / "m.pt")
