"""Trainer behaviour: determinism, pause/resume/stop, live values, the NaN guard, early stopping,
what reports carry, greedy pretraining and the device choice."""
from __future__ import annotations

import math
import re
import threading
import time
import warnings

import numpy as np
import pytest
import torch

from aegui.core import TrainControl, Trainer
from aegui.core.data import DataError, Dataset
from aegui.core.device import DeviceError, resolve_device
from aegui.core.presets import get_preset
from aegui.core.reports import EPOCH, FINISHED, MAX_FILTERS, PAUSED, PROGRESS

BATCH = 64


@pytest.fixture(scope="module")
def digits(mnist_small) -> Dataset:
    """500 of the 1,000 digits (every other one, so all classes): 450 to train on, 7 steps an epoch."""
    return mnist_small.subset(np.arange(0, len(mnist_small), 2))


def make_spec(name: str = "ae", epochs: int = 1, every: int = 0, **train):
    spec = get_preset(name)
    spec.train.epochs = epochs
    spec.train.batch_size = BATCH
    spec.train.report_every_steps = every
    spec.train.report_interval_s = 1000.0 if every else 0.05
    for key, value in train.items():
        setattr(spec.train, key, value)
    return spec


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def max_change(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())


def all_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point())


# --- determinism -----------------------------------------------------------------------------------------------
def test_seeded_runs_are_deterministic_on_the_cpu(digits):
    # A noisy VAE draws from the RNG in every step (noise and the reparameterisation).
    def run(seed: int):
        spec = make_spec("vae", epochs=2, seed=seed)
        spec.objective.noise.kind, spec.objective.noise.level = "gaussian", 0.2
        trainer = Trainer(spec, digits)
        trainer.fit()
        return trainer

    a, b, other = run(0), run(0), run(1)
    sa, sb = params(a.model), params(b.model)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    keys = ("train_total", "train_recon", "train_kl", "val_total", "val_recon", "val_kl", "val_recon_mse")
    rows_a = [{k: r[k] for k in keys} for r in a.history]
    rows_b = [{k: r[k] for k in keys} for r in b.history]
    assert rows_a == rows_b and len(rows_a) == 2
    assert (a.result.train_loss, a.result.val_loss, a.result.val_recon_mse) == \
           (b.result.train_loss, b.result.val_loss, b.result.val_recon_mse)
    # The seed matters: another one gives other weights.
    assert not torch.equal(sa["head.mu.weight"], params(other.model)["head.mu.weight"])


def test_epoch_losses_do_not_depend_on_how_often_reports_come(digits):
    # Reports come by the clock; a seeded run's epoch figures must not change with their timing.
    def epoch_losses(every: int):
        trainer = Trainer(make_spec("vae", epochs=1, every=every), digits)
        trainer.fit()
        return [row["train_total"] for row in trainer.history]

    assert epoch_losses(1) == epoch_losses(3) == epoch_losses(1000)


# --- stop, pause, resume -------------------------------------------------------------------------------------------
def test_stop_after_the_first_report_finishes_with_stopped(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=3, every=2), digits, control)
    gen = trainer.run()
    first = next(gen)
    assert first.kind == PROGRESS and first.step == 2
    control.stop()
    rest = list(gen)
    assert len(rest) == 1
    final = rest[0]
    assert final.kind == FINISHED and final.stop_reason == "stopped"
    assert final.step == first.step == trainer.step  # not one more step after the stop
    assert trainer.result.stop_reason == "stopped" and trainer.result.steps == 2
    assert "stopped" in trainer.result.message
    assert final.val_losses and "recon_mse" in final.val_losses


def test_pause_from_another_thread_then_resume(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=2, every=3), digits, control)
    gen = trainer.run()
    first = next(gen)
    pauser = threading.Thread(target=control.pause)
    pauser.start()
    pauser.join()
    paused = next(gen)
    assert paused.kind == PAUSED and paused.step == first.step
    assert control.paused
    resume_after = 0.3
    timer = threading.Timer(resume_after, control.resume)
    timer.start()
    try:
        t0 = time.perf_counter()
        after = next(gen)  # blocks inside the trainer until the timer resumes it
        waited = time.perf_counter() - t0
    finally:
        timer.cancel()
    assert waited >= resume_after * 0.8
    assert after.kind in (PROGRESS, EPOCH) and after.step > paused.step
    rest = list(gen)
    assert rest[-1].kind == FINISHED and rest[-1].stop_reason == "completed"
    assert trainer.result.epochs == 2 and trainer.result.steps == 2 * trainer.steps_per_epoch


def test_stop_while_paused_wakes_the_trainer(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=2, every=3), digits, control)
    gen = trainer.run()
    next(gen)
    control.pause()
    assert next(gen).kind == PAUSED
    timer = threading.Timer(0.1, control.stop)
    timer.start()
    try:
        rest = list(gen)
    finally:
        timer.cancel()
    assert [r.kind for r in rest] == [FINISHED]
    assert rest[0].stop_reason == "stopped"


def test_pause_during_greedy_pretraining_sends_a_paused_report(digits):
    # In the train phase a pause yields a 'paused' report at once; pretrain_stages instead blocks in
    # wait_while_paused without yielding one, so a listener never learns that training is paused.
    control = TrainControl()
    trainer = Trainer(make_spec("stacked", epochs=1, report_interval_s=1e-4), digits, control)
    gen = trainer.run()
    first = next(gen)
    assert first.phase == "pretrain 1/3"
    control.pause()
    timer = threading.Timer(0.5, control.resume)  # so a missing report cannot hang the test
    timer.start()
    try:
        following = next(gen)
    finally:
        timer.cancel()
        control.resume()
    assert following.kind == PAUSED, f"got a {following.kind!r} report of {following.phase!r} instead"
    assert following.phase == "pretrain 1/3"
    gen.close()


def test_stop_during_greedy_pretraining(digits):
    control = TrainControl()
    trainer = Trainer(make_spec("stacked", epochs=2, report_interval_s=1e-4), digits, control)
    gen = trainer.run()
    assert next(gen).phase == "pretrain 1/3"
    control.stop()
    rest = list(gen)
    assert [r.kind for r in rest] == [FINISHED] and rest[0].stop_reason == "stopped"
    assert trainer.step == 0 and trainer.result.epochs == 0


# --- live values ------------------------------------------------------------------------------------------------------
def test_live_learning_rate_applies_at_the_next_step_and_is_echoed(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=1, every=1), digits, control)
    start = params(trainer.model)
    gen = trainer.run()
    r1 = next(gen)
    assert r1.step == 1 and r1.live_changes == {} and r1.lr == pytest.approx(1e-3)
    after_1 = params(trainer.model)
    assert max_change(start, after_1) > 1e-4  # a normal Adam step at lr 1e-3
    control.set("lr", 1e-12)
    r2 = next(gen)
    assert r2.step == 2
    assert r2.live_changes == {"lr": 1e-12} and r2.lr == 1e-12
    assert all(group["lr"] == 1e-12 for group in trainer.optimizer.param_groups)
    assert max_change(after_1, params(trainer.model)) < 1e-9  # step 2 already used the new rate
    r3 = next(gen)
    assert r3.live_changes == {} and r3.lr == 1e-12  # echoed once, kept after
    gen.close()


def test_live_beta_applies_at_the_next_step(digits):
    control = TrainControl()
    trainer = Trainer(make_spec("vae", epochs=1, every=1), digits, control)
    gen = trainer.run()
    r1 = next(gen)
    assert r1.beta == 1.0 and r1.losses["total"] == pytest.approx(r1.losses["recon"] + r1.losses["kl"], rel=1e-5)
    assert r1.losses["kl"] > 0
    control.set("beta", 0.0)
    r2 = next(gen)
    assert r2.live_changes == {"beta": 0.0} and r2.beta == 0.0
    assert r2.losses["kl"] > 0 and r2.losses["total"] == r2.losses["recon"]
    gen.close()


def test_live_sparsity_weight_applies_at_the_next_step(digits):
    control = TrainControl()
    trainer = Trainer(make_spec("sparse-l1", epochs=1, every=1), digits, control)
    gen = trainer.run()
    r1 = next(gen)
    weight = trainer.spec.objective.sparsity.weight
    assert r1.sparsity_weight == weight and r1.losses["sparsity"] > 0
    assert r1.losses["total"] == pytest.approx(r1.losses["recon"] + weight * r1.losses["sparsity"], rel=1e-5)
    control.set("sparsity_weight", 0.0)
    control.set("lr", 5e-4)
    r2 = next(gen)
    assert r2.live_changes == {"sparsity_weight": 0.0, "lr": 5e-4}
    assert r2.sparsity_weight == 0.0 and r2.lr == 5e-4
    assert r2.losses["total"] == r2.losses["recon"]
    gen.close()


def test_live_noise_level_applies_at_the_next_step(digits):
    control = TrainControl()
    trainer = Trainer(make_spec("denoising", epochs=1, every=1), digits, control)
    gen = trainer.run()
    r1 = next(gen)
    assert r1.noise_level == pytest.approx(get_preset("denoising").objective.noise.level)  # the preset's level
    assert r1.corrupted is not None and not np.array_equal(r1.corrupted, r1.inputs)
    control.set("noise_level", 0.0)
    r2 = next(gen)
    assert r2.live_changes == {"noise_level": 0.0} and r2.noise_level == 0.0
    np.testing.assert_array_equal(r2.corrupted, r2.inputs)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(trainer.corrupt(x), x)  # what the training step now feeds the encoder
    gen.close()


@pytest.mark.parametrize("name, value", [("epochs", 3), ("lr", 0), ("lr", -1), ("beta", -0.5), ("lr", math.nan)])
def test_control_refuses_unknown_names_and_bad_values(name, value):
    control = TrainControl()
    with pytest.raises(ValueError):
        control.set(name, value)
    assert control.take_changes() == {}


def test_control_keeps_only_the_latest_value_until_taken():
    control = TrainControl()
    control.set("lr", 0.1)
    control.set("lr", 0.2)
    assert control.take_changes() == {"lr": 0.2}
    assert control.take_changes() == {}


# --- the NaN guard ---------------------------------------------------------------------------------------------------
def _assert_non_finite_stop(trainer, reports):
    final = reports[-1]
    assert final.kind == FINISHED and final.stop_reason == "non_finite"
    assert trainer.result.stop_reason == "non_finite"
    message = trainer.result.message
    assert "at step" in message and "learning rate" in message
    step = int(re.search(r"at step (\d+)", message).group(1))
    assert 1 <= step <= trainer.step
    assert final.message == message
    assert all_finite(trainer.model), "the last good weights must be restored"
    # Nothing after the stop: the non-finite report is the one before the finished one.
    assert reports[-2].stop_reason == "non_finite"
    assert sum(r.kind == FINISHED for r in reports) == 1


def test_a_diverging_spec_stops_with_non_finite(digits):
    trainer = Trainer(make_spec(epochs=3, optimizer="sgd", lr=1e6), digits)
    reports = list(trainer.run())
    _assert_non_finite_stop(trainer, reports)
    assert "1e+06" in trainer.result.message
    assert trainer.step < 3 * trainer.steps_per_epoch


def test_a_live_learning_rate_that_diverges_stops_with_non_finite(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=3, every=1, optimizer="sgd", lr=0.01), digits, control)
    gen = trainer.run()
    first = next(gen)
    assert first.stop_reason is None
    control.set("lr", 1e9)
    reports = [first] + list(gen)
    _assert_non_finite_stop(trainer, reports)
    assert "1e+09" in trainer.result.message


@pytest.mark.parametrize("bad_step", [1, 5, 12])
def test_the_message_names_the_first_step_whose_loss_was_not_finite(digits, bad_step):
    # Reports every 7 steps: the first non-finite step is found inside the interval, not at its end.
    trainer = Trainer(make_spec(epochs=3, every=7), digits)
    step_once = trainer.train_step
    calls = []

    def step(x):
        calls.append(1)
        if len(calls) == bad_step:
            x = x * float("nan")  # this step's loss (and, through the update, every later one) is NaN
        step_once(x)

    trainer.train_step = step
    reports = list(trainer.run())
    _assert_non_finite_stop(trainer, reports)
    assert f"at step {bad_step};" in trainer.result.message


def test_a_paused_report_that_finds_non_finite_values_ends_the_run(digits):
    # The user pauses while the loss has just blown up. The 'paused' report runs the NaN check, restores
    # the last good weights and says stop_reason 'non_finite' -- but run() ignored that for paused reports:
    # after resuming it trained on (with the same bad rate and optimiser state), diverged again and
    # finished with a message about a later step. A report with a stop reason must be the last before
    # the 'finished' one, as it is for progress and epoch reports.
    control = TrainControl()
    # Reports only at epoch ends (7 steps each), so the paused report is the first to look.
    trainer = Trainer(make_spec(epochs=3, optimizer="sgd", lr=0.01, report_interval_s=1000.0), digits, control)
    step_once = trainer.train_step
    calls = []

    def step_then_maybe_pause(x):
        step_once(x)
        calls.append(1)
        if len(calls) == 12:  # the user presses pause during step 12, five steps after the rate change
            control.pause()

    trainer.train_step = step_then_maybe_pause
    gen = trainer.run()
    first = next(gen)
    assert first.kind == EPOCH and first.step == 7 and first.stop_reason is None
    control.set("lr", 1e9)
    paused = next(gen)
    assert paused.kind == PAUSED and paused.step == 12
    assert paused.stop_reason == "non_finite" and all_finite(trainer.model)
    timer = threading.Timer(0.3, control.resume)
    timer.start()
    try:
        rest = list(gen)
    finally:
        timer.cancel()
    assert trainer.step == 12, "no step may run after a report said non_finite"
    assert [r.kind for r in rest] == [FINISHED] and rest[0].stop_reason == "non_finite"
    assert trainer.result.message == paused.message


# --- early stopping ----------------------------------------------------------------------------------------------------
def test_early_stopping_with_patience_keeps_the_best_weights(digits):
    control = TrainControl()
    trainer = Trainer(make_spec(epochs=8, patience=2), digits, control)
    reports = []
    for report in trainer.run():
        reports.append(report)
        if report.kind == EPOCH and report.epoch == 1:
            # Wreck the weights for one epoch (Adam's steps are bounded by the rate, so losses stay
            # finite: measured validation total 407 after epoch 1, ~8,600 after epoch 2) ...
            control.set("lr", 0.5)
        if report.kind == EPOCH and report.epoch == 2:
            # ... then freeze them, so epoch 3 cannot climb back below epoch 1 either.
            control.set("lr", 1e-30)
    epochs = [r for r in reports if r.kind == EPOCH]
    assert trainer.result.stop_reason == "early_stopping", [r.val_losses["total"] for r in epochs]
    assert len(epochs) == 3 and trainer.result.epochs == 3
    best = epochs[0].val_losses["total"]
    assert all(r.val_losses["total"] > 2 * best for r in epochs[1:])
    assert "has not improved for 2 epochs" in trainer.result.message
    # The best (epoch 1) weights came back: the final validation is epoch 1's.
    assert trainer.result.val_loss == pytest.approx(best, rel=1e-6)
    assert reports[-1].kind == FINISHED and reports[-1].stop_reason == "early_stopping"
    assert reports[-1].val_losses["total"] == pytest.approx(best, rel=1e-6)


def test_without_patience_training_runs_all_epochs(digits):
    trainer = Trainer(make_spec(epochs=2, patience=0), digits)
    result = trainer.fit()
    assert result.stop_reason == "completed" and result.epochs == 2


# --- reports ------------------------------------------------------------------------------------------------------------
def test_reports_carry_owned_numpy_copies_of_bounded_size(digits):
    trainer = Trainer(make_spec("ae", epochs=1, every=3, snapshot_size=8), digits)
    gen = trainer.run()
    report = next(gen)
    arrays = {k: v for k, v in vars(report).items() if isinstance(v, np.ndarray)}
    assert {"inputs", "reconstructions", "filters", "output_bias", "code_mean", "code_sample"} <= set(arrays)
    # No array shares memory with anything the trainer keeps using.
    live = list(trainer.model.state_dict().values())
    live += list(getattr(trainer, "_snapshot", {}).values()) + [getattr(trainer, "_acc_code", torch.zeros(0))]
    spans = [(t.data_ptr(), t.data_ptr() + t.numel() * t.element_size()) for t in live if t.numel()]
    for name, value in arrays.items():
        assert isinstance(value, np.ndarray) and value.dtype == np.float32, name
        lo = value.__array_interface__["data"][0]
        hi = lo + value.nbytes
        assert not any(lo < end and start < hi for start, end in spans), f"{name} is a view of trainer memory"
    assert report.inputs.shape == report.reconstructions.shape == (8, 1, 28, 28)
    assert report.code_sample.shape == (8, 32) and report.code_mean.shape == (32,)
    assert report.filters.shape == (MAX_FILTERS, 1, 28, 28)  # 256 hidden units, only 64 shown
    assert report.output_bias.shape == (1, 28, 28)
    if report.code_active is not None:  # fraction of samples where each unit is active
        assert report.code_active.shape == (32,)
        assert report.code_active.min() >= 0 and report.code_active.max() <= 1
    assert 0 <= report.reconstructions.min() and report.reconstructions.max() <= 1
    assert report.nbytes() < 2_000_000

    bias_before = trainer.model.output.bias.detach().clone()
    weight_before = trainer.model.encoder_blocks[0].linear.weight.detach().clone()
    report.output_bias += 100.0
    report.filters[:] = 7.0
    assert torch.equal(trainer.model.output.bias, bias_before)
    assert torch.equal(trainer.model.encoder_blocks[0].linear.weight, weight_before)
    # The next report is unaffected by what a listener did to this one.
    later = next(gen)
    assert float(np.abs(later.output_bias).max()) < 50
    gen.close()


@pytest.mark.parametrize("name, filters", [
    ("deep", (MAX_FILTERS, 1, 28, 28)), ("conv", (32, 1, 3, 3)), ("attention", (64, 1, 7, 7)),
    ("capsule", (32, 1, 5, 5)), ("vae", (MAX_FILTERS, 1, 28, 28)),
])
def test_report_sizes_are_bounded_for_every_family(digits, name, filters):
    trainer = Trainer(make_spec(name, epochs=1, every=1, snapshot_size=5), digits)
    gen = trainer.run()
    report = next(gen)
    gen.close()
    assert report.filters.shape == filters and report.filters.shape[0] <= MAX_FILTERS
    assert report.inputs.shape[0] == report.reconstructions.shape[0] == report.code_sample.shape[0] == 5
    assert report.code_mean.shape == (trainer.spec.code_dim,)
    assert report.nbytes() < 1_000_000


def test_report_every_steps_reports_every_n_steps(digits):
    trainer = Trainer(make_spec("ae", epochs=2, every=3), digits)
    assert trainer.steps_per_epoch == 7
    reports = list(trainer.run())
    progress = [r.step for r in reports if r.kind == PROGRESS]
    epochs = [r.step for r in reports if r.kind == EPOCH]
    # Counting restarts after each epoch report: 3, 6, [7], 10, 13, [14].
    assert progress == [3, 6, 10, 13]
    assert epochs == [7, 14]
    assert reports[-1].kind == FINISHED


def test_epoch_reports_carry_validation_terms_and_history(digits):
    trainer = Trainer(make_spec("ae", epochs=2), digits)
    reports = list(trainer.run())
    epochs = [r for r in reports if r.kind == EPOCH]
    assert [r.epoch for r in epochs] == [1, 2]
    for r in epochs:
        assert {"total", "recon", "recon_mse"} <= set(r.val_losses)
        assert r.device == "cpu"
    assert [row["epoch"] for row in trainer.history] == [1, 2]
    assert trainer.history[-1]["val_recon_mse"] == pytest.approx(trainer.result.val_recon_mse)


def test_attention_reports_attention_over_tokens(digits):
    trainer = Trainer(make_spec("attention", epochs=1, every=4, snapshot_size=6), digits)
    reports = [r for r in trainer.run() if r.kind in (PROGRESS, EPOCH, FINISHED)]
    for r in reports:
        assert r.token_grid == (4, 4)
        assert isinstance(r.attention, np.ndarray) and r.attention.shape == (6, 16)
        np.testing.assert_allclose(r.attention.sum(axis=1), 1.0, rtol=1e-4)  # a softmax over tokens
        assert r.attention.min() >= 0


def test_capsule_reports_capsule_lengths_in_0_1(digits):
    trainer = Trainer(make_spec("capsule", epochs=1, every=4, snapshot_size=5), digits)
    reports = [r for r in trainer.run() if r.kind in (PROGRESS, EPOCH)]
    assert reports
    for r in reports:
        assert r.capsule_lengths.shape == (5, 10)
        assert r.capsule_lengths.min() >= 0 and r.capsule_lengths.max() <= 1
        assert r.code_sample.shape == (5, 80)


def test_aae_reports_generator_and_discriminator_losses(digits):
    trainer = Trainer(make_spec("aae", epochs=1, every=3), digits)
    reports = [r for r in trainer.run() if r.kind in (PROGRESS, EPOCH)]
    assert reports
    for r in reports:
        assert {"total", "recon", "adv_gen", "adv_disc"} <= set(r.losses)
        assert 0 < r.losses["adv_gen"] < 50 and 0 < r.losses["adv_disc"] < 50
    # The discriminator trains on its own optimiser, not the model's.
    model_params = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not model_params & {id(p) for p in trainer.disc.parameters()}


def test_mixture_prior_aae_trains(digits):
    spec = make_spec("aae", epochs=1, every=3)
    spec.objective.adversarial.prior = "mixture"
    trainer = Trainer(spec, digits)
    assert trainer.fit().stop_reason == "completed"
    assert trainer.prior_means.shape == (10, 8)


def test_stacked_pretrains_layer_by_layer_before_training(digits):
    trainer = Trainer(make_spec("stacked", epochs=1), digits)
    n = len(trainer.model.stages())
    assert n == 3
    start = params(trainer.model)
    phases, snapshots = [], {}
    for report in trainer.run():
        phases.append(report.phase)
        if report.kind == EPOCH:
            snapshots[report.phase] = params(trainer.model)
    order = list(dict.fromkeys(phases))
    assert order == ["pretrain 1/3", "pretrain 2/3", "pretrain 3/3", "train"]
    # Each phase is one block: nothing goes back to an earlier phase.
    assert phases == sorted(phases, key=order.index)
    assert trainer.history[0]["phase"] == "pretrain 1/3"
    first_layer = "encoder_blocks.0.linear.weight"
    second_layer = "encoder_blocks.1.linear.weight"
    # Stage 1 trains the first layer; later stages leave it frozen and train the next one.
    assert not torch.equal(start[first_layer], snapshots["pretrain 1/3"][first_layer])
    assert torch.equal(start[second_layer], snapshots["pretrain 1/3"][second_layer])
    assert torch.equal(snapshots["pretrain 1/3"][first_layer], snapshots["pretrain 3/3"][first_layer])
    assert not torch.equal(start[second_layer], snapshots["pretrain 2/3"][second_layer])
    assert trainer.result.stop_reason == "completed" and trainer.result.epochs == 1


# --- device --------------------------------------------------------------------------------------------------------------
def test_the_device_is_chosen_automatically(digits):
    trainer = Trainer(make_spec(epochs=1), digits)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert trainer.device.type == expected == resolve_device("auto").type
    if expected == "cpu":
        assert trainer.fit().device == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_raises_device_error(digits):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(DeviceError):
        resolve_device("cuda:0")
    with pytest.raises(DeviceError):
        Trainer(make_spec(epochs=1, device="cuda"), digits)
    with pytest.raises(DeviceError):
        Trainer(make_spec(epochs=1), digits, device="cuda")


def test_unknown_device_name_raises_device_error():
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")


def test_a_dataset_of_another_shape_is_refused(digits):
    spec = get_preset("ae", "vector", (10,))
    with pytest.raises(DataError, match="shape"):
        Trainer(spec, digits)


@pytest.mark.cuda
def test_a_cuda_train_step_never_syncs_with_the_host(digits):
    names = ["ae", "vae", "denoising", "sparse-kl", "conv", "aae", "attention"]
    for name in names:
        trainer = Trainer(make_spec(name, epochs=1, device="cuda"), digits)
        x = trainer.to_float(trainer.train_x[:BATCH])
        trainer.train_step(x)  # warm-up: lazy initialisation may sync once
        torch.cuda.synchronize()
        with warnings.catch_warnings():  # setting the mode warns that it is a prototype (an error here)
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                trainer.phases[-1].acc.want_grad_norm = True  # include the once-per-report gradient norm
                trainer.train_step(x)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                torch.cuda.set_sync_debug_mode("default")
        result = trainer.fit()
        assert result.device.startswith("cuda") and result.stop_reason == "completed", name


def test_a_live_learning_rate_applies_during_pretraining_and_after(digits):
    spec = make_spec("stacked", epochs=1, every=2)
    spec.objective.stacked.epochs_per_layer = 1
    control = TrainControl()
    trainer = Trainer(spec, digits, control)
    control.set("lr", 0.0042)
    reports = list(trainer.run())
    pretrain = [r for r in reports if r.phase.startswith("pretrain")]
    assert pretrain and all(r.lr == pytest.approx(0.0042) for r in pretrain)
    assert pretrain[0].live_changes == {"lr": 0.0042}  # marked where it happened
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0042)  # and fine-tuning keeps it


def test_the_finished_report_carries_the_objectives_settings(digits):
    spec = make_spec("vae", epochs=1)
    spec.objective.noise.kind, spec.objective.noise.level = "gaussian", 0.25
    reports = list(Trainer(spec, digits).run())
    final = reports[-1]
    assert final.kind == FINISHED
    assert final.beta == pytest.approx(1.0) and final.noise_level == pytest.approx(0.25)


def test_l1_sparsity_reports_no_target_rate_and_kl_sparsity_reports_rho(digits):
    l1 = make_spec("sparse-l1", epochs=1, every=3)
    reports = [r for r in Trainer(l1, digits).run() if r.kind == PROGRESS]
    assert reports and all(r.sparsity_target is None and r.sparsity_weight is not None for r in reports)
    kl = make_spec("sparse-kl", epochs=1, every=3)
    reports = [r for r in Trainer(kl, digits).run() if r.kind == PROGRESS]
    assert reports and all(r.sparsity_target == kl.objective.sparsity.target for r in reports)


def test_a_sigmoid_code_counts_a_unit_active_past_the_middle_of_its_range(digits):
    spec = make_spec("sparse-kl", epochs=1, every=3)
    assert spec.latent.activation == "sigmoid"
    report = next(r for r in Trainer(spec, digits).run() if r.kind == PROGRESS)
    assert report.active_threshold == 0.5 and 0 <= report.code_active.min() <= report.code_active.max() <= 1
    relu = next(r for r in Trainer(make_spec("ae", epochs=1, every=3), digits).run() if r.kind == PROGRESS)
    assert relu.active_threshold == 0.01
    # The accumulators count a unit active on a sample only above the threshold they were given: a sigmoid
    # unit at 0.3 (above 0.01, as every sigmoid output is) is off under 0.5.
    from aegui.core.models.common import Encoded
    from aegui.core.training.accumulators import Accumulators

    for threshold, expected in ((0.5, 0.0), (0.01, 1.0)):
        acc = Accumulators(("total",), 4, torch.device("cpu"), active_threshold=threshold)
        acc.add({"total": torch.tensor(1.0)}, Encoded(code=torch.full((8, 4), 0.3)))
        assert acc.code_means(False)["code_active"].tolist() == [expected] * 4
