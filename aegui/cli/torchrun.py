"""The command line under torchrun: where this process stands, and set-up mistakes said once.

torchrun stops every process of a job as soon as one of them exits with an error. A mistake
in the arguments or the files is met by every process alike, so it must end them all
together and be said once, by rank 0 -- not once per process, and not by none because
torchrun stopped rank 0 before it could say it. ``together`` runs the set-up on every rank
and then compares: a mistake met on any rank ends every rank, rank 0 saying it (and naming
the rank when it was met elsewhere, as when one machine lacks a file).
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from .main import CliError

T = TypeVar("T")

# A process other than rank 0 that meets a mistake outside ``together`` (a bad argument is met
# before the processes have joined) waits this long before it exits: torchrun would otherwise
# stop rank 0, which meets the same mistake, before it has said it.
QUIET_EXIT_DELAY_S = 1.0


def this_launch():
    """torchrun's place for this process (None without torchrun), or one line saying what is wrong."""
    from ..core.training.distributed import DistributedError, launch_from_env

    try:
        return launch_from_env()
    except DistributedError as exc:
        raise CliError(str(exc)) from None


def check_world_batch(batch_size: int, world: int) -> None:
    if world > 1 and batch_size % world:
        raise CliError(f"batch size {batch_size} does not divide among the {world} processes torchrun started: "
                       f"it is the global batch, split evenly; give a multiple of {world}")


def user_errors() -> tuple[type[BaseException], ...]:
    from ..core.data import DataError
    from ..core.device import DeviceError
    from ..core.serialize import SpecError
    from ..core.training.distributed import DistributedError

    return CliError, SpecError, DataError, DeviceError, DistributedError


def user_error_text(exc: BaseException) -> str:
    """A user mistake's line, as ``main`` prints it after 'error: '."""
    from ..core.serialize import SpecError

    return f"invalid spec: {exc.first_line}" if isinstance(exc, SpecError) else str(exc)


def together(context, prepare: Callable[[], T], discard: Callable[[T], None] | None = None) -> T:
    """``prepare()`` on every rank; when it fails with a user mistake on any rank, every rank raises
    (rank 0 the mistake, naming the rank it was met on when not its own), after ``discard`` undoes
    what a rank that succeeded has prepared (rank 0's run folder)."""
    if not context.enabled:
        return prepare()
    value, mine = None, None
    try:
        value = prepare()
    except user_errors() as exc:
        mine = exc
    texts = context.gather(None if mine is None else user_error_text(mine))
    failed = [(rank, text) for rank, text in enumerate(texts) if text is not None]
    if not failed:
        return value
    if mine is None and discard is not None:
        discard(value)
    if mine is not None:  # said by rank 0 only (main's error lines): the others exit quietly
        raise mine
    rank, text = failed[0]
    raise CliError(f"on rank {rank}: {text}")


def quiet_exit_delay() -> None:
    time.sleep(QUIET_EXIT_DELAY_S)
