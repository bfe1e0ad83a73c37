"""The explorer's slider, strip and sampling numbers: importance order, ranges, factor names,
interpolation, attribute arithmetic and what a sampling grid is drawn from."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aegui.core import latent_paths as lp
from aegui.core.data import load_dataset
from aegui.core.inference import InferenceModel
from aegui.core.models import build_model
from aegui.core.objectives import mixture_means
from aegui.core.presets import fit_to_input, get_preset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist5k", limit=200, seed=0)


def model_for(preset, data, **adversarial):
    spec = fit_to_input(get_preset(preset), data.kind, data.sample_shape, data.in_unit_range)
    for key, value in adversarial.items():
        setattr(spec.objective.adversarial, key, value)
    torch.manual_seed(0)
    return InferenceModel(spec, build_model(spec).state_dict())


def test_the_widest_dimension_comes_first_for_a_plain_autoencoder():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((500, 4)) * np.array([0.1, 2.0, 0.5, 1.0])
    order = lp.dimension_order(lp.importance(codes))
    assert list(order) == [1, 3, 2, 0]


def test_a_vae_orders_by_kl_not_by_the_spread_of_its_means(digits):
    model = model_for("vae", digits)
    x = digits.as_float(np.arange(100))
    kl = lp.posterior_kl(model, x, chunk=33)
    encoded = model.model.encode(torch.from_numpy(x))
    expected = (0.5 * (encoded.mu ** 2 + encoded.logvar.exp() - 1 - encoded.logvar)).mean(0).detach().numpy()
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-6)
    wide_but_unused = np.zeros_like(kl)
    wide_but_unused[0] = 1e3  # variance would put dimension 0 first; the KL must win
    codes = np.random.default_rng(0).standard_normal((50, model.code_dim)) * np.sqrt(wide_but_unused + 1e-3)
    assert lp.dimension_order(lp.importance(codes, kl))[0] == int(np.argmax(kl))


def test_posterior_kl_refuses_a_plain_autoencoder(digits):
    with pytest.raises(ValueError, match="not variational"):
        lp.posterior_kl(model_for("ae", digits), digits.as_float(np.arange(10)))


def test_slider_ranges_are_three_standard_deviations_about_the_mean():
    codes = np.random.default_rng(1).normal([1.0, -2.0, 5.0], [0.5, 2.0, 0.0], size=(400, 3))
    low, high = lp.slider_ranges(codes)
    mean, std = codes.mean(0), codes.std(0)
    np.testing.assert_allclose(low[:2], (mean - 3 * std)[:2], rtol=1e-5)
    np.testing.assert_allclose(high[:2], (mean + 3 * std)[:2], rtol=1e-5)
    assert low[2] == pytest.approx(2.0) and high[2] == pytest.approx(8.0)  # constant: +-3 around it


def test_each_dimension_is_named_after_the_factor_it_follows():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(300, 3))
    names = ["scale", "x", "y"]
    codes = np.stack([-2 * factors[:, 2] + 0.05 * rng.standard_normal(300),  # follows y, inverted
                      factors[:, 0] + 0.05 * rng.standard_normal(300),  # follows scale
                      rng.standard_normal(300),  # follows nothing
                      np.zeros(300)], axis=1)  # dead
    named = lp.strongest_factors(codes, factors, names)
    assert named[0][0] == "y" and named[0][1] > 0.9
    assert named[1][0] == "scale" and named[1][1] > 0.9
    assert named[2][1] < 0.3
    assert named[3][1] == 0.0


def test_shapes_carries_factors_for_the_chosen_rows():
    data = load_dataset("shapes", limit=60, seed=0)
    rows = np.array([3, 1, 7])
    factors, names = lp.shape_factors(data, rows)
    assert names == ["shape", "scale", "rotation", "x", "y"]
    np.testing.assert_array_equal(factors, data.meta["factors"][rows])
    assert lp.shape_factors(load_dataset("mnist5k", limit=20, seed=0), rows) is None


def test_interpolation_starts_and_ends_at_the_chosen_codes():
    a, b = np.array([1.0, 0.0, 2.0], np.float32), np.array([0.0, 3.0, -1.0], np.float32)
    for how in ("lerp", "slerp"):
        path = lp.interpolation(a, b, how, steps=7)
        assert path.shape == (7, 3)
        np.testing.assert_allclose(path[0], a, atol=1e-6)
        np.testing.assert_allclose(path[-1], b, atol=1e-6)
    with pytest.raises(ValueError):
        lp.interpolation(a, b, "cubic")


def test_attribute_arithmetic_adds_the_class_difference_to_the_pinned_code():
    codes = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 3.0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    vector = lp.attribute_vector(codes, labels, 0, 1)
    np.testing.assert_allclose(vector, [2.0, -2.0])
    pinned = np.array([5.0, 5.0], np.float32)
    strip = lp.attribute_codes(pinned, vector, strength=1.5, steps=4)
    np.testing.assert_allclose(strip[0], pinned)
    np.testing.assert_allclose(strip[-1], pinned + 1.5 * vector)
    np.testing.assert_allclose(lp.attribute_codes(pinned, vector, 0.0, steps=3), np.repeat(pinned[None], 3, 0))
    with pytest.raises(ValueError, match="class 7"):
        lp.attribute_vector(codes, labels, 7, 1)


def test_a_vae_samples_its_prior_and_a_plain_autoencoder_a_fitted_gaussian(digits):
    rng = np.random.default_rng(0)
    codes = rng.normal(4.0, 0.1, size=(300, 20)).astype(np.float32)
    vae = lp.sample_codes(model_for("vae", digits), codes, 64, np.random.default_rng(1))
    assert vae.kind == "prior" and vae.codes.shape == (64, 20)
    assert abs(vae.codes.mean()) < 0.3  # N(0, I), not the codes' 4.0
    ae_model = model_for("ae", digits)
    ae = lp.sample_codes(ae_model, codes[:, :ae_model.code_dim], 64, np.random.default_rng(1))
    assert ae.kind == "fitted gaussian" and "no prior" in ae.title
    assert abs(ae.codes.mean() - 4.0) < 0.1 and ae.codes.std() < 0.2


def test_a_mixture_aae_samples_each_component_in_its_own_row(digits):
    model = model_for("aae", digits, prior="mixture", mixture_components=4)
    samples = lp.sample_codes(model, np.zeros((10, model.code_dim)), 32, np.random.default_rng(0))
    assert samples.kind == "mixture" and samples.columns == 8 and len(samples.captions) == 4
    means = mixture_means(model.code_dim, 4).numpy()
    rows = samples.codes.reshape(4, 8, model.code_dim).mean(axis=1)
    nearest = np.linalg.norm(rows[:, None, :2] - means[None, :, :2], axis=2).argmin(axis=1)
    assert list(nearest) == [0, 1, 2, 3]  # row i sits on component i
    gaussian = lp.sample_codes(model_for("aae", digits), np.zeros((10, model.code_dim)), 16)
    assert gaussian.kind == "prior" and "AAE" in gaussian.title
