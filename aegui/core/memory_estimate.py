"""How much memory training a spec needs, worked out before anything is built, and whether it fits.

The model is built on torch's meta device (tensors with a shape and no storage) and one training
step's objective runs on it with a saved-tensor hook, so the count is what autograd really keeps
for backward, at no cost in memory. A model too deep to trace quickly, or one whose ops have no
meta kernel, is counted from its layer sizes instead (``count_layers``), so there is always an
estimate. A model over the budget (60% of the device's memory unless --memory-limit or
AEGUI_MEMORY_LIMIT says otherwise) is refused in one line before anything real is allocated.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from . import objectives as obj
from .device import DeviceError, resolve_device
from .models import FAMILY_CLASSES, record_layer_shapes
from .serialize import SpecError
from .spec import AutoencoderSpec
from .spec_rules import live_values
from .step import objective_loss
from .layer_count import closed_form_contractive, count_layers, with_backward_peak
from .validation import check

DEFAULT_FRACTION = 0.6
LIMIT_ENV = "AEGUI_MEMORY_LIMIT"
HOW_TO_RAISE = "--memory-limit SIZE or AEGUI_MEMORY_LIMIT"
# A meta trace costs about 1 ms per dense block and 6 per attention block on this machine
# (2,000 dense layers: 4.5 s, 40: 0.1 s); past this many block-equivalents the layer count is used instead.
TRACE_BLOCK_LIMIT = 64
# Per parameter, the moment buffers each optimiser keeps (SGD runs with momentum 0.9, RMSprop without)
# and the temporaries of its step: Adam and RMSprop divide by a square root made afresh, one tensor
# at a time on the CPU and for every parameter at once (foreach) on CUDA.
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}
OPTIMIZER_TEMPORARIES = {"adam": 1, "adamw": 1, "rmsprop": 1, "sgd": 0}
UNITS = (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10))


class MemoryLimitError(ValueError):
    """A memory size that cannot be read (--memory-limit or AEGUI_MEMORY_LIMIT)."""


@dataclass
class ModelTrace:
    """What one spec's model holds and keeps for one training batch, from a meta trace or the layer count."""

    parameters: int
    biases: int
    parameter_bytes: int  # parameters and buffers (batch-norm statistics)
    trainable_bytes: int
    activation_bytes: int  # kept for backward, plus the gradients alive at once at its start
    discriminator_parameters: int = 0
    method: str = "traced"  # or "counted", from the layer sizes
    shapes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # traced only: leaf layers in call order
    modules: dict[str, nn.Module] = field(default_factory=dict)  # traced only, meta modules by name


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory one training run of a spec needs on its device, in bytes."""

    parameters: int
    parameter_bytes: int
    gradient_bytes: int
    optimizer_bytes: int  # its moments and one step's temporaries
    weight_copy_bytes: int  # the trainer's last-good weights, and the best ones when it stops early
    activation_bytes: int
    discriminator_bytes: int
    batch_size: int
    method: str
    data_bytes: int = 0  # the copy of the training rows the trainer puts on the device, when known

    @property
    def total_bytes(self) -> int:
        return (self.parameter_bytes + self.gradient_bytes + self.optimizer_bytes + self.weight_copy_bytes
                + self.activation_bytes + self.discriminator_bytes + self.data_bytes)

    @property
    def text(self) -> str:
        return f"about {format_bytes(self.total_bytes)}"

    @property
    def detail(self) -> str:
        """Where the total goes, for a tooltip or a log."""
        parts = (("weights", self.parameter_bytes), ("gradients", self.gradient_bytes),
                 ("optimiser", self.optimizer_bytes), ("weight copies", self.weight_copy_bytes),
                 (f"activations of a batch of {self.batch_size}", self.activation_bytes),
                 ("discriminator", self.discriminator_bytes), ("data", self.data_bytes))
        return "Training needs " + ", ".join(f"{name} {format_bytes(n)}" for name, n in parts if n)

    @property
    def parameters_text(self) -> str:
        return f"{count_in_words(self.parameters)} parameter{'' if self.parameters == 1 else 's'}"


@dataclass(frozen=True)
class MemoryBudget:
    limit_bytes: int  # 0: the device's memory is unknown and no limit was given
    device_bytes: int
    source: str  # "default", or what set it: "--memory-limit", "AEGUI_MEMORY_LIMIT"
    fraction: float = DEFAULT_FRACTION


# --- words ----------------------------------------------------------------------------------------------
def format_bytes(n: int) -> str:
    """1.2 GB, 17 GB, 640 KB: binary units, as free and top show a machine's memory."""
    for unit, size in UNITS:
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:,.0f} {unit}"
    return f"{n} bytes"


def count_in_words(n: int) -> str:
    """4.3 billion, 512 million, 45 thousand, 900."""
    for word, size in (("billion", 10**9), ("million", 10**6), ("thousand", 10**3)):
        if n >= size:
            value = n / size
            return f"{value:.2g} {word}" if value < 10 else f"{value:,.0f} {word}"
    return str(n)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|(b)?)\s*$", re.IGNORECASE)
_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_memory_size(text: str) -> int:
    """'30GB', '500MB', '2.5G', '64KiB' or a byte count, in binary units (1 GB = 1024^3 bytes)."""
    raw = str(text)
    match = _SIZE.match(raw)
    if not raw.strip():
        raise ValueError("a memory size is needed, such as 30GB or 500MB")
    if not match:
        raise ValueError(f"'{raw.strip()}' is not a memory size; write a number with a unit, such as 30GB, "
                         f"500MB or 2.5G")
    number, prefix = match.group(1), (match.group(2) or "").lower()
    if not prefix and "." in number:
        raise ValueError(f"'{raw.strip()}' is a fraction of a byte; give a unit, such as 2.5GB")
    size = int(float(number) * _SCALE[prefix]) if "." in number else int(number) * _SCALE[prefix]
    if size <= 0:
        raise ValueError(f"'{raw.strip()}' is no memory at all; give a size above 0, such as 500MB")
    return size


def traced_blocks(spec: AutoencoderSpec) -> int:
    """Roughly what a meta trace of ``spec`` costs, in dense blocks (about 1 ms each here)."""
    enc = len(spec.encoder.layers)
    if spec.family == "attention":
        blocks = 6 * (enc + spec.attention.decoder_blocks)
    elif spec.family == "capsule":
        blocks = enc + len(spec.capsule.decoder_units) + 3
    else:
        blocks = enc + (enc if spec.decoder.mirror else len(spec.decoder.layers))
    if spec.objective.contractive.weight > 0 and not closed_form_contractive(spec):
        blocks *= 1 + spec.code_dim  # one backward through the encoder per code unit
    return blocks


# --- the trace ------------------------------------------------------------------------------------------
def _storage_key(tensor: torch.Tensor) -> int:
    """One key per storage: views of one activation (a reshape, a transpose) are counted once. A meta
    storage has no data pointer (all are 0), so its C++ object's address is the key; the trace holds
    every tensor it counts until it ends, so no address is reused meanwhile."""
    return tensor.untyped_storage()._cdata


def _trace_on_meta(spec: AutoencoderSpec) -> ModelTrace:
    with torch.device("meta"):
        model = FAMILY_CLASSES[spec.family](spec)
        disc = (obj.Discriminator(model.code_dim, spec.objective.adversarial.hidden_units)
                if spec.objective.adversarial.enabled else None)
    modules = dict(model.named_modules())
    params = list(model.parameters())
    disc_params = list(disc.parameters()) if disc is not None else []
    held = {_storage_key(t) for t in (*params, *model.buffers(), *disc_params)}
    kept: dict[int, int] = {}
    alive: list[torch.Tensor] = []  # meta tensors: holding them costs nothing

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        key = _storage_key(tensor)
        if key not in held:
            kept[key] = max(kept.get(key, 0), tensor.untyped_storage().nbytes())
            alive.append(tensor)
        return tensor

    batch = spec.train.batch_size
    x = torch.zeros(batch, *spec.input.shape, device="meta")
    x_in = torch.zeros_like(x) if spec.objective.noise.kind != "none" else x  # corruption makes a copy
    model.train()
    shapes: list[tuple[str, tuple[int, ...]]] = []
    try:
        with record_layer_shapes(model, shapes), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            objective_loss(model, spec, x, x_in, live_values(spec), disc)
        # A tensor made and dropped inside the forward (the capsules' predictions) can still have its
        # gradient made in backward: the count knows those, the saved-tensor hook does not.
        largest = max(max(kept.values(), default=0), count_layers(spec).largest * batch * 4)
        activation = with_backward_peak(sum(kept.values()), largest)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        # An op without a meta kernel: the sizes still come from the model, the activations from the count.
        activation, shapes = count_layers(spec).bytes_for(batch)[0], []
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return ModelTrace(
        parameters=sum(p.numel() for p in params),
        biases=sum(p.numel() for name, p in model.named_parameters() if name.endswith("bias")),
        parameter_bytes=sum(p.numel() * p.element_size() for p in params) + buffers,
        trainable_bytes=sum(p.numel() * p.element_size() for p in params if p.requires_grad),
        activation_bytes=activation, discriminator_parameters=sum(p.numel() for p in disc_params),
        method="traced", shapes=shapes, modules=modules)


def _counted(spec: AutoencoderSpec) -> ModelTrace:
    count = count_layers(spec)
    activation_bytes, parameter_bytes = count.bytes_for(spec.train.batch_size)
    return ModelTrace(parameters=count.parameters, biases=count.biases, parameter_bytes=parameter_bytes,
                      trainable_bytes=count.parameters * 4, activation_bytes=activation_bytes,
                      discriminator_parameters=count.discriminator_parameters, method="counted")


_CACHE: OrderedDict[str, ModelTrace] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _trace_key(spec: AutoencoderSpec) -> str:
    """Everything the model and one batch depend on: not the name, nor training's other settings."""
    data = spec.to_dict()
    for key in ("name", "description"):
        data.pop(key, None)
    data["train"] = {"batch_size": spec.train.batch_size}
    return json.dumps(data, sort_keys=True)


def trace_model(spec: AutoencoderSpec) -> ModelTrace:
    """The model's sizes without allocating it: traced on the meta device, or counted from the layers
    when it is too deep to trace quickly. The builder and the Train button ask about one spec in
    turn, so the last few traces are kept."""
    check(spec)
    key = _trace_key(spec)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    trace = _trace_on_meta(spec) if traced_blocks(spec) <= TRACE_BLOCK_LIMIT else _counted(spec)
    with _CACHE_LOCK:
        _CACHE[key] = trace
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return trace


def estimate_from_trace(spec: AutoencoderSpec, trace: ModelTrace, data_bytes: int = 0) -> MemoryEstimate:
    tr = spec.train
    # Each greedy pretraining stage keeps its own optimiser, alive until the run ends.
    states = OPTIMIZER_STATES[tr.optimizer] * (2 if spec.objective.stacked.pretrain else 1)
    copies = 2 if tr.patience > 0 else 1
    return MemoryEstimate(
        parameters=trace.parameters, parameter_bytes=trace.parameter_bytes, gradient_bytes=trace.trainable_bytes,
        optimizer_bytes=(states + OPTIMIZER_TEMPORARIES[tr.optimizer]) * trace.trainable_bytes,
        weight_copy_bytes=copies * trace.parameter_bytes,
        activation_bytes=trace.activation_bytes,
        # Its weights, gradients and Adam's two moments.
        discriminator_bytes=4 * 4 * trace.discriminator_parameters,
        batch_size=tr.batch_size, method=trace.method, data_bytes=data_bytes)


def estimate_training_memory(spec: AutoencoderSpec, data_bytes: int = 0) -> MemoryEstimate:
    """Parameters, gradients, optimiser state, the trainer's weight copies and one batch's activations
    (``spec.train.batch_size``), in bytes, without building the model; ``data_bytes`` adds the
    trainer's copy of the data. Raises SpecError for an invalid spec."""
    try:
        trace = trace_model(spec)
    except SpecError:
        raise
    except Exception:  # noqa: BLE001 - a model that will not build on meta: the estimate still exists
        trace = _counted(spec)
    return estimate_from_trace(spec, trace, data_bytes)


# --- the budget -----------------------------------------------------------------------------------------
def _cgroup_limit() -> int:
    """A container's memory limit (cgroup v2 or v1), or 0 where there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 writes a huge number for "no limit"
            return int(text)
    return 0


def _physical_memory() -> int:
    total = 0
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        total = int(line.split()[1]) * 1024
        except OSError:
            pass
    limit = _cgroup_limit()
    return min(total, limit) if total and limit else total or limit


def device_memory_bytes(device: torch.device | str | None = None) -> int:
    """The memory training on ``device`` can use: RAM for the CPU (a container's limit if lower),
    the GPU's own memory for CUDA, Metal's recommended maximum for MPS. 0 where it is unknown."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    if device.type == "mps":
        recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        if recommended is not None:
            return int(recommended())
    return _physical_memory()


def memory_budget(device: torch.device | str | None = None, limit_bytes: int | None = None,
                  limit_source: str = "--memory-limit") -> MemoryBudget:
    """The limit a run on ``device`` must fit: ``limit_bytes`` if given, else AEGUI_MEMORY_LIMIT,
    else 60% of the device's memory. A bad AEGUI_MEMORY_LIMIT raises MemoryLimitError."""
    device_bytes = device_memory_bytes(device)
    if limit_bytes is not None:
        if limit_bytes <= 0:
            raise MemoryLimitError(f"{limit_source}: {limit_bytes} is no memory at all; give a size above 0")
        return MemoryBudget(int(limit_bytes), device_bytes, limit_source)
    env = os.environ.get(LIMIT_ENV, "").strip()
    if env:
        try:
            return MemoryBudget(parse_memory_size(env), device_bytes, LIMIT_ENV)
        except ValueError as exc:
            raise MemoryLimitError(f"{LIMIT_ENV}: {exc}") from None
    return MemoryBudget(int(device_bytes * DEFAULT_FRACTION), device_bytes, "default")


def _device_words(device: torch.device) -> str:
    if device.type == "cuda":
        return f"this GPU ({torch.cuda.get_device_name(device)}) has"
    if device.type == "mps":
        return "this Mac's GPU may use"
    return "this machine has"


def budget_problem(estimate: MemoryEstimate, device: torch.device, budget: MemoryBudget) -> str:
    """'' when ``estimate`` fits ``budget``, else the one line that says so and how to raise it."""
    if budget.limit_bytes <= 0 or estimate.total_bytes <= budget.limit_bytes:
        return ""
    if budget.source == "default":
        limit = f"the limit is {budget.fraction:.0%} of it ({format_bytes(budget.limit_bytes)})"
    else:
        limit = f"the limit is {format_bytes(budget.limit_bytes)}, set by {budget.source}"
    has = f"{_device_words(device)} {format_bytes(budget.device_bytes)}" if budget.device_bytes else \
        "this device's memory is unknown"
    data = f", and {format_bytes(estimate.data_bytes)} of data" if estimate.data_bytes else ""
    return (f"this model needs {estimate.text} ({estimate.parameters_text}, batches of {estimate.batch_size}{data}) "
            f"for training; {has} and {limit}; make the model or its batches smaller, or raise the limit with "
            f"{HOW_TO_RAISE}")


def memory_problem(spec: AutoencoderSpec, device: torch.device | str | None = None,
                   limit_bytes: int | None = None, *, data_bytes: int = 0,
                   limit_source: str = "--memory-limit") -> str:
    """'' when training ``spec`` fits the memory budget, else one line saying why not.

    ``device`` defaults to the one the spec asks for, resolved as training resolves it (auto: cuda,
    mps, cpu). ``limit_bytes`` overrides the budget (``limit_source`` names it in the line);
    otherwise AEGUI_MEMORY_LIMIT, otherwise 60% of the device's memory. ``data_bytes`` (the training
    set's ``x.nbytes``) counts the copy of the data the trainer puts on the device. A device that does not exist
    or an unreadable AEGUI_MEMORY_LIMIT is returned as the line too. Raises SpecError for an invalid
    spec. Nothing is allocated: the model is traced on the meta device.
    """
    try:
        resolved = device if isinstance(device, torch.device) else resolve_device(device or spec.train.device)
        budget = memory_budget(resolved, limit_bytes, limit_source)
    except (DeviceError, MemoryLimitError) as exc:
        return str(exc)
    return budget_problem(estimate_training_memory(spec, data_bytes), resolved, budget)
