"""The data panel: built-in sets, the user's own files, a preview and statistics.

A failed import shows the engine's message in place and leaves the current
dataset loaded: nothing the user had is lost to a bad file. Loading runs on
a DatasetLoader thread, so a large folder never freezes the window.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QStackedWidget, QVBoxLayout, QWidget,
)

from ...core.data import BUILTIN_DATASETS, Dataset
from ..dashboard.samples import TraceGrid, display_levels
from ..data_loader import DatasetLoader
from ..widgets.image_grid import ImageGrid

FILE_FILTER = "Data files (*.npy *.npz *.csv *.tsv *.txt *.gz *idx*-ubyte *.png *.jpg *.jpeg *.bmp);;All files (*)"
PREVIEW = 32  # images shown
TRACE_PREVIEW = 16  # signals or table rows shown (a 4x4 grid of traces)


def describe(dataset: Dataset) -> str:
    lines = [f"<b>{dataset.name}</b>: {len(dataset):,} samples, {dataset.kind} "
             f"{'x'.join(map(str, dataset.sample_shape))}"]
    if dataset.description:
        lines.append(dataset.description)
    lo, hi = dataset.value_range
    lines.append(f"values {lo:.3g} to {hi:.3g}" + (" (stored as 0-255, scaled to 0-1)" if dataset.is_uint8 else ""))
    if dataset.labels is not None:
        classes, counts = np.unique(dataset.labels, return_counts=True)
        shown = ", ".join(f"{dataset.label_name(c)}: {n}" for c, n in zip(classes[:12].tolist(), counts[:12].tolist()))
        more = f" … ({len(classes)} classes)" if len(classes) > 12 else ""
        lines.append(f"labels: {shown}{more}")
    if dataset.credit:
        lines.append(f"<i>{dataset.credit}</i>")
    return "<br>".join(lines)


class DataPanel(QWidget):
    datasetLoaded = Signal(object)
    loadFinished = Signal(bool)  # after each load: True when the new dataset is in place

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self.setAcceptDrops(True)
        self.state = state
        self.builtin_combo = QComboBox()
        self.builtin_combo.setObjectName("datasetCombo")
        for name, (_, description) in BUILTIN_DATASETS.items():
            self.builtin_combo.addItem(name, name)
            self.builtin_combo.setItemData(self.builtin_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.builtin_combo.activated.connect(lambda i: self.load(self.builtin_combo.itemData(i)))
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 10_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setToolTip("Keep a stratified subsample of this many samples (0: all)")
        self.holdout_combo = QComboBox()
        self.holdout_combo.setObjectName("holdoutCombo")
        self.holdout_combo.setToolTip("Train on every class but this one; the Anomalies tab then scores how "
                                      "well reconstruction error finds the class the model never saw")
        self.holdout_combo.activated.connect(lambda i: state.set_holdout(self.holdout_combo.itemData(i)))
        self.file_button = QPushButton("Import file…")
        self.file_button.setToolTip("A .npy/.npz array, a CSV table, or MNIST-format IDX files")
        self.folder_button = QPushButton("Import folder…")
        self.folder_button.setToolTip("A folder of images, with one subfolder per label")
        self.file_button.clicked.connect(self._pick_file)
        self.folder_button.clicked.connect(self._pick_folder)
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setObjectName("dataErrorLabel")
        self.error_label.setStyleSheet("color:#d9534f;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.loading_label = QLabel()
        self.loading_label.setObjectName("dataLoadingLabel")
        self.loading_label.hide()
        self.loader = DatasetLoader(self)
        self.loader.busyChanged.connect(self._on_busy)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.stats_label = QLabel(wordWrap=True)
        self.stats_label.setObjectName("dataStatsLabel")
        self.stats_label.setTextFormat(Qt.TextFormat.RichText)
        # Images as a mosaic; signals and table rows as traces (a 128x1 image would be a 1-px strip).
        self.preview = ImageGrid(columns=8, levels=None)
        self.preview.setObjectName("dataPreview")
        self.trace_preview = TraceGrid(columns=4, rows=4)
        self.trace_preview.setObjectName("dataTracePreview")
        self.previews = QStackedWidget()
        self.previews.addWidget(self.preview)
        self.previews.addWidget(self.trace_preview)
        self.hint = hint = QLabel("Drop a file or folder here to import it.")
        hint.setStyleSheet("color:gray;")

        row = QHBoxLayout()
        row.addWidget(QLabel("Built-in"))
        row.addWidget(self.builtin_combo, 1)
        row.addWidget(QLabel("Limit"))
        row.addWidget(self.limit_spin)
        holdout_row = QHBoxLayout()
        holdout_row.addWidget(QLabel("Train without"))
        holdout_row.addWidget(self.holdout_combo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.file_button)
        buttons.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(holdout_row)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.stats_label)
        layout.addWidget(self.previews, 1)
        state.datasetChanged.connect(self._show)
        state.lockedChanged.connect(self._on_locked)
        state.holdoutChanged.connect(self._show_holdout)
        if state.dataset is not None:
            self._show(state.dataset)

    # --- loading ------------------------------------------------------------------------------
    def load(self, name_or_path: str) -> None:
        """Load a built-in set or a path in the background. ``loadFinished(ok)`` follows; on failure
        the engine's message shows in place and the current dataset stays loaded."""
        if self.state.locked:
            self.show_error(f"{name_or_path}: cannot be loaded while training runs; stop the run first")
            self.loadFinished.emit(False)
            return
        limit = self.limit_spin.value() or None
        self.loading_label.setText(f"Loading {Path(str(name_or_path)).name or name_or_path}…")
        self.loader.load(str(name_or_path), limit)

    def _on_locked(self, locked: bool) -> None:
        """The run trains on the dataset it started with: no other may be loaded until it ends."""
        for widget in (self.builtin_combo, self.limit_spin, self.file_button, self.folder_button):
            widget.setEnabled(not locked)
        dataset = self.state.dataset
        self.holdout_combo.setEnabled(not locked and dataset is not None and dataset.labels is not None)
        self.setAcceptDrops(not locked)
        self.hint.setText("Training is running: the dataset is fixed until it ends." if locked
                          else "Drop a file or folder here to import it.")

    def shutdown(self) -> None:
        """The window is closing: cancel any load and join its thread."""
        self.loader.shutdown()

    def _on_busy(self, busy: bool) -> None:
        self.loading_label.setVisible(busy)
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        else:
            QGuiApplication.restoreOverrideCursor()

    def _on_loaded(self, dataset: Dataset) -> None:
        self.error_label.hide()
        self.state.set_dataset(dataset, options=self.loader.options)
        self.datasetLoaded.emit(dataset)
        self.loadFinished.emit(True)

    def _on_failed(self, message: str) -> None:
        self.show_error(message)
        self.loadFinished.emit(False)

    def show_error(self, message: str) -> None:
        # The engine's advice names the command line's option; here the same thing is the Limit box.
        message = message.replace("use --limit ", "set Limit to ").replace("--limit", "Limit")
        kept = f" The current dataset ({self.state.dataset.name}) is still loaded." if self.state.dataset else ""
        self.error_label.setText(f"Import failed: {message}.{kept}")
        self.error_label.show()

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a data file", str(Path.home()), FILE_FILTER)
        if path:
            self.load(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a folder of images", str(Path.home()))
        if path:
            self.load(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.load(urls[0].toLocalFile())

    # --- display ----------------------------------------------------------------------------------
    def _fill_holdout(self, dataset: Dataset) -> None:
        combo = self.holdout_combo
        combo.clear()
        combo.addItem("(no class: train on all)", None)
        if dataset.labels is not None:
            for value in np.unique(dataset.labels).tolist():
                combo.addItem(f"class {dataset.label_name(value)}", int(value))
        combo.setEnabled(dataset.labels is not None and not self.state.locked)
        self._show_holdout(self.state.holdout)

    def _show_holdout(self, label) -> None:
        index = 0 if label is None else self.holdout_combo.findData(int(label))
        self.holdout_combo.setCurrentIndex(max(index, 0))

    def _show(self, dataset: Dataset) -> None:
        self._fill_holdout(dataset)
        index = self.builtin_combo.findData(dataset.name)
        if index >= 0:
            self.builtin_combo.setCurrentIndex(index)
        self.stats_label.setText(describe(dataset))
        n = min(PREVIEW if dataset.kind == "image" else TRACE_PREVIEW, len(dataset))
        # An even spread over the set shows more than its first rows (often one class).
        pick = np.linspace(0, len(dataset) - 1, n).astype(int)
        samples = dataset.as_float(pick)
        labels = None
        if dataset.labels is not None:
            labels = [dataset.label_name(v) for v in dataset.labels[pick].tolist()]
        if dataset.kind == "image":
            levels = (0.0, 1.0) if dataset.is_uint8 else None
            self.preview.set_samples(samples, labels=labels, levels=levels)
            self.previews.setCurrentWidget(self.preview)
        else:
            self.trace_preview.set_rows([samples], display_levels(samples, unit_range=False))
            self.trace_preview.set_captions(labels)
            self.previews.setCurrentWidget(self.trace_preview)
