"""One model trained by several processes: torchrun starts them, DistributedDataParallel syncs them.

torchrun tells each process where it stands through its environment (RANK, LOCAL_RANK,
WORLD_SIZE, and MASTER_ADDR/MASTER_PORT to meet the others). Without those variables a run
is one process, as it always was, and ``SINGLE`` stands for it: every helper here is then a
no-op, so the trainer's single-process path computes exactly what it did before.

How a distributed run is split:
- The spec's batch is the global batch. Every rank draws the epoch's permutation from the
  same seeded generator, takes the same global batch of it, and trains on its own equal
  share of those rows (``shard``); over an epoch the shares partition the data.
- Random draws that belong to the batch (corruption noise, the VAE's reparameterisation,
  the AAE's prior samples) are made for the whole global batch on every rank and each rank
  keeps its rows. So the run's generator advances exactly as one process's would: the
  permutations, and every sample's noise, are those of the single-process run, whatever the
  number of processes, and a run saved on N processes resumes on M with the same data order.
- DDP averages the gradients; the local losses are means over equal shares, so the average
  is the global batch's gradient.
- Decisions are made together at report points only (never inside a step): one all-reduce
  carries the stop requests, the NaN guard's finding, the loss sums (so reported losses
  cover all ranks) and rank 0's choice of when the next report comes. Rank 0 alone
  validates and broadcasts the scores, so early stopping and the LR schedule agree.

Why each loss is a module (``LossModule``): DDP all-reduces the gradients of the parameters
of the module it wraps, in the backward that follows a call of its forward. Three losses of
the trainer use parameters outside a plain ``model(x)``: the objective (the contractive
term encodes with autograd.grad and decodes apart, the AAE's generator term goes through
the discriminator, L1 decay reads the weights), a greedy pretraining stage (one encoder
layer and its mirror on the frozen output below), and the discriminator's own loss (two
calls of it). Each is the forward of a LossModule holding exactly the parameters it trains,
and DDP wraps that, so every use of those parameters happens inside DDP's forward. The
model stays the plain module (``trainer.model``): ``code_dim``, ``first_layer_filters()``,
``tokens.grid`` and ``state_dict()`` read as in one process.
"""
from __future__ import annotations

import gc
import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator, Mapping

import torch
from torch import nn

from ..device import resolve_device

# A collective waits this long for the other processes. A process that dies is noticed at
# once (its connections close, and torchrun stops the others); this bounds a process that
# hangs alive. Rank 0 validates and writes the project file while the others wait at the
# next collective, so it is generous.
GROUP_TIMEOUT = timedelta(minutes=10)

LAUNCH_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


class DistributedError(RuntimeError):
    """A distributed run that cannot start or go on; the message is one line for the user."""


@dataclass(frozen=True)
class Launch:
    """Where torchrun placed this process: its rank among all, on its machine, and the machine's."""

    rank: int
    local_rank: int
    world_size: int
    node_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launch_from_env(environ: Mapping[str, str] | None = None) -> Launch | None:
    """This process's place in a torchrun job, or None when torchrun did not start it."""
    env = os.environ if environ is None else environ
    present = [name for name in LAUNCH_VARIABLES if name in env]
    if not present:
        return None
    missing = [name for name in LAUNCH_VARIABLES if name not in env]
    if missing:
        raise DistributedError(f"{', '.join(present)} set but not {', '.join(missing)}: start a distributed run "
                               f"with torchrun, which sets them all")
    try:
        rank, local_rank, world = (int(env[name]) for name in LAUNCH_VARIABLES)
        node = int(env.get("GROUP_RANK", "0"))
    except ValueError:
        shown = ", ".join(f"{name}={env[name]!r}" for name in LAUNCH_VARIABLES)
        raise DistributedError(f"torchrun's variables are not whole numbers ({shown})") from None
    if world < 1 or not 0 <= rank < world or local_rank < 0:
        raise DistributedError(f"RANK {rank}, LOCAL_RANK {local_rank} and WORLD_SIZE {world} do not fit together")
    return Launch(rank=rank, local_rank=local_rank, world_size=world, node_rank=node)


class LossModule(nn.Module):
    """``fn`` as the forward of a module that holds ``parts``: what DDP wraps, so that the
    gradients of exactly those parameters are averaged after a backward through ``fn``."""

    def __init__(self, fn: Callable, *parts: nn.Module):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.fn = fn
        self.checked = False  # whether every parameter was seen to get a gradient (check_all_used)

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


class Distributed:
    """This process's part in a run, and the few collectives the trainer needs.

    With one process (``SINGLE``) nothing is wrapped or communicated."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0,
                 device: torch.device | None = None, backend: str = ""):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.device, self.backend = device, backend

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def place(self, device_name: str) -> None:
        """Choose this rank's device for a spec's ``device`` (its local rank's GPU on CUDA)."""
        if not self.enabled:
            return
        self.device = device_for(Launch(self.rank, self.local_rank, self.world_size), device_name)
        self.backend = "nccl" if self.device.type == "cuda" else "gloo"
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    def __repr__(self) -> str:
        return f"Distributed(rank={self.rank}, world_size={self.world_size}, device={self.device}, {self.backend})"

    # --- the data ------------------------------------------------------------------------------------
    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (whose length divides by the world size)."""
        if not self.enabled:
            return batch
        n = batch.shape[0] // self.world_size
        return batch[self.rank * n:(self.rank + 1) * n]

    # --- gradients -----------------------------------------------------------------------------------
    def wrap(self, fn: Callable, *parts: nn.Module) -> Callable:
        """``fn`` itself in one process; else a DDP over a LossModule of ``parts``, called like ``fn``.

        DDP's defaults: every parameter takes part in every step (``check_all_used`` proves it
        after the first backward), so no graph search per step is needed; buffers (batch norm's
        running statistics) are broadcast from rank 0 at each forward."""
        if not self.enabled:
            return fn
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(LossModule(fn, *parts))

    @staticmethod
    def check_all_used(wrapped) -> None:
        """After a wrapper's first backward: a parameter that got no gradient would leave its DDP
        bucket unreduced, and the ranks would drift apart silently. Every rank runs the same graph,
        so every rank raises here alike."""
        module = getattr(wrapped, "module", None)
        if module is None or module.checked:
            return
        unused = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
        if unused:
            name = unused[0].split(".", 2)[-1]  # without LossModule's "parts.N."
            more = f" (and {len(unused) - 1} more)" if len(unused) > 1 else ""
            raise DistributedError(f"parameter {name}{more} took no part in the loss; a distributed run needs "
                                   f"every trained parameter in every step")
        module.checked = True

    # --- decisions -----------------------------------------------------------------------------------
    def sum_and_average(self, flags: list[float], tensors: list[torch.Tensor]) -> list[float]:
        """One all-reduce: ``flags`` summed over the ranks (returned), ``tensors`` averaged in place."""
        if not self.enabled:
            return list(flags)
        import torch.distributed as dist

        head = torch.tensor(flags, dtype=torch.float32, device=self.device)
        parts = [head] + [t.detach().reshape(-1).float() for t in tensors]
        flat = torch.cat(parts)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = len(flags)
        for t in tensors:
            n = t.numel()
            t.copy_((flat[offset:offset + n] / self.world_size).reshape(t.shape))
            offset += n
        return flat[:len(flags)].tolist()

    def gather(self, value) -> list:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def broadcast(self, value):
        """Rank 0's ``value`` (any picklable object) on every rank."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sync_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (batch norm's running statistics) on every rank. DDP broadcasts them
        before each forward; after the last step of an interval each rank has updated its own, so
        they are made equal again before they are validated, saved or kept as the last good ones."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)

    def max_int(self, value: int) -> int:
        """The largest ``value`` over the ranks; also a barrier (rank 0 may still be saving)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        box = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return int(box.item())

    def replicas_agree(self, *modules: nn.Module | None) -> bool:
        """Whether every rank holds bit-identical weights and buffers in ``modules`` (None ones skipped),
        by a sha256 of each rank's: the invariant DDP keeps, checked once at the end."""
        if not self.enabled:
            return True
        import torch.distributed as dist

        digest = hashlib.sha256()
        for module in modules:
            if module is None:
                continue
            for name, value in sorted(module.state_dict().items()):
                digest.update(name.encode())
                digest.update(value.detach().to("cpu").reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        digests = [None] * self.world_size
        dist.all_gather_object(digests, digest.hexdigest())
        return len(set(digests)) == 1


SINGLE = Distributed()


def device_for(launch: Launch, device_name: str) -> torch.device:
    """The device of this rank: its local rank's GPU on CUDA, else the CPU."""
    if device_name == "mps":
        raise DistributedError("device mps cannot train with torchrun (PyTorch has no collective backend for "
                               "it); use --device cpu or cuda")
    if device_name == "cpu" or (device_name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    resolve_device("cuda")  # says in one line when there is no CUDA GPU
    count = torch.cuda.device_count()
    if launch.local_rank >= count:
        raise DistributedError(f"torchrun started process {launch.local_rank + 1} on this machine, but it has "
                               f"{count} CUDA GPU(s); start at most {count} a machine (--nproc-per-node)")
    return torch.device("cuda", launch.local_rank)


def join(launch: Launch | None) -> Distributed:
    """Join the other processes of a torchrun job; SINGLE without torchrun or with one process.

    The group speaks gloo for CPU tensors and, where CUDA is, NCCL for GPU ones: the processes can
    agree on their set-up before the spec that names the device is read (``place`` comes after)."""
    if launch is None or launch.world_size == 1:
        return SINGLE
    import torch.distributed as dist

    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise DistributedError(f"{name} is not set: start a distributed run with torchrun, which sets it")
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    try:
        dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size, timeout=GROUP_TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"rank {launch.rank} could not join the others: {first_line(exc)}") from None
    return Distributed(rank=launch.rank, world_size=launch.world_size, local_rank=launch.local_rank)


def start(launch: Launch | None, device_name: str) -> Distributed:
    """``join``, then ``place`` on the device ``device_name`` asks for."""
    context = join(launch)
    context.place(device_name)
    return context


def stop(context: Distributed, failed: bool = False) -> None:
    """Leave the process group. After a failure NCCL's teardown may wait on a dead peer; the
    process is about to exit anyway, which releases everything."""
    import torch.distributed as dist

    if context.enabled and dist.is_initialized() and not (failed and context.backend == "nccl"):
        # DDP reducers left in reference cycles must go before the group: collected at the interpreter's
        # exit instead, they ended the process in std::terminate (SIGABRT) in 4 of 20 runs here, 0 of 20
        # with this collection.
        gc.collect()
        dist.destroy_process_group()


@contextmanager
def session(launch: Launch | None, device_name: str) -> Iterator[Distributed]:
    context = start(launch, device_name)
    failed = True
    try:
        yield context
        failed = False
    finally:
        stop(context, failed)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def failure_line(exc: BaseException, context: Distributed) -> str:
    """One line for an exception that ended a distributed run on this rank."""
    import torch.distributed as dist

    where = f"rank {context.rank} of {context.world_size}"
    text = first_line(exc)
    lost = isinstance(exc, getattr(dist, "DistError", ())) or any(
        word in text.lower() for word in ("connection closed", "connection reset", "broken pipe", "timed out"))
    if lost:
        return f"{where}: another process of this run failed or was killed ({text})"
    return f"{where} failed: {type(exc).__name__}: {text}"
