"""Each experiment's claims, checked against the numbers of this run.

A claim holds (True) when this run's numbers agree with it by more than the noise, is
contradicted (False) when they clearly disagree, and is inconclusive (None) when the difference
is within the noise. The noise, where the arms share validation samples (they share the split),
is the standard error of the per-sample differences: a difference counts when it is over twice
that and over 2% of the values compared. Figures measured once (a parameter count, a time) use
a stated relative margin instead. The evidence is always this run's numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import ExperimentResult, Finding

REL_FLOOR = 0.02  # a difference under 2% of the values compared is not worth a verdict
FOCUS_MARGIN = 0.1  # attention on the digit's patches, over their fair share, that counts as focus


@dataclass
class Comparison:
    """Arm A against arm B on one per-sample measure."""

    a: float
    b: float
    diff: float  # mean of a - b
    se: float  # its standard error
    n: int

    def lower(self) -> bool | None:
        """True when A is clearly lower than B, False when clearly higher, None within the noise."""
        scale = max(abs(self.a), abs(self.b), 1e-12)
        if abs(self.diff) <= 2 * self.se or abs(self.diff) <= REL_FLOOR * scale:
            return None
        return self.diff < 0

    def higher(self) -> bool | None:
        low = self.lower()
        return None if low is None else not low

    def words(self, digits: int = 4) -> str:
        return (f"{self.a:.{digits}g} against {self.b:.{digits}g} (difference {self.diff:+.2g} "
                f"± {self.se:.1g} over {self.n} samples)")


def paired(result: ExperimentResult, a: str, b: str, key: str) -> Comparison:
    """A and B on the same validation samples: the noise is that of their per-sample differences."""
    x = np.asarray(result.arm(a).curves[key], np.float64)
    y = np.asarray(result.arm(b).curves[key], np.float64)
    d = x - y
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.inf
    return Comparison(float(x.mean()), float(y.mean()), float(d.mean()), se, len(d))


def unpaired(result: ExperimentResult, a: str, b: str, key: str) -> Comparison:
    """A and B on different samples (each arm's own prior draws): the noise of two independent means."""
    x = np.asarray(result.arm(a).curves[key], np.float64)
    y = np.asarray(result.arm(b).curves[key], np.float64)
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)) if min(len(x), len(y)) > 1 else math.inf
    return Comparison(float(x.mean()), float(y.mean()), float(x.mean() - y.mean()), se, min(len(x), len(y)))


def ratio_says(ratio: float, margin: float) -> bool | None:
    """True when ``ratio`` is over 1 + margin, False when under 1 / (1 + margin), None between."""
    if ratio > 1 + margin:
        return True
    if ratio < 1 / (1 + margin):
        return False
    return None


def fig(result: ExperimentResult, label: str, name: str) -> float:
    return float(result.arm(label).figures[name])


def labels(result: ExperimentResult) -> list[str]:
    return [arm.label for arm in result.arms]


# --- biases -------------------------------------------------------------------------------------------
def biases(result: ExperimentResult) -> list[Finding]:
    with_b, without, mean_init = labels(result)
    data = fig(result, with_b, "data_mean_intensity")
    intensity = paired(result, without, with_b, "samples.intensity_error")
    mse = paired(result, without, with_b, "samples.val_mse")
    first = [fig(result, label, "val_mse_epoch1") for label in (mean_init, with_b)]
    early = first[0] / max(first[1], 1e-12)
    return [
        Finding("Biases let an autoencoder capture the data's mean value; without them it struggles to.",
                intensity.higher(),
                f"the reconstructions' mean intensity is {fig(result, without, 'mean_intensity'):.3f} without "
                f"biases and {fig(result, with_b, 'mean_intensity'):.3f} with them, against the data's {data:.3f}; "
                f"the error in each digit's mean intensity is {intensity.words(3)}, without against with"),
        Finding("Without biases, reconstructions are worse.", mse.higher(),
                f"validation MSE without biases against with: {mse.words()}"),
        Finding("How biases are initialised changes how fast the model converges.",
                True if abs(early - 1) > 0.05 else (False if abs(early - 1) < 0.01 else None),
                f"after the first epoch the validation MSE is {first[0]:.4g} with the output bias started at the "
                f"data's mean and {first[1]:.4g} started at zero ({early:.2f} times); at the end "
                f"{fig(result, mean_init, 'val_recon_mse'):.4g} against {fig(result, with_b, 'val_recon_mse'):.4g}"),
    ]


# --- learning rate and batch size -------------------------------------------------------------------------
def _per_arm(result: ExperimentResult, name: str, digits: int = 3) -> str:
    return ", ".join(f"{arm.label}: {arm.figures[name]:.{digits}g}" for arm in result.arms)


def learning_rate(result: ExperimentResult) -> list[Finding]:
    names = labels(result)
    lowest, highest = names[0], names[-1]
    best = min(names, key=lambda label: fig(result, label, "val_recon_mse"))
    top = result.arm(highest)
    if top.figures["diverged"]:
        too_high, how = True, f"at {highest} the NaN guard stopped the run: {top.message}"
    else:
        worse = paired(result, highest, best, "samples.val_mse").higher() if highest != best else False
        too_high, how = worse, f"at {highest} the run stayed finite; its validation MSE against the best rate's: " + (
            paired(result, highest, best, "samples.val_mse").words() if highest != best else "it is the best rate")
    slow = paired(result, lowest, best, "samples.val_mse").higher() if lowest != best else False
    return [
        Finding("Too high a learning rate overshoots: the loss grows or becomes NaN.", too_high, how),
        Finding("Too low a learning rate converges slowly.", slow,
                f"after the same number of epochs the validation MSE is {_per_arm(result, 'val_recon_mse')}"),
    ]


def batch_size(result: ExperimentResult) -> list[Finding]:
    names = labels(result)
    small, large = names[0], names[-1]
    speed = fig(result, large, "samples_per_s") / max(fig(result, small, "samples_per_s"), 1e-12)
    per_epoch = paired(result, small, large, "samples.val_mse")
    gap_small, gap_large = fig(result, small, "generalisation_gap"), fig(result, large, "generalisation_gap")
    scale = 0.1 * max(fig(result, small, "val_recon_mse"), fig(result, large, "val_recon_mse"))
    regularises = None if abs(gap_small - gap_large) <= scale else gap_small < gap_large
    return [
        Finding("Larger batches speed up training.", ratio_says(speed, 0.2),
                f"{large} trained {speed:.2f} times as many samples a second as {small} "
                f"(wall-clock: {_per_arm(result, 'samples_per_s', 4)} samples/s)"),
        Finding("Smaller batches converge more slowly.", per_epoch.higher(),
                f"after the same number of epochs, validation MSE of {small} against {large}: {per_epoch.words()}; "
                f"training took {_per_arm(result, 'seconds')} s"),
        Finding("Smaller batches have a regularising effect.", regularises,
                f"the gap between validation and training error is {gap_small:.3g} for {small} and "
                f"{gap_large:.3g} for {large}"),
    ]


# --- hidden layers --------------------------------------------------------------------------------------
def hidden_layers(result: ExperimentResult) -> list[Finding]:
    shallow, deep = labels(result)
    mse = paired(result, deep, shallow, "samples.val_mse")
    params = fig(result, deep, "params") / fig(result, shallow, "params")
    seconds = fig(result, deep, "seconds") / max(fig(result, shallow, "seconds"), 1e-12)
    gaps = fig(result, deep, "generalisation_gap"), fig(result, shallow, "generalisation_gap")
    scale = 0.1 * fig(result, shallow, "val_recon_mse")
    return [
        Finding("A deeper autoencoder learns richer features and generalises better.", mse.lower(),
                f"validation MSE of the deep model against the shallow one: {mse.words()}"),
        Finding("Deeper networks cost more: more parameters and longer training.",
                ratio_says(params, 0.1) if ratio_says(params, 0.1) == ratio_says(seconds, 0.1) else None,
                f"the deep model has {params:.2f} times the parameters ({fig(result, deep, 'params'):,.0f} against "
                f"{fig(result, shallow, 'params'):,.0f}) and trained for {seconds:.2f} times as long (wall-clock)"),
        Finding("Deeper networks are more prone to overfitting.",
                None if abs(gaps[0] - gaps[1]) <= scale else gaps[0] > gaps[1],
                f"validation minus training MSE: deep {gaps[0]:.3g}, shallow {gaps[1]:.3g}"),
    ]


# --- sparsity ---------------------------------------------------------------------------------------------
def sparsity(result: ExperimentResult) -> list[Finding]:
    dense, l1, kl = labels(result)
    hoyer = paired(result, l1, dense, "samples.hoyer")
    near = fig(result, kl, "units_near_rho"), fig(result, dense, "units_near_rho")
    rho = fig(result, kl, "rho")
    cost = [paired(result, label, dense, "samples.val_mse") for label in (l1, kl)]
    says = {c.higher() for c in cost}
    return [
        Finding("A sparsity penalty keeps most code units inactive for most inputs.", hoyer.higher(),
                f"Hoyer sparsity of each digit's code (0 dense, 1 a single unit) with the L1 penalty against none: "
                f"{hoyer.words(3)}; active units {fig(result, l1, 'active_fraction'):.0%} against "
                f"{fig(result, dense, 'active_fraction'):.0%}"),
        Finding(f"A KL penalty pulls each unit's mean activation towards the target rho ({rho:g}).",
                None if abs(near[0] - near[1]) < 0.1 else near[0] > near[1],
                f"{near[0]:.0%} of the KL model's units have a mean activation within rho/2 to 2 rho "
                f"(mean {fig(result, kl, 'mean_activation'):.3f}), against {near[1]:.0%} of the dense model's"),
        Finding("Too strong a sparsity constraint costs reconstruction (underfitting).",
                says.pop() if len(says) == 1 else None,
                f"validation MSE against the dense model: L1 {cost[0].words()}; KL {cost[1].words()}"),
    ]


# --- denoising ------------------------------------------------------------------------------------------
def denoising(result: ExperimentResult) -> list[Finding]:
    plain, dae = labels(result)
    at_30 = paired(result, dae, plain, "samples.psnr_at_30")
    levels = result.arm(plain).curves["psnr_by_noise.x"]
    gains = [d - p for d, p in zip(result.arm(dae).curves["psnr_by_noise"], result.arm(plain).curves["psnr_by_noise"])]
    clean = paired(result, dae, plain, "samples.val_mse")
    steady = True if min(gains) > 0.2 else (False if max(gains) < -0.2 else None)
    return [
        Finding("A denoising autoencoder reconstructs clean digits from noisy ones.", at_30.higher(),
                f"PSNR on digits with noise sigma 0.3, denoising against plain: {at_30.words(3)} dB; the noisy "
                f"input itself is at {fig(result, plain, 'psnr_noisy_at_30'):.3g} dB"),
        Finding("The denoiser is robust to noise across levels, not only the one it was trained on.", steady,
                "PSNR gain of the denoiser over the plain model at sigma "
                + ", ".join(f"{lv:g}: {g:+.2f} dB" for lv, g in zip(levels, gains))),
        Finding("Denoising training learns features that generalise to clean data.", clean.lower(),
                f"validation MSE on clean digits, denoising against plain: {clean.words()}"),
    ]


# --- variational ------------------------------------------------------------------------------------------
def variational(result: ExperimentResult) -> list[Finding]:
    ae, vae, beta = labels(result)
    samples = unpaired(result, vae, ae, "samples.prior_sample_nn_mse")
    detail = paired(result, beta, vae, "samples.val_mse")
    r = fig(result, beta, "mean_factor_r"), fig(result, vae, "mean_factor_r")
    return [
        Finding("A VAE generates realistic new samples from its prior; an autoencoder has no prior to sample.",
                samples.lower(),
                f"distance (MSE) of decoded prior samples to their nearest training image, VAE against AE: "
                f"{samples.words(3)}; real validation images are at {fig(result, vae, 'real_nn_mse'):.3g}; drawn "
                f"from a gaussian fitted to its codes instead, the AE's samples are at "
                f"{fig(result, ae, 'fitted_sample_nn_mse'):.3g}"),
        Finding("A larger beta trades reconstruction detail for disentangling.", detail.higher(),
                f"validation MSE, {beta} against {vae}: {detail.words()}"),
        Finding("A larger beta disentangles: each used dimension follows one factor of variation.",
                None if abs(r[0] - r[1]) < 0.05 else r[0] > r[1],
                f"mean over the factors of their strongest correlation with a used dimension: {r[0]:.2f} for "
                f"{beta} against {r[1]:.2f} for {vae}; factors captured (|r| >= 0.5): "
                f"{fig(result, beta, 'factors_captured'):.0f} against {fig(result, vae, 'factors_captured'):.0f}; "
                f"used dimensions {fig(result, beta, 'active_dims'):.0f} against "
                f"{fig(result, vae, 'active_dims'):.0f}"),
    ]


# --- the other variants -------------------------------------------------------------------------------------
def contractive(result: ExperimentResult) -> list[Finding]:
    plain, cae = labels(result)
    moved = paired(result, cae, plain, "samples.relative_sensitivity")
    return [Finding("A contractive penalty makes the code resist small changes of the input.", moved.lower(),
                    f"code movement under a small input change (noise sigma 0.05), relative to the distance "
                    f"between two digits' codes, contractive against plain: {moved.words(3)}; Jacobian norm "
                    f"{fig(result, cae, 'jacobian_norm'):.3g} against {fig(result, plain, 'jacobian_norm'):.3g}")]


def adversarial(result: ExperimentResult) -> list[Finding]:
    plain, aae = labels(result)
    a, p = fig(result, aae, "mmd_to_prior"), fig(result, plain, "mmd_to_prior")
    floor = fig(result, aae, "mmd_noise_floor")
    if max(a, p) <= 3 * floor:
        holds = None  # both as close to the prior as two draws of it are to each other
    else:
        holds = ratio_says(p / max(a, 1e-12), 0.5)
    return [Finding("The adversarial autoencoder's discriminator shapes its codes into the chosen prior.", holds,
                    f"MMD between the codes and N(0, I): AAE {a:.3g}, plain AE {p:.3g} (two draws of the prior: "
                    f"{floor:.2g}); per-dimension |mean| {fig(result, aae, 'code_mean_abs'):.2f} against "
                    f"{fig(result, plain, 'code_mean_abs'):.2f}, |std - 1| {fig(result, aae, 'code_std_error'):.2f} "
                    f"against {fig(result, plain, 'code_std_error'):.2f}")]


def convolutional(result: ExperimentResult) -> list[Finding]:
    mlp, conv = labels(result)
    mse = paired(result, conv, mlp, "samples.val_mse")
    structure = paired(result, conv, mlp, "samples.ssim")
    return [Finding("Convolutional layers suit images: at a similar parameter count a conv autoencoder "
                    "reconstructs them better.", mse.lower(),
                    f"validation MSE, conv ({fig(result, conv, 'params'):,.0f} parameters) against mlp "
                    f"({fig(result, mlp, 'params'):,.0f}): {mse.words()}; SSIM {structure.words(3)}")]


def attention(result: ExperimentResult) -> list[Finding]:
    plain, att = labels(result)
    focus = np.asarray(result.arm(att).curves["samples.ink_focus"], np.float64)
    se = float(focus.std(ddof=1) / math.sqrt(len(focus))) if len(focus) > 1 else math.inf
    excess = float(focus.mean() - 1.0)
    # Focus is a preference worth the name at 10% over the fair share; under 5% the attention is as good as
    # spread evenly, which contradicts the claim.
    if excess > max(FOCUS_MARGIN, 2 * se):
        holds = True
    elif excess < FOCUS_MARGIN / 2:
        holds = False
    else:
        holds = None
    return [Finding("Attention lets the model focus on the relevant parts of the input.", holds,
                    f"the attention model puts {focus.mean():.2f} ± {se:.1g} times its fair share of attention on "
                    f"the patches that hold ink (1: no preference; normalised entropy "
                    f"{fig(result, att, 'attention_entropy'):.2f}); the plain AE's input-gradient saliency: "
                    f"{fig(result, plain, 'ink_focus'):.2f} times")]


def capsule(result: ExperimentResult) -> list[Finding]:
    plain, caps = labels(result)
    acc = fig(result, caps, "length_class_accuracy"), fig(result, plain, "length_class_accuracy")
    n = len(result.arm(caps).curves["samples.val_mse"])
    se = math.sqrt(sum(p * (1 - p) for p in acc) / max(n, 1))
    ratios = fig(result, caps, "shift_mse_ratio"), fig(result, plain, "shift_mse_ratio")
    return [
        Finding("A capsule's length says whether its entity is present: the lengths separate the classes.",
                None if abs(acc[0] - acc[1]) <= 2 * se else acc[0] > acc[1],
                f"nearest-class-mean accuracy from the 10 capsule lengths {acc[0]:.0%} against {acc[1]:.0%} from the "
                f"norms of the plain AE's 10 code groups (± {se:.0%}; chance 10%)"),
        Finding("Capsules handle variations and deformations of the input better.",
                ratio_says(ratios[1] / max(ratios[0], 1e-12), 0.1),
                f"reconstruction error of digits shifted by 2 pixels, as a multiple of the unshifted error: "
                f"capsule {ratios[0]:.2f}, plain AE {ratios[1]:.2f}"),
    ]
