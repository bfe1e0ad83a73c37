"""One explanation, and the tutorial sections explanations come from (the text modules import these)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    """What one control, choice or loss term means.

    ``short`` is the tooltip: one or two sentences. ``long`` is the explanation pane: a paragraph or a
    few, separated by blank lines. ``tutorial_section`` names the part of the tutorial it is drawn from
    (one of TUTORIAL_SECTIONS), or None. ``title`` is given only where spec_rules has no label for the
    key (a choice, a loss term, a builder area): a field's title is its editor's label, written once there.
    """

    short: str
    long: str
    tutorial_section: str | None = None
    title: str = ""


# The tutorial's sections (../shared/seed/autoencoders-tutorial.md), named as its headings are; the
# subsections of "Other Autoencoders" carry that heading first.
INTRO = "Autoencoders: Unveiling Latent Representations"
BIASES = "A Note on Biases"
TRAINING = "Training an Auto Encoder"
HIDDEN = "Overcoming Hidden Layers"
SPARSE = "Sparse Autoencoders"
DENOISING = "Denoising Autoencoders"
OTHER = "Other Autoencoders"
VARIATIONAL = f"{OTHER}: Variational Autoencoders (VAEs)"
CONVOLUTIONAL = f"{OTHER}: Convolutional Autoencoders"
ADVERSARIAL = f"{OTHER}: Adversarial Autoencoders (AAEs)"
STACKED = f"{OTHER}: Stacked Autoencoders"
CONTRACTIVE = f"{OTHER}: Contractive Autoencoders"
ATTENTION = f"{OTHER}: Attention Mechanism in Autoencoders"
CAPSULE = f"{OTHER}: Capsule Autoencoders"

TUTORIAL_SECTIONS: tuple[str, ...] = (INTRO, BIASES, TRAINING, HIDDEN, SPARSE, DENOISING, OTHER, VARIATIONAL,
                                      CONVOLUTIONAL, ADVERSARIAL, STACKED, CONTRACTIVE, ATTENTION, CAPSULE)
