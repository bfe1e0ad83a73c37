"""Device-side sums of one phase's loss terms and code statistics, read once per report.

Nothing here reads a value back inside a step: each step adds its terms to
device tensors, and ``read`` copies them to the host in one go when a report is
due. A per-step trace of the total loss lets the report name the first step
that was not finite without checking every step.
"""
from __future__ import annotations

import torch

from ..reports import to_numpy

LOSS_TRACE_STEPS = 4096  # a report comes at least this often, in steps


class Accumulators:
    def __init__(self, terms: tuple[str, ...], code_dim: int, device: torch.device, code_stats: bool = True,
                 active_threshold: float = 0.01):
        self.terms = terms
        self.active_threshold = active_threshold
        self.code_stats = code_stats
        self.interval = torch.zeros(len(terms), device=device)
        # Whole-epoch sums, so an epoch's training loss covers every step of it,
        # not only those since the last progress report.
        self.epoch = torch.zeros(len(terms), device=device)
        self.epoch_steps = 0
        self.code = torch.zeros(code_dim, device=device)
        self.active = torch.zeros(code_dim, device=device)
        self.kl = torch.zeros(code_dim, device=device)
        self.loss_trace = torch.zeros(LOSS_TRACE_STEPS, device=device)
        self.steps = 0  # in this report interval
        self.samples = 0
        self.seconds = 0.0
        self.last_rate = 0.0
        self.grad_norm: torch.Tensor | None = None
        self.want_grad_norm = True  # measured once per report interval

    @property
    def full(self) -> bool:
        return self.steps >= LOSS_TRACE_STEPS

    def add(self, terms: dict[str, torch.Tensor], encoded=None) -> None:
        values = torch.stack([terms[t].detach().float() for t in self.terms])
        self.interval += values
        # Summed every step, not folded in per report: float sums depend on their grouping, and
        # reports come by the clock, so folding would make a seeded run's epoch losses vary.
        self.epoch += values
        if self.code_stats and encoded is not None:
            code = encoded.mean_code.detach().float()
            self.code += code.mean(dim=0)
            self.active += (code.abs() > self.active_threshold).float().mean(dim=0)
            if "_kl_per_dim" in terms:
                self.kl += terms["_kl_per_dim"].detach()
        # One small copy a step; the report, which reads the device anyway, finds the first bad step.
        self.loss_trace[self.steps] = values[0]
        self.steps += 1
        self.epoch_steps += 1

    def first_bad_step(self) -> int:
        """0-based index inside this interval of the first step whose total loss was not finite, or -1."""
        bad = (~torch.isfinite(self.loss_trace[:self.steps])).nonzero()
        return int(bad[0, 0]) if len(bad) else -1

    def interval_losses(self) -> dict[str, float]:
        if not self.steps:
            return {}
        return {t: v / self.steps for t, v in zip(self.terms, self.interval.cpu().tolist())}

    def take_epoch_losses(self) -> dict[str, float]:
        """The mean of every step of the epoch; the epoch sums start again."""
        if not self.epoch_steps:
            return {}
        losses = {t: v / self.epoch_steps for t, v in zip(self.terms, self.epoch.cpu().tolist())}
        self.epoch.zero_()
        self.epoch_steps = 0
        return losses

    def code_means(self, variational: bool) -> dict:
        if not (self.code_stats and self.steps):
            return {"code_mean": None, "code_active": None, "kl_per_dim": None, "active_threshold": None}
        n = self.steps
        return {"code_mean": to_numpy(self.code / n), "code_active": to_numpy(self.active / n),
                "active_threshold": self.active_threshold,
                "kl_per_dim": to_numpy(self.kl / n) if variational else None}

    def shared_tensors(self) -> list[torch.Tensor]:
        """What a distributed run averages over its ranks at a report: running sums, each linear in the
        steps' values, so averaging them whenever a report comes is exact, and this interval's loss
        trace, so a step that was not finite on any rank is found on all."""
        return [self.interval, self.epoch, self.code, self.active, self.kl, self.loss_trace[:self.steps]]

    def rate(self) -> float:
        """Samples per second over this interval; an interval with no steps in it (an epoch report
        right after a progress report, a pause) repeats the last measured rate."""
        if self.samples and self.seconds > 0:
            self.last_rate = self.samples / self.seconds
        return self.last_rate

    def reset_interval(self) -> None:
        self.interval.zero_()
        self.code.zero_()
        self.active.zero_()
        self.kl.zero_()
        self.steps = self.samples = 0
        self.seconds = 0.0
        self.want_grad_norm = True

    # --- exact resume: only the epoch sums outlive a report boundary ------------------------------
    def state_dict(self) -> dict:
        return {"epoch": self.epoch.clone(), "epoch_steps": self.epoch_steps, "last_rate": self.last_rate}

    def load_state_dict(self, state: dict) -> None:
        self.epoch.copy_(state["epoch"].to(self.epoch.device))
        self.epoch_steps = int(state["epoch_steps"])
        self.last_rate = float(state["last_rate"])
