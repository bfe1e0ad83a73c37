"""The Draw tab's numbers: noise statistics match their controls, metrics match scikit-image,
MNIST-style preprocessing centres a drawing, and undo/redo restores strokes exactly."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aegui.core.canvas_ops import (StrokeHistory, apply_noise, correlation, mnist_preprocess, mse,
                                   noise_layer, psnr, ssim)
from aegui.core.data import load_dataset
from aegui.core.objectives import corrupt

GREY = np.full((128, 128), 0.5, dtype=np.float32)


# --- noise -------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.2])
def test_gaussian_noise_has_the_sigma_the_control_says(sigma):
    noisy = apply_noise(GREY, noise_layer(GREY.shape, "gaussian", sigma, seed=1))
    # 0.5 ± 0.2 clips almost nothing (2.5 σ), so the measured σ is the setting's.
    assert float((noisy - GREY).std()) == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3])
def test_salt_and_pepper_flips_the_fraction_p_half_to_each_end(p):
    image = np.full((256, 256), 0.5, dtype=np.float32)  # 65536 draws: p = 0.05 is measured to ±2 %
    noisy = apply_noise(image, noise_layer(image.shape, "salt_pepper", p, seed=2))
    assert float((noisy != image).mean()) == pytest.approx(p, rel=0.05)
    assert float((noisy == 0).mean()) == pytest.approx(p / 2, rel=0.08)
    assert set(np.unique(noisy)) <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize("block", [1, 4])
@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_masking_sets_the_fraction_rate_to_zero_in_blocks(block, rate):
    image = np.full((256, 256), 0.5, dtype=np.float32)
    noisy = apply_noise(image, noise_layer(image.shape, "masking", rate, seed=3, block=block))
    masked = noisy == 0
    assert float(masked.mean()) == pytest.approx(rate, rel=0.05)
    # Each block×block square is masked whole or not at all.
    squares = masked.reshape(256 // block, block, 256 // block, block).mean(axis=(1, 3))
    assert set(np.unique(squares)) <= {0.0, 1.0}


def test_masking_blocks_cover_a_size_that_is_not_a_multiple_of_the_block():
    image = np.full((30, 29), 0.5, dtype=np.float32)
    noisy = apply_noise(image, noise_layer(image.shape, "masking", 0.5, seed=4, block=4))
    assert noisy.shape == image.shape
    assert 0 < float((noisy == 0).mean()) < 1


def test_the_same_seed_gives_the_same_noise_and_a_new_seed_new_noise():
    first = apply_noise(GREY, noise_layer(GREY.shape, "gaussian", 0.2, seed=7))
    again = apply_noise(GREY, noise_layer(GREY.shape, "gaussian", 0.2, seed=7))
    rerolled = apply_noise(GREY, noise_layer(GREY.shape, "gaussian", 0.2, seed=8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, rerolled)


def test_noise_never_changes_the_clean_drawing():
    clean = GREY.copy()
    apply_noise(clean, noise_layer(clean.shape, "salt_pepper", 0.5, seed=1))
    np.testing.assert_array_equal(clean, GREY)


def test_raising_the_level_with_one_seed_only_adds_flips():
    """A fixed seed keeps the pattern still while the level slider moves."""
    low = apply_noise(GREY, noise_layer(GREY.shape, "salt_pepper", 0.1, seed=5)) != GREY
    high = apply_noise(GREY, noise_layer(GREY.shape, "salt_pepper", 0.3, seed=5)) != GREY
    assert np.all(high[low])


def test_a_brush_mask_confines_the_noise():
    mask = np.zeros(GREY.shape, dtype=bool)
    mask[40:80, 10:50] = True
    noisy = apply_noise(GREY, noise_layer(GREY.shape, "gaussian", 0.2, seed=1), mask=mask)
    np.testing.assert_array_equal(noisy[~mask], GREY[~mask])
    assert float((noisy[mask] - 0.5).std()) == pytest.approx(0.2, rel=0.05)


def test_a_soft_brush_mask_scales_the_noise():
    layer = noise_layer(GREY.shape, "gaussian", 0.1, seed=1)
    half = apply_noise(GREY, layer, mask=np.full(GREY.shape, 0.5))
    full = apply_noise(GREY, layer)
    np.testing.assert_allclose(half - GREY, (full - GREY) / 2, atol=1e-6)


def test_the_layer_makes_the_same_noise_as_training_corruption():
    """The canvas shows the corruption the denoising model learnt from: objectives.corrupt's."""
    image = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    for kind in ("gaussian", "salt_pepper", "masking"):
        layer = noise_layer(image.shape, kind, 0.3, seed=9)
        draw = torch.from_numpy(layer.draw)
        draws = {"normal": draw} if kind == "gaussian" else {"uniform": draw}
        expected = corrupt(torch.from_numpy(image), kind, 0.3, **draws).numpy()
        np.testing.assert_array_equal(apply_noise(image, layer), expected)


def test_noise_is_scaled_and_clipped_to_the_value_range():
    signal = np.zeros(20000, dtype=np.float32)
    mild = apply_noise(signal, noise_layer(signal.shape, "gaussian", 0.1, seed=1), value_range=(-2.0, 2.0))
    assert float(mild.std()) == pytest.approx(0.4, rel=0.03)  # σ = level × range width, as corrupt
    strong = apply_noise(signal, noise_layer(signal.shape, "gaussian", 1.0, seed=1), value_range=(-2.0, 2.0))
    assert strong.min() == -2.0 and strong.max() == 2.0


def test_an_unknown_noise_kind_or_a_mismatched_shape_is_refused():
    with pytest.raises(ValueError, match="unknown noise kind"):
        noise_layer((4, 4), "speckle", 0.1, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        apply_noise(np.zeros((5, 5)), noise_layer((4, 4), "gaussian", 0.1, seed=0))


# --- metrics ---------------------------------------------------------------------


def test_psnr_of_a_known_mse():
    reference = np.zeros((10, 10))
    test = np.full((10, 10), 0.1)  # MSE 0.01 → 20 dB at range 1, 40 dB at range 10
    assert mse(reference, test) == pytest.approx(0.01)
    assert psnr(reference, test) == pytest.approx(20.0)
    assert psnr(reference, test, data_range=10.0) == pytest.approx(40.0)
    assert psnr(reference, reference) == math.inf


def test_ssim_of_identical_images_is_one_and_falls_with_noise():
    image = np.random.default_rng(1).random((32, 32))
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = [np.clip(image + np.random.default_rng(2).normal(0, s, image.shape), 0, 1) for s in (0.05, 0.2)]
    assert 1.0 > ssim(image, noisy[0]) > ssim(image, noisy[1])


def test_ssim_at_one_window_position_is_the_hand_written_formula():
    """An 11×11 image has one position where the whole gaussian window fits: the formula by hand."""
    rng = np.random.default_rng(3)
    x, y = rng.random((11, 11)), rng.random((11, 11))
    taps = np.exp(-0.5 * (np.arange(-5, 6) / 1.5) ** 2)
    w = np.outer(taps, taps) / taps.sum() ** 2
    ux, uy = (w * x).sum(), (w * y).sum()
    vx, vy = (w * (x - ux) ** 2).sum(), (w * (y - uy) ** 2).sum()
    vxy = (w * (x - ux) * (y - uy)).sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    expected = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    assert ssim(x, y) == pytest.approx(expected, abs=1e-12)


def test_ssim_of_a_colour_image_is_the_mean_over_channels():
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 20, 20)), rng.random((3, 20, 20))
    assert ssim(a, b) == pytest.approx(np.mean([ssim(a[c], b[c]) for c in range(3)]))


def _test_images() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    pairs = []
    for shape in [(28, 28), (64, 48), (3, 32, 32)]:
        image = rng.random(shape)
        pairs.append((image, np.clip(image + rng.normal(0, 0.1, shape), 0, 1)))
    ramp = np.tile(np.linspace(0, 1, 40), (40, 1))
    pairs.append((ramp, ramp.T))
    digits = load_dataset("mnist5k", limit=4).x[:, 0].astype(np.float64) / 255
    pairs.append((digits[0], np.clip(digits[0] + rng.normal(0, 0.3, digits[0].shape), 0, 1)))
    pairs.append((digits[1], digits[2]))
    return pairs


@pytest.mark.parametrize("gaussian_weights", [True, False])
def test_ssim_and_psnr_match_scikit_image(gaussian_weights):
    metrics = pytest.importorskip("skimage.metrics")
    for reference, test in _test_images():
        channel = {"channel_axis": 0} if reference.ndim == 3 else {}
        options = ({"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
                   if gaussian_weights else {})
        expected = metrics.structural_similarity(reference, test, data_range=1.0, **options, **channel)
        assert ssim(reference, test, gaussian_weights=gaussian_weights) == pytest.approx(expected, abs=1e-3)
        assert psnr(reference, test) == pytest.approx(metrics.peak_signal_noise_ratio(reference, test,
                                                                                     data_range=1.0))


def test_correlation_of_signals():
    t = np.linspace(0, 6, 200)
    assert correlation(np.sin(t), 3 * np.sin(t) + 1) == pytest.approx(1.0)
    assert correlation(np.sin(t), -np.sin(t)) == pytest.approx(-1.0)
    assert correlation(np.sin(t), np.random.default_rng(6).random(200)) == pytest.approx(0.0, abs=0.2)
    assert math.isnan(correlation(np.ones(5), np.arange(5.0)))
    assert mse(np.sin(t), np.sin(t) + 0.5) == pytest.approx(0.25)


# --- MNIST-style preprocessing -------------------------------------------------------


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    mass = image.sum()
    return (float(image.sum(axis=1) @ np.arange(image.shape[0]) / mass),
            float(image.sum(axis=0) @ np.arange(image.shape[1]) / mass))


@pytest.mark.parametrize("canvas", [28, 280])
def test_preprocessing_centres_an_off_centre_drawing_and_fits_it_in_20_pixels(canvas):
    drawing = np.zeros((canvas, canvas), dtype=np.float32)
    k = canvas // 28
    drawing[2 * k:9 * k, 3 * k:20 * k] = 1.0   # a wide bar near the top-left
    drawing[9 * k:12 * k, 3 * k:6 * k] = 1.0   # and a foot, so the centre of mass is not the box's
    out = mnist_preprocess(drawing)
    assert out.shape == (28, 28)
    centre_y, centre_x = _centre_of_mass(out)
    assert abs(centre_y - 14.0) <= 0.5 and abs(centre_x - 14.0) <= 0.5
    rows, cols = np.nonzero(out > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 20
    assert np.ptp(cols) + 1 == 20  # the long side fills the box


def test_preprocessing_leaves_an_already_centred_mnist_digit_almost_unchanged():
    digits = load_dataset("mnist5k", limit=50).x[:, 0].astype(np.float32) / 255
    changes = [float(np.abs(mnist_preprocess(d) - d).mean()) for d in digits]
    assert max(changes) < 0.01


def test_preprocessing_returns_an_empty_drawing_unchanged():
    empty = np.zeros((40, 40), dtype=np.float32)
    np.testing.assert_array_equal(mnist_preprocess(empty), empty)


# --- undo / redo -----------------------------------------------------------------


def test_undo_restores_the_layer_exactly_and_redo_reapplies_the_stroke():
    history = StrokeHistory()
    layer = np.random.default_rng(7).random((28, 28)).astype(np.float32)
    before = layer.copy()
    history.push(layer)
    layer[10:14, 5:20] = 1.0  # the stroke, drawn in place
    stroked = layer.copy()
    layer = history.undo(layer)
    np.testing.assert_array_equal(layer, before)
    assert history.can_redo and not history.can_undo
    layer = history.redo(layer)
    np.testing.assert_array_equal(layer, stroked)
    assert history.can_undo and not history.can_redo


def test_a_new_stroke_after_undo_ends_the_redo_branch_and_empty_history_is_a_no_op():
    history = StrokeHistory()
    layer = np.zeros((4, 4))
    assert history.undo(layer) is layer and history.redo(layer) is layer
    history.push(layer)
    layer = history.undo(np.ones((4, 4)))
    history.push(layer)
    assert not history.can_redo


def test_history_depth_is_bounded():
    history = StrokeHistory(depth=3)
    for value in range(10):
        history.push(np.full((2, 2), value))
    undone = []
    layer = np.full((2, 2), 10)
    while history.can_undo:
        layer = history.undo(layer)
        undone.append(int(layer[0, 0]))
    assert undone == [9, 8, 7]
