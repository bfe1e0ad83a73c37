"""The model builder: edits reach the spec, the summary follows, problems block training."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QPushButton, QSpinBox, QTableWidget

from aegui.core.models import build_model, count_parameters
from aegui.core.presets import get_preset
from aegui.core.spec import LayerSpec
from gui_helpers import active_window_timers, find_one

SUMMARY_TIMEOUT_MS = 5000


def wait_summary(qtbot, window) -> None:
    """Wait out the summary: its 120 ms debounce and its job (so no timer or thread is left running)."""
    qtbot.waitUntil(lambda: not window.builder.summary_pending, timeout=SUMMARY_TIMEOUT_MS)


def shapes(window) -> list[str]:
    lst = find_one(window, QListWidget, "shapesList")
    return [lst.item(i).text() for i in range(lst.count())]


def expected_headline_count(spec) -> str:
    return f"{count_parameters(build_model(spec)):,} parameters"


def choose_preset(window, name: str) -> None:
    combo = find_one(window, QComboBox, "presetCombo")
    index = combo.findText(name)
    assert index >= 0, f"preset {name!r} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what a user's pick emits


def test_latent_dim_edit_updates_spec_param_count_and_shapes(qtbot, window):
    label = find_one(window, QLabel, "paramCountLabel")
    wait_summary(qtbot, window)
    assert window.state.spec.latent.dim == 32
    assert expected_headline_count(window.state.spec) in label.text()
    assert "code · Linear: 32" in shapes(window)
    before = label.text()

    find_one(window, QSpinBox, "latentDimSpin").setValue(16)

    assert window.state.spec.latent.dim == 16
    qtbot.waitUntil(lambda: label.text() != before, timeout=SUMMARY_TIMEOUT_MS)
    assert expected_headline_count(window.state.spec) in label.text()
    qtbot.waitUntil(lambda: "code · Linear: 16" in shapes(window), timeout=SUMMARY_TIMEOUT_MS)
    assert window.builder.diagram.blocks()[2] == ("z 16", 16)  # in, 256, code, ...

    window.state.undo_stack.undo()
    assert window.state.spec.latent.dim == 32
    assert find_one(window, QSpinBox, "latentDimSpin").value() == 32
    qtbot.waitUntil(lambda: label.text() == before, timeout=SUMMARY_TIMEOUT_MS)
    wait_summary(qtbot, window)


def test_add_layer_button_adds_an_encoder_layer_and_undo_removes_it(qtbot, window):
    table = find_one(window, QTableWidget, "layerTable")
    n = len(window.state.spec.encoder.layers)
    assert table.rowCount() == n

    qtbot.mouseClick(find_one(window, QPushButton, "addLayerButton"), Qt.MouseButton.LeftButton)

    layers = window.state.spec.encoder.layers
    assert len(layers) == n + 1
    assert layers[-1].units == layers[-2].units  # the new layer copies its neighbour
    assert table.rowCount() == n + 1
    assert window.undo_action.isEnabled()

    window.state.undo_stack.undo()
    assert len(window.state.spec.encoder.layers) == n
    assert table.rowCount() == n
    window.state.undo_stack.redo()
    assert len(window.state.spec.encoder.layers) == n + 1

    table.selectRow(0)
    qtbot.mouseClick(find_one(window, QPushButton, "removeLayerButton"), Qt.MouseButton.LeftButton)
    assert len(window.state.spec.encoder.layers) == n
    wait_summary(qtbot, window)


def test_layer_table_width_edit_reaches_the_spec(qtbot, window):
    table = find_one(window, QTableWidget, "layerTable")
    table.cellWidget(0, 0).setValue(100)
    assert window.state.spec.encoder.layers[0].units == 100
    qtbot.waitUntil(lambda: "encoder 1 · Linear: 100" in shapes(window), timeout=SUMMARY_TIMEOUT_MS)
    wait_summary(qtbot, window)


def test_invalid_conv_kernel_shows_problem_and_blocks_training(qtbot, window):
    choose_preset(window, "conv")
    spec = window.state.spec
    assert spec.family == "conv" and [layer.channels for layer in spec.encoder.layers] == [32, 64]
    assert window.train_action.isEnabled() and window.train_blocker() == ""
    problems = find_one(window, QLabel, "problemsLabel")
    assert problems.isHidden()

    # Layer 1 sees the 14x14 map that layer 0's stride 2 leaves; kernel 15 cannot fit it.
    find_one(window, QTableWidget, "layerTable").cellWidget(1, 1).setValue(15)

    assert window.state.spec.encoder.layers[1].kernel == 15
    assert ("encoder.layers[1].kernel", "15 is larger than the 14x14 feature map it gets") in window.state.issues
    assert problems.isVisible()
    assert "encoder.layers[1].kernel" in problems.text() and "15 is larger than the 14x14" in problems.text()
    assert not window.train_action.isEnabled()
    assert not window.train_button.isEnabled()
    assert "encoder.layers[1].kernel" in window.train_action.toolTip()
    assert "encoder.layers[1].kernel" in window.train_blocker()
    wait_summary(qtbot, window)
    assert "problem" in find_one(window, QLabel, "paramCountLabel").text()
    bad_cell = find_one(window, QTableWidget, "layerTable").cellWidget(1, 1)
    assert "15 is larger" in bad_cell.toolTip()

    window.train()  # refused: nothing starts
    assert window.controller.state == "idle" and window.controller._thread is None

    # The editors are rebuilt after each edit: fetch the cell again to fix it.
    find_one(window, QTableWidget, "layerTable").cellWidget(1, 1).setValue(3)
    assert window.state.issues == []
    assert problems.isHidden()
    assert window.train_action.isEnabled()
    assert window.train_blocker() == ""
    assert "Cannot train" not in window.train_action.toolTip()
    wait_summary(qtbot, window)


def test_kernel_too_large_for_a_4x4_map_via_edit_spec(qtbot, window):
    spec = get_preset("conv", "image", (1, 28, 28))
    spec.encoder.layers += [LayerSpec(channels=64, kernel=3, stride=2), LayerSpec(channels=64, kernel=7, stride=1)]
    assert window.state.edit_spec(spec, "too big a kernel")

    problems = find_one(window, QLabel, "problemsLabel")
    assert "encoder.layers[3].kernel: 7 is larger than the 4x4 feature map it gets" in problems.text()
    assert not window.train_action.isEnabled()
    assert "encoder.layers[3].kernel" in window.train_action.toolTip()

    window.state.undo_stack.undo()
    assert window.train_action.isEnabled()
    assert problems.isHidden()
    wait_summary(qtbot, window)


def test_every_preset_loads_into_the_builder(qtbot, window):
    combo = find_one(window, QComboBox, "presetCombo")
    for name in [combo.itemText(i) for i in range(combo.count())]:
        choose_preset(window, name)
        assert combo.currentText() == name
        if name != "(blank)":
            assert window.state.spec.name == name
        assert window.state.issues == [], (name, window.state.issues)
        assert window.train_action.isEnabled(), name
    wait_summary(qtbot, window)


def test_typing_a_multi_digit_width_into_the_layer_table(qtbot, window):
    window.activateWindow()
    spin = find_one(window, QTableWidget, "layerTable").cellWidget(0, 0)
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "300")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    wait_summary(qtbot, window)
    assert window.state.spec.encoder.layers[0].units == 300
    # The edit went round the state and back without replacing the editor the person is typing in.
    table = find_one(window, QTableWidget, "layerTable")
    assert table.cellWidget(0, 0) is spin and spin.value() == 300


def test_typing_a_value_is_one_undo_step(qtbot, window):
    window.activateWindow()
    spin = find_one(window, QSpinBox, "latentDimSpin")
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "16")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.state.spec.latent.dim == 16
    window.state.undo_stack.undo()
    wait_summary(qtbot, window)
    assert window.state.spec.latent.dim == 32


def test_close_right_after_an_edit_leaves_no_timer_running(qtbot, window):
    find_one(window, QSpinBox, "latentDimSpin").setValue(8)
    window.close()
    running = active_window_timers()
    try:
        assert [t for t in running if t.parent() is window.builder] == []
    finally:
        for t in running:
            t.stop()


def test_unticking_mirror_gives_an_editable_explicit_decoder(qtbot, window):
    builder = window.builder
    assert builder.decoder_box.isHidden()
    params_before = window.builder.param_label.text()
    mirror = next(w for p, w in builder._bound.items() if p == "decoder.mirror")
    mirror.setChecked(False)
    spec = window.state.spec
    assert not spec.decoder.mirror
    assert [layer.units for layer in spec.decoder.layers] == [layer.units for layer in spec.encoder.layers][::-1]
    assert not builder.decoder_box.isHidden()
    wait_summary(qtbot, window)
    assert window.builder.param_label.text() == params_before  # the same network, now explicit
    # Edit the decoder's first layer through its table: the spec and the diagram follow.
    width = builder.decoder_table.table.cellWidget(0, 0)
    width.setValue(64)
    assert window.state.spec.decoder.layers[0].units == 64
    wait_summary(qtbot, window)
    from aegui.core.model_summary import summarize

    blocks = summarize(window.state.spec, window.state.issues).blocks
    assert [width for _, width, role in blocks if role == "decoder"] == [64]
    window.state.undo_stack.undo()
    assert window.state.spec.decoder.layers[0].units == spec.decoder.layers[0].units


def test_fields_the_model_does_not_use_are_greyed_out(qtbot, window):
    from gui_helpers import bound_editor

    assert window.state.spec.objective.sparsity.kind == "none"
    target = bound_editor(window, "objective.sparsity.target")
    noise_level = bound_editor(window, "objective.noise.level")
    assert not target.isEnabled() and not noise_level.isEnabled()
    bound_editor(window, "objective.sparsity.kind").setCurrentText("kl")
    assert target.isEnabled()
    bound_editor(window, "objective.sparsity.kind").setCurrentText("l1")
    assert not target.isEnabled()  # rho is for KL only
    assert bound_editor(window, "objective.sparsity.weight").isEnabled()


def test_capsule_count_keeps_the_code_size_in_step(qtbot, window):
    choose_preset(window, "capsule")
    from gui_helpers import bound_editor

    bound_editor(window, "capsule.num_capsules").setValue(6)
    spec = window.state.spec
    assert spec.latent.dim == 6 * spec.capsule.capsule_dim
    assert window.state.issues == []
    units = window.builder.capsule_units
    units.setText("128, 256, 384")
    units.editingFinished.emit()
    assert window.state.spec.capsule.decoder_units == (128, 256, 384)
    units.setText("lots")
    units.editingFinished.emit()
    assert "not a list of whole numbers" in window.builder.problems_label.text()
    assert window.state.spec.capsule.decoder_units == (128, 256, 384)
    wait_summary(qtbot, window)


def test_a_problem_is_written_under_its_field_and_goes_when_fixed(qtbot, window):
    builder = window.builder
    message = builder._messages["objective.sparsity.kind"]
    assert message.isHidden()
    from gui_helpers import bound_editor

    bound_editor(window, "objective.sparsity.kind").setCurrentText("kl")  # the ae code is linear, not sigmoid
    assert not message.isHidden()
    assert "KL sparsity needs sigmoid" in message.text()
    assert "sparsity (objective.sparsity.kind): KL sparsity" in builder.problems_label.text()
    assert not window.train_action.isEnabled()
    bound_editor(window, "latent.activation").setCurrentText("sigmoid")
    assert message.isHidden() and window.state.issues == []
    from aegui.core.explain import explanation

    own = explanation("objective.sparsity.kind").short
    assert bound_editor(window, "objective.sparsity.kind").toolTip().startswith(own)  # its own tooltip is back
    wait_summary(qtbot, window)


def test_an_edited_preset_says_it_was_edited(qtbot, window):
    builder = window.builder
    assert builder.description.text().startswith("Plain autoencoder")
    find_one(window, QSpinBox, "latentDimSpin").setValue(80)
    assert builder.description.text().startswith("Edited from the ae preset")
    window.state.undo_stack.undo()
    assert builder.description.text().startswith("Plain autoencoder")
    wait_summary(qtbot, window)


def _whole(path: str) -> bool:
    import typing

    from aegui.core.spec_rules import field_type

    tp = field_type(path)
    return tp is int or int in typing.get_args(tp)


def _expected_range(path: str, decimals: int) -> tuple[float, float]:
    """What an editor must offer: the field's bounds, an open one moved in by one shown step."""
    from aegui.core.spec_rules import field_info

    info = field_info(path)
    step = 1 if _whole(path) else 10.0 ** -decimals
    return info.lo + step * info.lo_open, info.hi - step * info.hi_open


def test_every_number_editor_offers_exactly_the_fields_valid_range(qtbot, window):
    from PySide6.QtWidgets import QDoubleSpinBox

    from aegui.core.explain import explanation
    from aegui.core.spec_rules import BOUNDED

    builder = window.builder
    checked = 0
    for path, widget in builder._bound.items():
        if path not in BOUNDED or path == "train.seed":
            continue
        assert isinstance(widget, QDoubleSpinBox) != _whole(path), path
        decimals = widget.decimals() if isinstance(widget, QDoubleSpinBox) else 0
        assert (widget.minimum(), widget.maximum()) == pytest.approx(_expected_range(path, decimals)), path
        assert widget.toolTip() == explanation(path).short, path
        checked += 1
    assert checked >= 35
    table = builder.layer_table.table
    for col, name in ((0, "units"), (1, "kernel"), (2, "stride"), (5, "bias_init"), (7, "dropout")):
        editor = table.cellWidget(0, col)
        decimals = editor.decimals() if hasattr(editor, "decimals") else 0
        assert (editor.minimum(), editor.maximum()) == pytest.approx(_expected_range(f"layers[].{name}", decimals))


def test_the_seed_editor_takes_every_seed_validation_accepts(qtbot, window):
    from gui_helpers import bound_editor

    seed = bound_editor(window, "train.seed")
    seed.setText(str(2 ** 64 - 1))  # beyond a spin box's 2**31 - 1, but numpy and torch take it
    seed.editingFinished.emit()
    assert window.state.spec.train.seed == 2 ** 64 - 1 and window.state.issues == []
    window.state.undo_stack.undo()
    assert seed.text() == "0"
    seed.setText(str(2 ** 64))
    seed.editingFinished.emit()
    assert [p for p, _ in window.state.issues] == ["train.seed"]
    wait_summary(qtbot, window)
