"""Exports of a run: standalone Python, TorchScript, ONNX (when installed), images and CSV.

Every preset (fitted to the 28x28 digits) and a few variants that reach the rarer code
paths (sequences and vectors, tied weights, batch norm, dropout, biases off, an explicit
conv decoder, mean pooling) are exported with random weights: equality does not need a
trained model. The generated ``model.py`` is run in a separate interpreter whose
``sys.path`` holds only the export folder and the folders of torch and safetensors, where
``import aegui`` fails.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import safetensors
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from aegui.core.data import load_mnist5k
from aegui.core.export import (
    ExportError, ExportModel, export_images, export_onnx, export_python, export_torchscript, onnx_paths,
)
from aegui.core.export import onnx_export
from aegui.core.models import build_model
from aegui.core.presets import get_preset, preset_names
from aegui.core.run import DatasetRef, RunArtifact
from aegui.core.spec import LayerSpec
from aegui.core.training import Trainer

TOL = 1e-5


def _variants() -> dict:
    """Specs beyond the presets, each reaching a code path the presets leave alone."""
    tied = get_preset("deep")
    tied.decoder.tied_weights = True
    tied.encoder.layers[1].dropout = 0.2
    tied.encoder.layers[1].bias = False
    tied.encoder.layers[2].activation = "leaky_relu"
    tied.latent.activation = "tanh"
    tied.decoder.output_bias = False

    batch_norm = get_preset("ae")
    batch_norm.encoder.layers = [LayerSpec(units=128, batch_norm=True, dropout=0.1),
                                 LayerSpec(units=64, batch_norm=True, bias=False, activation="sigmoid")]

    conv_explicit = get_preset("conv-vae")
    conv_explicit.encoder.layers[0].batch_norm = True
    conv_explicit.decoder.mirror = False
    conv_explicit.decoder.layers = [LayerSpec(channels=32, kernel=3, stride=2, batch_norm=True, activation="elu"),
                                    LayerSpec(channels=16, kernel=3, stride=2, bias=False, activation="gelu")]

    conv_seq = get_preset("conv", "sequence", (32, 3))
    conv_seq.likelihood = "gaussian"
    conv_seq.encoder.layers[1].batch_norm = True

    attention_seq = get_preset("attention", "sequence", (16, 2))
    attention_seq.likelihood = "gaussian"
    attention_seq.attention.pool = "mean"
    attention_seq.encoder.layers[1].bias = False
    attention_seq.decoder.output_bias = False

    vae_vector = get_preset("vae", "vector", (12,))
    vae_vector.likelihood = "gaussian"
    return {"deep-tied": tied, "ae-batch-norm": batch_norm, "conv-explicit": conv_explicit, "conv-sequence": conv_seq,
            "attention-sequence": attention_seq, "vae-vector": vae_vector}


def _run_for(name: str, spec) -> RunArtifact:
    torch.manual_seed(len(name))
    model = build_model(spec)
    with torch.no_grad():  # batch norm's running statistics away from 0/1, so eval mode matters
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    shape = tuple(spec.input.shape)
    norm = None
    if spec.input.kind != "image":
        features = shape[-1]
        norm = {"feature_mean": np.linspace(-1, 1, features).astype(np.float32),
                "feature_std": np.linspace(0.5, 2, features).astype(np.float32)}
    return RunArtifact(spec=spec, weights={k: v.clone() for k, v in model.state_dict().items()},
                       dataset=DatasetRef(name="random", source="random", size=10, sample_shape=shape,
                                          kind=spec.input.kind, checksum="-"),
                       train_index=np.arange(8), val_index=np.arange(8, 10), normalisation=norm)


SPECS = {name: get_preset(name) for name in preset_names()} | _variants()
# TorchScript and ONNX trace the app's own modules, so the variants that only change layer
# settings add little there; the other input kinds do.
TRACED = preset_names() + ["conv-sequence", "attention-sequence", "vae-vector"]


@pytest.fixture(scope="module")
def runs() -> dict[str, RunArtifact]:
    return {name: _run_for(name, spec) for name, spec in SPECS.items()}


def _batch(run: RunArtifact, n: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    shape = (n, *run.spec.input.shape)
    x = torch.rand(shape, generator=g) if run.spec.likelihood == "bernoulli" else torch.randn(shape, generator=g)
    return x, torch.randn(n, run.spec.code_dim, generator=g)


def _app(run: RunArtifact, x: torch.Tensor, code: torch.Tensor) -> dict[str, np.ndarray]:
    """What the app computes: forward, encode (the mean code) and decode, in data space."""
    wrapper = ExportModel(run.build_model(), run.spec.likelihood)
    with torch.no_grad():
        return {"forward": wrapper(x).numpy(), "encode": wrapper.encode(x).numpy(),
                "decode": wrapper.decode(code).numpy()}


def _assert_close(got: dict, want: dict, where: str) -> None:
    for key, value in want.items():
        assert got[key].shape == value.shape, (where, key)
        diff = float(np.abs(got[key] - value).max())
        assert diff <= TOL, f"{where}: {key} differs by {diff:.3g}"


# --- the wrapper ------------------------------------------------------------------------------------

def test_export_model_is_deterministic_and_uses_the_posterior_mean(runs):
    run = runs["vae"]
    model = run.build_model()
    wrapper = ExportModel(model, "bernoulli")
    x, _ = _batch(run)
    with torch.no_grad():
        first, second = wrapper(x), wrapper(x)
        mu = model.head.mu(model.encoder_blocks[0](x.reshape(len(x), -1)))
        assert torch.equal(first, second)
        assert torch.equal(wrapper.encode(x), mu)
        assert torch.allclose(first, torch.sigmoid(model.decode(mu)))


# --- --python ---------------------------------------------------------------------------------------

ISOLATED = textwrap.dedent('''
    import importlib.util, json, sys
    sys.path += json.loads(sys.argv[1])  # -I -S: the standard library only, then torch's and safetensors' folders
    assert importlib.util.find_spec("aegui") is None, "aegui is importable from the isolated interpreter"
    from safetensors.torch import load_file, save_file
    import torch
    report = {}
    for folder in json.loads(sys.argv[2]):
        sys.path.insert(0, folder)
        sys.modules.pop("model", None)
        from model import load
        m = load()
        inputs = load_file(folder + "/inputs.safetensors")
        with torch.no_grad():
            out = {"forward": m(inputs["x"]), "encode": m.encode(inputs["x"]), "decode": m.decode(inputs["code"])}
        save_file({k: v.contiguous() for k, v in out.items()}, folder + "/outputs.safetensors")
        report[folder] = {"training": m.training, "keys": sorted(m.state_dict()),
                          "same": bool(torch.equal(m(inputs["x"]), m(inputs["x"])))}
        sys.path.remove(folder)
    print(json.dumps(report))
''')


def test_python_export_reproduces_every_preset_without_aegui(runs, tmp_path):
    folders, expected = [], {}
    for name, run in runs.items():
        folder = tmp_path / name
        result = export_python(run, folder)
        assert [p.name for p in result.paths] == ["model.py", "weights.safetensors"]
        source = (folder / "model.py").read_text()
        assert "aegui" not in source.replace("Autoencoder Studio", "")
        assert "import aegui" not in source and "from aegui" not in source
        assert set(load_file(str(folder / "weights.safetensors"))) == set(run.weights)
        x, code = _batch(run)
        save_file({"x": x, "code": code}, str(folder / "inputs.safetensors"))
        expected[str(folder)] = (name, _app(run, x, code), sorted(run.weights))
        folders.append(str(folder))
    site = sorted({str(Path(torch.__file__).parents[1]), str(Path(safetensors.__file__).parents[1])})
    done = subprocess.run([sys.executable, "-I", "-S", "-c", ISOLATED, json.dumps(site), json.dumps(folders)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for folder, (name, want, keys) in expected.items():
        got = {k: v.numpy() for k, v in load_file(folder + "/outputs.safetensors").items()}
        _assert_close(got, want, name)
        assert report[folder]["keys"] == keys, name
        assert report[folder]["training"] is False and report[folder]["same"], name


def test_isolated_interpreter_cannot_import_aegui(tmp_path):
    site = sorted({str(Path(torch.__file__).parents[1]), str(Path(safetensors.__file__).parents[1])})
    code = "import json, sys; sys.path += json.loads(sys.argv[1]); import aegui"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, json.dumps(site)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No module named 'aegui'" in done.stderr


def test_python_export_writes_the_normalisation_and_reads_as_plain_torch(runs, tmp_path):
    run = runs["vae-vector"]
    export_python(run, tmp_path)
    source = (tmp_path / "model.py").read_text()
    assert "FEATURE_MEAN" in source and "def standardise" in source and "def posterior" in source
    compile(source, "model.py", "exec")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1].split(".")[0] in {"pathlib", "torch", "safetensors"} for line in imports), imports


def test_python_export_refuses_a_layer_it_cannot_write(runs, tmp_path, monkeypatch):
    from aegui.core.export import layers

    monkeypatch.setattr(layers, "_SIMPLE", {})  # as if ReLU were a layer the writer did not know
    with pytest.raises(ExportError) as err:
        export_python(runs["ae"], tmp_path / "out")
    assert "\n" not in str(err.value) and "ReLU" in str(err.value)
    assert not (tmp_path / "out" / "model.py").exists()


# --- --torchscript ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TRACED)
def test_torchscript_matches_torch(runs, name, tmp_path):
    run = runs[name]
    path = tmp_path / "model.pt"
    result = export_torchscript(run, path)
    assert result.paths == [path] and "checked" in result.notes[0]
    x, code = _batch(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        got = {"forward": loaded(x).numpy(), "encode": loaded.encode(x).numpy(), "decode": loaded.decode(code).numpy()}
    _assert_close(got, _app(run, x, code), name)


# --- --onnx -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TRACED)
def test_onnx_matches_torch(runs, name, tmp_path):
    pytest.importorskip("onnx", reason="the optional onnx package is not installed (pip install onnx)")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    run = runs[name]
    result = export_onnx(run, tmp_path / "model.onnx")
    whole, encoder, decoder = result.paths
    assert [p.name for p in result.paths] == ["model.onnx", "model.encoder.onnx", "model.decoder.onnx"]
    assert "checked with onnxruntime" in result.notes[0]
    x, code = _batch(run)
    sessions = {p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in result.paths}
    assert [i.name for i in sessions[whole].get_inputs()] == ["x"]
    assert [o.name for o in sessions[whole].get_outputs()] == ["reconstruction"]
    assert [o.name for o in sessions[encoder].get_outputs()] == ["code"]
    assert [i.name for i in sessions[decoder].get_inputs()] == ["code"]
    assert not isinstance(sessions[whole].get_inputs()[0].shape[0], int)  # the batch axis is dynamic
    got = {"forward": sessions[whole].run(None, {"x": x.numpy()})[0],
           "encode": sessions[encoder].run(None, {"x": x.numpy()})[0],
           "decode": sessions[decoder].run(None, {"code": code.numpy()})[0]}
    _assert_close(got, _app(run, x, code), name)


@pytest.mark.slow
def test_onnx_dynamo_exporter(runs, tmp_path):
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (pip install onnxscript)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    result = export_onnx(runs["contractive"], tmp_path / "m.onnx", exporter="dynamo")
    assert "checked with onnxruntime" in result.notes[0] and all(p.is_file() for p in result.paths)


def test_onnx_without_the_package_says_what_to_install(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "have", lambda module: False)
    with pytest.raises(ExportError) as err:
        export_onnx(runs["ae"], tmp_path / "m.onnx")
    assert str(err.value) == "ONNX export needs the onnx package: pip install onnx onnxscript onnxruntime"


def test_onnx_without_onnxruntime_is_written_unchecked(runs, tmp_path, monkeypatch):
    pytest.importorskip("onnx", reason="the optional onnx package is not installed (pip install onnx)")
    monkeypatch.setattr(onnx_export, "have", lambda module: module != "onnxruntime")
    result = export_onnx(runs["contractive"], tmp_path / "m")
    assert [p.name for p in result.paths] == ["m", "m.encoder.onnx", "m.decoder.onnx"]
    assert "onnxruntime is not installed" in result.notes[0]


def test_a_model_the_exporter_cannot_express_is_one_line(runs, tmp_path, monkeypatch):
    pytest.importorskip("onnx", reason="the optional onnx package is not installed (pip install onnx)")

    def refuse(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::routing' to ONNX opset version 17 is not supported.\n"
                           "Please feel free to request support")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(ExportError) as err:
        export_onnx(runs["capsule"], tmp_path / "m.onnx")
    message = str(err.value)
    assert "\n" not in message and message.startswith("ONNX cannot express the capsule family (capsule)")
    assert not (tmp_path / "m.onnx").exists() and not list(tmp_path.iterdir())


def test_onnx_paths():
    assert [p.name for p in onnx_paths("a/b.onnx")] == ["b.onnx", "b.encoder.onnx", "b.decoder.onnx"]


# --- --images ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    data = load_mnist5k().subset(np.arange(0, 5000, 25))
    spec = get_preset("vae")
    spec.train.epochs, spec.train.batch_size = 1, 64
    trainer = Trainer(spec, data, device="cpu")
    for _ in trainer.run():
        pass
    return RunArtifact.from_trainer(trainer), data


def test_images_and_metrics(trained, tmp_path):
    run, data = trained
    result = export_images(run, data, tmp_path)
    names = {p.name for p in result.paths}
    assert {"reconstructions.png", "filters.png", "latent_map.png", "metrics.csv", "summary.csv"} <= names
    for name in ("reconstructions.png", "filters.png", "latent_map.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width >= 256
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(run.history) >= 1 and "epoch" in rows[0]


@pytest.mark.parametrize("name", ["vae-vector", "conv-sequence", "attention-sequence", "capsule"])
def test_images_for_other_kinds(runs, name, tmp_path):
    from aegui.core.data import Dataset

    run = runs[name]
    shape = tuple(run.spec.input.shape)
    rng = np.random.default_rng(0)
    if run.spec.input.kind == "image":
        data = Dataset("d", rng.integers(0, 256, (10, *shape), dtype=np.uint8), "image")
    else:
        data = Dataset("d", rng.standard_normal((10, *shape)).astype(np.float32), run.spec.input.kind,
                       labels=np.arange(10) % 3)
    result = export_images(run, data, tmp_path)
    assert (tmp_path / "reconstructions.png").is_file() and (tmp_path / "latent_map.png").is_file()
    assert (tmp_path / "metrics.csv").is_file() and all(p.is_file() for p in result.paths)


def test_images_refuse_data_of_another_shape(trained, tmp_path):
    run, data = trained
    from aegui.core.data import Dataset

    other = Dataset("d", np.zeros((4, 3, 8, 8), np.uint8), "image")
    with pytest.raises(ExportError, match="shaped"):
        export_images(run, other, tmp_path)


def test_python_export_keeps_the_users_text_inside_the_docstring(runs, tmp_path):
    """A description holding three quotes must not end the docstring and become code run on import."""
    import ast
    import dataclasses

    run = runs["vae-vector"]
    hostile = 'ok"""\nimport os\nos.environ["AEGUI_PWNED"] = "1"\n"""\\'
    spec = run.spec.copy()
    spec.description = hostile
    export_python(dataclasses.replace(run, spec=spec), tmp_path)
    tree = ast.parse((tmp_path / "model.py").read_text())
    assert hostile in ast.get_docstring(tree)
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in tree.body)
