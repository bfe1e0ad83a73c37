"""Health readouts that agree with the pictures: the VAE's used dimensions and posterior collapse,
the sparsity panel's target and activity threshold, a conv decoder's bias per channel, separated
kernel tiles, and attention and capsule matrices on a fixed 0..1 scale with a colour bar.

The KL arrays are the ones measured on real mnist5k runs (see code_panels.KL_USED_NATS)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from gui_helpers import draw_dashboard as draw

from aegui.core.reports import Report
from aegui.gui.dashboard.code_panels import COLLAPSE_ADVICE, KL_USED_NATS, vae_readout
from aegui.gui.dashboard.weights_panel import GAP_RGB, GAP_VALUE, per_channel_bias

# beta-vae (beta 4, warm-up 2) at epoch 3 of mnist5k, when every reconstruction was the same blob:
# the "10/10 dims informative · total 0.93 nats".
COLLAPSED_BETA_VAE = np.array([0.23, 0.17, 0.16, 0.11, 0.09, 0.08, 0.05, 0.05, 0.04, 0.04])
# beta 20: fully collapsed.
COLLAPSED_BETA_20 = np.array([0.027, 0.015, 0.014, 0.010, 0.0097, 0.0079, 0.0028, 0.0023, 0.0018, 0.0014])
# vae (784-400-20, beta 1) at epoch 30: every dimension used.
HEALTHY_VAE = np.array([1.29, 1.01, 1.25, 1.54, 1.70, 1.03, 1.28, 1.85, 0.99, 1.21, 1.58, 1.17, 0.95, 1.11,
                        1.41, 0.83, 0.75, 1.05, 0.54, 1.34])
# vae at epoch 3, still learning: 18 of 20 at or above the threshold.
EARLY_VAE = np.array([1.76, 1.01, 0.89, 0.86, 0.68, 0.65, 0.56, 0.55, 0.53, 0.49, 0.48, 0.48, 0.43, 0.39, 0.38,
                      0.38, 0.34, 0.32, 0.21, 0.20])
# beta-vae at epoch 30: five used dimensions, five collapsed (the price of beta 4, not a collapse).
SETTLED_BETA_VAE = np.array([0.98, 0.80, 0.0075, 1.57, 0.0100, 1.34, 0.0109, 0.0078, 0.0895, 1.44])




def report(step, **kw) -> Report:
    fields = dict(kind="progress", step=step, epoch=step // 10, epoch_progress=step / 10, epochs_total=5,
                  steps_per_epoch=10, samples_per_s=1.0, elapsed_s=1.0, losses={"total": 2.0, "recon": 1.5})
    fields.update(kw)
    return Report(**fields)


def test_the_threshold_separates_used_from_collapsed_dimensions_of_real_runs():
    # Between the collapsed dimensions (<= 0.12 nats once settled) and the used ones (>= 0.29).
    assert COLLAPSED_BETA_VAE.max() < KL_USED_NATS <= HEALTHY_VAE.min()
    assert SETTLED_BETA_VAE[SETTLED_BETA_VAE < 0.5].max() < KL_USED_NATS < SETTLED_BETA_VAE[SETTLED_BETA_VAE > 0.5].min()


@pytest.mark.parametrize("kl", [COLLAPSED_BETA_VAE, COLLAPSED_BETA_20], ids=["beta-vae blob", "beta 20"])
def test_a_collapsed_vae_says_posterior_collapse_and_what_to_try(kl):
    caption, warning, collapsed = vae_readout(kl)
    assert caption.startswith(f"0/{len(kl)} dims in use")
    assert collapsed and warning.startswith("Posterior collapse") and COLLAPSE_ADVICE in warning
    assert "lower β" in warning and "free bits" in warning


def test_a_healthy_vae_counts_its_used_dimensions():
    caption, warning, collapsed = vae_readout(HEALTHY_VAE)
    assert caption.startswith("20/20 dims in use") and "total 23.9 nats" in caption  # 23.86 measured
    assert warning == "" and not collapsed
    caption, warning, collapsed = vae_readout(EARLY_VAE)
    assert caption.startswith("18/20 dims in use") and warning == "" and not collapsed


def test_a_beta_vae_that_uses_half_its_code_is_not_called_collapsed():
    caption, warning, collapsed = vae_readout(SETTLED_BETA_VAE)
    assert caption.startswith("5/10 dims in use") and not collapsed and "collapse" not in warning
    caption, warning, collapsed = vae_readout(np.array([1.3, 1.1, 0.9, 0.35, 0.15, 0.1, 0.1, 0.05, 0.05, 0.04]))
    assert not collapsed and warning.startswith("6 of 10 dims unused")


def test_the_vae_panel_reads_out_a_collapsed_run_after_the_warm_up(dashboard, qapp):
    dashboard.vae.configure(2.0)
    dashboard.add_report(report(15, kl_per_dim=COLLAPSED_BETA_VAE.astype(np.float32), beta=4.0))
    draw(dashboard, qapp)
    assert dashboard.vae.caption.text().startswith("0/10 dims in use") and dashboard.vae.warning.text() == ""
    dashboard.add_report(report(30, kl_per_dim=COLLAPSED_BETA_VAE.astype(np.float32), beta=4.0))
    draw(dashboard, qapp)
    assert dashboard.vae.warning.text().startswith("Posterior collapse")
    assert dashboard.vae.threshold_line.value() == pytest.approx(KL_USED_NATS)
    # Unused dimensions are grey bars at their own KL, not hidden.
    grey = dashboard.vae.collapsed_bars.getData()[1]
    assert dashboard.vae.collapsed_bars.isVisible() and grey.max() == pytest.approx(0.23)


def test_l1_sparsity_has_no_target_and_the_activity_threshold_suits_the_activation(dashboard, qapp):
    code = np.full(8, 0.2, np.float32)
    dashboard.add_report(report(5, sparsity_weight=1.0, sparsity_target=None, code_mean=code,
                                code_active=np.full(8, 0.3, np.float32), active_threshold=0.01))
    draw(dashboard, qapp)
    sparsity = dashboard.sparsity
    assert not sparsity.target_line.isVisible() and "target" not in sparsity.bars_plot.titleLabel.text
    assert "(|a| > 0.01)" in sparsity.caption.text() and "0.01" in sparsity.caption.toolTip()
    dashboard.clear()
    dashboard.add_report(report(5, sparsity_weight=10.0, sparsity_target=0.05, code_mean=code,
                                code_active=np.full(8, 0.04, np.float32), active_threshold=0.5))
    draw(dashboard, qapp)
    assert sparsity.target_line.isVisible() and sparsity.target_line.value() == pytest.approx(0.05)
    assert "target ρ = 0.05" in sparsity.bars_plot.titleLabel.text
    assert "(|a| > 0.5)" in sparsity.caption.text() and "above 0.5" in sparsity.caption.toolTip()
    assert "0.01" not in sparsity.caption.text() + sparsity.caption.toolTip()


def test_a_conv_decoders_bias_is_one_number_per_channel(dashboard, qapp):
    image_bias = np.broadcast_to(np.array([-1.5], np.float32)[:, None, None], (1, 28, 28)).copy()
    assert per_channel_bias(image_bias).tolist() == [-1.5]
    assert per_channel_bias(np.broadcast_to(np.array([0.1, 0.2], np.float32), (128, 2))).tolist() == \
        pytest.approx([0.1, 0.2])
    assert per_channel_bias(np.random.default_rng(0).normal(size=(1, 28, 28))) is None  # an MLP's: an image
    kernels = np.random.default_rng(1).normal(size=(32, 1, 3, 3)).astype(np.float32)
    dashboard.add_report(report(5, filters=kernels, output_bias=image_bias))
    draw(dashboard, qapp)
    weights = dashboard.weights
    assert weights.per_channel and weights.channel_plot.isVisible() and not weights.bias_view.isVisible()
    assert weights.channel_bars.getData()[1].tolist() == [-1.5]
    assert "one per channel (-1.5)" in weights.caption.text()
    # An MLP's bias in the next run: the image again.
    dashboard.clear()
    dashboard.add_report(report(5, output_bias=np.random.default_rng(0).normal(size=(1, 28, 28)).astype(np.float32)))
    draw(dashboard, qapp)
    assert not weights.per_channel and weights.bias_view.isVisible() and not weights.channel_plot.isVisible()


def test_conv_kernel_tiles_are_separated_by_a_colour_no_kernel_has(dashboard, qapp):
    kernels = np.random.default_rng(2).normal(size=(16, 1, 3, 3)).astype(np.float32)
    dashboard.add_report(report(5, filters=kernels))
    draw(dashboard, qapp)
    item = dashboard.weights.filter_image
    image = item.image
    assert image.shape == (4 * 10 - 1, 4 * 10 - 1)  # 3x3 kernels enlarged to 9x9, a 1-pixel gap
    assert (image[9, :] == GAP_VALUE).all() and (image[:, 19] == GAP_VALUE).all()  # the gaps between tiles
    assert 0.0 <= image[:9, :9].min() and image[:9, :9].max() <= 1.0
    # Drawn through the lookup table: the tiles in grey, the gaps (and only they) in the gap colour.
    lut, (lo, hi) = item.lut, item.levels
    index = lambda v: min(int((v - lo) * len(lut) / (hi - lo)), len(lut) - 1)  # noqa: E731 - pyqtgraph's mapping
    assert tuple(lut[index(GAP_VALUE)]) == tuple(np.round(np.asarray(GAP_RGB) * 255).astype(np.uint8))
    greys = {tuple(lut[index(v)]) for v in np.linspace(0.0, 1.0, 101)}
    assert all(r == g == b for r, g, b in greys) and len(greys) > 90


def test_attention_and_capsule_matrices_have_a_fixed_scale_and_a_colour_bar(dashboard, qapp):
    uniform = np.full((16, 16), 1 / 16, np.float32)  # a signal's attention, spread evenly
    x = np.zeros((16, 128, 1), np.float32)
    dashboard.add_report(report(5, inputs=x, reconstructions=x, attention=uniform, token_grid=(16,)))
    draw(dashboard, qapp)
    attention = dashboard.attention
    assert attention.mode == "matrix"
    assert tuple(attention.image.levels) == (0.0, 1.0)  # not (0, its own maximum): uniform looks faint
    bar = attention.colour_bar
    assert isinstance(bar, pg.ColorBarItem) and bar.isVisible() and tuple(bar.levels()) == (0.0, 1.0)
    dashboard.clear()
    dashboard.add_report(report(5, capsule_lengths=np.random.default_rng(3).random((16, 10)).astype(np.float32)))
    draw(dashboard, qapp)
    assert attention.mode == "capsules" and tuple(attention.image.levels) == (0.0, 1.0) and bar.isVisible()
