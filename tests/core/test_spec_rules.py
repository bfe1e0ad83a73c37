"""spec_rules: each rule about a spec, written once, holds for every preset and matches validation."""
from __future__ import annotations

import dataclasses
import math
import typing

import numpy as np
import pytest

from aegui.core import control, spec as spec_module
from aegui.core.data import Dataset
from aegui.core.presets import get_preset, preset_names
from aegui.core.spec import AutoencoderSpec, LayerSpec
from aegui.core.spec_edit import blank_spec, mirrored_decoder_layers, retarget_family_layers
from aegui.core.spec_rules import (
    BOUNDED, FIELDS, LIVE, LIVE_VALUE_WORDS, LIVE_VALUES, active_terms, capsule_code_size, choices, code_size,
    dataset_fit_problem, field_info, field_type, get_path, input_fits, live_values, live_values_used, set_code_size,
    unused_paths,
)
from aegui.core.validation import validate

# Written out by hand from each preset's description, so a change in the rule shows up here.
ACTIVE_TERMS = {
    "ae": ("total", "recon"),
    "deep": ("total", "recon"),
    "stacked": ("total", "recon"),
    "sparse-l1": ("total", "recon", "sparsity"),
    "sparse-kl": ("total", "recon", "sparsity"),
    "denoising": ("total", "recon"),
    "contractive": ("total", "recon", "contractive"),
    "vae": ("total", "recon", "kl"),
    "beta-vae": ("total", "recon", "kl"),
    "conv": ("total", "recon"),
    "conv-vae": ("total", "recon", "kl"),
    "conv-denoising": ("total", "recon"),
    "aae": ("total", "recon", "adv_gen", "adv_disc"),
    "attention": ("total", "recon"),
    "capsule": ("total", "recon"),
}
LIVE_USED = {
    "ae": ("lr",), "deep": ("lr",), "stacked": ("lr",), "sparse-l1": ("lr", "sparsity_weight"),
    "sparse-kl": ("lr", "sparsity_weight"), "denoising": ("lr", "noise_level"), "contractive": ("lr",),
    "vae": ("lr", "beta"), "beta-vae": ("lr", "beta"), "conv": ("lr",), "conv-vae": ("lr", "beta"),
    "conv-denoising": ("lr", "noise_level"), "aae": ("lr",), "attention": ("lr",), "capsule": ("lr",),
}


def test_the_tables_cover_all_fifteen_presets():
    assert set(ACTIVE_TERMS) == set(LIVE_USED) == set(preset_names()) and len(preset_names()) == 15


@pytest.mark.parametrize("name", preset_names())
def test_active_terms_of_each_preset(name):
    assert active_terms(get_preset(name)) == ACTIVE_TERMS[name]


@pytest.mark.parametrize("name", preset_names())
def test_live_values_each_preset_uses(name):
    spec = get_preset(name)
    assert live_values_used(spec) == LIVE_USED[name]
    # A live value is used exactly when the term it weighs is there (the learning rate always is).
    terms = active_terms(spec)
    assert ("beta" in live_values_used(spec)) == ("kl" in terms)
    assert ("sparsity_weight" in live_values_used(spec)) == ("sparsity" in terms)


def test_live_values_start_from_their_spec_fields():
    spec = get_preset("beta-vae")
    assert live_values(spec) == {"lr": spec.train.lr, "beta": 4.0, "noise_level": spec.objective.noise.level,
                                 "sparsity_weight": spec.objective.sparsity.weight}
    assert control.LIVE_VALUES is LIVE_VALUES and control.LIVE_VALUE_WORDS is LIVE_VALUE_WORDS
    for name, value in LIVE.items():
        assert value.path in FIELDS, name  # each has a label and bounds like any other field
        assert field_type(value.path) is float


# --- choices ------------------------------------------------------------------------------------------
CHOICE_TUPLES = {
    "FAMILIES": "family", "ACTIVATIONS": "latent.activation", "INPUT_KINDS": "input.kind", "LIKELIHOODS": "likelihood",
    "SPARSITY_KINDS": "objective.sparsity.kind", "NOISE_KINDS": "objective.noise.kind",
    "PRIORS": "objective.adversarial.prior", "OPTIMIZERS": "train.optimizer", "LR_SCHEDULES": "train.lr_schedule",
    "DECAY_KINDS": "train.regularization.decay", "POOLS": "attention.pool",
}


def _literal_paths(cls=AutoencoderSpec, prefix=""):
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        if typing.get_origin(tp) is typing.Literal:
            yield prefix + f.name, typing.get_args(tp)
        elif dataclasses.is_dataclass(tp):
            yield from _literal_paths(tp, f"{prefix}{f.name}.")


@pytest.mark.parametrize("name, path", CHOICE_TUPLES.items())
def test_choice_tuples_are_the_literal_types(name, path):
    assert getattr(spec_module, name) == typing.get_args(field_type(path)) == choices(path)


def test_every_literal_field_has_its_choices_and_a_tuple():
    found = dict(_literal_paths())
    assert set(found) >= set(CHOICE_TUPLES.values())
    tuples = {getattr(spec_module, name) for name in CHOICE_TUPLES}
    for path, args in found.items():
        assert choices(path) == args and args in tuples, path
    assert choices("encoder.layers[1].activation") == spec_module.ACTIVATIONS


# --- bounds: validation rejects exactly what lies outside them ------------------------------------------------
# A spec that uses each field, so validation looks at it.
CONTEXT = {"attention.": "attention", "capsule.": "capsule", "objective.sparsity.target": "sparse-kl",
           "objective.sparsity.": "sparse-l1", "objective.noise.": "denoising", "objective.variational.": "vae",
           "objective.contractive.": "contractive", "objective.adversarial.": "aae",
           "objective.stacked.": "stacked", "layers[].channels": "conv", "layers[].kernel": "conv",
           "layers[].stride": "conv"}
# At these fields' highest value another rule (the kernel must fit its feature map, the patch must
# tile the image, the sparse layer must exist) also speaks, so only the step past it is checked.
OTHER_RULE_AT_TOP = {"attention.patch_size", "capsule.primary_kernel", "layers[].kernel", "objective.sparsity.layer"}


def _context(path: str) -> tuple[AutoencoderSpec, str]:
    name = next((preset for prefix, preset in CONTEXT.items() if path.startswith(prefix)), "ae")
    spec = get_preset(name)
    if path == "objective.adversarial.mixture_components":
        spec.objective.adversarial.prior = "mixture"
    return spec, path.replace("layers[]", "encoder.layers[0]")


def _set(spec, path: str, value) -> None:
    parts = path.replace("[0]", ".0").split(".")
    obj = spec
    for part in parts[:-1]:
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    setattr(obj, parts[-1], value)


def _flagged(path: str, value) -> bool:
    spec, where = _context(path)
    _set(spec, where, value)
    return where in [p for p, _ in validate(spec)]


def _outside(bound, direction: float):
    return bound + int(direction) if isinstance(bound, int) else math.nextafter(float(bound), direction * math.inf)


@pytest.mark.parametrize("path", BOUNDED)
def test_validation_rejects_exactly_outside_the_bounds(path):
    info = field_info(path)
    whole = field_type(path) is int or int in typing.get_args(field_type(path))
    for bound, is_open, out in ((info.lo, info.lo_open, -1.0), (info.hi, info.hi_open, 1.0)):
        if bound is None:
            continue
        value = bound if whole else float(bound)
        assert _flagged(path, _outside(value, out)), f"{path}: {_outside(value, out)} is outside"
        inward = _outside(value, -out)
        if is_open:
            assert _flagged(path, value), f"{path}: {value} is left out"
        if not (out > 0 and path in OTHER_RULE_AT_TOP):
            assert not _flagged(path, inward if is_open else value), f"{path}: {value} is inside"


def test_every_bounded_field_is_a_number_field_of_the_spec():
    for path in FIELDS:
        tp = field_type(path)  # raises for a path that no longer names a field
        if path in BOUNDED:
            assert tp in (int, float) or int in typing.get_args(tp), path


def test_the_seed_takes_every_value_the_generators_take():
    info = field_info("train.seed")
    assert (info.lo, info.hi) == (0, 2 ** 64 - 1)
    spec = get_preset("ae")
    spec.train.seed = 2 ** 64 - 1
    assert validate(spec) == []


def test_a_bound_problem_names_the_range_where_the_range_is_the_point():
    spec = get_preset("ae")
    spec.train.val_fraction = 0.95
    spec.encoder.layers[0].dropout = 1.0
    spec.train.lr = 2e6
    assert dict(validate(spec)) == {"encoder.layers[0].dropout": "must be from 0 up to (not including) 1; it is 1.0",
                                    "train.lr": "the learning rate must be at most 1e+06; it is 2000000.0",
                                    "train.val_fraction": "must be from 0 to 0.9; it is 0.95"}


# --- the capsule code -----------------------------------------------------------------------------------
def test_the_capsule_code_is_capsules_times_their_size():
    spec = get_preset("capsule")
    assert capsule_code_size(spec) == code_size(spec) == spec.code_dim == spec.latent.dim == 80
    assert set_code_size(spec, 36) == "a capsule code is a whole number of capsules of 8"
    assert (spec.capsule.num_capsules, spec.latent.dim) == (10, 80)  # refused: unchanged
    assert set_code_size(spec, 48) == ""
    assert (spec.capsule.num_capsules, spec.latent.dim) == (6, 48) and validate(spec) == []
    plain = get_preset("ae")
    assert set_code_size(plain, 36) == "" and code_size(plain) == plain.latent.dim == 36


# --- a dataset for a spec ----------------------------------------------------------------------------------
def _images(name="digits", shape=(1, 28, 28), dtype=np.uint8, lo=0.0, hi=1.0):
    x = np.linspace(lo, hi, 4 * int(np.prod(shape))).reshape(4, *shape)
    return Dataset(name, (x * 255).astype(np.uint8) if dtype == np.uint8 else x.astype(dtype), "image")


def test_a_fitting_dataset_has_no_problem():
    spec = get_preset("ae")
    assert input_fits(spec, _images()) and dataset_fit_problem(spec, _images()) is None
    assert dataset_fit_problem(spec, _images(dtype=np.float32)) is None  # floats within 0..1


def test_a_dataset_of_another_shape_or_kind_is_named():
    spec = get_preset("ae")
    small = _images("small", (1, 14, 14))
    assert not input_fits(spec, small)
    assert dataset_fit_problem(spec, small) == ("the model expects image input of shape [1, 28, 28], but dataset "
                                                "'small' holds image samples of shape [1, 14, 14]")
    table = Dataset("table", np.zeros((4, 784), np.float32), "vector")
    assert "holds vector samples of shape [784]" in dataset_fit_problem(spec, table)


def test_bernoulli_needs_values_from_0_to_1():
    spec = get_preset("ae")
    wide = _images("wide", dtype=np.float32, lo=-2.0, hi=3.0)
    assert dataset_fit_problem(spec, wide) == ("the bernoulli likelihood needs values from 0 to 1, but dataset 'wide' "
                                               "ranges from -2 to 3; choose the gaussian likelihood")
    spec.likelihood = "gaussian"
    assert dataset_fit_problem(spec, wide) is None


# --- fields a spec does not use, and the builder's edits ---------------------------------------------------
def test_unused_paths_follow_the_objective():
    spec = get_preset("sparse-l1")
    off = unused_paths(spec)
    assert "objective.sparsity.target" in off and "objective.sparsity.weight" not in off
    assert "objective.noise.level" in off and "objective.variational.beta" in off
    assert "latent.dim" in unused_paths(get_preset("capsule"))
    for path in unused_paths(get_preset("ae")):
        get_path(get_preset("ae"), path)  # every unused path names a real field


def test_switching_family_keeps_the_spec_valid():
    spec = get_preset("ae")
    spec.family = "conv"
    retarget_family_layers(spec)
    assert spec.encoder.layers[0].channels == 64 and validate(spec) == []
    spec.family = "capsule"
    retarget_family_layers(spec)
    assert spec.latent.dim == capsule_code_size(spec)


def test_an_unmirrored_decoder_starts_as_the_mirror():
    spec = get_preset("deep")
    assert [layer.units for layer in mirrored_decoder_layers(spec)] == [128, 256, 512]
    conv = get_preset("conv")
    assert [(layer.channels, layer.stride) for layer in mirrored_decoder_layers(conv)] == [(32, 2), (32, 2)]
    conv.decoder.mirror, conv.decoder.layers = False, mirrored_decoder_layers(conv)
    assert validate(conv) == []
    assert mirrored_decoder_layers(get_preset("attention")) == []


def test_the_blank_spec_is_valid_for_its_input():
    spec = blank_spec("vector", (20,))
    assert spec.encoder.layers == [LayerSpec(units=128)] and spec.input.shape == (20,)
    assert validate(spec) == []
