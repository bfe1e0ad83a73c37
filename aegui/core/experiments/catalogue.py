"""The experiments, as data: one per idea of the tutorial, each a few lines.

An arm is a preset and the spec paths it changes; the figures and views name measures in
``measures.py`` and pictures in ``model.VIEWS``; the verdict (``verdicts.py``) checks the
tutorial's claims against the numbers. Budgets: ``tiny`` for tests (a few seconds an
experiment on 2 CPU cores), ``default`` for a person waiting (under 3 minutes), ``full`` for
better figures.
"""
from __future__ import annotations

from . import verdicts
from .model import Arm, Budget, Experiment, FromData

MNIST, SHAPES = "mnist5k", "shapes"
COMMON = ("val_recon_mse", "params", "seconds")

NO_BIASES = {"encoder.layers[*].bias": False, "decoder.layers[*].bias": False, "latent.bias": False,
             "decoder.output_bias": False}
# The mlp arm's hidden width that brings it to the conv preset's parameter count (241,441 at 148: 242,400).
MLP_WIDTH_LIKE_CONV = 148


def budgets(tiny: int, default: int, full: int, *, limit: int | None = None, tiny_limit: int = 600,
            batch_size: int | None = None) -> dict[str, Budget]:
    return {"tiny": Budget(tiny, tiny_limit, batch_size), "default": Budget(default, limit, batch_size),
            "full": Budget(full, None, batch_size)}


EXPERIMENTS_LIST = [
    Experiment(
        name="biases", title="Biases: what the decoder's bias captures",
        description="the same autoencoder with and without biases, and with the output bias started at the data's mean",
        question="Does an autoencoder without biases struggle to capture the data's mean?",
        explanation=(
            "A bias shifts a unit's output whatever its input. The decoder's output bias is the one to watch: "
            "it can hold the average image, so the rest of the network only has to add what makes each digit "
            "different from it.\n\n"
            "Compare the mean intensity of the reconstructions with the data's, the validation error, and the "
            "decoder-bias image, stretched to its own range: a digit-shaped blob, bright or dark, is part of the "
            "average digit held in the bias. The third arm starts the output bias at the data's mean instead of "
            "zero: compare its first epoch with the others'."),
        dataset=MNIST, base="ae",
        arms=(Arm("with biases", {}), Arm("no biases", NO_BIASES),
              Arm("output bias at the data's mean", {"decoder.output_bias_init": FromData("output_mean_logit")})),
        figures=COMMON + ("mean_intensity", "data_mean_intensity", "intensity_gap", "val_mse_epoch1"),
        views=("val_recon_mse", "reconstructions", "decoder_bias"),
        budgets=budgets(2, 15, 40), verdict=verdicts.biases),
    Experiment(
        name="learning-rate", title="Learning rate: too low, about right, too high",
        description="plain gradient descent at four learning rates, the highest one past what training survives",
        question="Does too low a rate converge slowly and too high a rate overshoot and diverge?",
        explanation=(
            "The learning rate is the size of each step down the loss. Too small and the loss creeps down; too "
            "large and each step overshoots the valley, the loss grows, and soon it is infinite or NaN. Then the "
            "trainer's NaN guard stops the run and restores the last good weights.\n\n"
            "These arms use plain gradient descent with momentum (SGD), the tutorial's setting. Adam scales its "
            "steps by the gradients' size, so in our tries even very high rates sent its loss soaring without "
            "reaching NaN. Watch the loss curves and the diverged column."),
        dataset=MNIST, base="ae",
        arms=tuple(Arm(f"lr {lr:g}", {"train.optimizer": "sgd", "train.lr": lr}) for lr in (3e-4, 3e-3, 1e-2, 1e-1)),
        figures=COMMON + ("diverged", "epochs", "train_recon_mse"),
        views=("train_loss", "val_recon_mse"),
        budgets=budgets(2, 12, 40, batch_size=64), verdict=verdicts.learning_rate),
    Experiment(
        name="batch-size", title="Batch size: speed against steps",
        description="the same autoencoder trained with batches of 16, 64 and 256 for the same number of epochs",
        question="Do larger batches train faster but converge more slowly per epoch, and do small ones regularise?",
        explanation=(
            "A batch is how many samples one step averages its gradient over. Larger batches use the hardware "
            "better (more samples a second) but take fewer steps an epoch; small batches take many noisy steps, "
            "and that noise is said to act as a regulariser.\n\n"
            "Compare samples a second (measured by the clock, so it varies between runs), the validation error "
            "after the same number of epochs, and the gap between validation and training error."),
        dataset=MNIST, base="ae",
        arms=tuple(Arm(f"batch {n}", {"train.batch_size": n}) for n in (16, 64, 256)),
        figures=COMMON + ("samples_per_s", "generalisation_gap", "train_recon_mse"),
        views=("val_recon_mse", "train_loss"),
        budgets=budgets(2, 10, 30), verdict=verdicts.batch_size),
    Experiment(
        name="hidden-layers", title="Hidden layers: shallow against deep",
        description="one hidden layer against three, both with a 32-unit code, on a small training set",
        question="Does a deeper autoencoder reconstruct better, at what cost, and does it overfit more?",
        explanation=(
            "More hidden layers let a network build features from features, but add parameters, time, and room "
            "to memorise the training set. Both arms have a 32-unit code and the same learning rate (3e-3, which "
            "the three ReLU layers need); the training set is kept small so that overfitting can show.\n\n"
            "Compare validation error, parameters, time, and the gap between validation and training error: a "
            "growing gap is overfitting."),
        dataset=MNIST, base="ae",
        arms=(Arm("shallow: 256", {"train.lr": 3e-3}, preset="ae"),
              Arm("deep: 512-256-128", {"train.lr": 3e-3}, preset="deep")),
        figures=COMMON + ("train_recon_mse", "generalisation_gap"),
        views=("train_loss", "val_recon_mse", "reconstructions"),
        budgets=budgets(2, 40, 100, limit=1500, batch_size=32), verdict=verdicts.hidden_layers),
    Experiment(
        name="sparsity", title="Sparsity: dense against L1 and KL penalties",
        description="a 64-unit code with no penalty, an L1 penalty, and a KL penalty towards rho = 0.05",
        question="Does a sparsity penalty keep most code units quiet, near the target rate, and at what cost?",
        explanation=(
            "A sparse code has few units active for any one input. L1 pushes every activation towards zero; KL "
            "pushes each unit's mean activation over the data towards a small target rho, which a unit can meet "
            "by firing rarely.\n\n"
            "Look at the bars (each unit's mean activation, with rho marked), the Hoyer sparsity (0 when all "
            "units are equally active on a digit, 1 when one unit is), the reconstruction error, and the "
            "first-layer filters: sparse models often learn more stroke-like ones."),
        dataset=MNIST, base="sparse-l1",
        arms=(Arm("dense", {"objective.sparsity.kind": "none"}), Arm("sparse L1", {}),
              Arm("sparse KL", {}, preset="sparse-kl")),
        figures=COMMON + ("hoyer_sparsity", "active_fraction", "dead_units", "units_near_rho", "mean_activation",
                          "rho"),
        views=("unit_mean_activation", "filters", "reconstructions"),
        budgets=budgets(2, 15, 40), verdict=verdicts.sparsity),
    Experiment(
        name="denoising", title="Denoising: a plain autoencoder against a denoising one",
        description="both tested on validation digits with gaussian noise from sigma 0.1 to 0.5, by PSNR",
        question="Does training on noisy inputs teach an autoencoder to remove noise?",
        explanation=(
            "A denoising autoencoder sees a corrupted input and is scored against the clean one, so it cannot "
            "just copy: it has to know what digits look like. Here it trains with gaussian noise of sigma 0.3.\n\n"
            "PSNR (in dB, higher is better) compares each output with the clean digit. The dashed line is the "
            "noisy input itself: a model below it made things worse. Open the Draw tab afterwards to try the "
            "denoiser on your own noisy digit."),
        dataset=MNIST, base="denoising",
        arms=(Arm("plain AE", {"objective.noise.kind": "none"}), Arm("denoising (sigma 0.3)", {})),
        figures=COMMON + ("psnr_noisy_at_30", "psnr_at_10", "psnr_at_20", "psnr_at_30", "psnr_at_50",
                          "psnr_gain_at_30"),
        views=("psnr_by_noise", "denoised", "val_recon_mse"),
        budgets=budgets(2, 15, 40), verdict=verdicts.denoising),
    Experiment(
        name="variational", title="Variational: AE against VAE against beta-VAE",
        description="three models with a 10-dimensional code on the shapes sprites: latent maps, traversals, samples",
        question="Can a VAE generate realistic samples from its prior where an AE cannot, and does a larger beta "
                 "disentangle the factors?",
        explanation=(
            "A VAE encodes each input as a gaussian and pays, in KL, for moving it away from N(0, I). Its codes "
            "then fill the prior, so a draw from the prior decodes to something plausible. A plain AE's codes "
            "sit wherever suits it; sampling it needs a guess (here a gaussian fitted to its codes). beta > 1 "
            "charges more for KL: fewer dimensions carry information, ideally one factor each.\n\n"
            "Compare the prior samples (and their distance to the nearest training image against that of real "
            "images), the importance of each dimension (a dimension at 0 is unused), and the traversals with the "
            "factor each dimension follows (the sprites' shape, scale, rotation and position are known)."),
        dataset=SHAPES, base="vae",
        arms=(Arm("AE", {"latent.dim": 10, "objective.variational.enabled": False}),
              Arm("VAE", {"latent.dim": 10}),
              Arm("beta-VAE (beta 4)", {"latent.dim": 10, "objective.variational.beta": 4.0})),
        figures=COMMON + ("active_dims", "factors_captured", "mean_factor_r", "prior_sample_nn_mse",
                          "fitted_sample_nn_mse", "real_nn_mse", "sample_diversity"),
        views=("latent_map", "dim_importance", "traversals", "prior_samples", "reconstructions"),
        budgets=budgets(2, 20, 50, limit=4000), verdict=verdicts.variational),
    Experiment(
        name="contractive", title="Contractive: codes that resist small changes",
        description="a one-layer sigmoid autoencoder with and without the contractive penalty",
        question="Does the contractive penalty make the code less sensitive to small input perturbations?",
        explanation=(
            "The contractive penalty charges for the encoder's Jacobian: how much the code moves when the input "
            "moves a little. The code should stay put under small noise yet still tell digits apart.\n\n"
            "The sensitivity shown is how far the code moves under noise of sigma 0.05, divided by the typical "
            "distance between two digits' codes, so a model cannot look robust by just shrinking its codes."),
        dataset=MNIST, base="contractive",
        arms=(Arm("plain AE", {"objective.contractive.weight": 0.0}), Arm("contractive", {})),
        figures=COMMON + ("jacobian_norm", "code_sensitivity", "relative_sensitivity"),
        views=("val_recon_mse", "reconstructions", "filters"),
        budgets=budgets(2, 20, 50), verdict=verdicts.contractive),
    Experiment(
        name="adversarial", title="Adversarial: codes shaped like the prior",
        description="a plain autoencoder against an AAE with an 8-dimensional code and a gaussian prior",
        question="Does the AAE's discriminator make its codes follow the chosen prior?",
        explanation=(
            "An adversarial autoencoder trains a discriminator to tell its codes from draws of the prior, and "
            "the encoder to fool it. If it works, the codes look like N(0, I) and a prior draw decodes well.\n\n"
            "Compare the codes in two of their dimensions against the prior's unit circle, the MMD between the "
            "codes and prior draws (beside the MMD of two prior draws, the floor), and each dimension's mean "
            "and spread."),
        dataset=MNIST, base="aae",
        arms=(Arm("plain AE", {"objective.adversarial.enabled": False}), Arm("AAE", {})),
        figures=COMMON + ("mmd_to_prior", "mmd_noise_floor", "code_mean_abs", "code_std_error"),
        views=("code_plane", "prior_samples", "reconstructions"),
        budgets=budgets(2, 15, 40), verdict=verdicts.adversarial),
    Experiment(
        name="convolutional", title="Convolutional against fully connected, at equal size",
        description="a conv autoencoder against an mlp of about the same parameter count",
        question="At a similar number of parameters, does a convolutional autoencoder reconstruct images better?",
        explanation=(
            "A convolution looks at small neighbourhoods and reuses the same filter everywhere, which suits "
            "images: a stroke is a stroke wherever it is. The mlp arm's hidden layer is sized so both models have "
            "about the same number of parameters.\n\n"
            "Compare the validation error, SSIM (structural similarity, 1 is identical) and the time each took."),
        dataset=MNIST, base="conv",
        arms=(Arm("mlp (similar size)", {"encoder.layers[0].units": MLP_WIDTH_LIKE_CONV}, preset="ae"),
              Arm("conv", {}, preset="conv")),
        figures=COMMON + ("ssim",),
        views=("val_recon_mse", "reconstructions"),
        budgets=budgets(2, 10, 30), verdict=verdicts.convolutional),
    Experiment(
        name="attention", title="Attention: where the code looks",
        description="a plain autoencoder against one that pools 7x7 patches by attention",
        question="Does attention make the model focus on the relevant parts of the input?",
        explanation=(
            "The attention model cuts each digit into 16 patches and pools them into the code with one learned "
            "query: its weights say which patches the code is made from. For the plain AE the picture shows "
            "instead where its code is most sensitive to the input (the gradient).\n\n"
            "The focus figure is the share of weight on patches with ink divided by the share of such patches: "
            "1 means no preference, above 1 means the model looks at the digit."),
        dataset=MNIST, base="attention",
        arms=(Arm("plain AE", {}, preset="ae"), Arm("attention", {})),
        figures=COMMON + ("ink_focus", "attention_entropy"),
        views=("attention_maps", "val_recon_mse", "reconstructions"),
        budgets=budgets(2, 12, 30, limit=3000), verdict=verdicts.attention),
    Experiment(
        name="capsule", title="Capsules: lengths that say what is there",
        description="a plain autoencoder with an 80-unit code against 10 capsules of 8",
        question="Do capsule lengths separate the classes, and do capsules cope better with a shifted digit?",
        explanation=(
            "A capsule is a group of units whose length (0 to 1) says how present its entity is and whose "
            "direction says how it looks. Routing by agreement decides which capsules explain the input.\n\n"
            "The picture shows each class's mean capsule lengths (rows: digits, columns: capsules); the plain AE's "
            "80 units are cut into 10 groups of 8 for the same picture. Accuracy says how well the 10 lengths "
            "alone tell the digits apart; the shift ratio, how much worse digits moved by 2 pixels reconstruct."),
        dataset=MNIST, base="capsule",
        arms=(Arm("plain AE (80-unit code)", {"latent.dim": 80}, preset="ae"), Arm("capsule", {})),
        figures=COMMON + ("length_class_accuracy", "code_class_accuracy", "shift_mse", "shift_mse_ratio"),
        views=("capsule_lengths", "val_recon_mse", "reconstructions"),
        budgets=budgets(2, 6, 20, limit=3000), verdict=verdicts.capsule),
]

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in EXPERIMENTS_LIST}
