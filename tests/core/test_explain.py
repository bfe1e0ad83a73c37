"""The explanations table: every field, choice and loss term is explained, in short and long words."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from aegui.core import explain
from aegui.core.explain import (
    EXPLANATIONS, GUIDE_PAGES, PANEL_HEALTH, TUTORIAL_SECTIONS, choice_key, choice_values, explanation, term_key,
    title,
)
from aegui.core.explain.guide import HEALTH_MAX_CHARS
from aegui.core.spec_rules import FIELDS, TERMS

TUTORIAL = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "autoencoders-tutorial.md"
SHORT_MAX_CHARS = 300
# A sentence ends at . ! or ? followed by a space and a capital or a digit, or at the end of the text
# ("0.05", "e^x" and "x 0.2" do not end one).
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(]|\s*$)")
# The dashboard's panels (panels/dashboard.py TrainingDashboard.panels, and its Runs and Anomalies tabs).
DASHBOARD_PANELS = {"loss", "stats", "recon", "weights", "attention", "sparsity", "vae", "runs", "anomaly"}
GUIDE_AREAS = ("Data", "Model builder", "Training dashboard", "Latent space", "Draw", "Runs",
               "Projects and export", "Experiments")


def sentences(text: str) -> int:
    return len(SENTENCE_END.findall(text))


def test_every_field_of_the_spec_rules_has_an_explanation():
    missing = [path for path in FIELDS if path not in EXPLANATIONS]
    assert not missing, f"fields without an explanation: {missing}"


def test_every_choice_of_every_choice_field_has_an_explanation():
    missing = [choice_key(path, value) for path in FIELDS for value in choice_values(path)
               if choice_key(path, value) not in EXPLANATIONS]
    assert not missing, f"choices without an explanation: {missing}"
    # The variant choices the builder offers are among them.
    assert {"family=mlp", "family=conv", "family=attention", "family=capsule", "objective.sparsity.kind=kl",
            "objective.noise.kind=masking", "activation=sigmoid"} <= EXPLANATIONS.keys()


def test_every_loss_term_has_an_explanation():
    missing = [term for term in (*TERMS, "recon_mse") if term_key(term) not in EXPLANATIONS]
    assert not missing, f"loss terms without an explanation: {missing}"


def test_every_key_is_a_field_a_choice_a_term_or_a_named_builder_area():
    """No stray entry: an explanation nobody can reach is a typo of one that is missing."""
    areas = {"preset", "input", "encoder.layers", "decoder.layers", "capsule.decoder_units"}
    choice_keys = {choice_key(path, value) for path in FIELDS for value in choice_values(path)}
    terms = {term_key(term) for term in (*TERMS, "recon_mse")}
    stray = EXPLANATIONS.keys() - FIELDS.keys() - choice_keys - terms - areas
    assert not stray, f"explanations of nothing: {sorted(stray)}"


@pytest.mark.parametrize("key", sorted(EXPLANATIONS))
def test_each_explanation_is_a_short_tooltip_and_a_longer_text(key):
    entry = EXPLANATIONS[key]
    assert entry.short.strip() and entry.long.strip(), key
    assert len(entry.short) <= SHORT_MAX_CHARS, f"{key}: {len(entry.short)} characters"
    assert 1 <= sentences(entry.short) <= 2, f"{key}: {entry.short!r}"
    assert len(entry.long) > len(entry.short) // 2, key
    assert entry.tutorial_section is None or entry.tutorial_section in TUTORIAL_SECTIONS, key
    assert title(key), key


def test_no_two_entries_share_a_text():
    longs = [entry.long for entry in EXPLANATIONS.values()]
    shorts = [entry.short for entry in EXPLANATIONS.values()]
    assert len(set(longs)) == len(longs), [t for t in longs if longs.count(t) > 1][:2]
    assert len(set(shorts)) == len(shorts), [t for t in shorts if shorts.count(t) > 1][:2]


def test_a_key_written_twice_is_refused():
    entry = EXPLANATIONS["train.lr"]
    with pytest.raises(ValueError, match="train.lr"):
        explain._merge({"train.lr": entry}, {"train.lr": entry})


def test_a_layer_field_is_found_from_any_table_and_row():
    assert explanation("encoder.layers[3].kernel") is EXPLANATIONS["layers[].kernel"]
    assert explanation("decoder.layers[0].units") is EXPLANATIONS["layers[].units"]
    assert choice_key("encoder.layers[1].activation", "relu") == "activation=relu"
    assert choice_key("latent.activation", "linear") == "activation=linear"
    assert explanation("family=conv") is EXPLANATIONS["family=conv"]
    with pytest.raises(KeyError, match="no explanation"):
        explanation("train.no_such_field")


def test_a_title_is_the_field_label_where_there_is_one():
    assert title("train.lr") == FIELDS["train.lr"].label
    assert title("attention.patch_size") == "Patch size (pixels)"  # with the unit, as the editor is labelled
    assert title("encoder.layers[2].dropout") == FIELDS["layers[].dropout"].label
    assert title("family=conv").startswith("conv")
    # Only entries without a field label carry a title: a field's label is written once, in spec_rules.
    assert not [key for key, entry in EXPLANATIONS.items() if entry.title and key in FIELDS]


def test_only_choice_fields_have_choices():
    assert choice_values("family") == ("mlp", "conv", "attention", "capsule")
    assert choice_values("train.device")[0] == "auto"
    assert choice_values("train.lr") == () and choice_values("layers[].units") == ()
    assert choice_values("decoder.mirror") == () and choice_values("encoder.layers") == ()


def test_every_dashboard_panel_has_one_short_health_line():
    assert PANEL_HEALTH.keys() == DASHBOARD_PANELS
    for panel, line in PANEL_HEALTH.items():
        assert line.strip() and "\n" not in line, panel
        assert len(line) <= HEALTH_MAX_CHARS, f"{panel}: {len(line)} characters"
    assert len(set(PANEL_HEALTH.values())) == len(PANEL_HEALTH)


def test_the_guide_has_one_page_per_area_of_the_window():
    assert tuple(name for name, _ in GUIDE_PAGES) == GUIDE_AREAS
    for name, text in GUIDE_PAGES:
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        assert 1 <= len(paragraphs) <= 4 and 150 <= len(text) <= 1500, name


def test_each_tutorial_section_named_is_a_heading_of_the_tutorial():
    if not TUTORIAL.exists():
        pytest.skip(f"the tutorial is not beside the repository ({TUTORIAL})")
    headings = {re.sub(r"^[\d.\s]+", "", line.strip("#* :\n")).strip("* :")
                for line in TUTORIAL.read_text(encoding="utf-8").splitlines() if line.startswith("#")}
    for section in TUTORIAL_SECTIONS:
        assert section.rpartition(": ")[2] in headings or section in headings, section
