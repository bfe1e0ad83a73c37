"""The training loop, written for live streaming and exact resume.

``Trainer.run()`` is a generator of Reports. It keeps the whole dataset on the
device (uint8 for images), draws batches from shuffled indices, and never reads
a value back to the host inside a step: loss terms are summed on the device and
read once per report, about ten times a second. Pause, stop and live values come
through a TrainControl and are looked at between steps.

One loop drives every phase (greedy pretraining stages, then fine-tuning); its
position lives in ``self.pos`` rather than in local variables, so
``state_dict()`` taken at any report and loaded into a fresh Trainer continues
the run bit for bit. The run draws its randomness from its own generator, never
by seeding the global one, so two trainers can share a process.

Given a ``Distributed`` context (torchrun), the same loop trains one model on
several processes: see distributed.py for how batches, random draws, gradients
and decisions are shared. Without one, nothing of that runs.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterator

import numpy as np
import torch

from .. import objectives as obj
from ..control import TrainControl
from ..data import DEFAULT_STREAM_WORKERS, DataError, Dataset, is_streamed, split_indices
from ..data.streaming import TrainStream
from ..device import autocast_context, resolve_device
from ..models import build_model
from ..reports import EPOCH, FINISHED, PAUSED, PROGRESS, Report, ReportKind, StopReason
from ..run import TrainResult
from ..spec import AutoencoderSpec
from ..spec_rules import active_terms, dataset_fit_problem, live_values
from ..step import all_finite, decay_penalty, make_optimizer, objective_loss, param_groups, split_decay_params
from . import persist
from .distributed import SINGLE, Distributed
from .evaluation import evaluate
from .lockstep import Lockstep
from .phases import FineTuning, PretrainStage, backward_and_step
from .snapshot import SnapshotBatch
from .state import Position, WeightBuffer, copy_weights, make_generator, seeded_global_rng


def check_dataset_fits(spec: AutoencoderSpec, dataset: Dataset) -> None:
    problem = dataset_fit_problem(spec, dataset)
    if problem:
        raise DataError(problem)


class Trainer:
    def __init__(self, spec: AutoencoderSpec, dataset: Dataset, control: TrainControl | None = None,
                 device: str | None = None, distributed: Distributed | None = None,
                 stream_workers: int = DEFAULT_STREAM_WORKERS):
        self.spec = spec.copy()
        tr = self.spec.train
        check_dataset_fits(self.spec, dataset)
        self.dataset = dataset
        self.control = control or TrainControl()
        self.dist = distributed or SINGLE
        self.device = self.dist.device if self.dist.enabled else resolve_device(device or tr.device)
        with seeded_global_rng(tr.seed):
            self.model = build_model(self.spec).to(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            # Batch norm over the global batch, as one process computes it. SyncBatchNorm runs on CUDA
            # only: on the CPU each rank normalises by its own share's statistics, and DDP broadcasts
            # rank 0's running statistics before each forward.
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.value_range = dataset.value_range
        self.train_index, self.val_index = split_indices(len(dataset), tr.val_fraction, tr.seed)
        self.train_x = None if is_streamed(dataset) else \
            torch.from_numpy(np.ascontiguousarray(dataset.x[self.train_index])).to(self.device)
        self.val_x = torch.from_numpy(np.ascontiguousarray(dataset.x[self.val_index])).to(self.device)
        self.n_train = len(self.train_index)
        self.batch_size = min(tr.batch_size, self.n_train)  # the global batch, over all processes
        # Drop the ragged last batch: a batch of one breaks batch norm and skews the average.
        self.steps_per_epoch = max(1, self.n_train // self.batch_size)
        world = self.dist.world_size
        if self.batch_size % world:
            raise DataError(f"the batch of {self.batch_size} samples does not divide among the {world} processes "
                            f"of this run ({self.n_train} training samples, batch size {tr.batch_size}); give a "
                            f"batch size that is a multiple of {world}")
        if self.batch_size // world < 2 and any(layer.batch_norm for layer in self.spec.encoder.layers):
            share = "" if world == 1 else f" on each of {world} processes"
            raise DataError(f"batch norm needs at least 2 samples a batch, but this run's batches hold "
                            f"{self.batch_size // world}{share} ({self.n_train} training sample(s), batch size "
                            f"{tr.batch_size}); use more data or a larger batch, or turn batch norm off")
        self.stream: TrainStream | None = None
        if self.train_x is None:
            # A streamed dataset's training rows stay in its file and come batch by batch, the same rows
            # as in memory (data/streaming.py); train_x holds only those a snapshot shows.
            self.stream = TrainStream(dataset.x, self.train_index, self.batch_size, self.steps_per_epoch,
                                      self.device, self.dist.rank, world, stream_workers)
            self.train_x = self.stream.spread_rows(tr.snapshot_size)
        # The run's own streams: shuffling, corruption, reparameterisation and prior samples.
        self.generator = make_generator(self.device, tr.seed)
        if self.dist.enabled:
            self.model.set_noise_generator(self.generator, shard=(self.dist.rank, world))
        else:
            self.model.set_noise_generator(self.generator)
        self._eval_generator = make_generator(self.device, tr.seed + 1)

        self.weights, self.biases = split_decay_params(self.model.parameters())
        self.optimizer = make_optimizer(self.spec, param_groups(self.spec, self.model.parameters()), tr.lr)
        self.scheduler = self._make_scheduler()
        self.autocast, self.scaler = autocast_context(self.device, tr.amp)
        o = self.spec.objective
        self.disc = self.disc_optimizer = self.prior_means = None
        if o.adversarial.enabled:
            with seeded_global_rng(tr.seed + 2):
                self.disc = obj.Discriminator(self.model.code_dim, o.adversarial.hidden_units).to(self.device)
            self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=o.adversarial.disc_lr, betas=(0.5, 0.999))
            if o.adversarial.prior == "mixture":
                self.prior_means = obj.mixture_means(self.model.code_dim, o.adversarial.mixture_components).to(self.device)
        self.live = live_values(self.spec)
        self.terms = active_terms(self.spec)
        self.pos = Position()
        self.history: list[dict] = []
        self.snapshot = SnapshotBatch(self.val_x if len(self.val_x) else self.train_x, tr.snapshot_size,
                                      self.to_float, self.device)
        stages = self.model.stages() if o.stacked.pretrain else []
        self.phases = [PretrainStage(self, k, enc, dec, len(stages)) for k, (enc, dec) in enumerate(stages)]
        self.phases.append(FineTuning(self))
        self.good = WeightBuffer(self.model)  # the last weights a report found finite
        self.best_weights: dict[str, torch.Tensor] | None = None  # kept for early stopping
        self._order: torch.Tensor | None = None  # this epoch's permutation of the training rows
        self._pending_changes: dict[str, float] = {}
        self._val_cache: tuple[int, dict] | None = None  # (step, validation terms) of unchanged weights
        self.lockstep = Lockstep(self.dist)  # a distributed run's DDP wrappers and agreed decisions
        self._t0 = time.perf_counter()
        self.result: TrainResult | None = None

    # --- where the run is ------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.pos.step

    @property
    def epoch(self) -> int:
        """Completed epochs of fine-tuning."""
        return self.pos.phase_epoch if self.pos.phase_index == len(self.phases) - 1 else 0

    @property
    def phase(self):
        return self.phases[self.pos.phase_index]

    def _make_scheduler(self):
        tr = self.spec.train
        if tr.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5, patience=max(1, tr.patience // 2))
        if tr.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, tr.epochs))
        if tr.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, tr.epochs // 3), gamma=0.5)
        return None

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        noise = self.spec.objective.noise
        return obj.corrupt(x, noise.kind, self.live["noise_level"], self.value_range, generator=self.generator)

    # --- one fine-tuning step ------------------------------------------------------------------
    def _beta(self) -> float:
        va = self.spec.objective.variational
        return obj.beta_at(self.live["beta"], va.warmup_epochs, self.epoch + self.pos.batch_index / self.steps_per_epoch)

    def train_step(self, x: torch.Tensor) -> None:
        """One optimisation step on the global batch ``x``; a distributed run's process trains on its
        rows of it. Random draws are made for the whole batch, so the run's stream advances alike on
        every rank and as one process's would."""
        acc = self.phases[-1].acc
        live = dict(self.live, beta=self._beta()) if self.model.variational else self.live
        x_in = self.corrupt(x)
        n = x.shape[0]
        x, x_in = self.dist.shard(x), self.dist.shard(x_in)
        objective = self.lockstep.wrapped("objective", self._objective, self.model)
        with self.autocast():
            loss, terms, encoded = objective(x, x_in, live, self.disc)
        backward_and_step(self, loss, self.optimizer, list(self.model.parameters()), acc)
        self.dist.check_all_used(objective)
        if self.disc is not None:
            real = obj.sample_prior(n, self.model.code_dim, self.spec.objective.adversarial.prior,
                                    self.prior_means, self.device, generator=self.generator)
            disc_loss = self.lockstep.disc_wrapped(self._disc_loss, self.disc)
            d_loss = disc_loss(self.dist.shard(real), encoded.mean_code.float())
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.dist.check_all_used(disc_loss)
            self.disc_optimizer.step()
            terms["adv_disc"] = d_loss
        acc.add(terms, encoded)

    def _objective(self, x: torch.Tensor, x_in: torch.Tensor, live: dict, disc) -> tuple:
        # L1 decay is part of it: in a distributed run every use of a weight belongs inside the forward
        # that DDP wraps. The discriminator comes as an argument, not a part: its gradients from the
        # generator's term are not the discriminator's to step on (it zeroes them first).
        loss, terms, encoded = objective_loss(self.model, self.spec, x, x_in, live, disc)
        penalty = decay_penalty(self.spec, self.weights, self.biases)
        if penalty is not None:
            loss = loss + penalty
        return loss, terms, encoded

    def _disc_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return obj.discriminator_loss(self.disc, real, fake)

    def _apply_live_changes(self, phase) -> None:
        changes = self.control.take_changes()
        for name, value in changes.items():
            self.live[name] = value
            if name == "lr":
                # Fine-tuning's optimiser keeps a rate set during pretraining, as the user meant it.
                optimizers = {id(self.optimizer): self.optimizer, id(phase.optimizer): phase.optimizer}
                for optimizer in optimizers.values():
                    for group in optimizer.param_groups:
                        group["lr"] = value
                        group["initial_lr"] = value
        self._pending_changes.update(changes)

    def _sync_phase_lr(self, phase) -> None:
        """A pretraining stage starts at the current live rate (the user may have changed it)."""
        if phase.optimizer is not self.optimizer:
            for group in phase.optimizer.param_groups:
                group["lr"] = self.live["lr"]

    # --- the loop ---------------------------------------------------------------------------------
    def _stopped(self) -> bool:
        """A stop request. A distributed run acts on one only once the ranks agreed on it at a report,
        so that every rank stops after the same step."""
        return self.lockstep.stopped if self.dist.enabled else self.control.stopped

    def _paused(self) -> bool:
        # Pausing is the window's, which trains in one process; a distributed run cannot wait for one rank.
        return self.control.paused and not self.dist.enabled

    def run(self) -> Iterator[Report]:
        self._t0 = time.perf_counter()
        pos, outcome = self.pos, None
        while True:
            phase = self.phase
            outcome = yield from self._run_phase(phase)
            last = pos.phase_index == len(self.phases) - 1
            if outcome is not None or self._stopped() or last:
                break
            pos.phase_index += 1
            pos.phase_epoch = pos.batch_index = 0
            self._order = None
        if self.stream is not None:
            self.stream.close()
        self.lockstep.release()  # no step follows; a distributed run may leave its process group now
        stop_reason, message = outcome or (StopReason.COMPLETED, "")
        # A stop that lands after the last epoch finished changes nothing: the run completed.
        finished_all = pos.phase_index == len(self.phases) - 1 and pos.phase_epoch >= self.phase.epochs
        if outcome is None and self._stopped() and not finished_all:
            stop_reason, message = StopReason.STOPPED, f"stopped by request at step {pos.step}"
        self.result = self._result(stop_reason, message)
        yield self._finished(stop_reason, message)

    def _run_phase(self, phase):
        """Train ``phase`` from where ``self.pos`` stands; returns (stop reason, message) when the run
        must end here (divergence, early stopping), None when the phase completed or was stopped."""
        pos, control, acc = self.pos, self.control, phase.acc
        self._sync_phase_lr(phase)
        if pos.stop_reason:  # decided at the epoch end this run was saved at
            return self._early_stop()
        while pos.phase_epoch < phase.epochs and not self._stopped():
            if self._order is None:
                order = torch.randperm(self.n_train, generator=self.generator, device=self.generator.device)
                self._order = order.to(self.device, non_blocking=True)
            interval_start = last_report = time.perf_counter()
            while pos.batch_index < self.steps_per_epoch:
                if self._paused():
                    self._account(phase, interval_start)
                    report = self._report(phase, PAUSED)
                    yield report
                    if report.stop_reason:  # the steps before the pause diverged
                        return report.stop_reason, report.message
                    if not control.wait_while_paused():
                        break
                    interval_start = last_report = time.perf_counter()
                if self._stopped():
                    break
                if not self.dist.enabled:  # the window's live edits; every rank must train alike
                    self._apply_live_changes(phase)
                b = pos.batch_index
                idx = self._order[b * self.batch_size:(b + 1) * self.batch_size]
                x = self.train_x[idx] if self.stream is None else self.stream.batch(self._order, b)
                phase.step(self.to_float(x))
                pos.batch_index += 1
                phase.count_step()
                acc.samples += len(idx)
                now = time.perf_counter()
                # On the epoch's last batch the epoch report follows at once and covers these steps: a
                # progress report there would leave the epoch report with no interval of its own.
                if pos.batch_index < self.steps_per_epoch and self._report_due(acc, now, last_report):
                    self._account(phase, interval_start, now)
                    report = self._report(phase, PROGRESS)
                    yield report
                    if report.stop_reason:
                        return report.stop_reason, report.message
                    interval_start = last_report = time.perf_counter()
            self._account(phase, interval_start)
            if pos.batch_index < self.steps_per_epoch:
                return None  # stopped mid-epoch
            pos.phase_epoch += 1
            pos.batch_index = 0
            self._order = None
            report = self._report(phase, EPOCH)
            if report.stop_reason:
                yield report
                return report.stop_reason, report.message
            self._end_epoch(phase, report)
            yield report
            if pos.stop_reason:
                return self._early_stop()
        return None

    def _end_epoch(self, phase, report: Report) -> None:
        """History, the LR schedule and the early-stopping decision, made before the epoch's report
        is handed out, so a state captured at that report already holds them."""
        self._record_epoch(phase, report)
        if not phase.validates:
            return
        tr, pos = self.spec.train, self.pos
        score = (report.val_losses or {}).get("total", report.losses.get("total", math.inf))
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(score)
            else:
                self.scheduler.step()
            self.live["lr"] = self.optimizer.param_groups[0]["lr"]
        if score < pos.best_score - 1e-9:
            pos.best_score, pos.bad_epochs = score, 0
            if tr.patience > 0:
                self.best_weights = copy_weights(self.model)
        else:
            pos.bad_epochs += 1
            if tr.patience > 0 and pos.bad_epochs >= tr.patience:
                pos.stop_reason = StopReason.EARLY_STOPPING.value
                pos.stop_message = (f"validation loss has not improved for {tr.patience} epochs; "
                                    f"stopped at epoch {self.epoch} and kept the best weights")

    def _early_stop(self) -> tuple[StopReason, str]:
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            self._val_cache = None
        return StopReason(self.pos.stop_reason), self.pos.stop_message

    def fit(self, callback: Callable[[Report], None] | None = None) -> TrainResult:
        """Run to the end, handing each report to ``callback``; returns the outcome."""
        for report in self.run():
            if callback is not None:
                callback(report)
        return self.result

    def _report_due(self, acc, now: float, last_report: float) -> bool:
        every = self.spec.train.report_every_steps
        if acc.full:
            return True  # the loss trace is full
        if every > 0:
            return acc.steps >= every
        if self.dist.enabled:  # a report is a collective: every rank must come to it after the same step
            return self.lockstep.report_due(acc)
        return now - last_report >= self.spec.train.report_interval_s

    def _account(self, phase, start: float, now: float | None = None) -> None:
        elapsed = (now or time.perf_counter()) - start
        phase.acc.seconds += elapsed
        if isinstance(phase, FineTuning):  # the run's samples/s counts fine-tuning steps over their time
            self.pos.train_seconds += elapsed

    # --- reports ------------------------------------------------------------------------------------
    def nan_message(self, step: int) -> str:
        lr = self.live["lr"]
        hint = (f"learning rate {lr:g} is probably too high" if lr >= 0.01
                else "lower the learning rate or check the data for extreme values")
        return f"loss became NaN or infinite at step {step}; {hint}"

    def _check_finite(self, phase, finite: bool | None = None) -> tuple[StopReason | None, str]:
        """``finite``: whether the weights are, as the ranks agreed; found here in one process."""
        acc = phase.acc
        bad = acc.first_bad_step()
        if bad < 0 and (all_finite(self.model.parameters()) if finite is None else finite):
            self.good.refresh(self.model)
            return None, ""
        self.good.restore(self.model)
        self._val_cache = None
        step = phase.steps_done() - acc.steps + bad + 1 if bad >= 0 else phase.steps_done()
        return StopReason.NON_FINITE, phase.nan_message(step)

    def _report(self, phase, kind: ReportKind) -> Report:
        acc, pos = phase.acc, self.pos
        stop_reason, message = None, phase.message(kind == PAUSED)
        finite = self.lockstep.agree(self, phase) if self.dist.enabled else None
        if acc.steps:
            stop_reason, nan = self._check_finite(phase, finite)
            message = nan or message
        losses = acc.take_epoch_losses() if kind == EPOCH and acc.epoch_steps else acc.interval_losses()
        report = Report(
            kind=kind, step=phase.report_step(kind == EPOCH), epoch=pos.phase_epoch,
            epoch_progress=pos.phase_epoch + pos.batch_index / self.steps_per_epoch,
            epochs_total=phase.epochs, steps_per_epoch=self.steps_per_epoch, samples_per_s=acc.rate(),
            elapsed_s=time.perf_counter() - self._t0, losses=losses, lr=self.live["lr"],
            grad_norm=float(acc.grad_norm) if acc.grad_norm is not None else None,
            live_changes=self._pending_changes, message=message, stop_reason=stop_reason,
            stage=phase.stage, stages=phase.stages, device=str(self.device),
            **acc.code_means(self.model.variational),
        )
        self._fill_knobs(report)
        if self.dist.is_main and self.snapshot.due(kind, self.control.snapshots_wanted,
                                                   self.spec.train.report_every_steps):
            self.snapshot.fill(report, self.model, self.spec, self.live["noise_level"], self.value_range)
        if kind == EPOCH and stop_reason is None and phase.validates:
            # Rank 0 alone validates; the others take its scores, so the schedule and early stopping agree.
            report.val_losses = self.dist.broadcast(self.evaluate() if self.dist.is_main else None)
            self._val_cache = (pos.step, report.val_losses)
        self._pending_changes = {}
        acc.reset_interval()
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
            if o.sparsity.kind == "kl":  # L1 sparsity pulls towards zero and has no target rate
                report.sparsity_target = o.sparsity.target

    def evaluate(self, x_all: torch.Tensor | None = None) -> dict[str, float]:
        """Validation terms: the objective (with fixed-seed corruption) and the clean recon MSE."""
        x_all = self.val_x if x_all is None else x_all
        return evaluate(self.model, self.spec, x_all, self.to_float, self.live, self._beta(), self.value_range,
                        self._eval_generator)

    def _record_epoch(self, phase, report: Report) -> None:
        row = {"phase": phase.label(), "epoch": report.epoch, "step": report.step,
               "time_s": round(report.elapsed_s, 3), "lr": report.lr, "samples_per_s": report.samples_per_s}
        row.update({f"train_{k}": v for k, v in report.losses.items()})
        row.update({f"val_{k}": v for k, v in (report.val_losses or {}).items()})
        if report.beta is not None:
            row["beta"] = report.beta
        self.history.append(row)

    def final_validation(self) -> dict[str, float]:
        if not len(self.val_x):
            return {}
        if self._val_cache is None or self._val_cache[0] != self.pos.step:
            if not self.dist.is_main:
                return {}  # rank 0 alone validates, and alone reports the result
            self._val_cache = (self.pos.step, self.evaluate())
        return self._val_cache[1]

    def _result(self, stop_reason: StopReason, message: str) -> TrainResult:
        last = next((h for h in reversed(self.history) if h.get("phase") == "train"), {})
        val = self.final_validation()
        return TrainResult(
            stop_reason=stop_reason, message=message, epochs=self.epoch, steps=self.pos.step,
            train_loss=last.get("train_total", math.nan), val_loss=val.get("total", math.nan),
            val_recon_mse=val.get("recon_mse", math.nan),
            samples_per_s=self._samples_per_s(), device=str(self.device),
        )

    def _samples_per_s(self) -> float:
        # The global batch: a distributed run counts the samples of all its processes.
        seconds = self.pos.train_seconds
        return self.pos.step * self.batch_size / seconds if seconds > 0 else 0.0

    def _finished(self, stop_reason: StopReason, message: str) -> Report:
        report = Report(
            kind=FINISHED, step=self.pos.step, epoch=self.epoch, epoch_progress=float(self.epoch),
            epochs_total=self.spec.train.epochs, steps_per_epoch=self.steps_per_epoch,
            samples_per_s=self._samples_per_s(), elapsed_s=time.perf_counter() - self._t0,
            lr=self.live["lr"], message=message, stop_reason=stop_reason, device=str(self.device),
        )
        report.val_losses = self.final_validation() or None
        self._fill_knobs(report)
        if self.dist.is_main:
            self.snapshot.fill(report, self.model, self.spec, self.live["noise_level"], self.value_range)
        return report

    # --- exact resume --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run bit for bit, as owned CPU copies. Take it between
        reports (on the thread that runs the trainer), for example right after one is yielded."""
        return persist.capture(self)

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (from ``state_dict``). The spec must match, except the number of
        epochs, so a finished run can be continued to a new total."""
        persist.restore(self, state)
