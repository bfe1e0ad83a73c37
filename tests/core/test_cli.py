"""The headless command line: a JSON summary and saved artefacts on success; on any user mistake,
exactly one line on stderr, exit code 2 and no traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aegui.cli import main
from aegui.core.io import load_weights
from aegui.core.models import build_model
from aegui.core.presets import get_preset, preset_names
from aegui.core.spec import AutoencoderSpec, DecoderSpec, LayerSpec

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_KEYS = {"preset", "epochs", "train_loss", "val_loss", "val_recon_mse", "samples_per_s", "device"}


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """main(argv) in-process. A user mistake must never escape as an exception."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse must not exit on its own either
        pytest.fail(f"main({argv}) raised SystemExit({exc.code}) instead of returning an exit code")
    except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes
        pytest.fail(f"main({argv}) raised {type(exc).__name__}: {exc} instead of one line on stderr and exit 2")
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(argv: list[str], capsys, *words: str) -> str:
    code, out, err = run_main(argv, capsys)
    assert code == 2, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr must be exactly one line, got: {err!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def write_spec(path: Path, spec: AutoencoderSpec | dict | str) -> Path:
    if isinstance(spec, AutoencoderSpec):
        spec.save(path)
    elif isinstance(spec, dict):
        path.write_text(json.dumps(spec), encoding="utf-8")
    else:
        path.write_text(spec, encoding="utf-8")
    return path


# --- success ------------------------------------------------------------------------------------------------
def test_train_a_preset_in_a_subprocess(tmp_path):
    out_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "main.py", "train", "--preset", "ae", "--epochs", "1", "--limit", "500",
         "--out", str(out_dir), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert SUMMARY_KEYS <= set(summary)
    assert summary["preset"] == "ae" and summary["epochs"] == 1 and summary["device"] == "cpu"
    assert summary["val_recon_mse"] > 0 and summary["samples_per_s"] > 0
    assert summary["train_loss"] > 0 and summary["val_loss"] > 0

    spec = AutoencoderSpec.load(out_dir / "spec.json")
    assert spec.name == "ae" and spec.train.epochs == 1
    model = build_model(spec)
    load_weights(model, out_dir / "weights.safetensors")  # strict: every tensor fits the rebuilt model
    saved = load_file(str(out_dir / "weights.safetensors"))
    assert set(saved) == set(model.state_dict())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    fresh = build_model(spec).state_dict()
    assert not torch.equal(fresh["output.bias"], saved["output.bias"])  # trained weights, not a new model

    rows = (out_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1
    row = json.loads(rows[0])
    assert row["epoch"] == 1 and row["phase"] == "train"
    assert row["val_recon_mse"] == pytest.approx(summary["val_recon_mse"])


def test_train_from_a_spec_file_alone(tmp_path, capsys):
    spec = get_preset("ae")
    spec.name = "from-file"
    spec.train.epochs = 2
    spec.train.batch_size = 128
    path = write_spec(tmp_path / "mine.json", spec)
    out_dir = tmp_path / "out"
    code, out, err = run_main(["train", "--spec", str(path), "--out", str(out_dir), "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert SUMMARY_KEYS <= set(summary)
    assert summary["preset"] == "from-file" and summary["epochs"] == 2
    assert AutoencoderSpec.load(out_dir / "spec.json") == spec
    assert len((out_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    load_weights(build_model(spec), out_dir / "weights.safetensors")


def test_options_override_the_preset(tmp_path, capsys):
    out_dir = tmp_path / "o"
    code, out, err = run_main(["train", "--preset", "conv", "--epochs", "1", "--limit", "300", "--latent", "8",
                               "--batch-size", "100", "--lr", "0.002", "--seed", "3", "--device", "cpu",
                               "--out", str(out_dir), "--quiet"], capsys)
    assert code == 0, err
    spec = AutoencoderSpec.load(out_dir / "spec.json")
    assert (spec.family, spec.latent.dim, spec.train.batch_size, spec.train.lr, spec.train.seed, spec.train.device) == \
           ("conv", 8, 100, 0.002, 3, "cpu")
    assert json.loads(out.strip().splitlines()[-1])["preset"] == "conv"


def test_presets_lists_all_fifteen(capsys):
    code, out, err = run_main(["presets"], capsys)
    assert code == 0 and err == ""
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == preset_names() and len(listed) == 15
    for line in out.splitlines():
        assert len(line.split(maxsplit=1)) == 2  # every name has its description


def test_presets_through_main_py():
    proc = subprocess.run([sys.executable, "main.py", "presets"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == preset_names()


# --- user mistakes ------------------------------------------------------------------------------------------
def test_unknown_preset_in_a_subprocess():
    proc = subprocess.run([sys.executable, "main.py", "train", "--preset", "nope", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "unknown preset 'nope'" in proc.stderr
    assert proc.stdout == ""


def test_unknown_preset(capsys, tmp_path):
    line = assert_user_error(["train", "--preset", "nope", "--out", str(tmp_path)], capsys, "unknown preset 'nope'")
    assert "ae" in line  # it lists the presets there are


def test_non_integer_epochs(capsys):
    assert_user_error(["train", "--epochs", "two"], capsys, "--epochs", "invalid int value")


def test_unknown_flag(capsys):
    assert_user_error(["train", "--preset", "ae", "--turbo"], capsys, "unrecognized arguments", "--turbo")


def test_unknown_command_and_no_command(capsys):
    assert_user_error(["fly"], capsys, "invalid choice")
    assert_user_error([], capsys, "no command")


def test_preset_and_spec_together(capsys, tmp_path):
    path = write_spec(tmp_path / "s.json", get_preset("ae"))
    assert_user_error(["train", "--preset", "ae", "--spec", str(path)], capsys, "not allowed with")


def test_missing_dataset_path(capsys, tmp_path):
    missing = tmp_path / "nowhere" / "digits.npy"
    assert_user_error(["train", "--dataset", str(missing), "--out", str(tmp_path / "o")], capsys,
                      "unknown dataset", str(missing))


def test_spec_file_with_invalid_json(capsys, tmp_path):
    path = write_spec(tmp_path / "broken.json", '{"name": "x", ')
    assert_user_error(["train", "--spec", str(path), "--out", str(tmp_path / "o")], capsys,
                      "invalid spec", "not valid JSON", str(path))


@pytest.mark.parametrize("data, path", [
    ({"encoder": {"layers": [{"units": "many"}]}}, "encoder.layers[0].units"),
    ({"encoder": {"layers": [{"unit": 5}]}}, "encoder.layers[0].unit"),
    ({"train": {"lr": -1.0}}, "train.lr"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"schema_version": 2}, "schema_version"),
    ({"latent": {"dim": 0}}, "latent.dim"),
    ({"encoder": {"layers": [{"units": 64, "dropout": -0.5}]}}, "encoder.layers[0].dropout"),
])
def test_spec_file_with_an_invalid_field(capsys, tmp_path, data, path):
    spec_path = write_spec(tmp_path / "bad.json", data)
    assert_user_error(["train", "--spec", str(spec_path), "--limit", "100", "--out", str(tmp_path / "o")], capsys,
                      "invalid spec", path)


def test_nonexistent_spec_file(capsys, tmp_path):
    assert_user_error(["train", "--spec", str(tmp_path / "nope.json")], capsys, "cannot read spec file", "nope.json")


def test_spec_file_for_another_input_shape(capsys, tmp_path):
    spec = get_preset("ae", "vector", (10,))
    path = write_spec(tmp_path / "vec.json", spec)
    assert_user_error(["train", "--spec", str(path), "--limit", "100", "--out", str(tmp_path / "o")], capsys,
                      "[10]", "[1, 28, 28]")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda(capsys, tmp_path):
    assert_user_error(["train", "--device", "cuda", "--limit", "100", "--out", str(tmp_path)], capsys, "CUDA")


def test_bad_device_choice(capsys):
    assert_user_error(["train", "--device", "gpu"], capsys, "invalid choice", "gpu")


def test_bad_limit_and_image_size(capsys, tmp_path):
    assert_user_error(["train", "--limit", "1", "--out", str(tmp_path)], capsys, "--limit")
    assert_user_error(["train", "--image-size", "0x5"], capsys, "--image-size")


def test_capsule_latent_that_is_not_whole_capsules(capsys, tmp_path):
    assert_user_error(["train", "--preset", "capsule", "--latent", "12", "--out", str(tmp_path)], capsys,
                      "--latent 12")


@pytest.mark.parametrize("argv, words", [
    (["--seed", "-1"], ("seed",)),
    (["--seed", str(2 ** 64)], ("seed",)),
    (["--lr", "nan"], ("lr",)),
], ids=["seed=-1", "seed=2**64", "lr=nan"])
def test_out_of_range_numbers_are_user_errors(capsys, tmp_path, argv, words):
    # These got through validation and crashed with a traceback: a negative seed in numpy's
    # SeedSequence (load_dataset / split_indices), 2**64 in torch.manual_seed, a NaN rate in Adam.
    assert_user_error(["train", "--preset", "ae", "--epochs", "1", "--limit", "200", "--quiet",
                       "--out", str(tmp_path / "o"), *argv], capsys, *words)


def test_spec_that_validates_but_cannot_be_built_is_a_user_error(capsys, tmp_path):
    # An explicit conv decoder with an even kernel at stride 1 passes validation; building it then
    # raised ValueError("no padding maps 28 to 28 ...") out of main() as a traceback.
    spec = get_preset("conv")
    spec.decoder = DecoderSpec(mirror=False, layers=[LayerSpec(channels=16, kernel=4, stride=2),
                                                     LayerSpec(channels=8, kernel=2, stride=2),
                                                     LayerSpec(channels=8, kernel=2, stride=1)])
    spec.train.epochs = 1
    path = write_spec(tmp_path / "even.json", spec)
    code, out, err = run_main(["train", "--spec", str(path), "--limit", "200", "--out", str(tmp_path / "o"),
                               "--quiet"], capsys)
    if code != 0:
        assert code == 2 and len(err.splitlines()) == 1 and "decoder.layers" in err


def test_a_diverging_run_exits_1_with_its_message(capsys, tmp_path):
    spec = get_preset("ae")
    spec.train.epochs = 2
    spec.train.batch_size = 64
    spec.train.optimizer = "sgd"
    spec.train.lr = 1e6
    path = write_spec(tmp_path / "hot.json", spec)
    code, out, err = run_main(["train", "--spec", str(path), "--limit", "1000", "--out", str(tmp_path / "o"),
                               "--quiet"], capsys)
    assert code == 1
    summary = json.loads(out.strip().splitlines()[-1])  # valid JSON even with NaN losses (as null)
    assert summary["stop_reason"] == "non_finite"
    assert "learning rate" in err and "Traceback" not in err


# --- robustness found in review -----------------------------------------------------------------------------
def test_an_absurd_code_size_is_a_user_error(capsys, tmp_path):
    assert_user_error(["train", "--latent", "100000000000", "--limit", "200", "--out", str(tmp_path / "o")],
                      capsys, "latent.dim", "65,536")


def test_batch_norm_with_batches_of_one_is_a_user_error(capsys, tmp_path):
    spec = get_preset("ae")
    spec.encoder.layers[0].batch_norm = True
    path = write_spec(tmp_path / "bn.json", spec)
    assert_user_error(["train", "--spec", str(path), "--batch-size", "1", "--epochs", "1", "--limit", "20",
                       "--out", str(tmp_path / "o")], capsys, "batch norm")


def test_an_output_folder_that_cannot_be_made_is_a_user_error(capsys, tmp_path):
    (tmp_path / "f").write_text("a file where a folder must go")
    assert_user_error(["train", "--epochs", "1", "--limit", "200", "--quiet", "--out", str(tmp_path / "f" / "o")],
                      capsys, "cannot create output folder")
    assert_user_error(["train", "--epochs", "1", "--limit", "200", "--quiet", "--out", str(tmp_path / "f")],
                      capsys, "not a folder")


def test_standardised_data_saves_its_statistics(capsys, tmp_path):
    code, out, _ = run_main(["train", "--dataset", "transactions", "--epochs", "1", "--limit", "300", "--quiet",
                             "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    stats = json.loads((tmp_path / "o" / "normalisation.json").read_text())
    assert len(stats["feature_mean"]) == len(stats["feature_std"]) == 10


def test_kind_and_label_column_reach_the_importer(capsys, tmp_path):
    import numpy as np

    images = tmp_path / "imgs.npy"
    np.save(images, np.random.default_rng(0).random((60, 28, 28), dtype=np.float32))
    code, _, err = run_main(["train", "--dataset", str(images), "--kind", "image", "--epochs", "1", "--quiet",
                             "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    spec = json.loads((tmp_path / "a" / "spec.json").read_text())
    assert spec["input"] == {"kind": "image", "shape": [1, 28, 28]}
    table = tmp_path / "t.csv"
    table.write_text("x,y,cls\n" + "".join(f"{i},{i * 2},{'ab'[i % 2]}\n" for i in range(20)))
    assert_user_error(["train", "--dataset", str(table), "--label-column", "nope", "--epochs", "1",
                       "--out", str(tmp_path / "b")], capsys, "no column named 'nope'")


def test_without_class_trains_on_the_rest(capsys, tmp_path):
    code, out, err = run_main(["train", "--without-class", "0", "--epochs", "1", "--limit", "300", "--quiet",
                               "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["dataset"] == "mnist5k without 0"
    assert_user_error(["train", "--without-class", "12", "--limit", "300", "--out", str(tmp_path / "p")],
                      capsys, "--without-class 12", "0, 1, 2")
