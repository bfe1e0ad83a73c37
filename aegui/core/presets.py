"""Named starting points, one per variant in the tutorial, each with a one-line description.

Presets are made for the embedded 28x28 digits; ``get_preset(name, kind, shape)``
re-targets one at another input, and validation says if it no longer fits.
"""
from __future__ import annotations

from typing import Callable

from .spec import (
    AdversarialSpec, AttentionSpec, AutoencoderSpec, CapsuleSpec, ContractiveSpec, EncoderSpec, LatentSpec,
    LayerSpec, NoiseSpec, ObjectiveSpec, SparsitySpec, StackedSpec, TrainSpec, VariationalSpec,
)
from .spec_rules import sync_capsule_code


def _mlp(*units: int, activation: str = "relu") -> EncoderSpec:
    return EncoderSpec([LayerSpec(units=u, activation=activation) for u in units])


def _conv(*channels: int) -> EncoderSpec:
    return EncoderSpec([LayerSpec(channels=c, kernel=3, stride=2) for c in channels])


def _spec(name: str, description: str, **kw) -> AutoencoderSpec:
    return AutoencoderSpec(name=name, description=description, **kw)


def _ae() -> AutoencoderSpec:
    return _spec("ae", "Plain autoencoder: one hidden layer of 256 and a 32-unit code",
                 encoder=_mlp(256), latent=LatentSpec(dim=32))


def _deep() -> AutoencoderSpec:
    # Three ReLU layers learn slowly at Adam's usual 1e-3: at 10 epochs the digits were still near the mean.
    return _spec("deep", "Deep autoencoder: 512-256-128 hidden layers learn a hierarchy of features (15 epochs)",
                 encoder=_mlp(512, 256, 128), latent=LatentSpec(dim=32), train=TrainSpec(epochs=15, lr=3e-3))


def _stacked() -> AutoencoderSpec:
    return _spec("stacked", "Stacked autoencoder: each layer pretrained greedily, then the whole net fine-tuned",
                 encoder=_mlp(256, 128, activation="sigmoid"), latent=LatentSpec(dim=32),
                 objective=ObjectiveSpec(stacked=StackedSpec(pretrain=True, epochs_per_layer=2)),
                 train=TrainSpec(lr=1e-2))  # sigmoid layers need a larger step than ReLU ones


def _sparse_l1() -> AutoencoderSpec:
    return _spec("sparse-l1", "Sparse autoencoder: an L1 penalty keeps most of a 64-unit ReLU code at zero",
                 encoder=_mlp(256), latent=LatentSpec(dim=64, activation="relu"),
                 objective=ObjectiveSpec(sparsity=SparsitySpec(kind="l1", weight=1.0, target=0.05)),
                 train=TrainSpec(lr=3e-3))


def _sparse_kl() -> AutoencoderSpec:
    return _spec("sparse-kl", "Sparse autoencoder: KL pulls each sigmoid code unit's mean activation to rho = 0.05",
                 encoder=_mlp(256), latent=LatentSpec(dim=64, activation="sigmoid"),
                 objective=ObjectiveSpec(sparsity=SparsitySpec(kind="kl", weight=10.0, target=0.05)),
                 train=TrainSpec(lr=1e-2))  # at 1e-3, 10 epochs left the digits at 0.84 of the mean's error


def _denoising() -> AutoencoderSpec:
    return _spec("denoising", "Denoising autoencoder: learns to remove gaussian noise (sigma 0.3) from its input "
                              "(15 epochs)",
                 encoder=_mlp(256), latent=LatentSpec(dim=32),
                 objective=ObjectiveSpec(noise=NoiseSpec(kind="gaussian", level=0.3)),
                 train=TrainSpec(epochs=15, lr=1e-2))


def _contractive() -> AutoencoderSpec:
    return _spec("contractive", "Contractive autoencoder: penalises the encoder's Jacobian so codes resist small changes",
                 encoder=EncoderSpec([]), latent=LatentSpec(dim=64, activation="sigmoid"),
                 objective=ObjectiveSpec(contractive=ContractiveSpec(weight=1.0)),
                 train=TrainSpec(lr=3e-2))  # one sigmoid layer: at 1e-3 it learned nothing in 10 epochs


def _vae() -> AutoencoderSpec:
    return _spec("vae", "Variational autoencoder 784-400-20: a smooth latent space you can sample from",
                 encoder=_mlp(400), latent=LatentSpec(dim=20),
                 objective=ObjectiveSpec(variational=VariationalSpec(enabled=True, beta=1.0)))


def _beta_vae() -> AutoencoderSpec:
    return _spec("beta-vae", "beta-VAE (beta = 4, warm-up 5 epochs): trades detail for disentangled factors",
                 encoder=_mlp(512, 256), latent=LatentSpec(dim=10),
                 objective=ObjectiveSpec(variational=VariationalSpec(enabled=True, beta=4.0, warmup_epochs=5.0)),
                 train=TrainSpec(lr=3e-3))


def _conv_ae() -> AutoencoderSpec:
    return _spec("conv", "Convolutional autoencoder: strided 32- and 64-channel convs keep spatial structure",
                 family="conv", encoder=_conv(32, 64), latent=LatentSpec(dim=32))


def _conv_vae() -> AutoencoderSpec:
    return _spec("conv-vae", "Convolutional VAE: conv encoder and decoder around a 16-dimensional gaussian code",
                 family="conv", encoder=_conv(32, 64), latent=LatentSpec(dim=16),
                 objective=ObjectiveSpec(variational=VariationalSpec(enabled=True, beta=1.0)))


def _conv_denoising() -> AutoencoderSpec:
    return _spec("conv-denoising", "Convolutional denoising autoencoder: removes salt-and-pepper noise (p = 0.2)",
                 family="conv", encoder=_conv(32, 64), latent=LatentSpec(dim=32),
                 objective=ObjectiveSpec(noise=NoiseSpec(kind="salt_pepper", level=0.2)))


def _aae() -> AutoencoderSpec:
    return _spec("aae", "Adversarial autoencoder: a discriminator shapes the 8-dimensional codes into a gaussian",
                 encoder=_mlp(512, 256), latent=LatentSpec(dim=8),
                 objective=ObjectiveSpec(adversarial=AdversarialSpec(enabled=True, prior="gaussian")))


def _attention() -> AutoencoderSpec:
    return _spec("attention", "Attention autoencoder: 7x7 patches through 2 transformer blocks, pooled by a learned query "
                              "(15 epochs)",
                 family="attention", encoder=_mlp(64, 64), latent=LatentSpec(dim=32),
                 attention=AttentionSpec(patch_size=7, heads=4, pool="cross"),
                 train=TrainSpec(epochs=15, lr=1e-3))


def _capsule() -> AutoencoderSpec:
    spec = _spec("capsule", "Capsule autoencoder: primary capsules routed by agreement to 10 latent capsules of 8",
                 family="capsule", encoder=EncoderSpec([LayerSpec(channels=32, kernel=5, stride=2)]),
                 capsule=CapsuleSpec(primary_channels=8, primary_dim=8, primary_kernel=5, primary_stride=2,
                                     num_capsules=10, capsule_dim=8),
                 train=TrainSpec(lr=3e-3))  # at 1e-3, 10 epochs left the digits at 0.71 of the mean's error
    sync_capsule_code(spec)  # latent.dim follows the capsules: 80
    return spec


PRESETS: dict[str, Callable[[], AutoencoderSpec]] = {
    "ae": _ae, "deep": _deep, "stacked": _stacked, "sparse-l1": _sparse_l1, "sparse-kl": _sparse_kl,
    "denoising": _denoising, "contractive": _contractive, "vae": _vae, "beta-vae": _beta_vae,
    "conv": _conv_ae, "conv-vae": _conv_vae, "conv-denoising": _conv_denoising, "aae": _aae,
    "attention": _attention, "capsule": _capsule,
}


def preset_names() -> list[str]:
    return list(PRESETS)


def describe_presets() -> list[tuple[str, str]]:
    return [(name, make().description) for name, make in PRESETS.items()]


def get_preset(name: str, kind: str | None = None, shape: tuple[int, ...] | None = None) -> AutoencoderSpec:
    """A fresh copy of a preset, optionally re-targeted at another input."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset '{name}'; presets are {', '.join(PRESETS)}")
    spec = PRESETS[name]()
    if kind is not None and shape is not None:
        spec = fit_to_input(spec, kind, shape)
    return spec


# fit_to_input's settings for data that is not 0-1: see there.
SEQUENCE_TOKENS = 4
STANDARDISED_NOISE = 0.015
STANDARDISED_FREE_BITS = 0.5
STANDARDISED_L1_WEIGHT = 0.1
STANDARDISED_KL_LR = 1e-3


def fit_to_input(spec: AutoencoderSpec, kind: str, shape: tuple[int, ...], unit_range: bool | None = None) -> AutoencoderSpec:
    """A copy of ``spec`` for another input: the shape, a patch size that tiles it, and, when the data
    is not 0-1 (``unit_range`` False), the gaussian likelihood, and settings tuned on the digits that
    standardised values need otherwise: the gaussian noise level, the L1 weight, KL sparsity's learning
    rate and a beta-VAE's free bits."""
    out = spec.with_input(kind, shape)
    if out.family == "attention":
        preferred = out.attention.patch_size
        if kind == "sequence":
            # A few steps of a 1-D signal say too little to attend to: on `signals` (128 steps), 8-step
            # patches (16 tokens) stayed at the mean predictor (MSE ratio 0.92 after 10 epochs); 32-step ones
            # (4 tokens) reached 0.66.
            preferred = max(preferred, shape[0] // SEQUENCE_TOKENS)
        out.attention.patch_size = fitting_patch(kind, tuple(shape), preferred)
    if unit_range is False:
        out.likelihood = "gaussian"  # standardised tables and signals are not 0-1 probabilities
        noise = out.objective.noise
        if noise.kind == "gaussian" and noise.level > STANDARDISED_NOISE:
            # The level is a fraction of the data's range, which standardised data stretches to 14
            # (signals) or 40 (transactions) standard deviations: 0.3 would bury the signal.
            noise.level = STANDARDISED_NOISE
        sp = out.objective.sparsity
        if sp.kind == "l1" and sp.weight > STANDARDISED_L1_WEIGHT:
            # The L1 weight was set against 784 pixels' cross-entropy; against the squared error of 10
            # standardised columns it switched every code unit off (MSE ratio 1.00 on `transactions`).
            sp.weight = STANDARDISED_L1_WEIGHT
        if sp.kind == "kl" and out.train.lr > STANDARDISED_KL_LR:
            # KL sparsity's sigmoid code learns the digits at 1e-2 but not a standardised signal: on
            # `signals` the MSE ratio was 0.88 at 1e-2 and 0.55 at 1e-3, the code's mean 0.07 (rho 0.05).
            out.train.lr = STANDARDISED_KL_LR
        va = out.objective.variational
        if va.enabled and va.beta > 1 and va.free_bits == 0:
            # A squared-error likelihood over a few standardised values weighs little against beta times
            # the KL: on the 10 columns of `transactions` the code collapsed (MSE ratio 0.98). Free bits
            # keep half a nat per dimension for the reconstruction.
            va.free_bits = STANDARDISED_FREE_BITS
    return out


def fitting_patch(kind: str, shape: tuple[int, ...], preferred: int) -> int:
    """The patch size nearest ``preferred`` that tiles the input exactly (1 always does), among those
    giving a workable number of tokens (4 to 1,024): one token leaves attention nothing to attend to,
    as 13 would on a 13x13 image, where 1-pixel patches (169 tokens) still work."""
    sizes = shape[1:] if kind == "image" else shape[:1]
    fits = [p for p in range(1, max(sizes) + 1) if all(s % p == 0 for s in sizes)]

    def tokens(p: int) -> int:
        n = 1
        for s in sizes:
            n *= s // p
        return n

    return min(fits, key=lambda p: (not 4 <= tokens(p) <= 1024, abs(p - preferred), -p))


# Settings that change how a run is reported or how long it lasts, not what an epoch reaches.
IGNORED_TRAIN_FIELDS = ("epochs", "device", "seed", "report_interval_s", "report_every_steps", "snapshot_size")


def _comparable(spec: AutoencoderSpec) -> AutoencoderSpec:
    out = spec.copy()
    defaults = type(out.train)()
    for name in IGNORED_TRAIN_FIELDS:
        setattr(out.train, name, getattr(defaults, name))
    out.description = ""
    return out


def is_stock_preset(spec: AutoencoderSpec, dataset) -> bool:
    """Whether ``spec`` is its named preset, fitted to ``dataset``, with only run-length and reporting
    settings changed: the reference losses compare with it, and its description still holds."""
    if spec.name not in PRESETS:
        return False
    stock = fit_to_input(get_preset(spec.name), dataset.kind, dataset.sample_shape, dataset.in_unit_range)
    return _comparable(stock) == _comparable(spec)
