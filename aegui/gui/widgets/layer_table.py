"""The editable table of encoder (or decoder) layers: one row a layer, one editor a cell.

Each cell editor carries its spec path (``specPath``, e.g. "encoder.layers[2].kernel") and the tooltip
core.explain gives that field; the "?" beside the buttons, and a click on a column's heading, ask for
the longer explanation (``explainRequested``), which the builder shows in its pane."""
from __future__ import annotations

import typing

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLineEdit, QMenu,
    QPushButton, QSpinBox, QTableWidget, QToolButton, QVBoxLayout, QWidget,
)

from ...core.explain import title
from ...core.spec import LayerSpec
from ...core.spec_rules import FieldInfo, choices, field_info, field_type
from .explain_pane import field_tooltip, set_choice_tooltips

INT_EDITOR_MAX = 2 ** 31 - 1  # a QSpinBox holds a C int; wider whole numbers get a line editor


def editor_range(info: FieldInfo, decimals: int | None = None) -> tuple[float, float]:
    """The lowest and highest value an editor offers for a field: its bounds, with an open bound
    moved in by one step of the shown precision (a float editor cannot leave out the bound itself)."""
    nudge = 10.0 ** -decimals if decimals is not None else 1
    lo = info.lo + nudge if info.lo_open else info.lo
    hi = info.hi - nudge if info.hi_open else info.hi
    return lo, hi


def number_editor(path: str) -> QWidget:
    """The editor for a numeric field, with the range, step and help that spec_rules gives it."""
    info = field_info(path)
    if info.lo is None or info.hi is None:
        raise ValueError(f"{path} has no upper or lower bound for an editor to stop at")
    tp = field_type(path)
    if tp is int or int in typing.get_args(tp):  # a layer's units and channels may be None: Optional[int]
        lo, hi = editor_range(info)
        if hi > INT_EDITOR_MAX:  # the seed: any whole number a generator takes, typed as text
            box = QLineEdit()
            box.setValidator(QRegularExpressionValidator(rf"\d{{1,{len(str(hi))}}}"))
            return box
        box = QSpinBox()
        box.setRange(lo, hi)
        return box
    box = QDoubleSpinBox()
    box.setDecimals(info.decimals)
    box.setRange(*editor_range(info, info.decimals))
    box.setSingleStep(info.step)
    return box


# One column a layer field; each column's heading and range come from spec_rules, its words from core.explain.
FIELDS = ("units", "kernel", "stride", "activation", "bias", "bias_init", "batch_norm", "dropout")
COLUMNS = tuple(field_info(f"layers[].{name}").label for name in FIELDS)


def column_field(col: int, family: str) -> str:
    """The LayerSpec field a column edits: the width column is channels for conv and capsule models."""
    return "channels" if col == 0 and family in ("conv", "capsule") else FIELDS[col]


class LayerTable(QWidget):
    """Edits a list of LayerSpec; emits ``edited`` with the new list after any change."""

    edited = Signal(list)
    explainRequested = Signal(str)  # a core.explain key: the table, or one of its columns

    def __init__(self, parent: QWidget | None = None, table_name: str = "layerTable",
                 spec_path: str = "encoder.layers"):
        super().__init__(parent)
        self.spec_path = spec_path
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName(table_name)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().sectionClicked.connect(
            lambda col: self.explainRequested.emit(self.column_key(col)))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.add_button = QPushButton("Add layer")
        prefix = "" if table_name == "layerTable" else table_name.removesuffix("LayerTable")  # "decoder"
        self.add_button.setObjectName(f"{prefix}AddLayerButton" if prefix else "addLayerButton")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName(f"{prefix}RemoveLayerButton" if prefix else "removeLayerButton")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.add_button.setToolTip("Add a layer after the selected one (or at the end)")
        self.remove_button.setToolTip("Remove the selected layer")
        self.explain_button = self._explain_button()
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.explain_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._layers: list[LayerSpec] = []
        self._family = "mlp"
        self._loading = False
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self._set_header_tips()

    # --- explanations ------------------------------------------------------------------------
    def column_key(self, col: int) -> str:
        return f"layers[].{column_field(col, self._family)}"

    def _explain_button(self) -> QToolButton:
        """A "?" whose menu explains the table as a whole and each of its columns."""
        button = QToolButton(self)
        button.setText("?")
        button.setObjectName("explainButton")
        button.setProperty("explainKey", self.spec_path)
        button.setAutoRaise(True)
        button.setToolTip(f"Explain: {title(self.spec_path)} and each column (or click a column's heading)")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.setObjectName("layerExplainMenu")
        menu.addAction(title(self.spec_path), lambda: self.explainRequested.emit(self.spec_path))
        menu.addSeparator()
        for col, heading in enumerate(COLUMNS):
            menu.addAction(heading, lambda col=col: self.explainRequested.emit(self.column_key(col)))
        button.setMenu(menu)
        return button

    def _set_header_tips(self) -> None:
        for col in range(len(COLUMNS)):
            tip = f"{field_tooltip(self.column_key(col))}\n\nClick the heading for more."
            self.table.horizontalHeaderItem(col).setToolTip(tip)

    def _cell_tip(self, row: int, col: int) -> str:
        editor = self.table.cellWidget(row, col)
        value = editor.currentText() if isinstance(editor, QComboBox) else None
        return field_tooltip(self.column_key(col), value)

    # --- in --------------------------------------------------------------------------------
    def set_layers(self, layers: list[LayerSpec], family: str) -> None:
        """Show ``layers``. Editors are updated in place when the rows stay the same, so the
        field a person is typing in keeps its focus and cursor while the spec follows each edit."""
        selected = self.table.currentRow()
        rebuild = family != self._family or len(layers) != self.table.rowCount()
        self._layers = [LayerSpec(**vars(layer)) for layer in layers]
        if family != self._family:
            self._family = family
            self._set_header_tips()  # the width column's words follow the family
        self._loading = True
        try:
            if rebuild:
                self.table.setRowCount(len(self._layers))
                for row in range(len(self._layers)):
                    self._make_row(row)
            for row, layer in enumerate(self._layers):
                self._load_row(row, layer)
        finally:
            self._loading = False
        if rebuild and 0 <= selected < len(self._layers):
            self.table.selectRow(selected)

    def _make_row(self, row: int) -> None:
        conv_like = self._family in ("conv", "capsule")
        # The width column edits units or channels, which share one range.
        width = number_editor("layers[].channels" if conv_like else "layers[].units")
        kernel, stride = number_editor("layers[].kernel"), number_editor("layers[].stride")
        kernel.setEnabled(conv_like)
        stride.setEnabled(conv_like)
        activation = QComboBox()
        activation.addItems(choices("layers[].activation"))
        set_choice_tooltips(activation, "layers[].activation")
        bias = QCheckBox()
        bias_init = number_editor("layers[].bias_init")
        norm = QCheckBox()
        dropout = number_editor("layers[].dropout")
        editors = (width, kernel, stride, activation, bias, bias_init, norm, dropout)
        for col, editor in enumerate(editors):
            editor.setProperty("specPath", f"{self.spec_path}[{row}].{column_field(col, self._family)}")
            if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                # One edit (and one undo step) per finished number, not one per keystroke.
                editor.setKeyboardTracking(False)
            self.table.setCellWidget(row, col, editor)
            signal = {QSpinBox: "valueChanged", QDoubleSpinBox: "valueChanged", QComboBox: "currentTextChanged",
                      QCheckBox: "toggled"}[type(editor)]
            getattr(editor, signal).connect(lambda *_: self._changed())
            editor.setToolTip(self._cell_tip(row, col))

    def _load_row(self, row: int, layer: LayerSpec) -> None:
        conv_like = self._family in ("conv", "capsule")
        cell = self.table.cellWidget
        values = ((layer.channels if conv_like else layer.units) or 1, layer.kernel, layer.stride, layer.activation,
                  layer.bias, layer.bias_init, layer.batch_norm, layer.dropout)
        for col, value in enumerate(values):
            editor = cell(row, col)
            blocker = QSignalBlocker(editor)  # loading is not an edit
            if isinstance(editor, QComboBox):
                if editor.currentText() != value:
                    editor.setCurrentText(value)
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif editor.value() != value:
                editor.setValue(value)
            del blocker
        cell(row, 5).setEnabled(layer.bias)

    # --- out -------------------------------------------------------------------------------
    def layers(self) -> list[LayerSpec]:
        conv_like = self._family in ("conv", "capsule")
        out = []
        for row, old in enumerate(self._layers):
            cell = self.table.cellWidget
            width = cell(row, 0).value()
            layer = LayerSpec(**vars(old))
            if conv_like:
                layer.channels = width
            else:
                layer.units = width
            layer.kernel = cell(row, 1).value()
            layer.stride = cell(row, 2).value()
            layer.activation = cell(row, 3).currentText()
            layer.bias = cell(row, 4).isChecked()
            layer.bias_init = cell(row, 5).value()
            layer.batch_norm = cell(row, 6).isChecked()
            layer.dropout = round(cell(row, 7).value(), 4)
            out.append(layer)
        return out

    def _changed(self) -> None:
        if not self._loading:
            self.edited.emit(self.layers())

    def _add(self) -> None:
        layers = self.layers()
        row = self.table.currentRow()
        template = layers[row] if 0 <= row < len(layers) else (layers[-1] if layers else None)
        new = LayerSpec(**vars(template)) if template else LayerSpec(units=128, channels=32, stride=2)
        if template is None and self._family == "attention":
            new.units = 64
        layers.insert(row + 1 if row >= 0 else len(layers), new)
        self.edited.emit(layers)

    def _remove(self) -> None:
        layers = self.layers()
        row = self.table.currentRow()
        if not layers:
            return
        del layers[row if 0 <= row < len(layers) else -1]
        self.edited.emit(layers)

    def _move(self, delta: int) -> None:
        layers = self.layers()
        row = self.table.currentRow()
        new_row = row + delta
        if 0 <= row < len(layers) and 0 <= new_row < len(layers):
            layers[row], layers[new_row] = layers[new_row], layers[row]
            self.edited.emit(layers)
            self.table.selectRow(new_row)

    def mark_problems(self, problems: dict[int, str]) -> None:
        """Outline the rows that have problems, with the message before the cells' own tooltips."""
        for row in range(self.table.rowCount()):
            message = problems.get(row)
            for col in range(len(COLUMNS)):
                widget = self.table.cellWidget(row, col)
                if widget is None:
                    continue
                widget.setStyleSheet("border: 1px solid #d9534f;" if message else "")
                tip = self._cell_tip(row, col)
                widget.setToolTip(f"{message}\n\n{tip}" if message else tip)
