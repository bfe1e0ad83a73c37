"""The typed description of an experiment: model, objective and training.

One ``AutoencoderSpec`` describes anything the app can build and train. It is
plain data (dataclasses) with a JSON round-trip and a schema version, so the
GUI, the command line and saved projects all share one format. ``validate``
(in ``validation.py``) explains every problem with its field path.
"""
from __future__ import annotations

import copy
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Optional, get_args

from .atomic import atomic_write_text
from .serialize import SpecError, dumps, from_dict, loads_json, to_dict

SCHEMA_VERSION = 1
# A spec is a few KB (the largest preset 2.7 KB; with the longest description validation allows, under
# 70 KB even if every character of it is written as a \uXXXX escape). A file of more is not a spec, and
# /dev/zero or a growing log would otherwise be read until memory ran out.
MAX_SPEC_BYTES = 1 << 20

# Each choice is written once, as a Literal type: the loader checks values against it and the
# tuples below (the builder's combo boxes, validation's messages) are read from it.
Family = Literal["mlp", "conv", "attention", "capsule"]
Activation = Literal["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "linear"]
InputKind = Literal["image", "vector", "sequence"]
Likelihood = Literal["bernoulli", "gaussian"]
SparsityKind = Literal["none", "l1", "kl"]
NoiseKind = Literal["none", "gaussian", "masking", "salt_pepper"]
Prior = Literal["gaussian", "mixture"]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
LrSchedule = Literal["none", "plateau", "cosine", "step"]
DecayKind = Literal["l2", "l1"]
Pool = Literal["mean", "cross"]

FAMILIES: tuple[str, ...] = get_args(Family)
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
INPUT_KINDS: tuple[str, ...] = get_args(InputKind)
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
SPARSITY_KINDS: tuple[str, ...] = get_args(SparsityKind)
NOISE_KINDS: tuple[str, ...] = get_args(NoiseKind)
PRIORS: tuple[str, ...] = get_args(Prior)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
LR_SCHEDULES: tuple[str, ...] = get_args(LrSchedule)
DECAY_KINDS: tuple[str, ...] = get_args(DecayKind)
POOLS: tuple[str, ...] = get_args(Pool)


@dataclass
class InputSpec:
    """What one sample looks like: (C, H, W) image, (D,) vector or (T, C) sequence."""

    kind: InputKind = "image"
    shape: tuple[int, ...] = (1, 28, 28)


@dataclass
class LayerSpec:
    """One encoder (or explicit decoder) layer. Each family reads the fields it needs:
    mlp reads ``units``; conv reads ``channels``, ``kernel`` and ``stride``;
    attention reads ``units`` as the token width of one transformer block."""

    units: Optional[int] = None
    channels: Optional[int] = None
    kernel: int = 3
    stride: int = 1
    activation: Activation = "relu"
    bias: bool = True
    bias_init: float = 0.0
    batch_norm: bool = False
    dropout: float = 0.0


@dataclass
class EncoderSpec:
    layers: list[LayerSpec] = field(default_factory=list)


@dataclass
class LatentSpec:
    """The code layer. ``activation`` applies to the code itself (sigmoid for KL sparsity)."""

    dim: int = 32
    activation: Activation = "linear"
    bias: bool = True
    bias_init: float = 0.0


@dataclass
class DecoderSpec:
    """The decoder mirrors the encoder unless ``mirror`` is off and ``layers`` are given.
    The output layer is always added; its bias is the one that learns the data's mean."""

    mirror: bool = True
    layers: list[LayerSpec] = field(default_factory=list)
    tied_weights: bool = False
    output_bias: bool = True
    output_bias_init: float = 0.0


@dataclass
class AttentionSpec:
    """Tokens are image patches of ``patch_size`` (or time steps); ``pool`` turns them into the code."""

    patch_size: int = 7
    heads: int = 4
    pool: Pool = "cross"
    decoder_blocks: int = 1
    memory_tokens: int = 4


@dataclass
class CapsuleSpec:
    """Primary capsules from the encoder's feature map, routed to ``num_capsules`` latent capsules."""

    primary_channels: int = 8
    primary_dim: int = 8
    primary_kernel: int = 9
    primary_stride: int = 2
    num_capsules: int = 10
    capsule_dim: int = 8
    routing_iterations: int = 3
    decoder_units: tuple[int, ...] = (256, 512)


@dataclass
class SparsitySpec:
    """L1 on the code, or KL between a layer's mean sigmoid activation and ``target``.
    ``layer`` is -1 for the code or the index of an encoder layer."""

    kind: SparsityKind = "none"
    weight: float = 1e-3
    target: float = 0.05
    layer: int = -1


@dataclass
class NoiseSpec:
    """Corruption applied to inputs during training; the loss compares with the clean input."""

    kind: NoiseKind = "none"
    level: float = 0.3


@dataclass
class ContractiveSpec:
    weight: float = 0.0


@dataclass
class VariationalSpec:
    enabled: bool = False
    beta: float = 1.0
    warmup_epochs: float = 0.0
    free_bits: float = 0.0


@dataclass
class AdversarialSpec:
    """AAE: a discriminator tells encoder codes from prior samples."""

    enabled: bool = False
    prior: Prior = "gaussian"
    mixture_components: int = 10
    weight: float = 1.0
    hidden_units: int = 128
    disc_lr: float = 2e-4


@dataclass
class StackedSpec:
    """Greedy layer-wise pretraining before fine-tuning the whole network."""

    pretrain: bool = False
    epochs_per_layer: int = 1


@dataclass
class ObjectiveSpec:
    sparsity: SparsitySpec = field(default_factory=SparsitySpec)
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    contractive: ContractiveSpec = field(default_factory=ContractiveSpec)
    variational: VariationalSpec = field(default_factory=VariationalSpec)
    adversarial: AdversarialSpec = field(default_factory=AdversarialSpec)
    stacked: StackedSpec = field(default_factory=StackedSpec)


@dataclass
class RegularizationSpec:
    """Weight decay with separate strengths for weights and biases (the tutorial's point
    that biases can overfit too), plus gradient clipping."""

    decay: DecayKind = "l2"
    weight_decay: float = 0.0
    bias_decay: float = 0.0
    grad_clip: float = 0.0


@dataclass
class TrainSpec:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: Optimizer = "adam"
    regularization: RegularizationSpec = field(default_factory=RegularizationSpec)
    val_fraction: float = 0.1
    patience: int = 0
    lr_schedule: LrSchedule = "none"
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    report_interval_s: float = 0.1
    report_every_steps: int = 0
    snapshot_size: int = 16


@dataclass
class AutoencoderSpec:
    """Everything needed to build and train one autoencoder."""

    schema_version: int = SCHEMA_VERSION
    name: str = "ae"
    description: str = ""
    input: InputSpec = field(default_factory=InputSpec)
    family: Family = "mlp"
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    latent: LatentSpec = field(default_factory=LatentSpec)
    decoder: DecoderSpec = field(default_factory=DecoderSpec)
    likelihood: Likelihood = "bernoulli"
    attention: AttentionSpec = field(default_factory=AttentionSpec)
    capsule: CapsuleSpec = field(default_factory=CapsuleSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    # --- JSON -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_dict(self)

    def to_json(self) -> str:
        return dumps(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AutoencoderSpec":
        if not isinstance(data, dict):
            raise SpecError([("", f"a spec must be a JSON object, found {type(data).__name__}")])
        version = data.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise SpecError([("schema_version", f"expected a whole number, found {version!r}")])
        if version > SCHEMA_VERSION:
            raise SpecError([("schema_version", f"{version} is newer than this version of the app understands ({SCHEMA_VERSION})")])
        if version < 1:
            raise SpecError([("schema_version", f"{version} is not a valid schema version")])
        return from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "AutoencoderSpec":
        # A spec inside a project or a run folder is bounded here, as a spec file is by load.
        if len(text) > MAX_SPEC_BYTES:
            raise SpecError([("", f"the spec is {len(text):,} characters; a spec is at most "
                                  f"{MAX_SPEC_BYTES >> 20} MB")])
        return cls.from_dict(loads_json(text))

    def save(self, path: str | Path) -> None:
        """All or nothing: on a full disk the file that was there stays as it was."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "AutoencoderSpec":
        path = Path(path)
        try:
            text = _read_spec_file(path).decode("utf-8-sig")  # -sig: a byte-order mark, as the tables accept
        except UnicodeDecodeError:
            raise SpecError([("", f"spec file {path} is not UTF-8 text")]) from None
        try:
            return cls.from_json(text)
        except SpecError as exc:  # every problem kept, each with its path; the file named once
            raise SpecError(exc.issues, source=str(path)) from None

    # --- helpers --------------------------------------------------------------
    def copy(self) -> "AutoencoderSpec":
        return copy.deepcopy(self)

    def with_input(self, kind: str, shape: tuple[int, ...]) -> "AutoencoderSpec":
        out = self.copy()
        out.input = InputSpec(kind=kind, shape=tuple(int(s) for s in shape))
        return out

    @property
    def is_variational(self) -> bool:
        return self.objective.variational.enabled

    @property
    def code_dim(self) -> int:
        from .spec_rules import code_size  # the capsule rule lives with the other spec rules

        return code_size(self)


def _not_a_file(mode: int) -> str:
    """What a file that is not a regular file is, in words ('' for a regular file)."""
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "" if stat.S_ISREG(mode) else "not a regular file"


def _read_spec_file(path: Path) -> bytes:
    """The bytes of a spec file, refusing before reading anything what is not a regular file of at most
    MAX_SPEC_BYTES: opening a named pipe waits for a writer forever, and /dev/zero never ends."""
    def refused(problem: str) -> SpecError:
        return SpecError([("", f"spec file {path} {problem}")])

    try:
        what = _not_a_file(os.stat(path).st_mode)
        if what:
            raise refused(f"is {what}, not a file")
        # The file may be swapped for a pipe after the stat: O_NONBLOCK keeps open() from waiting on one,
        # and the stat of what was opened is the one that counts.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SpecError([("", f"cannot read spec file {path}: {exc.strerror or exc}")]) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        what = _not_a_file(info.st_mode)
        if what:
            raise refused(f"is {what}, not a file")
        if info.st_size > MAX_SPEC_BYTES:
            raise refused(f"is {info.st_size:,} bytes; a spec is at most {MAX_SPEC_BYTES >> 20} MB")
        data = f.read(MAX_SPEC_BYTES + 1)  # a file that grows after the stat is still read no further
    if len(data) > MAX_SPEC_BYTES:
        raise refused(f"is more than {MAX_SPEC_BYTES >> 20} MB; a spec is at most {MAX_SPEC_BYTES >> 20} MB")
    return data


def set_all_biases(spec: AutoencoderSpec, enabled: bool, init: float = 0.0) -> AutoencoderSpec:
    """A copy with every bias on or off, for the tutorial's "what do biases capture" experiment."""
    out = spec.copy()
    for layer in out.encoder.layers + out.decoder.layers:
        layer.bias, layer.bias_init = enabled, init
    out.latent = replace(out.latent, bias=enabled, bias_init=init)
    out.decoder.output_bias, out.decoder.output_bias_init = enabled, init
    return out
