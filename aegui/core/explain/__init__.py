"""Explanations in place: what every builder control, choice and loss term means, in one table.

``EXPLANATIONS`` is the one table; the builder's tooltips (``short``) and its explanation pane
(``long``, with the tutorial section it is drawn from) read it, and so may anything else that needs
to say what a setting means. Its keys:

- a spec path, as ``spec_rules.FIELDS`` names it: ``"train.lr"``, ``"objective.sparsity.kind"``; the
  fields of any encoder or decoder layer share one key, ``"layers[].kernel"``;
- ``"<field>=<choice>"`` for each choice of a choice field: ``"family=conv"``,
  ``"objective.noise.kind=masking"``; the code's and the layers' activations share
  ``"activation=<choice>"``;
- ``"term=<name>"`` for each loss term the dashboard draws: ``"term=kl"``;
- a few builder areas that are no single field: ``"preset"``, ``"input"``, ``"encoder.layers"``,
  ``"decoder.layers"``, ``"capsule.decoder_units"``.

``explanation(path)`` looks a spec path up (``"encoder.layers[2].kernel"`` finds ``"layers[].kernel"``).
A field's label, bounds and unit stay in ``spec_rules``; only the words about what it means live here.
``PANEL_HEALTH`` says, per dashboard panel, what a healthy run looks like there; ``GUIDE_PAGES`` is the
Help > Guide tour. Plain Python: no Qt, no torch.
"""
from __future__ import annotations

from ..spec_rules import FIELDS, choices, field_key, field_type
from .base import TUTORIAL_SECTIONS, Explanation
from .guide import GUIDE_PAGES, PANEL_HEALTH
from .model import ACTIVATIONS, ARCHITECTURE, ATTENTION_PARTS, CAPSULES, LAYERS
from .objective import NOISE, OTHER_TERMS, SPARSITY, TERMS, VARIATIONAL_PARTS
from .training import REGULARISATION, RUNNING, STEPS

__all__ = ["EXPLANATIONS", "GUIDE_PAGES", "PANEL_HEALTH", "TUTORIAL_SECTIONS", "Explanation", "choice_key",
           "choice_values", "explanation", "explanation_key", "term_key", "title"]


def _merge(*parts: dict[str, Explanation]) -> dict[str, Explanation]:
    table: dict[str, Explanation] = {}
    for part in parts:
        repeated = table.keys() & part.keys()
        if repeated:  # one place per explanation: a key written twice is a mistake, not an override
            raise ValueError(f"explained twice: {sorted(repeated)}")
        table.update(part)
    return table


EXPLANATIONS: dict[str, Explanation] = _merge(
    ARCHITECTURE, LAYERS, ACTIVATIONS, ATTENTION_PARTS, CAPSULES,
    SPARSITY, NOISE, VARIATIONAL_PARTS, OTHER_TERMS, TERMS,
    STEPS, REGULARISATION, RUNNING,
)

# Choice fields whose choices share entries with another field's: the code's activation is a layer's.
_SHARED_CHOICES = {"latent.activation": "activation", "layers[].activation": "activation"}


def explanation_key(path: str) -> str:
    """The table's key for a spec path or key ("decoder.layers[0].units" -> "layers[].units")."""
    if "=" in path:
        field, _, value = path.partition("=")
        return choice_key(field, value)
    return field_key(path)


def choice_key(path: str, value: str) -> str:
    """The key of one choice of a choice field ("family", "conv" -> "family=conv")."""
    field = field_key(path)
    return f"{_SHARED_CHOICES.get(field, field)}={value}"


def term_key(term: str) -> str:
    """The key of a loss term as the dashboard names it ("kl" -> "term=kl")."""
    return f"term={term}"


def explanation(path: str) -> Explanation:
    """The explanation of a spec path, choice key, term key or builder area; KeyError when there is none."""
    key = explanation_key(path)
    try:
        return EXPLANATIONS[key]
    except KeyError:
        raise KeyError(f"no explanation for {path!r} (looked for {key!r})") from None


def title(path: str) -> str:
    """What the explanation pane calls an entry: the field's label from spec_rules, or the entry's own title."""
    key = explanation_key(path)
    entry = EXPLANATIONS[key]
    if entry.title:
        return entry.title
    info = FIELDS.get(key)
    if info is None:
        raise KeyError(f"{path!r} has neither a title nor a field label")
    return f"{info.label} ({info.unit})" if info.unit else info.label


def choice_values(path: str) -> tuple[str, ...]:
    """The choices of a choice field, or () for any other path (a number, a switch, a builder area)."""
    key = field_key(path)
    if "=" in key or key not in FIELDS or field_type(key) in (bool, int, float):
        return ()
    try:
        return choices(key)
    except KeyError:  # an Optional number (a layer's units): not a choice
        return ()
