"""The point-and-click model builder: everything the engine's spec can express.

Each editor is bound to one dotted spec path. An edit copies the state's spec,
sets that one field and hands it back as an undoable edit; the state then
announces the new spec and every editor is refreshed from it. The builder never
keeps its own spec.
"""
from __future__ import annotations

from functools import reduce

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from ...core.presets import PRESETS, describe_presets, fit_to_input, get_preset, is_stock_preset
from ...core.spec import (
    ACTIVATIONS, DECAY_KINDS, FAMILIES, LIKELIHOODS, LR_SCHEDULES, NOISE_KINDS, OPTIMIZERS, POOLS, PRIORS, SPARSITY_KINDS,
    AutoencoderSpec, LayerSpec,
)
from ..widgets.diagram import ArchitectureDiagram
from ..widgets.layer_table import LayerTable
from .model_summary import summarize

BLANK = "(blank)"
# Spec paths that may change while training runs, and the engine's name for each.
LIVE_PATHS = {
    "train.lr": "lr",
    "objective.variational.beta": "beta",
    "objective.noise.level": "noise_level",
    "objective.sparsity.weight": "sparsity_weight",
}


def _get(spec, path: str):
    return reduce(getattr, path.split("."), spec)


def _set(spec, path: str, value) -> None:
    *head, last = path.split(".")
    setattr(reduce(getattr, head, spec) if head else spec, last, value)


def _spin(lo: int, hi: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    return box


def _dspin(lo: float, hi: float, step: float, decimals: int = 3) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    return box


def _combo(items) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    return box


def blank_spec(kind: str = "image", shape=(1, 28, 28)) -> AutoencoderSpec:
    spec = AutoencoderSpec(name="blank", description="A blank model: one hidden layer to start from")
    spec.encoder.layers = [LayerSpec(units=128)]
    return spec.with_input(kind, shape)


class ModelBuilder(QWidget):
    liveValueChanged = Signal(str, float)

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelBuilder")
        self.state = state
        self._bound: dict[str, QWidget] = {}
        self._labels: dict[str, str] = {}  # spec path -> the words its editor is labelled with
        self._tips: dict[str, str] = {}  # spec path -> its editor's own tooltip
        self._messages: dict[str, QLabel] = {}  # spec path -> the problem line under its editor
        self._loading = False
        self._summary_timer = QTimer(self, singleShot=True, interval=120)
        self._summary_timer.timeout.connect(self._refresh_summary)

        self.preset_combo = _combo([name for name, _ in describe_presets()] + [BLANK])
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.setToolTip("Start from a named variant from the tutorial, or from a blank model")
        self.preset_combo.activated.connect(self._on_preset)
        self.description = QLabel(wordWrap=True)
        self.locked_banner = QLabel(
            "Training is running: the model is read-only. Learning rate, β, noise level and sparsity weight "
            "still apply at the next step.", wordWrap=True)
        self.locked_banner.setObjectName("lockedBanner")
        self.locked_banner.setStyleSheet("background:#fff3cd;color:#664d03;padding:4px;border-radius:3px;")
        self.locked_banner.hide()

        self.layer_table = LayerTable()
        self.layer_table.edited.connect(self._on_layers)
        self.decoder_table = LayerTable(table_name="decoderLayerTable")
        self.decoder_table.edited.connect(self._on_decoder_layers)
        self.diagram = ArchitectureDiagram()
        self.param_label = QLabel()
        self.param_label.setObjectName("paramCountLabel")
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
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)

        summary = QGroupBox("Summary")
        summary_layout = QVBoxLayout(summary)
        summary_layout.addWidget(self.diagram)
        summary_layout.addWidget(self.param_label)
        summary_layout.addWidget(self.problems_label)
        summary_layout.addWidget(self.shapes_list)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(summary)
        outer.addWidget(scroll, 1)

        state.specChanged.connect(self._load)
        state.lockedChanged.connect(self._on_locked)
        self._load(state.spec)

    # --- layout pieces -------------------------------------------------------------------
    def _bind(self, path: str, widget: QWidget, form: QFormLayout | None = None, label: str = "",
              tip: str = "") -> QWidget:
        self._bound[path] = widget
        words = label or path.rsplit(".", 1)[-1].replace("_", " ")
        self._labels[path] = words[:1].lower() + words[1:]  # for "set learning rate", "undo set β"
        widget.setProperty("specPath", path)
        if tip:
            widget.setToolTip(tip)
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            # One edit (and one undo step) per finished number, not one per keystroke.
            widget.setKeyboardTracking(False)
            widget.valueChanged.connect(lambda value, p=path: self._on_field(p, value))
        elif isinstance(widget, QComboBox):
            widget.currentTextChanged.connect(lambda value, p=path: self._on_field(p, value))
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(lambda value, p=path: self._on_field(p, value))
        self._tips[path] = widget.toolTip()
        if form is not None:
            # The field and, under it, its problem in words (hidden while there is none).
            message = QLabel(wordWrap=True)
            message.setObjectName("fieldProblem")
            message.setStyleSheet("color:#d9534f;")
            message.hide()
            self._messages[path] = message
            cell = QWidget()
            stack = QVBoxLayout(cell)
            stack.setContentsMargins(0, 0, 0, 0)
            stack.setSpacing(1)
            stack.addWidget(widget)
            stack.addWidget(message)
            form.addRow(label, cell)
        return widget

    def _architecture_box(self) -> QGroupBox:
        box = QGroupBox("Architecture")
        form = QFormLayout(box)
        self.input_label = QLabel()
        form.addRow("Input", self.input_label)
        self._bind("family", _combo(FAMILIES), form, "Family", "mlp: fully connected; conv: convolutions; "
                   "attention: transformer over patches; capsule: routing by agreement")
        latent = self._bind("latent.dim", _spin(1, 1024), form, "Code size", "Units in the code (latent) layer")
        latent.setObjectName("latentDimSpin")
        self._bind("latent.activation", _combo(ACTIVATIONS), form, "Code activation",
                   "sigmoid for KL sparsity; linear for a VAE")
        self._bind("latent.bias", QCheckBox(), form, "Code bias")
        self._bind("latent.bias_init", _dspin(-10, 10, 0.1), form, "Code bias init")
        self._bind("likelihood", _combo(LIKELIHOODS), form, "Output likelihood",
                   "bernoulli: BCE for 0-1 data such as images; gaussian: MSE for standardised tables and signals")
        self._bind("decoder.mirror", QCheckBox(), form, "Mirror the encoder")
        self._bind("decoder.tied_weights", QCheckBox(), form, "Tied weights", "Decoder reuses the encoder's "
                   "weights transposed (mlp with a mirrored decoder)")
        self._bind("decoder.output_bias", QCheckBox(), form, "Output bias",
                   "The decoder's output bias learns the mean of the data")
        self._bind("decoder.output_bias_init", _dspin(-10, 10, 0.1), form, "Output bias init")
        return box

    def _attention_box(self) -> QGroupBox:
        box = QGroupBox("Attention")
        form = QFormLayout(box)
        self._bind("attention.patch_size", _spin(1, 64), form, "Patch size", "Tokens are patches this many pixels wide")
        self._bind("attention.heads", _spin(1, 16), form, "Heads")
        self._bind("attention.pool", _combo(POOLS), form, "Pooling", "cross: a learned query attends over tokens")
        self._bind("attention.decoder_blocks", _spin(1, 8), form, "Decoder blocks")
        self._bind("attention.memory_tokens", _spin(1, 64), form, "Memory tokens")
        return box

    def _capsule_box(self) -> QGroupBox:
        box = QGroupBox("Capsules")
        form = QFormLayout(box)
        self._bind("capsule.primary_channels", _spin(1, 64), form, "Primary capsule types")
        self._bind("capsule.primary_dim", _spin(1, 32), form, "Primary capsule size")
        self._bind("capsule.primary_kernel", _spin(1, 15), form, "Primary kernel")
        self._bind("capsule.primary_stride", _spin(1, 4), form, "Primary stride")
        self._bind("capsule.num_capsules", _spin(1, 64), form, "Latent capsules")
        self._bind("capsule.capsule_dim", _spin(1, 32), form, "Latent capsule size")
        self._bind("capsule.routing_iterations", _spin(1, 10), form, "Routing iterations")
        self.capsule_units = QLineEdit()
        self.capsule_units.setObjectName("capsuleDecoderUnits")
        self.capsule_units.setToolTip("Widths of the decoder's hidden layers, from the capsule poses to the "
                                      "output, e.g. 256, 512")
        self.capsule_units.editingFinished.connect(self._on_capsule_units)
        form.addRow("Decoder widths", self.capsule_units)
        return box

    def _objective_box(self) -> QGroupBox:
        box = QGroupBox("Objective")
        form = QFormLayout(box)
        self._bind("objective.sparsity.kind", _combo(SPARSITY_KINDS), form, "Sparsity",
                   "l1: penalise code magnitude; kl: pull mean activations to the target rate")
        self._bind("objective.sparsity.weight", _dspin(0, 100, 0.01, 4), form, "Sparsity weight")
        self._bind("objective.sparsity.target", _dspin(0.001, 0.999, 0.01), form, "Target rate ρ")
        self._bind("objective.sparsity.layer", _spin(-1, 32), form, "Sparse layer", "-1 is the code")
        self._bind("objective.noise.kind", _combo(NOISE_KINDS), form, "Input noise",
                   "Corrupt inputs in training; the loss compares with the clean input")
        self._bind("objective.noise.level", _dspin(0, 5, 0.05), form, "Noise level", "σ for gaussian, p otherwise")
        self._bind("objective.variational.enabled", QCheckBox(), form, "Variational (VAE)")
        self._bind("objective.variational.beta", _dspin(0, 100, 0.1), form, "β", "Weight of the KL term")
        self._bind("objective.variational.warmup_epochs", _dspin(0, 100, 0.5), form, "KL warm-up (epochs)")
        self._bind("objective.variational.free_bits", _dspin(0, 10, 0.05), form, "Free bits (nats/dim)")
        self._bind("objective.contractive.weight", _dspin(0, 100, 0.1, 4), form, "Contractive weight")
        self._bind("objective.adversarial.enabled", QCheckBox(), form, "Adversarial (AAE)")
        self._bind("objective.adversarial.prior", _combo(PRIORS), form, "AAE prior")
        self._bind("objective.adversarial.mixture_components", _spin(1, 64), form, "Mixture components")
        self._bind("objective.adversarial.weight", _dspin(0, 100, 0.1), form, "Adversarial weight",
                   "Weight of the encoder's 'fool the discriminator' term")
        self._bind("objective.adversarial.hidden_units", _spin(1, 4096), form, "Discriminator width")
        self._bind("objective.adversarial.disc_lr", _dspin(1e-6, 1, 1e-4, 6), form, "Discriminator learning rate")
        self._bind("objective.stacked.pretrain", QCheckBox(), form, "Greedy layer-wise pretraining")
        self._bind("objective.stacked.epochs_per_layer", _spin(1, 100), form, "Pretraining epochs per layer")
        return box

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        epochs = self._bind("train.epochs", _spin(1, 10000), form, "Epochs")
        epochs.setObjectName("epochsSpin")
        self._bind("train.batch_size", _spin(1, 8192), form, "Batch size")
        self._bind("train.lr", _dspin(1e-6, 10, 1e-4, 6), form, "Learning rate", "Can be changed while training")
        self._bind("train.optimizer", _combo(OPTIMIZERS), form, "Optimiser")
        self._bind("train.lr_schedule", _combo(LR_SCHEDULES), form, "LR schedule")
        self._bind("train.patience", _spin(0, 1000), form, "Early-stopping patience", "0 turns early stopping off")
        self._bind("train.regularization.decay", _combo(DECAY_KINDS), form, "Weight decay kind",
                   "l2: shrink weights in proportion; l1: push small weights to exactly zero")
        self._bind("train.regularization.weight_decay", _dspin(0, 1, 1e-4, 6), form, "Weight decay (weights)")
        self._bind("train.regularization.bias_decay", _dspin(0, 1, 1e-4, 6), form, "Weight decay (biases)")
        self._bind("train.regularization.grad_clip", _dspin(0, 1000, 0.5), form, "Gradient clip", "0 is off")
        self._bind("train.val_fraction", _dspin(0, 0.9, 0.05, 2), form, "Validation fraction",
                   "Share of the data held out to validate every epoch")
        self._bind("train.seed", _spin(0, 2**31 - 1), form, "Seed")
        self._bind("train.device", _combo(["auto", "cpu", "cuda", "mps"]), form, "Device")
        self._bind("train.amp", QCheckBox(), form, "Mixed precision (CUDA)",
                   "Faster training on a CUDA GPU with bfloat16 or float16; ignored elsewhere")
        return box

    # --- state -> widgets ---------------------------------------------------------------------
    def _load(self, spec: AutoencoderSpec) -> None:
        self._loading = True
        try:
            for path, widget in self._bound.items():
                value = _get(spec, path)
                widget.blockSignals(True)
                if isinstance(widget, QCheckBox):
                    widget.setChecked(bool(value))
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
                widget.setToolTip(self._tips.get(path, ""))
                if path in self._messages:
                    self._messages[path].hide()
        rows: dict[int, str] = {}
        decoder_rows: dict[int, str] = {}
        for path, message in issues:
            if path.startswith("decoder.layers["):
                decoder_rows[int(path.split("[")[1].split("]")[0])] = f"{path}: {message}"
            if path in self._bound:
                self._bound[path].setStyleSheet("border: 1px solid #d9534f;")
                self._bound[path].setToolTip(message)
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

    def _refresh_summary(self) -> None:
        summary = summarize(self.state.spec, self.state.issues)
        self.diagram.set_blocks(summary.blocks)
        self.param_label.setText(summary.headline)
        self.shapes_list.clear()
        self.shapes_list.addItems([f"{name}: {shape}" for name, shape in summary.shapes])

    def shutdown(self) -> None:
        """The window is closing: no summary refresh may fire after it."""
        self._summary_timer.stop()

    def _on_locked(self, locked: bool) -> None:
        if not locked:
            self._keep_live_values()
        spec = self.state.spec
        live = live_paths_in_use(spec)
        names = [self._labels[p] for p in LIVE_PATHS if p in live]
        can = " and ".join(names)
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
        live = live_paths_in_use(spec)
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
            if abs(value - _get(spec, path)) > 1e-12:
                _set(spec, path, round(value, 8))
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
        _set(spec, path, value)
        if path == "family":
            retarget_family_layers(spec)
        if path in ("capsule.num_capsules", "capsule.capsule_dim"):
            spec.latent.dim = spec.capsule.num_capsules * spec.capsule.capsule_dim  # the code is the capsules
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


def mirrored_decoder_layers(spec: AutoencoderSpec) -> list[LayerSpec]:
    """Explicit decoder layers like the mirrored decoder (mlp: the same; conv: each encoder layer undone)."""
    enc = spec.encoder.layers
    if spec.family == "mlp":
        return [LayerSpec(**vars(layer)) for layer in reversed(enc)]
    if spec.family == "conv":
        # Block k undoes encoder layer k: it upsamples by that layer's stride to the channels before it.
        out = []
        for k in range(len(enc) - 1, -1, -1):
            layer = LayerSpec(**vars(enc[k]))
            layer.channels = enc[k - 1].channels if k > 0 else enc[0].channels
            out.append(layer)
        return out
    return []


def unused_paths(spec: AutoencoderSpec) -> set[str]:
    """Fields this spec's other choices make irrelevant: greyed out so nobody tunes a value that does
    nothing (a target rho for an L1 penalty, a noise level with no noise)."""
    o, dec = spec.objective, spec.decoder
    off: set[str] = set()
    if o.sparsity.kind == "none":
        off |= {"objective.sparsity.weight", "objective.sparsity.target", "objective.sparsity.layer"}
    elif o.sparsity.kind == "l1":
        off.add("objective.sparsity.target")
    if o.noise.kind == "none":
        off.add("objective.noise.level")
    if not o.variational.enabled:
        off |= {"objective.variational.beta", "objective.variational.warmup_epochs", "objective.variational.free_bits"}
    if not o.adversarial.enabled:
        off |= {"objective.adversarial.prior", "objective.adversarial.mixture_components",
                "objective.adversarial.weight", "objective.adversarial.hidden_units", "objective.adversarial.disc_lr"}
    elif o.adversarial.prior != "mixture":
        off.add("objective.adversarial.mixture_components")
    if not o.stacked.pretrain:
        off.add("objective.stacked.epochs_per_layer")
    if not spec.latent.bias:
        off.add("latent.bias_init")
    if not dec.output_bias:
        off.add("decoder.output_bias_init")
    if spec.family != "mlp" or not dec.mirror:
        off.add("decoder.tied_weights")
    if spec.family == "capsule":
        off.add("latent.dim")  # num_capsules x capsule_dim sets it
    return off


def live_paths_in_use(spec: AutoencoderSpec) -> set[str]:
    """The live-tunable fields this model's objective reads: only these stay editable while it trains
    (a β for a model with no KL term would be accepted, marked on the plot, and change nothing)."""
    return set(LIVE_PATHS) - unused_paths(spec)


def retarget_family_layers(spec: AutoencoderSpec) -> None:
    """Give each layer the width field its new family reads, so a family switch stays valid."""
    for layer in spec.encoder.layers:
        if spec.family in ("conv", "capsule"):
            layer.channels = layer.channels or min(64, layer.units or 32)
            layer.stride = layer.stride if layer.channels else 2
        else:
            layer.units = layer.units or max(16, (layer.channels or 64) * 2)
    if spec.family == "attention":
        width = spec.encoder.layers[0].units if spec.encoder.layers else 64
        for layer in spec.encoder.layers:
            layer.units = width
    if spec.family == "capsule":
        spec.latent.dim = spec.capsule.num_capsules * spec.capsule.capsule_dim
