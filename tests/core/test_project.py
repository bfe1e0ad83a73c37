"""Project files: the round trip, exact resume through a file, files that lie, atomic saves, migrations."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from aegui.core.presets import get_preset, preset_names
from aegui.core.project import Project, ProjectError, load_project, save_project
from aegui.core.run import DatasetRef, RunArtifact
from aegui.core.training import Trainer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "project-v1.aeproj"


@pytest.fixture(scope="module")
def digits(mnist_small):
    return mnist_small.subset(np.arange(0, len(mnist_small), 2))


def small_spec(name="ae", epochs=1):
    spec = get_preset(name)
    spec.train.epochs = epochs
    spec.train.batch_size = 64
    return spec


def trained_project(digits, name="ae", epochs=1) -> tuple[Project, Trainer]:
    trainer = Trainer(small_spec(name, epochs), digits)
    trainer.fit()
    run = RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(digits, options={"limit": 1000}),
                                   with_state=True)
    project = Project(spec=trainer.spec, run=run, dataset=run.dataset,
                      runs=[{"name": "run 1: ae", "history": run.history, "result": run.result.to_json()}],
                      curves={"train total": {"epochs": [0.5, 1.0], "values": [200.0, float("nan")]}},
                      marks=[{"step": 3, "text": "lr 0.002"}], name="digits")
    return project, trainer


def manifest(members: dict[str, bytes]) -> dict:
    return {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in members.items()}


def rewrite(src: Path, dst: Path, change, tamper: bool = False) -> None:
    """Copy a project, letting ``change(header, members)`` edit it. The manifest is recomputed after the
    change, so the file is consistent, unless ``tamper``: then it is the original's, and the change lies
    against it (a member grown, a size claimed, a byte flipped)."""
    with zipfile.ZipFile(src) as zf:
        header = json.loads(zf.read("project.json"))
        members = {n: zf.read(n) for n in zf.namelist() if n != "project.json"}
    header["manifest"] = manifest(members)
    change(header, members)
    if not tamper:
        header["manifest"] = manifest(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(header))
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_project_round_trip_restores_the_model_its_runs_and_curves(digits, tmp_path):
    project, trainer = trained_project(digits)
    path = save_project(project, tmp_path / "digits.aeproj")
    back = load_project(path)
    assert back.name == "digits" and back.spec == project.spec
    assert back.dataset == project.dataset and back.dataset.options == {"limit": 1000}
    assert back.runs[0]["name"] == "run 1: ae" and back.marks == project.marks
    assert back.curves["train total"]["values"] == [200.0, None]  # a NaN is stored as null
    x = torch.from_numpy(digits.as_float(np.arange(8)))
    with torch.no_grad():
        assert torch.equal(back.run.build_model()(x)[0], trainer.model.eval()(x)[0])
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "run/training_state.safetensors" in names and not [n for n in names if n.endswith((".pt", ".pkl"))]


@pytest.fixture(scope="module")
def few_digits(mnist_small):
    """200 digits: 180 to train on, 2 steps of 64 an epoch (enough to cross an epoch boundary)."""
    return mnist_small.subset(np.arange(0, len(mnist_small), 5))


@pytest.mark.parametrize("name", preset_names())
def test_resuming_from_a_project_matches_a_straight_run(name, few_digits, tmp_path):
    """Every preset: discriminators, greedy pretraining, noise and beta warm-up included."""
    digits = few_digits
    straight = Trainer(small_spec(name, epochs=2), digits)
    expected = straight.fit()
    project, _ = trained_project(digits, name, epochs=1)
    save_project(project, tmp_path / f"{name}.aeproj")
    back = load_project(tmp_path / f"{name}.aeproj")
    resumed = Trainer(small_spec(name, epochs=2), digits)
    resumed.load_state_dict(back.run.training_state)
    got = resumed.fit()
    assert (got.train_loss, got.val_loss, got.val_recon_mse) == \
           (expected.train_loss, expected.val_loss, expected.val_recon_mse), name


# --- files that lie -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_project(digits, tmp_path_factory) -> Path:
    project, _ = trained_project(digits)
    return save_project(project, tmp_path_factory.mktemp("good") / "good.aeproj")


def _refused(path: Path, match: str) -> None:
    with pytest.raises(ProjectError, match=match) as info:
        load_project(path)
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "junk.aeproj"
    path.write_bytes(b"PK\x03\x04 not really a zip" + os.urandom(200))
    _refused(path, "not a project file")


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/etc/evil", "run/../../evil", "C:/evil", "a\\..\\evil"])
def test_a_member_path_that_leaves_the_project_is_refused(good_project, tmp_path, bad_name):
    path = tmp_path / "slip.aeproj"
    rewrite(good_project, path, lambda h, m: m.__setitem__(bad_name, b"x"))
    _refused(path, "absolute or leaves the project")
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil").exists()


def test_a_member_larger_than_its_manifest_entry_is_refused(good_project, tmp_path):
    path = tmp_path / "bomb.aeproj"

    def inflate(header, members):
        members["spec.json"] = members["spec.json"] + b" " * 50_000_000  # 50 MB of padding, deflated to little

    rewrite(good_project, path, inflate, tamper=True)
    assert path.stat().st_size < good_project.stat().st_size + 1_000_000  # a small file claiming little
    _refused(path, "manifest says")


def test_a_manifest_claiming_an_absurd_size_is_refused(good_project, tmp_path):
    path = tmp_path / "claim.aeproj"

    def claim(header, members):
        header["manifest"]["spec.json"]["size"] = 1 << 50

    rewrite(good_project, path, claim, tamper=True)
    _refused(path, "claims a size")


def test_a_member_whose_hash_does_not_match_is_refused(good_project, tmp_path):
    path = tmp_path / "hash.aeproj"

    def flip(header, members):
        data = bytearray(members["run/weights.safetensors"])
        data[-1] ^= 0xFF
        members["run/weights.safetensors"] = bytes(data)

    rewrite(good_project, path, flip, tamper=True)
    _refused(path, "does not match its checksum")


def test_weights_that_do_not_fit_the_spec_are_refused(good_project, tmp_path):
    from aegui.core.io import tensors_from_bytes, tensors_to_bytes

    path = tmp_path / "shape.aeproj"

    def reshape(header, members):
        weights = tensors_from_bytes(members["run/weights.safetensors"])
        name = next(iter(weights))
        weights[name] = torch.zeros(3, 3)
        members["run/weights.safetensors"] = tensors_to_bytes(weights)

    rewrite(good_project, path, reshape)
    _refused(path, "do not fit the spec")

    def retype(header, members):
        weights = tensors_from_bytes(members["run/weights.safetensors"])
        members["run/weights.safetensors"] = tensors_to_bytes({k: v.double() for k, v in weights.items()})

    rewrite(good_project, path, retype)
    _refused(path, "float64")


def test_a_newer_or_unknown_schema_is_refused(good_project, tmp_path):
    path = tmp_path / "newer.aeproj"
    rewrite(good_project, path, lambda h, m: h.__setitem__("schema_version", 99))
    _refused(path, "newer version")
    rewrite(good_project, path, lambda h, m: h.__setitem__("schema_version", "one"))
    _refused(path, "unknown project schema")


def test_a_missing_member_is_refused(good_project, tmp_path):
    path = tmp_path / "missing.aeproj"
    rewrite(good_project, path, lambda h, m: m.pop("run/split.safetensors"))
    _refused(path, "split.safetensors is missing")
    rewrite(good_project, path, lambda h, m: m.pop("spec.json"))
    _refused(path, "spec.json is missing")


class _Payload:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_project_whose_members_carry_a_pickle_payload_creates_nothing(good_project, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)))
    path = tmp_path / "hostile.aeproj"

    def poison(header, members):
        for name in ("run/weights.safetensors", "run/training_state.safetensors", "run/split.safetensors"):
            members[name] = payload
        # A torch.save-style archive too: a zip with a data.pkl inside.
        buffer = io.BytesIO()
        torch.save({"w": torch.zeros(1)}, buffer)
        members["run/history.jsonl"] = buffer.getvalue()

    rewrite(good_project, path, poison)
    _refused(path, "cannot read the run")
    assert not marker.exists()
    # The command line's export refuses it as well, and creates nothing either.
    out = tmp_path / "export"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", str(path), "--python", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not marker.exists() and not out.exists()


# --- atomic writes --------------------------------------------------------------------------------------------
KILL_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from aegui.core.presets import get_preset, preset_names
from aegui.core.project import Project, save_project
from aegui.core.run import DatasetRef, RunArtifact
from aegui.core.models import build_model
import numpy as np
spec = get_preset("ae")
spec.encoder.layers[0].units = 8192  # about 50 MB of weights: the save takes long enough to be killed in
model = build_model(spec)
ref = DatasetRef("x", "x", 10, (1, 28, 28), "image", "0")
run = RunArtifact(spec, model.state_dict(), ref, np.arange(8), np.arange(8, 10))
print("ready", flush=True)
while True:
    save_project(Project(spec=spec, run=run), {path!r})
"""


def test_a_writer_killed_mid_save_leaves_the_old_project_intact(good_project, tmp_path):
    path = tmp_path / "keep.aeproj"
    path.write_bytes(good_project.read_bytes())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".keep.aeproj.*.tmp")):  # the temporary file is being written
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.005)
        time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    if hashlib.sha256(path.read_bytes()).hexdigest() != before:
        # The kill landed after a rename: then the new file must be whole.
        assert load_project(path).run is not None
    else:
        assert load_project(path).name == "digits"


def test_saving_into_a_read_only_folder_is_one_clear_line_and_keeps_the_project(good_project, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    project = load_project(good_project)
    try:
        with pytest.raises(ProjectError, match="cannot save"):
            save_project(project, folder / "x.aeproj")
    finally:
        folder.chmod(0o700)
    assert project.run is not None


def test_saving_over_a_folder_is_one_clear_line(good_project, tmp_path):
    project = load_project(good_project)
    (tmp_path / "taken.aeproj").mkdir()
    with pytest.raises(ProjectError, match="cannot save"):
        save_project(project, tmp_path / "taken.aeproj")
    assert not list(tmp_path.glob("*.tmp"))


# --- migration ------------------------------------------------------------------------------------------------
def test_the_version_1_fixture_opens_and_decodes():
    """Saved by this version (tests/fixtures/make_project_fixture.py); every later schema opens it too."""
    project = load_project(FIXTURE)
    assert project.run is not None and project.run.training_state is not None
    model = project.run.build_model()
    expected = np.load(FIXTURE.with_suffix(".expected.npy"), allow_pickle=False)
    with torch.no_grad():
        out = torch.sigmoid(model.decode(torch.zeros(2, model.code_dim))).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
