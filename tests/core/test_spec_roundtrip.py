"""AutoencoderSpec <-> JSON: lossless round trips and strict, path-naming loading errors."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegui.core.presets import get_preset, preset_names
from aegui.core.serialize import MAX_INTEGER_DIGITS, SpecError
from aegui.core.spec import (
    ACTIVATIONS, DECAY_KINDS, FAMILIES, INPUT_KINDS, LIKELIHOODS, LR_SCHEDULES, NOISE_KINDS, OPTIMIZERS, POOLS,
    PRIORS, SCHEMA_VERSION, SPARSITY_KINDS, AdversarialSpec, AttentionSpec, AutoencoderSpec, CapsuleSpec,
    ContractiveSpec, DecoderSpec, EncoderSpec, InputSpec, LatentSpec, LayerSpec, NoiseSpec, ObjectiveSpec,
    RegularizationSpec, SparsitySpec, StackedSpec, TrainSpec, VariationalSpec,
)

# --- strategies: any well-typed spec, valid as a model or not ---------------------------------------
# Only what a spec file may hold: NaN and infinity are refused by the loader (test_spec_hostile.py),
# as are integers of more than MAX_INTEGER_DIGITS digits.
floats = st.floats(allow_nan=False, allow_infinity=False)
ints = st.integers(-(10 ** MAX_INTEGER_DIGITS - 1), 10 ** MAX_INTEGER_DIGITS - 1)
text = st.text(max_size=24)
opt_int = st.none() | ints
int_tuple = st.lists(ints, max_size=5).map(tuple)

layers = st.builds(
    LayerSpec, units=opt_int, channels=opt_int, kernel=ints, stride=ints, activation=st.sampled_from(ACTIVATIONS),
    bias=st.booleans(), bias_init=floats, batch_norm=st.booleans(), dropout=floats,
)
spec_strategy = st.builds(
    AutoencoderSpec,
    schema_version=st.just(SCHEMA_VERSION),
    name=text,
    description=text,
    input=st.builds(InputSpec, kind=st.sampled_from(INPUT_KINDS), shape=int_tuple),
    family=st.sampled_from(FAMILIES),
    encoder=st.builds(EncoderSpec, layers=st.lists(layers, max_size=4)),
    latent=st.builds(LatentSpec, dim=ints, activation=st.sampled_from(ACTIVATIONS), bias=st.booleans(),
                     bias_init=floats),
    decoder=st.builds(DecoderSpec, mirror=st.booleans(), layers=st.lists(layers, max_size=3),
                      tied_weights=st.booleans(), output_bias=st.booleans(), output_bias_init=floats),
    likelihood=st.sampled_from(LIKELIHOODS),
    attention=st.builds(AttentionSpec, patch_size=ints, heads=ints, pool=st.sampled_from(POOLS),
                        decoder_blocks=ints, memory_tokens=ints),
    capsule=st.builds(CapsuleSpec, primary_channels=ints, primary_dim=ints, primary_kernel=ints,
                      primary_stride=ints, num_capsules=ints, capsule_dim=ints, routing_iterations=ints,
                      decoder_units=int_tuple),
    objective=st.builds(
        ObjectiveSpec,
        sparsity=st.builds(SparsitySpec, kind=st.sampled_from(SPARSITY_KINDS), weight=floats, target=floats,
                           layer=ints),
        noise=st.builds(NoiseSpec, kind=st.sampled_from(NOISE_KINDS), level=floats),
        contractive=st.builds(ContractiveSpec, weight=floats),
        variational=st.builds(VariationalSpec, enabled=st.booleans(), beta=floats, warmup_epochs=floats,
                              free_bits=floats),
        adversarial=st.builds(AdversarialSpec, enabled=st.booleans(), prior=st.sampled_from(PRIORS),
                              mixture_components=ints, weight=floats, hidden_units=ints, disc_lr=floats),
        stacked=st.builds(StackedSpec, pretrain=st.booleans(), epochs_per_layer=ints),
    ),
    train=st.builds(
        TrainSpec, epochs=ints, batch_size=ints, lr=floats, optimizer=st.sampled_from(OPTIMIZERS),
        regularization=st.builds(RegularizationSpec, decay=st.sampled_from(DECAY_KINDS), weight_decay=floats,
                                 bias_decay=floats, grad_clip=floats),
        val_fraction=floats, patience=ints, lr_schedule=st.sampled_from(LR_SCHEDULES), seed=ints, device=text,
        amp=st.booleans(), report_interval_s=floats, report_every_steps=ints, snapshot_size=ints,
    ),
)

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(spec_strategy)
def test_any_spec_survives_a_json_round_trip(spec):
    text_ = spec.to_json()
    back = AutoencoderSpec.from_json(text_)
    assert back == spec
    # Tuples stay tuples (not lists), so the reloaded spec is usable as the original was.
    assert isinstance(back.input.shape, tuple) and isinstance(back.capsule.decoder_units, tuple)
    assert back.to_json() == text_
    assert AutoencoderSpec.from_dict(json.loads(text_)) == spec


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips_through_json_and_a_file(name, tmp_path):
    spec = get_preset(name)
    assert AutoencoderSpec.from_json(spec.to_json()) == spec
    path = tmp_path / f"{name}.json"
    spec.save(path)
    assert AutoencoderSpec.load(path) == spec
    # get_preset hands out fresh copies: changing one must not change the next.
    spec.train.epochs = 999
    assert get_preset(name).train.epochs != 999


def test_there_are_fifteen_presets_with_descriptions():
    names = preset_names()
    assert len(names) == 15 and len(set(names)) == 15
    assert all(get_preset(n).description for n in names)


def test_missing_keys_take_their_defaults():
    spec = AutoencoderSpec.from_json('{"name": "tiny", "train": {"epochs": 3}}')
    expected = AutoencoderSpec(name="tiny")
    expected.train.epochs = 3
    assert spec == expected


def test_whole_number_floats_load_into_int_fields_and_ints_into_float_fields():
    spec = AutoencoderSpec.from_json('{"latent": {"dim": 16.0}, "train": {"lr": 1}}')
    assert spec.latent.dim == 16 and isinstance(spec.latent.dim, int)
    assert spec.train.lr == 1.0 and isinstance(spec.train.lr, float)


# --- strict loading: every problem names its field path ------------------------------------------------
def _issues(data) -> list[tuple[str, str]]:
    text_ = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.from_json(text_)
    assert info.value.issues, "a SpecError must carry at least one (path, message)"
    return info.value.issues


def _paths(data) -> list[str]:
    return [p for p, _ in _issues(data)]


def test_unknown_key_is_named_with_its_full_path():
    issues = _issues({"encoder": {"layers": [{"units": 64}, {"unit": 32}]}})
    assert len(issues) == 1
    path, message = issues[0]
    assert path == "encoder.layers[1].unit"
    assert "unknown field" in message and "units" in message  # lists the known fields


def test_unknown_top_level_key():
    issues = _issues({"encodr": {}})
    assert [p for p, _ in issues] == ["encodr"]
    assert "unknown field" in issues[0][1] and "encoder" in issues[0][1]


@pytest.mark.parametrize("data, path, words", [
    ({"encoder": {"layers": [{"units": "many"}]}}, "encoder.layers[0].units", "whole number"),
    ({"encoder": {"layers": [{"units": 2.5}]}}, "encoder.layers[0].units", "whole number"),
    ({"encoder": {"layers": [{"bias": "yes"}]}}, "encoder.layers[0].bias", "true or false"),
    ({"latent": {"dim": True}}, "latent.dim", "whole number"),
    ({"train": {"lr": "fast"}}, "train.lr", "number"),
    ({"train": {"lr": False}}, "train.lr", "number"),
    ({"train": 5}, "train", "object"),
    ({"encoder": {"layers": {"units": 3}}}, "encoder.layers", "list"),
    ({"encoder": {"layers": [7]}}, "encoder.layers[0]", "object"),
    ({"input": {"shape": [1, 28, "x"]}}, "input.shape[2]", "whole number"),
    ({"input": {"shape": 28}}, "input.shape", "list"),
    ({"family": "rnn"}, "family", "'rnn'"),
    ({"latent": {"activation": "swish"}}, "latent.activation", "'swish'"),
    ({"objective": {"noise": {"kind": "blur"}}}, "objective.noise.kind", "'blur'"),
    ({"name": 3}, "name", "text"),
    ({"capsule": {"decoder_units": [256, None]}}, "capsule.decoder_units[1]", "whole number"),
])
def test_wrong_type_is_named_with_its_path(data, path, words):
    issues = _issues(data)
    assert [p for p, _ in issues] == [path]
    assert words in issues[0][1]


def test_every_problem_is_reported_at_once():
    issues = _issues({"family": "rnn", "latent": {"dim": "x"}, "train": {"epochs": [], "bogus": 1}})
    assert sorted(p for p, _ in issues) == ["family", "latent.dim", "train.bogus", "train.epochs"]
    err = SpecError(issues)
    assert "(and 3 more problems)" in err.first_line


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 99])
def test_a_newer_schema_version_is_refused(version):
    issues = _issues({"schema_version": version, "name": "x"})
    assert issues[0][0] == "schema_version"
    assert "newer" in issues[0][1] and str(version) in issues[0][1]


@pytest.mark.parametrize("version", [0, -1, "1", 1.5, True])
def test_invalid_schema_versions_are_refused(version):
    assert _paths({"schema_version": version}) == ["schema_version"]


def test_not_json_and_not_an_object():
    issues = _issues('{"name": ')
    assert "not valid JSON" in issues[0][1] and "line 1" in issues[0][1]
    issues = _issues("[1, 2]")
    assert "JSON object" in issues[0][1]


def test_load_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"encoder": {"layers": [{"units": "many"}]}}), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.load(path)
    assert str(path) in str(info.value) and "encoder.layers[0].units" in str(info.value)
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.load(tmp_path / "missing.json")
    assert "cannot read spec file" in str(info.value)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.load(tmp_path / "binary.json")
    assert "UTF-8" in str(info.value)


# --- fuzzing the loader: one field of a real spec replaced by any JSON value ----------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def _leaf_paths(data, prefix=""):
    """(path in the loader's notation, key list) for every value in a spec dict, containers included."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(data, dict):
            path = f"{prefix}.{key}" if prefix else key
        else:
            path = f"{prefix}[{key}]"
        out.append((path, [key]))
        if isinstance(value, (dict, list)) and value:
            out += [(p, [key] + keys) for p, keys in _leaf_paths(value, path)]
    return out


@PROPERTY
@given(st.sampled_from(preset_names()), st.data(), json_values)
def test_a_corrupted_field_is_blamed_on_its_own_path_and_nothing_else_escapes(name, data, value):
    spec_dict = get_preset(name).to_dict()
    path, keys = data.draw(st.sampled_from(_leaf_paths(spec_dict)))
    target = spec_dict
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = copy.deepcopy(value)
    try:
        AutoencoderSpec.from_dict(spec_dict)
    except SpecError as exc:
        for issue_path, message in exc.issues:
            assert issue_path == path or issue_path.startswith((path + ".", path + "[")), (path, exc.issues)
            assert message


def test_an_int_beyond_any_float_in_a_float_field_is_an_error_with_its_path():
    # From a dict (the GUI, a project's session): float(10**400) raised OverflowError, not a SpecError.
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.from_dict({"train": {"lr": 10 ** 400}})
    assert info.value.issues == [("train.lr", "a whole number of about 400 digits is too large for a number")]
    with pytest.raises(SpecError) as info:  # past 4,300 digits Python will not even write the number out
        AutoencoderSpec.from_dict({"train": {"lr": 10 ** 5000, "epochs": [10 ** 5000]}})
    assert sorted(info.value.issues) == [
        ("train.epochs", "expected a whole number, found a list holding a number too long to write out"),
        ("train.lr", "a whole number of about 5,000 digits is too large for a number")]


def test_messages_quote_a_value_short_and_on_one_line():
    issues = _issues(json.dumps({"family": "x" * 200_000, "train": {"epochs": list(range(50_000))},
                                 "line\nbreak" * 1000: 1}))
    assert len(issues) == 3
    for path, message in issues:
        assert len(path) + len(message) < 400 and "\n" not in path + message, (path[:80], message[:80])
