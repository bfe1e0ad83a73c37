"""The rules a spec's fields obey, each written once for the engine, the GUI and the command line.

- which loss terms a spec's objective has (``active_terms``);
- which values may change while training runs, their words, and which a spec uses
  (``LIVE``, ``live_values_used``);
- which fields a spec's other choices make irrelevant (``unused_paths``);
- the capsule code size (``code_size``, ``set_code_size``);
- whether a dataset fits a spec (``input_fits``, ``dataset_fit_problem``);
- each field's label, bounds and unit (``FIELDS``, ``field_info``, ``bound_problem``): the builder's
  editors and ``validation.py`` both read them. What a field means, in words, is ``explain.py``'s.

Plain Python: no torch and no Qt, so every front end may import it.
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from .spec import AutoencoderSpec, LayerSpec

# --- objective terms -------------------------------------------------------------------------------
# Order of the accumulated loss terms; "total" first.
TERMS = ("total", "recon", "kl", "sparsity", "contractive", "adv_gen", "adv_disc")


def active_terms(spec: AutoencoderSpec) -> tuple[str, ...]:
    """The loss terms this spec's objective adds up (and the trainer reports), in TERMS order."""
    o = spec.objective
    flags = {
        "total": True,
        "recon": True,
        "kl": o.variational.enabled,
        "sparsity": o.sparsity.kind != "none",
        "contractive": o.contractive.weight > 0,
        "adv_gen": o.adversarial.enabled,
        "adv_disc": o.adversarial.enabled,
    }
    return tuple(t for t in TERMS if flags[t])


# --- live values ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveValue:
    path: str  # the spec field it starts from (and is kept in after the run)
    words: str  # in a sentence: "set the learning rate"
    short: str  # beside a marker on a plot


LIVE: dict[str, LiveValue] = {
    "lr": LiveValue("train.lr", "learning rate", "lr"),
    "beta": LiveValue("objective.variational.beta", "β", "β"),
    "noise_level": LiveValue("objective.noise.level", "noise level", "noise"),
    "sparsity_weight": LiveValue("objective.sparsity.weight", "sparsity weight", "sparsity weight"),
}
# The values a user may change while training runs; they apply at the next step.
LIVE_VALUES = tuple(LIVE)
LIVE_VALUE_WORDS = {name: value.words for name, value in LIVE.items()}
LIVE_VALUE_SHORT = {name: value.short for name, value in LIVE.items()}
LIVE_PATHS = {value.path: name for name, value in LIVE.items()}  # spec path -> live name


def live_values(spec: AutoencoderSpec) -> dict[str, float]:
    """Each live value as the spec sets it: where a run's live values start."""
    return {name: float(get_path(spec, value.path)) for name, value in LIVE.items()}


def live_values_used(spec: AutoencoderSpec) -> tuple[str, ...]:
    """The live values this spec's objective reads: a β for a model with no KL term would be
    accepted, marked on the plot, and change nothing, so only these are offered while it trains."""
    unused = unused_paths(spec)
    return tuple(name for name, value in LIVE.items() if value.path not in unused)


# --- fields a spec does not use -------------------------------------------------------------------------
def unused_paths(spec: AutoencoderSpec) -> set[str]:
    """Fields this spec's other choices make irrelevant: greyed out so nobody tunes a value that does
    nothing (a target rho for an L1 penalty, a noise level with no noise)."""
    o, dec = spec.objective, spec.decoder
    off: set[str] = set()
    if o.sparsity.kind == "none":
        off |= {"objective.sparsity.weight", "objective.sparsity.target", "objective.sparsity.layer"}
    elif o.sparsity.kind == "l1":
        off.add("objective.sparsity.target")
    if o.noise.kind == "none":
        off.add("objective.noise.level")
    if not o.variational.enabled:
        off |= {"objective.variational.beta", "objective.variational.warmup_epochs", "objective.variational.free_bits"}
    if not o.adversarial.enabled:
        off |= {"objective.adversarial.prior", "objective.adversarial.mixture_components",
                "objective.adversarial.weight", "objective.adversarial.hidden_units", "objective.adversarial.disc_lr"}
    elif o.adversarial.prior != "mixture":
        off.add("objective.adversarial.mixture_components")
    if not o.stacked.pretrain:
        off.add("objective.stacked.epochs_per_layer")
    if not spec.latent.bias:
        off.add("latent.bias_init")
    if not dec.output_bias:
        off.add("decoder.output_bias_init")
    if spec.family != "mlp" or not dec.mirror:
        off.add("decoder.tied_weights")
    if spec.family == "capsule":
        off.add("latent.dim")  # num_capsules x capsule_dim sets it
    return off


# --- the capsule code -----------------------------------------------------------------------------------
def capsule_code_size(spec: AutoencoderSpec) -> int:
    """A capsule model's code is its latent capsules' poses side by side."""
    return spec.capsule.num_capsules * spec.capsule.capsule_dim


def code_size(spec: AutoencoderSpec) -> int:
    """Units in the code, for any family."""
    return capsule_code_size(spec) if spec.family == "capsule" else spec.latent.dim


def sync_capsule_code(spec: AutoencoderSpec) -> None:
    """After the capsules change, make latent.dim say the code size they give (in place)."""
    if spec.family == "capsule":
        spec.latent.dim = capsule_code_size(spec)


def set_code_size(spec: AutoencoderSpec, size: int) -> str:
    """Set the code size in place, through the capsule count for a capsule model; '' or why not
    (a capsule code is a whole number of capsules, and then the spec is left as it was)."""
    if spec.family == "capsule":
        per = spec.capsule.capsule_dim
        if per < 1 or size % per:
            return f"a capsule code is a whole number of capsules of {per}"
        spec.capsule.num_capsules = size // per
    spec.latent.dim = size
    return ""


# --- when a code unit counts as active ------------------------------------------------------------
def active_threshold(spec: AutoencoderSpec) -> float:
    """A code unit is active on a sample above this. A saturating unit (sigmoid, tanh) fires when it is
    past the middle of its range, so "active" then matches a target rate rho: a sigmoid at 0.02 is off,
    though above 0.01. An unbounded unit is active when it is not (nearly) zero."""
    return 0.5 if spec.latent.activation in ("sigmoid", "tanh") else 0.01


# --- a dataset for a spec -------------------------------------------------------------------------------
def input_fits(spec: AutoencoderSpec, dataset) -> bool:
    """Whether the dataset's samples are the kind and shape the spec's input takes."""
    return (spec.input.kind, tuple(spec.input.shape)) == (dataset.kind, tuple(dataset.sample_shape))


def dataset_fit_problem(spec: AutoencoderSpec, dataset) -> str | None:
    """Why a model of ``spec`` cannot train on ``dataset``, in one sentence, or None."""
    if not input_fits(spec, dataset):
        return (f"the model expects {spec.input.kind} input of shape {list(spec.input.shape)}, but dataset "
                f"'{dataset.name}' holds {dataset.kind} samples of shape {list(dataset.sample_shape)}")
    if spec.likelihood == "bernoulli" and not dataset.is_uint8:  # uint8 images are 0..1 once scaled
        lo, hi = dataset.value_range
        if lo < -1e-6 or hi > 1 + 1e-6:
            return (f"the bernoulli likelihood needs values from 0 to 1, but dataset '{dataset.name}' ranges "
                    f"from {lo:.3g} to {hi:.3g}; choose the gaussian likelihood")
    return None


# --- each field's label, bounds and unit ----------------------------------------------------------------
@dataclass(frozen=True)
class FieldInfo:
    """One spec field as people see it. ``lo``/``hi`` are the valid range (None: no bound on that side);
    ``lo_open``/``hi_open`` leave the bound itself out. Validation rejects exactly the values outside
    the range, and the builder's editor offers exactly the values inside it."""

    label: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""
    decimals: int = 3  # shown by a float editor
    step: float = 1.0
    noun: str = ""  # the subject of a problem sentence ("the learning rate must be above 0"); none by default
    range_words: bool = False  # say the whole range in a problem ("from 0 to 0.9"), not only the bound crossed

    def contains(self, value) -> bool:
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))


MAX_WIDTH = 65_536  # units, channels or code size: beyond this a layer alone needs gigabytes
WEIGHT_MAX = 1000.0  # an objective term's weight; far beyond any that trains
_F = FieldInfo

# Keyed by spec path; the fields of any encoder or decoder layer share one "layers[]" row.
FIELDS: dict[str, FieldInfo] = {
    "latent.dim": _F("Code size", 1, MAX_WIDTH),
    "latent.bias_init": _F("Code bias init", -100, 100, step=0.1),
    "decoder.output_bias_init": _F("Output bias init", -100, 100, step=0.1),
    "attention.patch_size": _F("Patch size", 1, 1024, unit="pixels"),
    "attention.heads": _F("Heads", 1, 64),
    "attention.decoder_blocks": _F("Decoder blocks", 1, 64),
    "attention.memory_tokens": _F("Memory tokens", 1, 1024),
    "capsule.primary_channels": _F("Primary capsule types", 1, 256),
    "capsule.primary_dim": _F("Primary capsule size", 1, 256),
    "capsule.primary_kernel": _F("Primary kernel", 1, 255),
    "capsule.primary_stride": _F("Primary stride", 1, 64),
    "capsule.num_capsules": _F("Latent capsules", 1, 1024),
    "capsule.capsule_dim": _F("Latent capsule size", 1, 256),
    "capsule.routing_iterations": _F("Routing iterations", 1, 100),
    "objective.sparsity.weight": _F("Sparsity weight", 0, WEIGHT_MAX, decimals=4, step=0.01),
    "objective.sparsity.target": _F("Target rate ρ", 0, 1, lo_open=True, hi_open=True, step=0.01,
                                    noun="the target rate", range_words=True),
    "objective.sparsity.layer": _F("Sparse layer", -1, 255),
    "objective.noise.level": _F("Noise level", 0, 100, step=0.05),
    "objective.variational.beta": _F("β", 0, WEIGHT_MAX, step=0.1),
    "objective.variational.warmup_epochs": _F("KL warm-up", 0, 10_000, unit="epochs", step=0.5),
    "objective.variational.free_bits": _F("Free bits", 0, 100, unit="nats/dim", step=0.05),
    "objective.contractive.weight": _F("Contractive weight", 0, WEIGHT_MAX, decimals=4, step=0.1),
    "objective.adversarial.mixture_components": _F("Mixture components", 1, 1024),
    "objective.adversarial.weight": _F("Adversarial weight", 0, WEIGHT_MAX, step=0.1),
    "objective.adversarial.hidden_units": _F("Discriminator width", 1, MAX_WIDTH),
    "objective.adversarial.disc_lr": _F("Discriminator learning rate", 0, 10, lo_open=True, decimals=6, step=1e-4),
    "objective.stacked.epochs_per_layer": _F("Pretraining epochs per layer", 1, 100_000),
    "train.epochs": _F("Epochs", 1, 100_000),
    "train.batch_size": _F("Batch size", 1, MAX_WIDTH),
    # A rate of a million is allowed: it is how one shows a run diverging (and the NaN guard stopping it).
    "train.lr": _F("Learning rate", 0, 1e6, lo_open=True, decimals=6, step=1e-4, noun="the learning rate"),
    "train.patience": _F("Early-stopping patience", 0, 100_000, unit="epochs"),
    "train.val_fraction": _F("Validation fraction", 0, 0.9, decimals=2, step=0.05, range_words=True),
    # numpy refuses negative seeds and torch those from 2**64 up.
    "train.seed": _F("Seed", 0, 2 ** 64 - 1),
    "train.report_interval_s": _F("Report interval", 0, None, lo_open=True, unit="s"),
    "train.report_every_steps": _F("Report every", 0, None, unit="steps"),
    "train.snapshot_size": _F("Snapshot size", 1, 64, range_words=True),
    "train.regularization.weight_decay": _F("Weight decay (weights)", 0, 10, decimals=6, step=1e-4),
    "train.regularization.bias_decay": _F("Weight decay (biases)", 0, 10, decimals=6, step=1e-4),
    "train.regularization.grad_clip": _F("Gradient clip", 0, 10_000, step=0.5),
    "layers[].units": _F("Width", 1, MAX_WIDTH),
    "layers[].channels": _F("Width", 1, MAX_WIDTH),
    "layers[].kernel": _F("Kernel", 1, 255),
    "layers[].stride": _F("Stride", 1, 64),
    "layers[].bias_init": _F("Bias init", -100, 100, step=0.1),
    "layers[].dropout": _F("Dropout", 0, 1, hi_open=True, decimals=2, step=0.05, range_words=True),
}

# Fields chosen from a list or switched on and off: a label, no bounds.
FIELDS.update({
    "family": _F("Family"),
    "latent.activation": _F("Code activation"),
    "latent.bias": _F("Code bias"),
    "likelihood": _F("Output likelihood"),
    "decoder.mirror": _F("Mirror the encoder"),
    "decoder.tied_weights": _F("Tied weights"),
    "decoder.output_bias": _F("Output bias"),
    "attention.pool": _F("Pooling"),
    "objective.sparsity.kind": _F("Sparsity"),
    "objective.noise.kind": _F("Input noise"),
    "objective.variational.enabled": _F("Variational (VAE)"),
    "objective.adversarial.enabled": _F("Adversarial (AAE)"),
    "objective.adversarial.prior": _F("AAE prior"),
    "objective.stacked.pretrain": _F("Greedy layer-wise pretraining"),
    "train.optimizer": _F("Optimiser"),
    "train.lr_schedule": _F("LR schedule"),
    "train.regularization.decay": _F("Weight decay kind"),
    "train.device": _F("Device"),
    "train.amp": _F("Mixed precision (CUDA)"),
    "layers[].activation": _F("Activation"),
    "layers[].bias": _F("Bias"),
    "layers[].batch_norm": _F("Batch norm"),
})
BOUNDED = tuple(path for path, info in FIELDS.items() if info.lo is not None or info.hi is not None)

_LAYER_PATH = re.compile(r"^(?:encoder|decoder)\.layers\[\d*\]\.")


def field_key(path: str) -> str:
    """The key a spec path has in FIELDS (and in explain.EXPLANATIONS): a layer field is named without
    its table and index ("encoder.layers[2].units" -> "layers[].units"); any other path is its own key."""
    return _LAYER_PATH.sub("layers[].", path)


def field_info(path: str) -> FieldInfo:
    """The row for a spec path; a layer field may be named with or without its index
    ("encoder.layers[2].units", "decoder.layers[].units", "layers[].units")."""
    return FIELDS[field_key(path)]


def field_type(path: str):
    """The annotated type of the field at ``path`` (resolved through the spec's dataclasses)."""
    cls = AutoencoderSpec
    parts = field_key(path).split(".")
    if parts[0] == "layers[]":
        cls, parts = LayerSpec, parts[1:]
    for part in parts[:-1]:
        cls = typing.get_type_hints(cls)[part]
    return typing.get_type_hints(cls)[parts[-1]]


def choices(path: str) -> tuple[str, ...]:
    """The values a choice field takes: its Literal type's, written once in spec.py."""
    if path == "train.device":
        return DEVICES
    tp = field_type(path)
    if typing.get_origin(tp) is not typing.Literal:
        raise KeyError(f"{path} is not a choice field")
    return typing.get_args(tp)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def bound_problem(path: str, value) -> str:
    """What is wrong with ``value`` for the field at ``path`` given its bounds, or ''."""
    info = field_info(path)
    if info.contains(value):
        return ""
    lo, hi = info.lo, info.hi
    if info.range_words and lo is not None and hi is not None:
        if info.lo_open and info.hi_open:
            rule = f"must be between {_number(lo)} and {_number(hi)}"
        elif info.hi_open:
            rule = f"must be from {_number(lo)} up to (not including) {_number(hi)}"
        else:
            rule = f"must be from {_number(lo)} to {_number(hi)}"
    elif lo is not None and (value < lo or (info.lo_open and value == lo)):
        rule = (f"must be above {_number(lo)}" if info.lo_open else "must not be negative" if lo == 0
                else f"must be at least {_number(lo)}")
    else:
        rule = f"must be below {_number(hi)}" if info.hi_open else f"must be at most {_number(hi)}"
    return f"{info.noun + ' ' if info.noun else ''}{rule}; it is {value}"


# --- reading and writing a field by its path ------------------------------------------------------------
def get_path(spec, path: str):
    """The value at a dotted spec path such as "train.lr"."""
    obj = spec
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def set_path(spec, path: str, value) -> None:
    """Set the value at a dotted spec path, in place."""
    *head, last = path.split(".")
    setattr(get_path(spec, ".".join(head)) if head else spec, last, value)


DEVICES = ("auto", "cpu", "cuda", "mps")  # the device choices offered; validation also takes cuda:N
