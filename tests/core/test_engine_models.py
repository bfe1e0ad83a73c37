"""Model building: biases on/off and their start values, tied weights, and the objective's pieces."""
from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

from aegui.core import objectives as O
from aegui.core.models import build_model, count_parameters, layer_shapes
from aegui.core.presets import get_preset, preset_names
from aegui.core.spec import AutoencoderSpec, EncoderSpec, LatentSpec, LayerSpec, set_all_biases


def _extra_specs() -> dict[str, AutoencoderSpec]:
    """Variants the presets do not cover: batch norm, mean pooling, a VAE attention model, tied weights."""
    conv_bn = get_preset("conv")
    for layer in conv_bn.encoder.layers:
        layer.batch_norm = True
    mlp_bn = get_preset("deep")
    mlp_bn.encoder.layers[0].batch_norm = True
    attn_mean = get_preset("attention")
    attn_mean.attention.pool = "mean"
    attn_vae = get_preset("attention")
    attn_vae.objective.variational.enabled = True
    tied = get_preset("deep")
    tied.decoder.tied_weights = True
    seq_conv = get_preset("conv", "sequence", (32, 3))
    caps_two = get_preset("capsule")
    caps_two.encoder.layers.append(LayerSpec(channels=16, kernel=3, stride=1, batch_norm=True))
    return {"conv+bn": conv_bn, "deep+bn": mlp_bn, "attention-mean": attn_mean, "attention-vae": attn_vae,
            "tied": tied, "conv-sequence": seq_conv, "capsule+bn": caps_two}


ALL_SPECS = {**{name: get_preset(name) for name in preset_names()}, **_extra_specs()}


def _build(spec: AutoencoderSpec, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(spec)


@pytest.mark.parametrize("name", list(ALL_SPECS))
def test_biases_off_leaves_no_bias_parameter(name):
    spec = set_all_biases(ALL_SPECS[name], False)
    model = _build(spec)
    with_bias = [n for n, _ in model.named_parameters() if "bias" in n]
    assert with_bias == []
    # Nothing bias-like hides in modules under another name either.
    for mod_name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd, nn.LayerNorm)):
            assert getattr(module, "bias", None) is None, mod_name
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            assert not module.affine, mod_name
        if isinstance(module, nn.MultiheadAttention):
            assert module.in_proj_bias is None and module.bias_k is None, mod_name
    assert model.output_bias_image() is None
    # And it still runs.
    x = torch.rand(2, *spec.input.shape)
    assert model(x)[0].shape == x.shape


@pytest.mark.parametrize("name", list(ALL_SPECS))
def test_biases_on_is_the_preset_default_and_fewer_parameters_without(name):
    spec = ALL_SPECS[name]
    with_bias = [n for n, _ in _build(spec).named_parameters() if "bias" in n]
    assert with_bias, "presets keep their biases"
    assert count_parameters(_build(set_all_biases(spec, False))) < count_parameters(_build(spec))


def test_set_all_biases_returns_a_copy():
    spec = get_preset("deep")
    off = set_all_biases(spec, False)
    assert all(layer.bias for layer in spec.encoder.layers) and spec.decoder.output_bias
    assert not any(layer.bias for layer in off.encoder.layers) and not off.decoder.output_bias and not off.latent.bias


def _bias_values(modules) -> list[torch.Tensor]:
    return [m.bias.detach() for m in modules if getattr(m, "bias", None) is not None]


@pytest.mark.parametrize("name", ["ae", "deep", "stacked", "sparse-kl", "contractive", "aae"])
def test_bias_init_reaches_every_linear_layer_of_an_mlp(name):
    spec = set_all_biases(get_preset(name), True, 0.5)
    model = _build(spec)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2 * len(spec.encoder.layers) + 2
    for bias in _bias_values(linears):
        assert torch.all(bias == 0.5)


def test_bias_init_of_each_kind_of_layer_separately():
    spec = get_preset("deep")
    spec.encoder.layers[0].bias_init = 0.5
    spec.encoder.layers[1].bias_init = -0.25
    spec.latent.bias_init = 0.125
    spec.decoder.output_bias_init = -2.0
    model = _build(spec)
    assert torch.all(model.encoder_blocks[0].linear.bias == 0.5)
    assert torch.all(model.encoder_blocks[1].linear.bias == -0.25)
    assert torch.all(model.encoder_blocks[2].linear.bias == 0.0)
    assert torch.all(model.head.mu.bias == 0.125)
    # The mirrored decoder layer k takes encoder layer k's settings: blocks run 128, 256, 512.
    assert torch.all(model.decoder_blocks[1].linear.bias == -0.25)
    assert torch.all(model.decoder_blocks[2].linear.bias == 0.5)
    assert torch.all(model.output.bias == -2.0)
    assert torch.all(model.output_bias_image() == -2.0) and model.output_bias_image().shape == (1, 28, 28)


def test_bias_init_in_conv_models():
    spec = set_all_biases(get_preset("conv-vae"), True, 0.5)
    spec.decoder.output_bias_init = -1.0
    model = _build(spec)
    convs = [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    assert len(convs) == 4  # two convs, one mirrored deconv, the output deconv
    for conv in convs[:-1]:
        assert torch.all(conv.bias == 0.5)
    assert torch.all(model.output.bias == -1.0)
    assert torch.all(model.head.mu.bias == 0.5) and torch.all(model.expand[0].bias == 0.5)
    assert torch.all(model.output_bias_image() == -1.0) and model.output_bias_image().shape == (1, 28, 28)


def test_bias_init_in_attention_and_capsule_models():
    spec = set_all_biases(get_preset("attention"), True, 0.5)
    spec.decoder.output_bias_init = -1.0
    model = _build(spec)
    assert torch.all(model.embed.bias == 0.5) and torch.all(model.head.mu.bias == 0.5)
    assert torch.all(model.output.bias == -1.0)
    assert torch.all(model.output_bias_image() == -1.0) and model.output_bias_image().shape == (1, 28, 28)

    spec = set_all_biases(get_preset("capsule"), True, 0.5)
    spec.decoder.output_bias_init = -1.0
    model = _build(spec)
    assert torch.all(model.features[0][0].bias == 0.5) and torch.all(model.primary.bias == 0.5)
    assert torch.all(model.output.bias == -1.0)


def test_tied_weights_share_the_encoder_weights():
    spec = get_preset("deep")
    spec.decoder.tied_weights = True
    spec.decoder.output_bias_init = 0.25
    model = _build(spec)
    untied = _build(get_preset("deep"))
    # Only the decoder's weight matrices go; its biases stay.
    weights = sum(m.weight.numel() for m in untied.decoder_blocks.modules() if isinstance(m, nn.Linear))
    weights += untied.output.weight.numel()
    assert count_parameters(model) == count_parameters(untied) - weights
    assert torch.equal(model.output.weight, model.encoder_blocks[0].linear.weight.t())
    assert torch.all(model.output.bias == 0.25)
    # Training the encoder moves the decoder with it.
    with torch.no_grad():
        model.encoder_blocks[0].linear.weight.add_(1.0)
    assert torch.equal(model.output.weight, model.encoder_blocks[0].linear.weight.t())
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(names))
    assert not any(n.startswith("output.") and n.endswith("weight") for n in names)


@pytest.mark.parametrize("name", preset_names())
def test_decoder_output_has_the_input_shape_and_layer_shapes_end_there(name):
    spec = get_preset(name)
    model = _build(spec)
    x = torch.rand(4, *spec.input.shape)
    logits, encoded = model(x)
    assert logits.shape == x.shape
    assert encoded.code.shape == (4, spec.code_dim)
    shapes = layer_shapes(model)
    assert shapes and all(isinstance(s, tuple) for _, s in shapes)


# --- objective pieces ------------------------------------------------------------------------------------
def _one_layer_sigmoid_model(seed: int = 0):
    spec = AutoencoderSpec(encoder=EncoderSpec([]), latent=LatentSpec(dim=12, activation="sigmoid"))
    spec.input.kind, spec.input.shape = "vector", (20,)
    spec.objective.contractive.weight = 1.0
    return _build(spec, seed), spec


def _brute_force_jacobian_norm(model, x: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ||d code / d x||_F^2 from the full per-sample Jacobian."""
    total = []
    for row in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None]).mean_code[0], row)
        total.append((jac ** 2).sum())
    return torch.stack(total).mean()


def test_contractive_closed_form_equals_autograd_for_a_one_layer_sigmoid_encoder():
    model, _ = _one_layer_sigmoid_model()
    with torch.no_grad():
        model.head.mu.bias.uniform_(-1, 1)  # away from the symmetric start
    x = torch.rand(6, 20, generator=torch.Generator().manual_seed(1))

    def no_autograd(*args, **kwargs):
        raise AssertionError("the one-layer sigmoid encoder must take the closed-form branch")

    with mock.patch.object(torch.autograd, "grad", no_autograd):
        closed, encoded = O.contractive_penalty(model, x)
    assert encoded.code.shape == (6, 12)
    brute = _brute_force_jacobian_norm(model, x)
    torch.testing.assert_close(closed, brute, rtol=1e-5, atol=1e-7)
    assert O.jacobian_norm(model, x) == pytest.approx(float(brute), rel=1e-5)
    # It is a differentiable penalty: gradients reach the encoder weight.
    closed.backward()
    assert model.head.mu.weight.grad is not None and model.head.mu.weight.grad.abs().sum() > 0


def test_contractive_autograd_branch_equals_brute_force_for_a_deeper_encoder():
    spec = AutoencoderSpec(encoder=EncoderSpec([LayerSpec(units=9, activation="tanh")]),
                           latent=LatentSpec(dim=5, activation="sigmoid"))
    spec.input.kind, spec.input.shape = "vector", (7,)
    model = _build(spec)
    x = torch.rand(4, 7, generator=torch.Generator().manual_seed(2))
    penalty, _ = O.contractive_penalty(model, x)
    torch.testing.assert_close(penalty, _brute_force_jacobian_norm(model, x), rtol=1e-5, atol=1e-7)


def test_corrupt_leaves_the_clean_input_alone_and_stays_in_range():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28, generator=gen)
    keep = x.clone()
    torch.manual_seed(0)
    for kind, level in [("gaussian", 0.4), ("masking", 0.3), ("salt_pepper", 0.2)]:
        noisy = O.corrupt(x, kind, level)
        assert torch.equal(x, keep)
        assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
        assert not torch.equal(noisy, x)
    masked = O.corrupt(x, "masking", 0.3)
    assert float((masked == 0).float().mean()) == pytest.approx(0.3, abs=0.02)
    salted = O.corrupt(x, "salt_pepper", 0.2)
    assert float((salted != x).float().mean()) == pytest.approx(0.2, abs=0.02)
    assert O.corrupt(x, "none", 0.5) is x and O.corrupt(x, "gaussian", 0.0) is x


def test_kl_per_dim_is_non_negative_and_zero_at_the_prior():
    gen = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(50, 8, generator=gen) * 3, torch.randn(50, 8, generator=gen) * 3
    assert torch.all(O.kl_per_dim(mu, logvar) >= 0)
    assert torch.all(O.kl_per_dim(torch.zeros(5, 4), torch.zeros(5, 4)) == 0)
    per_dim = torch.tensor([0.01, 0.5, 2.0])
    assert float(O.kl_loss(per_dim, 0.0)) == pytest.approx(2.51)
    assert float(O.kl_loss(per_dim, 0.25)) == pytest.approx(0.25 + 0.5 + 2.0)


def test_kl_sparsity_is_zero_at_the_target_and_positive_elsewhere():
    at_target = torch.full((10, 4), 0.05)
    assert float(O.kl_sparsity(at_target, 0.05)) == pytest.approx(0.0, abs=1e-6)
    assert float(O.kl_sparsity(torch.full((10, 4), 0.5), 0.05)) > 0.1
