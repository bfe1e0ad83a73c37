"""A trainer's ranks kept in lockstep: its DDP wrappers and the decisions taken at report points.

Only a distributed run (``Distributed.enabled``) does anything here. Every collective must be
reached by every rank after the same step, so nothing is decided inside a step: a stop request,
the NaN guard's finding and the time of the next report are agreed at reports, in one
all-reduce, and the loop acts on the agreed values alone. Reports cannot come by each rank's
own clock, so rank 0 turns the report interval into a number of steps at each report (from
the pace it just measured) and the others take that number.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..step import all_finite
from .accumulators import LOSS_TRACE_STEPS
from .distributed import Distributed

if TYPE_CHECKING:
    from .loop import Trainer


class Lockstep:
    def __init__(self, context: Distributed):
        self.context = context
        self.stopped = False  # a stop agreed at the last report
        self.report_steps = 1  # steps until the next report; the first comes after one step
        # The DDP of the loss being trained: one at a time over the model, so a finished pretraining
        # stage's wrapper (and its hooks on shared parameters) goes before fine-tuning's comes.
        self._wrapper, self._wrapper_key = None, None
        self._disc_wrapper = None

    @property
    def enabled(self) -> bool:
        return self.context.enabled

    # --- gradients ----------------------------------------------------------------------------------
    def wrapped(self, key, fn: Callable, *parts) -> Callable:
        """``fn`` in one process; in a distributed run, a DDP over ``parts`` that calls it."""
        if not self.enabled:
            return fn
        if self._wrapper_key != key:
            self._wrapper = None
            self._wrapper, self._wrapper_key = self.context.wrap(fn, *parts), key
        return self._wrapper

    def disc_wrapped(self, fn: Callable, disc) -> Callable:
        """The AAE discriminator's loss, in a DDP of its own (its steps follow the model's)."""
        if not self.enabled:
            return fn
        if self._disc_wrapper is None:
            self._disc_wrapper = self.context.wrap(fn, disc)
        return self._disc_wrapper

    def release(self) -> None:
        """Drop the DDP wrappers (a later step makes new ones), so that they can go before the process
        group does (``distributed.stop``)."""
        self._wrapper, self._wrapper_key, self._disc_wrapper = None, None, None

    # --- reports ----------------------------------------------------------------------------------
    def report_due(self, acc) -> bool:
        return acc.steps >= self.report_steps

    def _next_report_steps(self, acc, interval_s: float) -> int:
        """Rank 0's clock in steps: as many as fit in the report interval at the pace just measured."""
        if not (acc.steps and acc.seconds > 0):
            return self.report_steps
        return int(min(LOSS_TRACE_STEPS, max(1, round(interval_s * acc.steps / acc.seconds))))

    def agree(self, trainer: "Trainer", phase) -> bool:
        """A report point's decisions in one all-reduce: a stop requested on any rank; whether every
        rank's weights are finite; the loss and code sums averaged over the ranks (so reports and the
        history cover the global batch, and a step that was not finite on any rank shows in the trace
        of all); when the next report comes. Then rank 0's buffers everywhere, before they are
        validated, saved or kept as the last good ones. Returns whether the weights are finite."""
        context, acc = self.context, phase.acc
        finite = all_finite(trainer.model.parameters()) if acc.steps else True
        next_steps = self._next_report_steps(acc, trainer.spec.train.report_interval_s) if context.is_main else 0
        stop, not_finite, steps = context.sum_and_average(
            [float(trainer.control.stopped), float(not finite), float(next_steps)], acc.shared_tensors())
        self.report_steps = max(1, int(steps))
        if stop > 0:
            self.stopped = True
            trainer.control.stop()  # so that every rank's control says what was decided
        context.sync_buffers(trainer.model)
        return not_finite == 0
