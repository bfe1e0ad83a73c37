"""The training loop, written for live streaming.

``Trainer.run()`` is a generator of Reports. It keeps the whole dataset on the
device (uint8 for images), draws batches from shuffled indices, and never reads
a value back to the host inside a step: loss terms are summed on the device and
read once per report, about ten times a second. Pause, stop and live values come
through a TrainControl and are looked at between steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from . import objectives as obj
from .control import TrainControl
from .data import DataError, Dataset, split_indices
from .device import autocast_context, resolve_device
from .models import build_model
from .pretrain import pretrain_stages
from .run import TrainResult
from .reports import ACTIVE_THRESHOLD, EPOCH, FINISHED, MAX_FILTERS, PAUSED, PROGRESS, Report, to_numpy
from .spec import AutoencoderSpec
from .step import (
    active_terms, all_finite, decay_penalty, make_optimizer, objective_loss, param_groups, split_decay_params,
)

LOSS_TRACE_STEPS = 4096  # a report comes at least this often, in steps
VAL_CHUNK = 1024


def check_dataset_fits(spec: AutoencoderSpec, dataset: Dataset) -> None:
    if tuple(dataset.sample_shape) != tuple(spec.input.shape) or dataset.kind != spec.input.kind:
        raise DataError(
            f"the model expects {spec.input.kind} input of shape {list(spec.input.shape)}, but dataset "
            f"'{dataset.name}' holds {dataset.kind} samples of shape {list(dataset.sample_shape)}"
        )
    if spec.likelihood == "bernoulli" and not dataset.is_uint8:
        lo, hi = dataset.value_range
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise DataError(
                f"the bernoulli likelihood needs values from 0 to 1, but dataset '{dataset.name}' ranges "
                f"from {lo:.3g} to {hi:.3g}; choose the gaussian likelihood"
            )


class Trainer:
    def __init__(self, spec: AutoencoderSpec, dataset: Dataset, control: TrainControl | None = None,
                 device: str | None = None):
        self.spec = spec.copy()
        tr = self.spec.train
        check_dataset_fits(self.spec, dataset)
        self.dataset = dataset
        self.control = control or TrainControl()
        self.device = resolve_device(device or tr.device)
        torch.manual_seed(tr.seed)
        self.model = build_model(self.spec).to(self.device)
        self.value_range = dataset.value_range
        train_idx, val_idx = split_indices(len(dataset), tr.val_fraction, tr.seed)
        self.train_index, self.val_index = train_idx, val_idx
        self.train_x = torch.from_numpy(np.ascontiguousarray(dataset.x[train_idx])).to(self.device)
        self.val_x = torch.from_numpy(np.ascontiguousarray(dataset.x[val_idx])).to(self.device)
        self.n_train = len(train_idx)
        self.batch_size = min(tr.batch_size, self.n_train)
        # Drop the ragged last batch: a batch of one breaks batch norm and skews the average.
        self.steps_per_epoch = max(1, self.n_train // self.batch_size)
        if self.batch_size < 2 and any(layer.batch_norm for layer in self.spec.encoder.layers):
            raise DataError(f"batch norm needs at least 2 samples a batch, but this run's batches hold "
                            f"{self.batch_size} ({self.n_train} training sample(s), batch size "
                            f"{tr.batch_size}); use more data or a larger batch, or turn batch norm off")
        self.generator = self._make_generator(tr.seed)

        self.weights, self.biases = split_decay_params(self.model.parameters())
        self.optimizer = make_optimizer(self.spec, param_groups(self.spec, self.model.parameters()), tr.lr)
        self.scheduler = self._make_scheduler()
        self.autocast, self.scaler = autocast_context(self.device, tr.amp)
        o = self.spec.objective
        self.disc = self.disc_optimizer = self.prior_means = None
        if o.adversarial.enabled:
            self.disc = obj.Discriminator(self.model.code_dim, o.adversarial.hidden_units).to(self.device)
            self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=o.adversarial.disc_lr, betas=(0.5, 0.999))
            if o.adversarial.prior == "mixture":
                self.prior_means = obj.mixture_means(self.model.code_dim, o.adversarial.mixture_components).to(self.device)
        self.live = {
            "lr": tr.lr,
            "beta": o.variational.beta,
            "noise_level": o.noise.level,
            "sparsity_weight": o.sparsity.weight,
        }
        self.terms = active_terms(self.spec)
        self.step = 0
        self.epoch = 0
        self.history: list[dict] = []
        self._snapshot = self._make_snapshot()
        self._reset_accumulators()
        self._good_state = self._copy_state()
        self._pending_changes: dict[str, float] = {}
        self._batch_index = 0
        self._val_cache: tuple[int, dict] | None = None  # (step, validation terms) of unchanged weights
        self._t0 = time.perf_counter()
        self._train_seconds = 0.0
        self._samples = 0
        self.result: TrainResult | None = None

    # --- set-up helpers -------------------------------------------------------------
    def _make_generator(self, seed: int) -> torch.Generator:
        try:
            gen = torch.Generator(device=self.device)
        except RuntimeError:  # a backend without its own generators shuffles on the CPU
            gen = torch.Generator()
        gen.manual_seed(seed)
        return gen

    def _make_scheduler(self):
        tr = self.spec.train
        if tr.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5, patience=max(1, tr.patience // 2))
        if tr.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, tr.epochs))
        if tr.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, tr.epochs // 3), gamma=0.5)
        return None

    def _make_snapshot(self) -> dict[str, torch.Tensor]:
        """A fixed batch, with fixed noise, shown in every report so changes are the model's own."""
        source = self.val_x if len(self.val_x) else self.train_x
        # Spread over the set: its rows are often grouped by class, and the first few would all be alike.
        n = min(self.spec.train.snapshot_size, len(source))
        pick = torch.from_numpy(np.linspace(0, len(source) - 1, n).round().astype(np.int64)).to(source.device)
        x = self.to_float(source[pick])
        gen = torch.Generator().manual_seed(1234)
        return {
            "x": x,
            "uniform": torch.rand(x.shape, generator=gen).to(self.device),
            "normal": torch.randn(x.shape, generator=gen).to(self.device),
        }

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x

    def _reset_accumulators(self) -> None:
        dev = self.device
        self._acc = torch.zeros(len(self.terms), device=dev)
        # Whole-epoch sums, so an epoch's training loss covers every step of it,
        # not only those since the last progress report.
        self._epoch_acc = torch.zeros(len(self.terms), device=dev)
        self._epoch_steps = 0
        self._acc_code = torch.zeros(self.model.code_dim, device=dev)
        self._acc_active = torch.zeros(self.model.code_dim, device=dev)
        self._acc_kl = torch.zeros(self.model.code_dim, device=dev)
        self._acc_steps = 0
        self._acc_samples = 0
        self._acc_seconds = 0.0
        self._last_rate = 0.0
        self._grad_norm: torch.Tensor | None = None
        self._want_grad_norm = True
        # Each step's total loss, so a report can name the first step that was not finite.
        self._loss_trace = torch.zeros(LOSS_TRACE_STEPS, device=dev)

    def _copy_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        noise = self.spec.objective.noise
        return obj.corrupt(x, noise.kind, self.live["noise_level"], self.value_range)

    # --- one step -----------------------------------------------------------------------
    def _apply_live_changes(self) -> None:
        changes = self.control.take_changes()
        for name, value in changes.items():
            self.live[name] = value
            if name == "lr":
                for group in self.optimizer.param_groups:
                    group["lr"] = value
                    group["initial_lr"] = value
        self._pending_changes.update(changes)

    def take_pending_changes(self) -> dict[str, float]:
        """Live changes applied since the last report (for the report to carry), then forgotten."""
        changes, self._pending_changes = self._pending_changes, {}
        return changes

    def _beta(self) -> float:
        va = self.spec.objective.variational
        return obj.beta_at(self.live["beta"], va.warmup_epochs, self.epoch + self._batch_index / self.steps_per_epoch)

    def train_step(self, x: torch.Tensor) -> None:
        live = dict(self.live, beta=self._beta()) if self.model.variational else self.live
        x_in = self.corrupt(x)
        with self.autocast():
            loss, terms, encoded = objective_loss(self.model, self.spec, x, x_in, live, self.disc)
            penalty = decay_penalty(self.spec, self.weights, self.biases)
            if penalty is not None:
                loss = loss + penalty
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        clip = self.spec.train.regularization.grad_clip
        if clip > 0 or self._want_grad_norm:
            # Measured once per report interval unless clipping needs it every step.
            if clip > 0:
                self._grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            else:  # the norm alone: clipping at infinity would still rescale every gradient by 1
                grads = [p.grad for p in self.model.parameters() if p.grad is not None]
                self._grad_norm = torch.nn.utils.get_total_norm(grads) if grads else None
            self._want_grad_norm = False
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.disc is not None:
            real = obj.sample_prior(x.shape[0], self.model.code_dim, self.spec.objective.adversarial.prior,
                                    self.prior_means, self.device)
            d_loss = obj.discriminator_loss(self.disc, real, encoded.mean_code.float())
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
            terms["adv_disc"] = d_loss
        self._accumulate(terms, encoded)

    def _accumulate(self, terms: dict[str, torch.Tensor], encoded) -> None:
        values = torch.stack([terms[t].detach().float() for t in self.terms])
        self._acc += values
        # Summed every step, not folded in per report: float sums depend on their grouping, and
        # reports come by the clock, so folding would make a seeded run's epoch losses vary.
        self._epoch_acc += values
        code = encoded.mean_code.detach().float()
        self._acc_code += code.mean(dim=0)
        self._acc_active += (code.abs() > ACTIVE_THRESHOLD).float().mean(dim=0)
        if "_kl_per_dim" in terms:
            self._acc_kl += terms["_kl_per_dim"].detach()
        # One small copy a step; the report, which reads the device anyway, finds the first bad step.
        self._loss_trace[self._acc_steps] = values[0]
        self._acc_steps += 1
        self._epoch_steps += 1

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> Iterator[Report]:
        self._t0 = time.perf_counter()
        self._batch_index = 0
        stop_reason, message = "completed", ""
        if self.spec.objective.stacked.pretrain:
            for report in pretrain_stages(self):
                yield report
                if report.stop_reason:
                    self.result = self._result(report.stop_reason, report.message)
                    yield self._finished(report.stop_reason, report.message)
                    return
                if self.control.stopped:
                    break
        best_val, best_state, bad_epochs = math.inf, None, 0
        tr = self.spec.train
        while self.epoch < tr.epochs and not self.control.stopped:
            order = torch.randperm(self.n_train, generator=self.generator, device=self.generator.device)
            order = order.to(self.device, non_blocking=True)
            interval_start = time.perf_counter()
            last_report = interval_start
            for self._batch_index in range(self.steps_per_epoch):
                if self.control.paused:
                    self._account(interval_start)
                    report = self._progress_report(PAUSED)
                    yield report
                    if report.stop_reason:  # the steps before the pause diverged
                        self.result = self._result(report.stop_reason, report.message)
                        yield self._finished(report.stop_reason, report.message)
                        return
                    if not self.control.wait_while_paused():
                        break
                    interval_start = last_report = time.perf_counter()
                if self.control.stopped:
                    break
                self._apply_live_changes()
                idx = order[self._batch_index * self.batch_size:(self._batch_index + 1) * self.batch_size]
                self.train_step(self.to_float(self.train_x[idx]))
                self.step += 1
                self._acc_samples += len(idx)
                now = time.perf_counter()
                if self._report_due(now, last_report):
                    self._account(interval_start, now)
                    report = self._progress_report(PROGRESS)
                    yield report
                    if report.stop_reason:
                        self.result = self._result(report.stop_reason, report.message)
                        yield self._finished(report.stop_reason, report.message)
                        return
                    interval_start = last_report = time.perf_counter()
            else:
                self._account(interval_start)
                self.epoch += 1
                self._batch_index = 0
                report = self._progress_report(EPOCH)
                if report.stop_reason:
                    self.result = self._result(report.stop_reason, report.message)
                    yield report
                    yield self._finished(report.stop_reason, report.message)
                    return
                val = report.val_losses or {}
                self._record_epoch(report)
                yield report
                score = val.get("total", report.losses.get("total", math.inf))
                if self.scheduler is not None:
                    if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        self.scheduler.step(score)
                    else:
                        self.scheduler.step()
                    self.live["lr"] = self.optimizer.param_groups[0]["lr"]
                if score < best_val - 1e-9:
                    best_val, bad_epochs = score, 0
                    if tr.patience > 0:
                        best_state = self._copy_state()
                else:
                    bad_epochs += 1
                    if tr.patience > 0 and bad_epochs >= tr.patience:
                        if best_state is not None:
                            self.model.load_state_dict(best_state)
                            self._val_cache = None
                        stop_reason = "early_stopping"
                        message = (f"validation loss has not improved for {tr.patience} epochs; "
                                   f"stopped at epoch {self.epoch} and kept the best weights")
                        break
                continue
            self._account(interval_start)
            break
        # A stop that lands after the last epoch finished changes nothing: the run completed.
        if self.control.stopped and stop_reason == "completed" and self.epoch < tr.epochs:
            stop_reason, message = "stopped", f"stopped by request at step {self.step}"
        self.result = self._result(stop_reason, message)
        yield self._finished(stop_reason, message)

    def fit(self, callback: Callable[[Report], None] | None = None) -> TrainResult:
        """Run to the end, handing each report to ``callback``; returns the outcome."""
        for report in self.run():
            if callback is not None:
                callback(report)
        return self.result

    def _report_due(self, now: float, last_report: float) -> bool:
        every = self.spec.train.report_every_steps
        if self._acc_steps >= LOSS_TRACE_STEPS:
            return True  # the loss trace is full
        if every > 0:
            return self._acc_steps >= every
        return now - last_report >= self.spec.train.report_interval_s

    def _account(self, start: float, now: float | None = None) -> None:
        elapsed = (now or time.perf_counter()) - start
        self._acc_seconds += elapsed
        self._train_seconds += elapsed

    # --- reports --------------------------------------------------------------------------
    def _nan_message(self, step: int) -> str:
        lr = self.live["lr"]
        hint = (f"learning rate {lr:g} is probably too high" if lr >= 0.01
                else "lower the learning rate or check the data for extreme values")
        return f"loss became NaN or infinite at step {step}; {hint}"

    def _check_finite(self) -> tuple[str | None, str]:
        bad_steps = (~torch.isfinite(self._loss_trace[:self._acc_steps])).nonzero()
        bad = int(bad_steps[0, 0]) if len(bad_steps) else -1  # 0-based within this interval
        if bad < 0 and all_finite(self.model.parameters()):
            self._good_state = self._copy_state()
            return None, ""
        self.model.load_state_dict(self._good_state)
        self._val_cache = None
        step = self.step - self._acc_steps + bad + 1 if bad >= 0 else self.step
        return "non_finite", self._nan_message(step) + "; the last good weights were restored"

    def _progress_report(self, kind: str) -> Report:
        stop_reason, message = (None, "")
        if self._acc_steps:
            stop_reason, message = self._check_finite()
        n = max(self._acc_steps, 1)
        if kind == EPOCH and self._epoch_steps:
            epoch_sums = self._epoch_acc.cpu().tolist()
            losses = {t: v / self._epoch_steps for t, v in zip(self.terms, epoch_sums)}
            self._epoch_acc.zero_()
            self._epoch_steps = 0
        else:
            sums = self._acc.cpu().tolist()
            losses = {t: v / n for t, v in zip(self.terms, sums)} if self._acc_steps else {}
        report = Report(
            kind=kind, step=self.step, epoch=self.epoch,
            epoch_progress=self.epoch + (self._batch_index + (kind != EPOCH)) / self.steps_per_epoch
            if kind != EPOCH else float(self.epoch),
            epochs_total=self.spec.train.epochs, steps_per_epoch=self.steps_per_epoch,
            samples_per_s=self._rate(),
            elapsed_s=time.perf_counter() - self._t0, losses=losses, lr=self.live["lr"],
            grad_norm=float(self._grad_norm) if self._grad_norm is not None else None,
            code_mean=to_numpy(self._acc_code / n) if self._acc_steps else None,
            code_active=to_numpy(self._acc_active / n) if self._acc_steps else None,
            kl_per_dim=to_numpy(self._acc_kl / n) if self.model.variational and self._acc_steps else None,
            live_changes=self._pending_changes, message=message, stop_reason=stop_reason,
        )
        self._fill_knobs(report)
        self._fill_snapshot(report)
        if kind == EPOCH and stop_reason is None:
            report.val_losses = self.evaluate()
            self._val_cache = (self.step, report.val_losses)
        self._pending_changes = {}
        self._reset_interval()
        return report

    def _fill_knobs(self, report: Report) -> None:
        """The objective's current settings (β, noise level, sparsity weight and target) as they apply now."""
        o = self.spec.objective
        if self.model.variational:
            report.beta = self._beta()
        if o.noise.kind != "none":
            report.noise_level = self.live["noise_level"]
        if o.sparsity.kind != "none":
            report.sparsity_weight = self.live["sparsity_weight"]
            report.sparsity_target = o.sparsity.target

    def _rate(self) -> float:
        """Samples per second over this report's interval; an interval with no steps in it (an
        epoch report right after a progress report, a pause) repeats the last measured rate."""
        if self._acc_samples and self._acc_seconds > 0:
            self._last_rate = self._acc_samples / self._acc_seconds
        return self._last_rate

    def _reset_interval(self) -> None:
        self._acc.zero_()
        self._acc_code.zero_()
        self._acc_active.zero_()
        self._acc_kl.zero_()
        self._acc_steps = self._acc_samples = 0
        self._acc_seconds = 0.0
        self._want_grad_norm = True

    @torch.no_grad()
    def _fill_snapshot(self, report: Report) -> None:
        report.device = str(self.device)
        snap = self._snapshot
        noise = self.spec.objective.noise
        x = snap["x"]
        x_in = obj.corrupt(x, noise.kind, self.live["noise_level"], self.value_range,
                           uniform=snap["uniform"], normal=snap["normal"])
        was = self.model.training
        self.model.eval()
        try:
            logits, encoded = self.model(x_in)
        finally:
            self.model.train(was)
        report.inputs = to_numpy(x)
        report.corrupted = to_numpy(x_in) if noise.kind != "none" else None
        report.reconstructions = to_numpy(obj.output_from_logits(logits.float(), self.spec.likelihood))
        report.code_sample = to_numpy(encoded.mean_code)
        report.filters = to_numpy(self.model.first_layer_filters(), MAX_FILTERS)
        report.output_bias = to_numpy(self.model.output_bias_image())
        if "attention" in encoded.extras:
            report.attention = to_numpy(encoded.extras["attention"])
            report.token_grid = self.model.tokens.grid
        if "capsule_lengths" in encoded.extras:
            report.capsule_lengths = to_numpy(encoded.extras["capsule_lengths"])

    @torch.no_grad()
    def evaluate(self, x_all: torch.Tensor | None = None) -> dict[str, float]:
        """Validation terms: the objective (with fixed-seed corruption) and the clean recon MSE."""
        x_all = self.val_x if x_all is None else x_all
        if len(x_all) == 0:
            return {}
        was = self.model.training
        self.model.eval()
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.spec.train.seed + 1)  # the same corruption every epoch
            return self._evaluate_chunks(x_all, was)

    def _evaluate_chunks(self, x_all: torch.Tensor, was_training: bool) -> dict[str, float]:
        sums: dict[str, float] = {}
        try:
            totals = None
            for start in range(0, len(x_all), VAL_CHUNK):
                x = self.to_float(x_all[start:start + VAL_CHUNK])
                logits, encoded = self.model(self.corrupt(x))
                live = dict(self.live, beta=self._beta())
                recon = obj.reconstruction_loss(logits.float(), x, self.spec.likelihood)
                terms = {"recon": recon, "total": recon}
                if self.model.variational:
                    kl = obj.kl_loss(obj.kl_per_dim(encoded.mu, encoded.logvar), self.spec.objective.variational.free_bits)
                    terms["kl"] = kl
                    terms["total"] = terms["total"] + live["beta"] * kl
                # Without noise the encoder already saw the clean input (eval mode is deterministic):
                # a second forward pass would double validation's cost for the same numbers.
                clean_logits = logits if self.spec.objective.noise.kind == "none" else self.model(x)[0]
                out = obj.output_from_logits(clean_logits.float(), self.spec.likelihood)
                terms["recon_mse"] = ((out - x) ** 2).mean()
                chunk = torch.stack([v * len(x) for v in terms.values()])
                totals = chunk if totals is None else totals + chunk
                names = list(terms)
            for name, value in zip(names, (totals / len(x_all)).cpu().tolist()):
                sums[name] = value
        finally:
            self.model.train(was_training)
        return sums

    def _record_epoch(self, report: Report) -> None:
        row = {"phase": report.phase, "epoch": report.epoch, "step": report.step,
               "time_s": round(report.elapsed_s, 3), "lr": report.lr, "samples_per_s": report.samples_per_s}
        row.update({f"train_{k}": v for k, v in report.losses.items()})
        row.update({f"val_{k}": v for k, v in (report.val_losses or {}).items()})
        if report.beta is not None:
            row["beta"] = report.beta
        self.history.append(row)

    def final_validation(self) -> dict[str, float]:
        if not len(self.val_x):
            return {}
        if self._val_cache is None or self._val_cache[0] != self.step:
            self._val_cache = (self.step, self.evaluate())
        return self._val_cache[1]

    def _result(self, stop_reason: str, message: str) -> TrainResult:
        last = next((h for h in reversed(self.history) if h.get("phase") == "train"), {})
        val = self.final_validation()
        return TrainResult(
            stop_reason=stop_reason, message=message, epochs=self.epoch, steps=self.step,
            train_loss=last.get("train_total", math.nan), val_loss=val.get("total", math.nan),
            val_recon_mse=val.get("recon_mse", math.nan),
            samples_per_s=self._samples_per_s(), device=str(self.device),
        )

    def _samples_per_s(self) -> float:
        steps = self.step
        return steps * self.batch_size / self._train_seconds if self._train_seconds > 0 else 0.0

    def _finished(self, stop_reason: str, message: str) -> Report:
        report = Report(
            kind=FINISHED, step=self.step, epoch=self.epoch, epoch_progress=float(self.epoch),
            epochs_total=self.spec.train.epochs, steps_per_epoch=self.steps_per_epoch,
            samples_per_s=self._samples_per_s(), elapsed_s=time.perf_counter() - self._t0,
            lr=self.live["lr"], message=message, stop_reason=stop_reason,
        )
        report.val_losses = self.final_validation() or None
        self._fill_knobs(report)
        self._fill_snapshot(report)
        return report
