"""A run's training state: captured mid-epoch, written to disk and restored into a fresh trainer, it
continues bit for bit; trainers draw from their own random streams; a RunArtifact saves and loads whole."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aegui.core import TrainControl, Trainer
from aegui.core.io import load_state, save_state
from aegui.core.presets import get_preset
from aegui.core.reports import EPOCH, FINISHED, PROGRESS
from aegui.core.run import DatasetRef, RunArtifact, RunError
from aegui.core.training import StateMismatch

NEXT = 50


@pytest.fixture(scope="module")
def digits(mnist_small):
    """500 digits: 450 to train on, 7 steps of 64 an epoch."""
    return mnist_small.subset(np.arange(0, len(mnist_small), 2))


def make_spec(name: str, epochs: int = 10, **train):
    spec = get_preset(name)
    spec.train.epochs = epochs
    spec.train.batch_size = 64
    spec.train.report_every_steps = 1  # one report a step: each report's losses are that step's
    for key, value in train.items():
        setattr(spec.train, key, value)
    return spec


def numbers(report) -> tuple:
    """What must match bit for bit: the step, the losses and validation terms, the live values."""
    return (report.kind, report.stage, report.step, report.epoch, sorted(report.losses.items()),
            sorted((report.val_losses or {}).items()), report.lr, report.beta, report.grad_norm)


def run_until(gen, trainer, stop_at):
    for report in gen:
        if stop_at(trainer, report):
            return report
    raise AssertionError("the run ended before the capture point")


def resume_matches(spec, dataset, stop_at, tmp_path, n=NEXT):
    original = Trainer(spec, dataset)
    gen = original.run()
    run_until(gen, original, stop_at)
    state = original.state_dict()
    # Through the files a project will use: safetensors for tensors, JSON for the rest, no pickle.
    save_state(state, tmp_path, "state")
    text = (tmp_path / "state.json").read_text()
    assert "pickle" not in text and json.loads(text)
    expected = [numbers(r) for _, r in zip(range(n), gen)]
    gen.close()

    resumed = Trainer(spec, dataset)
    resumed.load_state_dict(load_state(tmp_path, "state"))
    got = [numbers(r) for _, r in zip(range(n), resumed.run())]
    assert len(expected) == len(got) == n
    for i, (a, b) in enumerate(zip(expected, got)):
        assert a == b, f"report {i} after resuming differs:\n{a}\n{b}"
    return original, resumed


@pytest.mark.parametrize("name", ["vae", "aae", "denoising", "sparse-kl"])
def test_a_state_captured_mid_epoch_continues_the_next_50_losses_bit_for_bit(name, digits, tmp_path):
    spec = make_spec(name)
    if name == "vae":  # noise and the reparameterisation both draw in every step
        spec.objective.noise.kind, spec.objective.noise.level = "gaussian", 0.2
    # Step 10 is the third batch of the second epoch: the permutation and the epoch's sums are mid-way.
    original, resumed = resume_matches(spec, digits, lambda t, r: r.kind == PROGRESS and t.step == 10, tmp_path)
    for key, value in original.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_resume_keeps_the_schedule_early_stopping_and_dropout_streams(digits, tmp_path):
    spec = make_spec("ae", epochs=12, lr_schedule="plateau", patience=6)
    spec.encoder.layers[0].dropout = 0.2  # dropout draws from the global torch stream, which is captured
    resume_matches(spec, digits, lambda t, r: r.kind == PROGRESS and t.step == 25, tmp_path)


def test_a_state_captured_during_greedy_pretraining_resumes_in_the_same_stage(digits, tmp_path):
    spec = make_spec("stacked", epochs=3)
    spec.objective.stacked.epochs_per_layer = 2
    _, resumed = resume_matches(spec, digits, lambda t, r: r.stage == 2 and r.step == 4, tmp_path, n=40)
    assert resumed.pos.phase_index >= 1


def test_a_state_captured_at_an_epoch_end_resumes_there(digits, tmp_path):
    resume_matches(make_spec("ae"), digits, lambda t, r: r.kind == EPOCH and r.epoch == 2, tmp_path)


def test_a_finished_run_continues_to_a_new_epoch_total(digits):
    spec = make_spec("ae", epochs=2, report_every_steps=0)
    first = Trainer(spec, digits)
    first.fit()
    longer = spec.copy()
    longer.train.epochs = 4
    more = Trainer(longer, digits)
    more.load_state_dict(first.state_dict())
    result = more.fit()
    assert result.epochs == 4 and result.steps == 4 * more.steps_per_epoch
    assert [row["epoch"] for row in more.history] == [1, 2, 3, 4]


def test_a_state_of_another_model_is_refused(digits):
    state = Trainer(make_spec("ae", epochs=1), digits).state_dict()
    other = make_spec("ae", epochs=1)
    other.latent.dim = 8
    with pytest.raises(StateMismatch, match="different model"):
        Trainer(other, digits).load_state_dict(state)


def test_building_a_trainer_leaves_the_global_random_stream_alone(digits):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    Trainer(make_spec("aae", epochs=1), digits)
    assert torch.equal(before, torch.get_rng_state())


def test_two_trainers_interleaved_in_one_process_match_each_run_alone(digits):
    # No dropout: everything a step draws comes from the run's own generator.
    def spec(seed):
        s = make_spec("vae", epochs=1, seed=seed)
        s.objective.noise.kind, s.objective.noise.level = "masking", 0.3
        return s

    alone = [[numbers(r) for r in Trainer(spec(seed), digits).run()] for seed in (1, 2)]
    a, b = Trainer(spec(1), digits).run(), Trainer(spec(2), digits).run()
    together = [[], []]
    for ra, rb in zip(a, b):  # one step of each in turn
        together[0].append(numbers(ra))
        together[1].append(numbers(rb))
    assert together[0] == alone[0][:len(together[0])]
    assert together[1] == alone[1][:len(together[1])]
    assert together[0] != together[1]  # and the two seeds are different runs


# --- RunArtifact ---------------------------------------------------------------------------------------------
def test_a_run_artifact_saves_and_loads_everything(digits, tmp_path):
    spec = make_spec("ae", epochs=2, report_every_steps=0)
    trainer = Trainer(spec, digits)
    trainer.fit()
    ref = DatasetRef.from_dataset(digits)
    run = RunArtifact.from_trainer(trainer, ref, with_state=True)
    run.save(tmp_path / "run")
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"spec.json", "weights.safetensors", "history.jsonl", "run.json", "split.safetensors",
            "training_state.json", "training_state.safetensors"} <= names
    assert not [n for n in names if n.endswith(".tmp")]

    back = RunArtifact.load(tmp_path / "run")
    assert back.spec == trainer.spec
    assert back.dataset == ref and back.dataset.checksum == DatasetRef.from_dataset(digits).checksum
    np.testing.assert_array_equal(back.train_index, trainer.train_index)
    np.testing.assert_array_equal(back.val_index, trainer.val_index)
    assert back.history == json.loads(json.dumps(trainer.history))
    assert back.result.stop_reason == "completed" and back.result.epochs == 2
    assert back.result.val_recon_mse == pytest.approx(trainer.result.val_recon_mse)
    x = torch.from_numpy(digits.as_float(np.arange(5)))
    with torch.no_grad():
        trainer.model.eval()
        assert torch.equal(back.build_model()(x)[0], trainer.model(x)[0])
    # The loaded state resumes: two more epochs from where the run ended.
    longer = spec.copy()
    longer.train.epochs = 4
    more = Trainer(longer, digits)
    more.load_state_dict(back.training_state)
    assert more.fit().epochs == 4


def test_the_validation_rows_of_a_run_without_a_class_index_the_full_dataset(digits):
    held = 3
    subset = digits.without_label(held)
    trainer = Trainer(make_spec("ae", epochs=1, report_every_steps=0), subset)
    run = RunArtifact.from_trainer(trainer, DatasetRef.from_dataset(digits, excluded_label=held))
    rows = run.validation_rows(digits)
    assert len(rows) == len(trainer.val_index)
    assert not (digits.labels[rows] == held).any()
    np.testing.assert_array_equal(digits.x[rows], subset.x[trainer.val_index])


def test_a_run_folder_with_a_missing_file_is_one_clear_error(digits, tmp_path):
    trainer = Trainer(make_spec("ae", epochs=1, report_every_steps=0), digits)
    trainer.fit()
    RunArtifact.from_trainer(trainer).save(tmp_path)
    (tmp_path / "split.safetensors").unlink()
    with pytest.raises(RunError, match="split.safetensors is missing"):
        RunArtifact.load(tmp_path)
    RunArtifact.from_trainer(trainer).save(tmp_path)
    (tmp_path / "run.json").write_text('{"format": "something else"}')
    with pytest.raises(RunError, match="not an Autoencoder Studio run"):
        RunArtifact.load(tmp_path)


def test_snapshots_come_only_when_wanted_and_always_on_the_finished_report(digits):
    control = TrainControl()
    control.set_snapshots_wanted(False)
    spec = make_spec("ae", epochs=2, report_every_steps=0, report_interval_s=0.01)
    reports = list(Trainer(spec, digits, control).run())
    assert all(r.reconstructions is None for r in reports if r.kind != FINISHED)
    assert reports[-1].kind == FINISHED and reports[-1].reconstructions is not None
    # Wanted, but counted by the clock: at most one every half second (the first report has one).
    control.set_snapshots_wanted(True)
    reports = list(Trainer(spec, digits, control).run())
    with_snapshot = [r for r in reports if r.reconstructions is not None and r.kind != FINISHED]
    assert with_snapshot and reports[0].reconstructions is not None
    span = reports[-1].elapsed_s
    assert len(with_snapshot) <= 1 + span / 0.5 + 1e-9


def test_continuing_an_early_stopped_run_to_more_epochs_trains_on(digits):
    spec = make_spec("ae", epochs=30, report_every_steps=0, patience=1, lr=0.02)
    first = Trainer(spec, digits)
    result = first.fit()
    assert result.stop_reason == "early_stopping" and result.epochs < 30
    # The same total: the saved decision stands, and the run ends at once.
    again = Trainer(spec, digits)
    again.load_state_dict(first.state_dict())
    assert again.fit().stop_reason == "early_stopping" and again.step == first.step
    longer = spec.copy()
    longer.train.epochs = 40
    more = Trainer(longer, digits)
    more.load_state_dict(first.state_dict())
    more.fit()
    assert more.step > first.step
