"""Spec validation: every problem at once, each with its field path, in plain words.

The checks trace feature-map sizes through the encoder so that a conv kernel
too big for its input is caught here, with the size it would meet, rather than
as a cryptic error from inside torch.
"""
from __future__ import annotations

import dataclasses
import math
import re

from .spec import (
    ACTIVATIONS, DECAY_KINDS, FAMILIES, INPUT_KINDS, LIKELIHOODS, LR_SCHEDULES, NOISE_KINDS,
    OPTIMIZERS, POOLS, PRIORS, SPARSITY_KINDS, SCHEMA_VERSION, AutoencoderSpec, LayerSpec,
)
from .serialize import SpecError, short_repr
from .spec_rules import MAX_WIDTH, bound_problem, capsule_code_size, field_info

Issues = list[tuple[str, str]]

# Text is shown in the builder, written into every run and project, and into an exported model.py's
# docstring: a 100 MB description was carried through a whole training run and then refused by
# safetensors' header limit. A name is also the start of the run folder's name.
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 10_000


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Output length of a conv with 'same-ish' padding kernel//2, as the models build it."""
    pad = kernel // 2
    return (size + 2 * pad - kernel) // stride + 1


def transpose_padding_1d(size_in: int, size_out: int, kernel: int, stride: int) -> tuple[int, int] | None:
    """(padding, output_padding) that make a transposed conv map size_in to size_out exactly, or None."""
    for pad in range(kernel):
        extra = size_out - ((size_in - 1) * stride - 2 * pad + kernel)
        if 0 <= extra < max(stride, 1):
            return pad, extra
    return None


def _size_words(sizes: tuple[int, ...]) -> str:
    if len(sizes) == 2:
        return f"{sizes[0]}x{sizes[1]} feature map"
    return f"length-{sizes[0]} sequence"


def _choice(issues: Issues, path: str, value, choices) -> bool:
    if value not in choices:
        issues.append((path, f"{short_repr(value)} is not one of {', '.join(choices)}"))
        return False
    return True


def _bounded(issues: Issues, path: str, value) -> bool:
    """Whether ``value`` is inside the bounds spec_rules gives the field at ``path`` (the builder's
    editors offer the same range); if not, the problem is added under ``path``."""
    problem = bound_problem(path, value)
    if problem:
        issues.append((path, problem))
    return not problem


def _positive(issues: Issues, path: str, value, what: str = "must be at least 1") -> bool:
    if value is None or value < 1:
        issues.append((path, f"{what}; it is {value}"))
        return False
    return True


def _width(issues: Issues, path: str, value, what: str = "must be at least 1") -> bool:
    """A layer or code width: at least 1 and at most the field's bound (a layer alone needs gigabytes beyond it)."""
    if not _positive(issues, path, value, what):
        return False
    top = field_info(path).hi
    if value > top:
        issues.append((path, f"{value:,} is more than the {top:,} this app builds"))
        return False
    return True


def _check_layer_common(issues: Issues, path: str, layer: LayerSpec) -> None:
    _choice(issues, f"{path}.activation", layer.activation, ACTIVATIONS)
    _bounded(issues, f"{path}.dropout", layer.dropout)
    if layer.bias:
        _bounded(issues, f"{path}.bias_init", layer.bias_init)


def _check_conv_stack(issues: Issues, prefix: str, layers: list[LayerSpec], sizes: tuple[int, ...]) -> tuple[int, ...] | None:
    """Walk conv layers, returning the final spatial sizes (None once something is wrong)."""
    for i, layer in enumerate(layers):
        path = f"{prefix}[{i}]"
        _check_layer_common(issues, path, layer)
        if layer.channels is None:
            issues.append((f"{path}.channels", "a conv layer needs a number of channels"))
        else:
            _width(issues, f"{path}.channels", layer.channels)
        ok = _bounded(issues, f"{path}.kernel", layer.kernel) & _bounded(issues, f"{path}.stride", layer.stride)
        if sizes is None or not ok:
            sizes = None
            continue
        if layer.kernel > min(sizes):
            issues.append((f"{path}.kernel", f"{layer.kernel} is larger than the {_size_words(sizes)} it gets"))
            sizes = None
            continue
        sizes = tuple(conv_out(s, layer.kernel, layer.stride) for s in sizes)
    return sizes


def _check_input(issues: Issues, spec: AutoencoderSpec) -> bool:
    kind, shape = spec.input.kind, tuple(spec.input.shape)
    if not _choice(issues, "input.kind", kind, INPUT_KINDS):
        return False
    want = {"image": 3, "vector": 1, "sequence": 2}[kind]
    names = {"image": "(channels, height, width)", "vector": "(features,)", "sequence": "(steps, channels)"}[kind]
    if len(shape) != want:
        issues.append(("input.shape", f"an {kind} input needs {want} sizes {names}; got {list(shape)}"))
        return False
    if any(s < 1 for s in shape):
        issues.append(("input.shape", f"every size must be at least 1; got {list(shape)}"))
        return False
    return True


def _check_encoder(issues: Issues, spec: AutoencoderSpec, input_ok: bool) -> None:
    family, layers = spec.family, spec.encoder.layers
    kind, shape = spec.input.kind, tuple(spec.input.shape)
    if family in ("conv", "attention", "capsule") and not layers:
        issues.append(("encoder.layers", f"the {family} family needs at least one encoder layer"))
    if family == "mlp":
        for i, layer in enumerate(layers):
            _check_layer_common(issues, f"encoder.layers[{i}]", layer)
            if layer.units is None:
                issues.append((f"encoder.layers[{i}].units", "an mlp layer needs a number of units"))
            else:
                _width(issues, f"encoder.layers[{i}].units", layer.units)
    elif family in ("conv", "capsule"):
        if input_ok and kind == "vector":
            issues.append(("family", f"{family} needs an image or sequence input, not a vector; use mlp or attention"))
            return
        if family == "capsule" and input_ok and kind != "image":
            issues.append(("family", "capsule needs an image input"))
            return
        sizes = (shape[1], shape[2]) if kind == "image" else (shape[0],)
        sizes = _check_conv_stack(issues, "encoder.layers", layers, sizes if input_ok else None)
        if family == "capsule" and sizes is not None:
            cap = spec.capsule
            if cap.primary_kernel > min(sizes):
                issues.append(("capsule.primary_kernel", f"{cap.primary_kernel} is larger than the {_size_words(sizes)} it gets"))
        if family == "conv" and not spec.decoder.mirror and sizes is not None and input_ok:
            _check_conv_decoder(issues, spec, sizes)
    elif family == "attention":
        widths = set()
        for i, layer in enumerate(layers):
            path = f"encoder.layers[{i}]"
            _check_layer_common(issues, path, layer)
            if layer.units is None or layer.units < 1:
                issues.append((f"{path}.units", "a transformer block needs a token width (units) of at least 1"))
                continue
            if not _bounded(issues, f"{path}.units", layer.units):
                continue
            widths.add(layer.units)
            if spec.attention.heads >= 1 and layer.units % spec.attention.heads:
                issues.append((f"{path}.units", f"{layer.units} does not divide into {spec.attention.heads} attention heads"))
        if len(widths) > 1:
            issues.append(("encoder.layers", f"all transformer blocks must share one token width; found {sorted(widths)}"))
        p = spec.attention.patch_size
        if input_ok and p >= 1:
            if kind == "image" and (shape[1] % p or shape[2] % p):
                issues.append(("attention.patch_size", f"{p} does not tile the {shape[1]}x{shape[2]} image exactly"))
            if kind == "sequence" and shape[0] % p:
                issues.append(("attention.patch_size", f"{p} does not split the {shape[0]} steps into equal tokens"))
            if kind == "vector" and shape[0] % p:
                issues.append(("attention.patch_size", f"{p} does not split the {shape[0]} features into equal tokens"))


def _check_conv_decoder(issues: Issues, spec: AutoencoderSpec, sizes: tuple[int, ...]) -> None:
    """An explicit conv decoder upsamples by each stride; it must land on the input size."""
    for i, layer in enumerate(spec.decoder.layers):
        path = f"decoder.layers[{i}]"
        _check_layer_common(issues, path, layer)
        if layer.channels is None or layer.channels < 1:
            issues.append((f"{path}.channels", "a conv layer needs a number of channels of at least 1"))
        else:
            _bounded(issues, f"{path}.channels", layer.channels)
        if layer.kernel < 1 or layer.stride < 1:
            issues.append((path, "kernel and stride must be at least 1"))
            return
        if not _bounded(issues, f"{path}.kernel", layer.kernel) & _bounded(issues, f"{path}.stride", layer.stride):
            return
        grown = tuple(s * layer.stride for s in sizes)
        if any(transpose_padding_1d(a, b, layer.kernel, layer.stride) is None for a, b in zip(sizes, grown)):
            # Only a stride-1 layer with an even kernel gets here: no padding keeps its size.
            issues.append((f"{path}.kernel", f"a stride-{layer.stride} layer cannot keep its size with kernel "
                                             f"{layer.kernel}; use an odd kernel"))
            return
        sizes = grown
    target = tuple(spec.input.shape[1:]) if spec.input.kind == "image" else (spec.input.shape[0],)
    if sizes != target:
        issues.append(("decoder.layers", f"the decoder's strides bring the feature map to {'x'.join(map(str, sizes))}, "
                                         f"not the input's {'x'.join(map(str, target))}"))


def _check_decoder(issues: Issues, spec: AutoencoderSpec) -> None:
    dec = spec.decoder
    if not dec.mirror and spec.family == "mlp":
        for i, layer in enumerate(dec.layers):
            _check_layer_common(issues, f"decoder.layers[{i}]", layer)
            if layer.units is None or layer.units < 1:
                issues.append((f"decoder.layers[{i}].units", "an mlp layer needs a number of units of at least 1"))
            else:
                _width(issues, f"decoder.layers[{i}].units", layer.units)
    if dec.tied_weights:
        if spec.family != "mlp":
            issues.append(("decoder.tied_weights", f"tied weights are for mlp models, not {spec.family}"))
        elif not dec.mirror:
            issues.append(("decoder.tied_weights", "tied weights need a mirrored decoder"))
        elif any(layer.batch_norm for layer in spec.encoder.layers):
            issues.append(("decoder.tied_weights", "tied weights cannot be combined with batch norm layers"))
    if spec.family in ("attention", "capsule") and not dec.mirror and dec.layers:
        issues.append(("decoder.layers", f"the {spec.family} decoder is built from its own settings; leave layers empty"))


def _check_objective(issues: Issues, spec: AutoencoderSpec) -> None:
    obj = spec.objective
    sp = obj.sparsity
    if _choice(issues, "objective.sparsity.kind", sp.kind, SPARSITY_KINDS) and sp.kind != "none":
        _bounded(issues, "objective.sparsity.weight", sp.weight)
        _bounded(issues, "objective.sparsity.target", sp.target)
        n = len(spec.encoder.layers)
        if sp.layer != -1:
            if spec.family != "mlp":
                issues.append(("objective.sparsity.layer", f"only the code (-1) can be made sparse in the {spec.family} family"))
            elif not 0 <= sp.layer < n:
                issues.append(("objective.sparsity.layer", f"{sp.layer} is not -1 (the code) or an encoder layer index 0..{n - 1}"))
        if sp.kind == "kl":
            act = spec.latent.activation if sp.layer == -1 or not 0 <= sp.layer < n else spec.encoder.layers[sp.layer].activation
            where = "latent.activation" if sp.layer == -1 else f"encoder.layers[{sp.layer}].activation"
            if act != "sigmoid" and spec.family != "capsule":
                issues.append(("objective.sparsity.kind", f"KL sparsity needs sigmoid activations in 0-1, but {where} is {act}"))
    nz = obj.noise
    if _choice(issues, "objective.noise.kind", nz.kind, NOISE_KINDS) and nz.kind != "none":
        # The field's bounds are a gaussian's standard deviation; the other kinds take a probability.
        level = field_info("objective.noise.level")
        gaussian = nz.kind == "gaussian"
        if not level.contains(nz.level) or (not gaussian and nz.level > 1):
            what = (f"a standard deviation from {level.lo:g} to {level.hi:g}" if gaussian
                    else "a probability from 0 to 1")
            issues.append(("objective.noise.level", f"{nz.kind} noise needs {what}; it is {nz.level}"))
    _bounded(issues, "objective.contractive.weight", obj.contractive.weight)
    va = obj.variational
    if va.enabled:
        for name in ("beta", "warmup_epochs", "free_bits"):
            _bounded(issues, f"objective.variational.{name}", getattr(va, name))
        if spec.family == "capsule":
            issues.append(("objective.variational.enabled", "the capsule family has no variational form; turn it off"))
        if spec.latent.activation != "linear":
            issues.append(("latent.activation", f"a VAE samples its code, so the code activation must be linear, not {spec.latent.activation}"))
    ad = obj.adversarial
    if ad.enabled:
        _choice(issues, "objective.adversarial.prior", ad.prior, PRIORS)
        for name in ("mixture_components", "hidden_units", "weight", "disc_lr"):
            # NaN passes every comparison; _non_finite_numbers names it
            _bounded(issues, f"objective.adversarial.{name}", getattr(ad, name))
        if va.enabled:
            issues.append(("objective.adversarial.enabled", "choose one way to match the prior: variational or adversarial, not both"))
    st = obj.stacked
    if st.pretrain:
        if spec.family != "mlp":
            issues.append(("objective.stacked.pretrain", f"layer-wise pretraining is for mlp models, not {spec.family}"))
        elif not spec.decoder.mirror:
            issues.append(("objective.stacked.pretrain", "layer-wise pretraining pairs each encoder layer with its mirror; turn decoder.mirror on"))
        elif not spec.encoder.layers:
            issues.append(("objective.stacked.pretrain", "layer-wise pretraining needs at least one hidden encoder layer"))
        if va.enabled or ad.enabled:
            issues.append(("objective.stacked.pretrain", "layer-wise pretraining is for deterministic codes; turn off variational and adversarial"))
        _bounded(issues, "objective.stacked.epochs_per_layer", st.epochs_per_layer)


def _check_train(issues: Issues, spec: AutoencoderSpec) -> None:
    tr = spec.train
    for name in ("epochs", "batch_size", "lr"):  # NaN and infinity are named by _non_finite_numbers
        _bounded(issues, f"train.{name}", getattr(tr, name))
    problem = seed_problem(tr.seed)
    if problem:
        issues.append(("train.seed", problem))
    _choice(issues, "train.optimizer", tr.optimizer, OPTIMIZERS)
    _choice(issues, "train.lr_schedule", tr.lr_schedule, LR_SCHEDULES)
    _bounded(issues, "train.val_fraction", tr.val_fraction)
    _bounded(issues, "train.patience", tr.patience)
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", tr.device):
        issues.append(("train.device", f"{short_repr(tr.device)} is not auto, cpu, cuda, cuda:N or mps"))
    for name in ("report_interval_s", "report_every_steps", "snapshot_size"):
        _bounded(issues, f"train.{name}", getattr(tr, name))
    reg = tr.regularization
    _choice(issues, "train.regularization.decay", reg.decay, DECAY_KINDS)
    for name in ("weight_decay", "bias_decay", "grad_clip"):
        _bounded(issues, f"train.regularization.{name}", getattr(reg, name))


def seed_problem(seed) -> str:
    """What is wrong with a seed, or '': numpy refuses negative seeds and torch those from 2**64 up
    (the bounds in spec_rules, which the builder's seed editor takes too)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not field_info("train.seed").contains(seed):
        return f"must be a whole number from 0 to 2**64 - 1; it is {short_repr(seed)}"
    return ""


def _check_text(issues: Issues, spec: AutoencoderSpec) -> None:
    name, description = spec.name, spec.description
    if len(name) > MAX_NAME_CHARS:
        issues.append(("name", f"{len(name):,} characters; a name has at most {MAX_NAME_CHARS}"))
    elif any(c in "/\\" or not c.isprintable() for c in name):
        # runs/NAME-TIME: a slash would put the run in another folder, a line break split a message
        issues.append(("name", f"{short_repr(name)} has a slash or a control character; a name is one line "
                               "without / or \\"))
    if len(description) > MAX_DESCRIPTION_CHARS:
        issues.append(("description", f"{len(description):,} characters; a description has at most "
                                      f"{MAX_DESCRIPTION_CHARS:,}"))


def _non_finite_numbers(obj, prefix: str = "") -> Issues:
    """Every float field that is NaN or infinite (a JSON spec may say NaN): comparisons such as
    ``beta < 0`` are False for NaN, so the range checks below would let it through."""
    found: Issues = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            found += _non_finite_numbers(value, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    found += _non_finite_numbers(item, f"{path}[{i}].")
        elif isinstance(value, float) and not math.isfinite(value):
            found.append((path, f"must be a finite number; it is {value}"))
    return found


def validate(spec: AutoencoderSpec) -> Issues:
    """Every problem with ``spec`` as (field path, message); empty when it can be built."""
    issues: Issues = []
    if spec.schema_version != SCHEMA_VERSION:
        issues.append(("schema_version", f"{spec.schema_version} is not the supported version {SCHEMA_VERSION}"))
    _check_text(issues, spec)
    input_ok = _check_input(issues, spec)
    if _choice(issues, "family", spec.family, FAMILIES):
        _check_encoder(issues, spec, input_ok)
    _width(issues, "latent.dim", spec.latent.dim)
    _choice(issues, "latent.activation", spec.latent.activation, ACTIVATIONS)
    if spec.latent.bias:
        _bounded(issues, "latent.bias_init", spec.latent.bias_init)
    if spec.decoder.output_bias:
        _bounded(issues, "decoder.output_bias_init", spec.decoder.output_bias_init)
    _choice(issues, "likelihood", spec.likelihood, LIKELIHOODS)
    _check_decoder(issues, spec)
    if spec.family == "attention":
        at = spec.attention
        for name in ("patch_size", "heads", "decoder_blocks", "memory_tokens"):
            _bounded(issues, f"attention.{name}", getattr(at, name))
        _choice(issues, "attention.pool", at.pool, POOLS)
    if spec.family == "capsule":
        cap = spec.capsule
        for name in ("primary_channels", "primary_dim", "primary_kernel", "primary_stride", "num_capsules",
                     "capsule_dim", "routing_iterations"):
            _bounded(issues, f"capsule.{name}", getattr(cap, name))
        n = capsule_code_size(spec)
        if cap.num_capsules >= 1 and cap.capsule_dim >= 1 and spec.latent.dim != n:
            issues.append(("latent.dim", f"the capsule code is num_capsules x capsule_dim = {n}; set latent.dim to {n}"))
        for i, units in enumerate(cap.decoder_units):
            if _positive(issues, f"capsule.decoder_units[{i}]", units) and units > MAX_WIDTH:
                issues.append((f"capsule.decoder_units[{i}]", f"{units:,} is more than the {MAX_WIDTH:,} this app builds"))
    _check_objective(issues, spec)
    _check_train(issues, spec)
    reported = {path for path, _ in issues}
    issues += [issue for issue in _non_finite_numbers(spec) if issue[0] not in reported]
    return issues


def check(spec: AutoencoderSpec) -> AutoencoderSpec:
    """Raise SpecError listing every problem, or return the spec unchanged."""
    issues = validate(spec)
    if issues:
        raise SpecError(issues)
    return spec
