"""The point-and-click model builder: everything the engine's spec can express.

Each editor is bound to one dotted spec path. An edit copies the state's spec,
sets that one field and hands it back as an undoable edit; the state then
announces the new spec and every editor is refreshed from it. The builder never
keeps its own spec.

Every control's tooltip, and the longer text a "?" beside it opens in the explanation
pane under the form, come from core.explain (one table keyed by spec path).
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget,
)

from ...core.model_summary import summarize
from ...core.presets import PRESETS, describe_presets, fit_to_input, get_preset, is_stock_preset
from ...core.spec import AutoencoderSpec, LayerSpec
from ...core.spec_edit import blank_spec, mirrored_decoder_layers, retarget_family_layers
from ...core.spec_rules import (
    LIVE, LIVE_PATHS, LIVE_VALUE_WORDS, choices, field_info, field_type, get_path, live_values_used,
    set_path, sync_capsule_code, unused_paths,
)
from ..widgets.diagram import ArchitectureDiagram
from ..widgets.explain_pane import ExplainPane, explain_button, field_tooltip, set_choice_tooltips
from ..widgets.layer_table import LayerTable, number_editor
from ..workers import Worker

BLANK = "(blank)"
def _combo(items) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    return box


def _choice(path: str) -> QComboBox:
    box = _combo(choices(path))
    set_choice_tooltips(box, path)
    return box


def summary_job(token, spec, issues, data_bytes: int):
    """Worker job: the summary. Its first trace in a process imports torch's meta kernels (about 1.2 s
    on the 2-core machine), which on the GUI thread froze the window as it opened."""
    return spec, data_bytes, summarize(spec, issues, data_bytes)


class ModelBuilder(QWidget):
    liveValueChanged = Signal(str, float)
    summaryChanged = Signal()  # a new summary (and memory verdict) is shown

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelBuilder")
        self.state = state
        self._bound: dict[str, QWidget] = {}
        self._labels: dict[str, str] = {}  # spec path -> the words its editor is labelled with
        self._rows: dict[str, QWidget] = {}  # explanation key -> the control of its form row
        self._messages: dict[str, QLabel] = {}  # spec path -> the problem line under its editor
        self._loading = False
        self._summary_timer = QTimer(self, singleShot=True, interval=120)
        self._summary_timer.timeout.connect(self._refresh_summary)
        self.summary_worker = Worker("model-summary", self)
        self.summary_worker.done.connect(self._show_summary)
        self.summary = None  # (spec, data bytes, ModelSummary) of the summary on show

        self.preset_combo = _combo([name for name, _ in describe_presets()] + [BLANK])
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.setToolTip(field_tooltip("preset"))
        for i, (_, words) in enumerate(describe_presets()):
            self.preset_combo.setItemData(i, words, Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.activated.connect(self._on_preset)
        self.description = QLabel(wordWrap=True)
        self.locked_banner = QLabel(
            "Training is running: the model is read-only. Learning rate, β, noise level and sparsity weight "
            "still apply at the next step.", wordWrap=True)
        self.locked_banner.setObjectName("lockedBanner")
        self.locked_banner.setStyleSheet("background:#fff3cd;color:#664d03;padding:4px;border-radius:3px;")
        self.locked_banner.hide()

        self.explain_pane = ExplainPane()
        self.layer_table = LayerTable()
        self.layer_table.edited.connect(self._on_layers)
        self.layer_table.explainRequested.connect(self.explain)
        self.decoder_table = LayerTable(table_name="decoderLayerTable", spec_path="decoder.layers")
        self.decoder_table.edited.connect(self._on_decoder_layers)
        self.decoder_table.explainRequested.connect(self.explain)
        self.diagram = ArchitectureDiagram()
        self.param_label = QLabel()
        self.param_label.setObjectName("paramCountLabel")
        self.memory_label = QLabel(wordWrap=True)
        self.memory_label.setObjectName("memoryEstimateLabel")
        self.shapes_list = QListWidget()
        self.shapes_list.setObjectName("shapesList")
        self.shapes_list.setMaximumHeight(150)
        self.problems_label = QLabel(wordWrap=True)
        self.problems_label.setObjectName("problemsLabel")
        self.problems_label.setStyleSheet("color:#d9534f;")
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        content = QWidget()
        column = QVBoxLayout(content)
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset"))
        top.addWidget(self.preset_combo, 1)
        top.addWidget(explain_button("preset", self.explain))
        column.addLayout(top)
        column.addWidget(self.description)
        column.addWidget(self.locked_banner)
        column.addWidget(self._architecture_box())
        layers_box = QGroupBox("Encoder layers (the decoder mirrors them unless told otherwise)")
        QVBoxLayout(layers_box).addWidget(self.layer_table)
        column.addWidget(layers_box)
        self.decoder_box = QGroupBox("Decoder layers, from the code to the output (the decoder does not mirror)")
        QVBoxLayout(self.decoder_box).addWidget(self.decoder_table)
        column.addWidget(self.decoder_box)
        self.attention_box = self._attention_box()
        self.capsule_box = self._capsule_box()
        column.addWidget(self.attention_box)
        column.addWidget(self.capsule_box)
        column.addWidget(self._objective_box())
        column.addWidget(self._training_box())
        column.addStretch(1)
        scroll = self.form_scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)

        summary = QGroupBox("Summary")
        summary_layout = QVBoxLayout(summary)
        summary_layout.addWidget(self.diagram)
        counts = QHBoxLayout()
        counts.addWidget(self.param_label)
        counts.addWidget(self.memory_label, 1)
        summary_layout.addLayout(counts)
        summary_layout.addWidget(self.problems_label)
        summary_layout.addWidget(self.shapes_list)

        # The explanation pane sits under the form, in a splitter, so the control stays in sight beside it.
        self.form_split = QSplitter(Qt.Orientation.Vertical)
        self.form_split.setObjectName("builderSplit")
        self.form_split.setChildrenCollapsible(False)
        self.form_split.addWidget(scroll)
        self.form_split.addWidget(self.explain_pane)
        self.form_split.setStretchFactor(0, 3)
        self.form_split.setStretchFactor(1, 2)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(summary)
        outer.addWidget(self.form_split, 1)

        state.specChanged.connect(self._load)
        state.datasetChanged.connect(lambda _: self._summary_timer.start())  # the estimate counts the data
        state.lockedChanged.connect(self._on_locked)
        self._load(state.spec)

    # --- layout pieces -------------------------------------------------------------------
    def _bind(self, path: str, widget: QWidget, form: QFormLayout | None = None) -> QWidget:
        """Bind an editor to a spec path; its label comes from spec_rules, its words from core.explain."""
        self._bound[path] = widget
        info = field_info(path)
        label = f"{info.label} ({info.unit})" if info.unit else info.label
        self._labels[path] = info.label[:1].lower() + info.label[1:]  # for "set learning rate", "undo set β"
        widget.setProperty("specPath", path)
        widget.setToolTip(self._tooltip(path))
        if isinstance(widget, QLineEdit):
            widget.editingFinished.connect(lambda w=widget, p=path: self._on_field(p, int(w.text() or 0)))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            # One edit (and one undo step) per finished number, not one per keystroke.
            widget.setKeyboardTracking(False)
            widget.valueChanged.connect(lambda value, p=path: self._on_field(p, value))
        elif isinstance(widget, QComboBox):
            widget.currentTextChanged.connect(lambda value, p=path: self._on_field(p, value))
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(lambda value, p=path: self._on_field(p, value))
        if form is not None:
            # The field with its "?" and, under it, its problem in words (hidden while there is none).
            message = QLabel(wordWrap=True)
            message.setObjectName("fieldProblem")
            message.setStyleSheet("color:#d9534f;")
            message.hide()
            self._messages[path] = message
            self._add_row(form, label, widget, path, message)
        return widget

    def _add_row(self, form: QFormLayout, label: str, widget: QWidget, key: str, message: QLabel | None = None):
        """A form row: the label (with the control's tooltip), the control, its "?" and its problem line."""
        self._rows[key] = widget
        cell = QWidget()
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        # A tick box keeps its own width: stretched, clicking the empty space beside it would toggle it.
        row.addWidget(widget, 0 if isinstance(widget, QCheckBox) else 1)
        if isinstance(widget, QCheckBox):
            row.addStretch(1)
        row.addWidget(explain_button(key, self.explain))
        stack.addLayout(row)
        if message is not None:
            stack.addWidget(message)
        words = QLabel(label)
        words.setToolTip(field_tooltip(key))
        words.setBuddy(widget)
        form.addRow(words, cell)

    def _tooltip(self, path: str) -> str:
        """The editor's own tooltip: its short explanation, and the chosen value's for a list of choices."""
        widget = self._bound[path]
        return field_tooltip(path, widget.currentText() if isinstance(widget, QComboBox) else None)

    def explain(self, key: str) -> None:
        """Open the explanation of ``key`` (a spec path or a core.explain key) in the pane under the form."""
        widget = self._bound.get(key)
        current = widget.currentText() if isinstance(widget, QComboBox) else None
        was_hidden = self.explain_pane.isHidden()
        self.explain_pane.show_key(key, current)
        if was_hidden:  # opening: give it 40% of the form's height; later "?"s keep the user's split
            total = sum(self.form_split.sizes()) or self.form_split.height()
            self.form_split.setSizes([total - total * 2 // 5, total * 2 // 5])
        # The pane took height from the form: keep the control explained (or the table that asked) in sight.
        control = self._rows.get(key, self.sender())
        content = self.form_scroll.widget()
        if isinstance(control, QWidget) and content.isAncestorOf(control):
            top, height = control.mapTo(content, QPoint(0, 0)).y(), control.height()
            # After the splitter has laid the pane out: only then is the form's new height known.
            QTimer.singleShot(0, self, lambda: self._scroll_to(top, height))

    def _scroll_to(self, top: int, height: int) -> None:
        """Scroll the form up or down just enough to show rows top..top+height; never sideways (that
        would hide the labels of a form wider than the dock)."""
        bar, view = self.form_scroll.verticalScrollBar(), self.form_scroll.viewport().height()
        margin = 8
        if top - margin < bar.value():
            bar.setValue(top - margin)
        elif top + height + margin > bar.value() + view:
            bar.setValue(min(top - margin, top + height + margin - view))

    def _form(self, form: QFormLayout, *paths: str) -> None:
        """An editor for each path, in order: a number editor, a list of choices or a tick box by its type."""
        for path in paths:
            kind = field_type(path)
            widget = QCheckBox() if kind is bool else number_editor(path) if kind in (int, float) \
                else _choice(path)
            self._bind(path, widget, form)

    def _architecture_box(self) -> QGroupBox:
        box = QGroupBox("Architecture")
        form = QFormLayout(box)
        self.input_label = QLabel()
        self.input_label.setToolTip(field_tooltip("input"))
        self._add_row(form, "Input", self.input_label, "input")
        self._form(form, "family", "latent.dim")
        self._bound["latent.dim"].setObjectName("latentDimSpin")
        self._form(form, "latent.activation", "latent.bias", "latent.bias_init", "likelihood", "decoder.mirror",
                   "decoder.tied_weights", "decoder.output_bias", "decoder.output_bias_init")
        return box

    def _attention_box(self) -> QGroupBox:
        box = QGroupBox("Attention")
        self._form(QFormLayout(box), "attention.patch_size", "attention.heads", "attention.pool",
                   "attention.decoder_blocks", "attention.memory_tokens")
        return box

    def _capsule_box(self) -> QGroupBox:
        box = QGroupBox("Capsules")
        form = QFormLayout(box)
        self._form(form, "capsule.primary_channels", "capsule.primary_dim", "capsule.primary_kernel",
                   "capsule.primary_stride", "capsule.num_capsules", "capsule.capsule_dim", "capsule.routing_iterations")
        self.capsule_units = QLineEdit()
        self.capsule_units.setObjectName("capsuleDecoderUnits")
        self.capsule_units.setProperty("specPath", "capsule.decoder_units")
        self.capsule_units.setToolTip(field_tooltip("capsule.decoder_units"))
        self.capsule_units.editingFinished.connect(self._on_capsule_units)
        self._add_row(form, "Decoder widths", self.capsule_units, "capsule.decoder_units")
        return box

    def _objective_box(self) -> QGroupBox:
        box = QGroupBox("Objective")
        self._form(QFormLayout(box), "objective.sparsity.kind", "objective.sparsity.weight",
                   "objective.sparsity.target", "objective.sparsity.layer", "objective.noise.kind",
                   "objective.noise.level", "objective.variational.enabled", "objective.variational.beta",
                   "objective.variational.warmup_epochs", "objective.variational.free_bits",
                   "objective.contractive.weight", "objective.adversarial.enabled", "objective.adversarial.prior",
                   "objective.adversarial.mixture_components", "objective.adversarial.weight",
                   "objective.adversarial.hidden_units", "objective.adversarial.disc_lr", "objective.stacked.pretrain",
                   "objective.stacked.epochs_per_layer")
        return box

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        self._form(QFormLayout(box), "train.epochs", "train.batch_size", "train.lr", "train.optimizer",
                   "train.lr_schedule", "train.patience", "train.regularization.decay",
                   "train.regularization.weight_decay", "train.regularization.bias_decay",
                   "train.regularization.grad_clip", "train.val_fraction", "train.seed", "train.device", "train.amp")
        self._bound["train.epochs"].setObjectName("epochsSpin")
        return box

    # --- state -> widgets ---------------------------------------------------------------------
    def _load(self, spec: AutoencoderSpec) -> None:
        self._loading = True
        try:
            for path, widget in self._bound.items():
                value = get_path(spec, path)
                widget.blockSignals(True)
                if isinstance(widget, QCheckBox):
                    widget.setChecked(bool(value))
                elif isinstance(widget, QLineEdit):
                    widget.setText(str(value))
                elif isinstance(widget, QComboBox):
                    widget.setCurrentText(str(value))
                else:
                    widget.setValue(value)
                widget.blockSignals(False)
            self.layer_table.set_layers(spec.encoder.layers, spec.family)
            self.decoder_table.set_layers(spec.decoder.layers, spec.family)
            names = [self.preset_combo.itemText(i) for i in range(self.preset_combo.count())]
            self.preset_combo.setCurrentText(spec.name if spec.name in names else BLANK)
        finally:
            self._loading = False
        shape = "x".join(map(str, spec.input.shape))
        self.input_label.setText(f"{spec.input.kind} {shape}")
        self.description.setText(self._describe(spec))
        self.decoder_box.setVisible(not spec.decoder.mirror and spec.family in ("mlp", "conv"))
        self.capsule_units.setText(", ".join(map(str, spec.capsule.decoder_units)))
        self._apply_enabled(spec)
        self.attention_box.setVisible(spec.family == "attention")
        self.capsule_box.setVisible(spec.family == "capsule")
        self._show_problems(self.state.issues)
        self._summary_timer.start()

    def _describe(self, spec: AutoencoderSpec) -> str:
        """The preset's one line, said to be the starting point once the model is edited away from it
        (the line may no longer hold: "a 32-unit code" after the code became 80)."""
        dataset = self.state.dataset
        if spec.name not in PRESETS or dataset is None or is_stock_preset(spec, dataset):
            return spec.description
        return f"Edited from the {spec.name} preset, which is: {spec.description[:1].lower()}{spec.description[1:]}"

    def _show_problems(self, issues: list[tuple[str, str]]) -> None:
        flagged = {path for path, _ in issues}
        for path, widget in self._bound.items():
            if path not in flagged:
                widget.setStyleSheet("")
                widget.setToolTip(self._tooltip(path))
                if path in self._messages:
                    self._messages[path].hide()
        rows: dict[int, str] = {}
        decoder_rows: dict[int, str] = {}
        for path, message in issues:
            if path.startswith("decoder.layers["):
                decoder_rows[int(path.split("[")[1].split("]")[0])] = f"{path}: {message}"
            if path in self._bound:
                self._bound[path].setStyleSheet("border: 1px solid #d9534f;")
                self._bound[path].setToolTip(f"{message}\n\n{self._tooltip(path)}")
                if path in self._messages:
                    self._messages[path].setText(message)
                    self._messages[path].show()
            if path.startswith("encoder.layers["):
                row = int(path.split("[")[1].split("]")[0])
                rows[row] = f"{path}: {message}"
        self.layer_table.mark_problems(rows)
        self.decoder_table.mark_problems(decoder_rows)
        # The summary names each field as its editor is labelled, with the spec path for reference.
        self.problems_label.setText("\n".join(
            f"• {self._labels[p]} ({p}): {m}" if p in self._labels else f"• {p}: {m}" if p else f"• {m}"
            for p, m in issues))
        self.problems_label.setVisible(bool(issues))

    @property
    def summary_pending(self) -> bool:
        """Whether an edit's summary is still to come (its debounce, or its job)."""
        return self._summary_timer.isActive() or self.summary_worker.busy

    def memory_problem_shown(self, spec, data_bytes: int) -> str | None:
        """The shown summary's memory verdict when it is about this spec and data, else None."""
        if self.summary is None:
            return None
        shown_spec, shown_bytes, summary = self.summary
        return summary.memory_problem if shown_spec == spec and shown_bytes == data_bytes else None

    def _refresh_summary(self) -> None:
        dataset = self.state.dataset
        self.summary_worker.submit(summary_job, self.state.spec.copy(), list(self.state.issues),
                                   dataset.x.nbytes if dataset is not None else 0)

    def _show_summary(self, result) -> None:
        self.summary = result
        summary = result[2]
        self.diagram.set_blocks(summary.blocks)
        self.param_label.setText(summary.headline)
        # Beside the count, what training would need; over the budget it is the reason Train is off.
        self.memory_label.setText(f"· {summary.memory_text}" if summary.memory_text else "")
        self.memory_label.setToolTip(summary.memory_problem or (summary.estimate.detail if summary.estimate else ""))
        self.memory_label.setProperty("overBudget", bool(summary.memory_problem))
        self.memory_label.setStyleSheet("color:#d9534f;font-weight:bold;" if summary.memory_problem else "")
        self.shapes_list.clear()
        self.shapes_list.addItems([f"{name}: {shape}" for name, shape in summary.shapes])
        self.summaryChanged.emit()

    def shutdown(self) -> None:
        """The window is closing: no summary refresh may fire after it."""
        self._summary_timer.stop()
        self.summary_worker.shutdown(timeout=2.0)

    def _on_locked(self, locked: bool) -> None:
        if not locked:
            self._keep_live_values()
        spec = self.state.spec
        can = " and ".join(LIVE_VALUE_WORDS[name] for name in live_values_used(spec))
        self.locked_banner.setText(f"Training is running: the model is read-only. The {can} can still be "
                                   f"changed and apply at the next step.")
        self.locked_banner.setVisible(locked)
        self.preset_combo.setEnabled(not locked)
        self.layer_table.setEnabled(not locked)
        self.decoder_table.setEnabled(not locked)
        self._apply_enabled(spec)

    def _apply_enabled(self, spec: AutoencoderSpec) -> None:
        """Editable: fields the model reads, and while training only the live values it uses."""
        locked = self.state.locked
        live = {LIVE[name].path for name in live_values_used(spec)}
        # A field with a problem stays editable even when unused: it may be the way out (tied weights on).
        unused = unused_paths(spec) - {path for path, _ in self.state.issues}
        for path, widget in self._bound.items():
            widget.setEnabled(path in live if locked else path not in unused)
        self.capsule_units.setEnabled(not locked)

    def _keep_live_values(self) -> None:
        """Values changed live during the run become the spec's, so the editors, the saved
        spec and the next run agree with what the person last set."""
        spec = self.state.spec
        changed = []
        for path in LIVE_PATHS:
            value = self._bound[path].value()
            if abs(value - get_path(spec, path)) > 1e-12:
                set_path(spec, path, round(value, 8))
                changed.append(self._labels[path])
        if changed:
            self.state.edit_spec(spec, f"keep the live {', '.join(changed)}")

    # --- widgets -> state ------------------------------------------------------------------------
    def _on_field(self, path: str, value) -> None:
        if self._loading:
            return
        if self.state.locked:
            if path in LIVE_PATHS:
                self.liveValueChanged.emit(LIVE_PATHS[path], float(value))
            return
        spec = self.state.spec
        if isinstance(value, float):
            value = round(value, 8)
        set_path(spec, path, value)
        if path == "family":
            retarget_family_layers(spec)
        if path in ("capsule.num_capsules", "capsule.capsule_dim"):
            sync_capsule_code(spec)  # the code is the capsules
        if path == "decoder.mirror" and not value and not spec.decoder.layers:
            # Start the explicit decoder from the mirror's layers: a working decoder to edit (the same
            # network for mlp; for conv one more block, as an explicit decoder ends in a stride-1 conv).
            spec.decoder.layers = mirrored_decoder_layers(spec)
        self.state.edit_spec(spec, f"set {self._labels.get(path, path)}")

    def _on_layers(self, layers: list[LayerSpec]) -> None:
        if self._loading or self.state.locked:
            return
        spec = self.state.spec
        spec.encoder.layers = layers
        self.state.edit_spec(spec, "edit encoder layers")

    def _on_capsule_units(self) -> None:
        if self._loading or self.state.locked:
            return
        text = self.capsule_units.text()
        try:
            units = tuple(int(part) for part in text.replace(";", ",").split(",") if part.strip())
        except ValueError:
            self.problems_label.setText(f"• capsule.decoder_units: '{text}' is not a list of whole numbers "
                                        f"such as 256, 512")
            self.problems_label.setVisible(True)
            return
        spec = self.state.spec
        spec.capsule.decoder_units = units
        if not self.state.edit_spec(spec, "set capsule decoder widths"):
            self._show_problems(self.state.issues)  # unchanged: clear a parse message left from before

    def _on_decoder_layers(self, layers: list[LayerSpec]) -> None:
        if self._loading or self.state.locked:
            return
        spec = self.state.spec
        spec.decoder.layers = layers
        self.state.edit_spec(spec, "edit decoder layers")

    def _on_preset(self, index: int) -> None:
        name = self.preset_combo.itemText(index)
        current = self.state.spec
        kind, shape = current.input.kind, tuple(current.input.shape)
        dataset = self.state.dataset
        unit_range = dataset.in_unit_range if dataset is not None else None
        spec = blank_spec(kind, shape) if name == BLANK else get_preset(name)
        self.state.edit_spec(fit_to_input(spec, kind, shape, unit_range), f"preset {name}")
