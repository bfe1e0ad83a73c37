"""Explanations in place: tooltips and "?" from core.explain in the builder, health lines on the
dashboard, and Help > Guide."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolButton, QWidget

from aegui.core.explain import EXPLANATIONS, GUIDE_PAGES, PANEL_HEALTH, choice_key, explanation, title
from aegui.core.spec import FAMILIES
from gui_helpers import bound_editor


def editors_by_path(window) -> dict[str, QWidget]:
    return {w.property("specPath"): w for w in window.builder.findChildren(QWidget) if w.property("specPath")}


def explain_buttons(window) -> list[QToolButton]:
    return [b for b in window.builder.findChildren(QToolButton, "explainButton")]


def first_words(text: str, n: int = 60) -> str:
    """The start of an explanation's first paragraph, as the pane shows it (plain text)."""
    return text.split("\n\n")[0][:n]


def test_every_builder_field_in_every_family_has_an_explanation_in_its_tooltip(qtbot, window):
    """Each family shows other editors (a conv layer edits channels, an attention model its own box, an
    unmirrored decoder a second table): every editor any of them shows carries its short text."""
    seen: dict[str, str] = {}  # spec path -> its editor's tooltip
    for family in FAMILIES:
        bound_editor(window, "family").setCurrentText(family)
        assert window.state.spec.family == family
        if family in ("mlp", "conv"):  # only these show an explicit decoder's table
            bound_editor(window, "decoder.mirror").setChecked(False)
            assert window.builder.decoder_table.table.rowCount() > 0
        seen.update({path: w.toolTip() for path, w in editors_by_path(window).items()})
    missing, wrong = [], []
    for path, tip in sorted(seen.items()):
        try:
            short = explanation(path).short
        except KeyError:
            missing.append(path)
            continue
        if short not in tip:
            wrong.append(f"{path}: {tip!r}")
    assert not missing, f"builder fields without an explanation: {missing}"
    assert not wrong, "tooltips without their explanation:\n" + "\n".join(wrong)
    # The conditional editors were there to check: conv widths, attention and capsule fields, the decoder table.
    for path in ("encoder.layers[0].channels", "encoder.layers[0].units", "attention.heads", "capsule.num_capsules",
                 "capsule.decoder_units", "decoder.layers[0].kernel", "objective.adversarial.disc_lr", "train.amp"):
        assert path in seen, path
    assert len(seen) >= 70


def test_a_flagged_field_keeps_its_explanation_under_the_problem(qtbot, window):
    kind = bound_editor(window, "objective.sparsity.kind")
    kind.setCurrentText("kl")  # the ae's code is linear, not sigmoid
    assert "KL sparsity needs sigmoid" in kind.toolTip()
    assert explanation("objective.sparsity.kind").short in kind.toolTip()
    # A list of choices also says what the chosen one does, and each item what it would do.
    assert explanation("objective.sparsity.kind=kl").short in kind.toolTip()
    family = bound_editor(window, "family")
    for i in range(family.count()):
        tip = family.itemData(i, Qt.ItemDataRole.ToolTipRole)
        assert tip == explanation(choice_key("family", family.itemText(i))).short


def test_clicking_a_question_mark_shows_the_long_explanation_in_the_pane(qtbot, window):
    pane = window.builder.explain_pane
    assert pane.isHidden()
    before = window.minimumSizeHint().width()
    button = next(b for b in explain_buttons(window) if b.property("explainKey") == "objective.sparsity.kind")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert pane.isVisible() and pane.key == "objective.sparsity.kind"
    entry = EXPLANATIONS["objective.sparsity.kind"]
    shown = pane.plain_text()
    assert title("objective.sparsity.kind") in shown
    assert first_words(entry.long) in shown
    assert entry.tutorial_section in shown  # "From the tutorial: “Sparse Autoencoders”"
    assert "none (chosen)" in shown and first_words(EXPLANATIONS["objective.sparsity.kind=kl"].long) in shown
    assert window.minimumSizeHint().width() == before  # the pane never widens the window

    qtbot.mouseClick(pane.close_button, Qt.MouseButton.LeftButton)
    assert pane.isHidden()


def test_every_question_mark_opens_its_own_explanation(qtbot, window):
    """Every field is reachable: each "?" of the form, each entry of a layer table's "?" menu, and each
    column heading of the table open the matching long text."""
    pane = window.builder.explain_pane
    buttons = explain_buttons(window)
    keys = [b.property("explainKey") for b in buttons]
    assert len(keys) == len(set(keys)) and len(keys) >= 60
    for button in buttons:
        key = button.property("explainKey")
        assert title(key) in button.toolTip(), key
        if button.menu() is not None:  # a layer table's "?": its menu names the table and each column
            actions = [a for a in button.menu().actions() if not a.isSeparator()]
            assert len(actions) == 1 + window.builder.layer_table.table.columnCount(), key
            for action in actions:
                action.trigger()
                assert pane.isVisible() and first_words(explanation(pane.key).long) in pane.plain_text()
            continue
        button.click()
        assert pane.key == key and first_words(explanation(key).long) in pane.plain_text(), key
    table = window.builder.layer_table.table
    table.horizontalHeader().sectionClicked.emit(1)
    assert pane.key == "layers[].kernel"
    # The form paths with a "?" are exactly the bound editors (plus the builder's areas).
    assert set(window.builder._bound) <= set(keys)
    assert {"preset", "input", "encoder.layers", "capsule.decoder_units"} <= set(keys)


def test_every_dashboard_panel_shows_its_health_line(qtbot, window):
    dashboard = window.dashboard
    lines = {w.property("panel"): w for w in dashboard.findChildren(QWidget, "panelHealth")}
    assert lines.keys() == PANEL_HEALTH.keys()
    owners = dict(dashboard.panels, runs=dashboard.runs, anomaly=dashboard.anomaly)
    for name, line in lines.items():
        assert PANEL_HEALTH[name] in line.text(), name
        assert owners[name].isAncestorOf(line), name  # in the panel it describes
        assert line.isVisibleTo(owners[name]), name  # shown whenever the panel is
    # On screen: the Live tab's panels for this plain autoencoder (the others are folded or in other tabs).
    for name in ("loss", "recon", "stats", "weights"):
        assert lines[name].isVisible(), name
    assert not lines["sparsity"].isVisible()  # folded: no sparsity penalty here
    bound_editor(window, "objective.sparsity.kind").setCurrentText("l1")
    assert lines["sparsity"].isVisible()


def test_help_guide_opens_with_one_page_per_area(qtbot, window):
    from aegui.gui.widgets.guide import GuideDialog

    action = window.findChild(QAction, "guideAction")
    assert action is not None and action.shortcut().toString() == "F1"
    action.trigger()
    guides = window.findChildren(GuideDialog)
    assert len(guides) == 1
    guide = guides[0]
    assert guide.isVisible() and not guide.isModal()
    names = [guide.pages.item(i).text() for i in range(guide.pages.count())]
    assert names == [name for name, _ in GUIDE_PAGES]
    assert names == ["Data", "Model builder", "Training dashboard", "Latent space", "Draw", "Runs",
                     "Projects and export", "Experiments"]
    for row, (name, text) in enumerate(GUIDE_PAGES):
        guide.pages.setCurrentRow(row)
        shown = guide.text.toPlainText()
        assert name in shown and first_words(text) in shown, name
    action.trigger()  # asked again: the same dialog, brought forward
    assert window.findChildren(GuideDialog) == [guide]
    guide.close()
