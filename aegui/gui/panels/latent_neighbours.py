"""The training samples nearest to a drawing sent from the Draw tab, as a row of thumbnails.

The latent explorer marks the drawing's code on its map; this strip answers "what did the model
learn that looks like this to it?": the ``K`` training rows whose codes lie nearest to the
drawing's, each captioned with its row, its class (when the data has labels) and its code
distance. Only the run's training rows count (``trained_rows(dataset)[train_index]``), never its
validation rows: the point is what the model was fitted on.

Encoding every training row is the slow part (one thread on the 2-core machine: 5,000 digits in
60 ms through the MLP VAE, 320 ms through the conv VAE, so 54,000 take about 0.7 s and 3.5 s), so it
runs on a latest-wins ``Worker`` with its own model copy, and the codes are kept for the run: a
second drawing only encodes itself and searches (``core.latent.nearest``: 60,000 codes in ~1 ms). New weights are another model, so they drop the codes and the
thumbnails. Each thumbnail is a ``SampleCanvas``, so signals and table rows show as what they are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QWidget

from ...core.inference import InferenceModel
from ...core.latent import encode_rows, nearest
from ..widgets.when_shown import run_matches
from ..workers import Worker
from .latent_map import SampleCanvas

K = 5  # neighbours shown
THUMB_MIN = 32  # px: five of them must fit the narrowest window without widening it
THUMB_MAX = 120  # px wide: wider cells would only add black around a square digit
STRIP_HEIGHT = 100  # px: a 60-px thumbnail and a two-line caption, where the window is tall enough
STRIP_MIN_HEIGHT = 68  # px: a 32-px one; a 768-px screen must still fit the window
TITLE_WIDTH = 220


@dataclass
class TrainingCodes:
    """A run's training rows and their codes, with the model copy that made them (kept per run)."""

    run: object
    model: InferenceModel
    rows: np.ndarray  # dataset rows
    codes: np.ndarray  # (len(rows), D)


@dataclass
class Neighbours:
    """What the job hands back: the codes it used, and the nearest rows with what the strip shows."""

    training: TrainingCodes
    rows: np.ndarray  # (k,) dataset rows, nearest first
    distances: np.ndarray  # (k,) Euclidean distances between codes
    samples: np.ndarray  # (k, *sample_shape) their inputs, owned floats
    labels: np.ndarray | None  # (k,) or None without labels


def neighbours_job(token, run, dataset, drawing: np.ndarray, training: TrainingCodes | None,
                   k: int = K) -> Neighbours:
    """Worker job: the run's training codes (unless ``training`` already holds them), the drawing's
    code from the same model copy, and the ``k`` training rows nearest to it."""
    if training is None or training.run is not run:
        model = InferenceModel.from_run(run)
        rows = run.dataset.trained_rows(dataset)[run.train_index]
        training = TrainingCodes(run, model, rows, encode_rows(model, dataset, rows, cancel=token.is_set))
    code = training.model.encode(np.asarray(drawing, np.float32)[None])[0]
    index, distances = nearest(training.codes, code, k)
    rows = training.rows[index]
    labels = dataset.labels[rows].copy() if dataset.labels is not None else None
    return Neighbours(training, rows, distances, dataset.as_float(rows), labels)


class NeighbourStrip(QWidget):
    """A title beside ``K`` captioned thumbnails, one row under the map; hidden until a drawing asks."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latentNeighbours")
        self.training: TrainingCodes | None = None  # the shown run's training codes, once encoded
        self.shown: Neighbours | None = None
        self._run = self._dataset = None
        self.worker = Worker("latent-neighbours", self)
        self.worker.done.connect(self._show)
        self.worker.failed.connect(self._failed)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.thumbs: list[SampleCanvas] = []
        self.captions: list[QLabel] = []
        cells = QGridLayout()
        cells.setSpacing(2)
        cells.setRowStretch(0, 1)  # the thumbnails take the height the captions leave
        for i in range(K):
            thumb = SampleCanvas()
            thumb.setMinimumSize(THUMB_MIN, THUMB_MIN)
            thumb.setMaximumWidth(THUMB_MAX)
            thumb.getPlotItem().setTitle(None)  # no empty title row over a thumbnail
            thumb.getPlotItem().setContentsMargins(1, 1, 1, 1)
            thumb.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            caption = QLabel()
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            # Ignored width: a long class name is cut, never a reason for the window to widen.
            caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            caption.setMaximumWidth(THUMB_MAX)
            font = caption.font()
            font.setPointSizeF(font.pointSizeF() * 0.85)  # "row 54,321 · 7" under a 60-px thumbnail
            caption.setFont(font)
            cells.addWidget(thumb, 0, i)
            cells.addWidget(caption, 1, i)
            cells.setColumnStretch(i, 1)
            self.thumbs.append(thumb)
            self.captions.append(caption)
        # One row under the map: the title beside the thumbnails, so the strip costs the map and the
        # tools below it at most STRIP_HEIGHT, and the window's minimum width nothing.
        self.title.setMaximumWidth(TITLE_WIDTH)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title, 1)
        layout.addLayout(cells, 5)
        layout.addStretch(0)  # only what the capped thumbnails leave on a wide window
        self.setMinimumHeight(STRIP_MIN_HEIGHT)
        self.setMaximumHeight(STRIP_HEIGHT)
        self.setVisible(False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # The thumbnails' own hints are ignored, so ask for the full height: the layout gives it where
        # the window is tall enough and shrinks the strip towards STRIP_MIN_HEIGHT where it is not.
        return QSize(super().sizeHint().width(), STRIP_HEIGHT)

    def find(self, run, dataset, drawing: np.ndarray) -> None:
        """Look for the training rows nearest to ``drawing`` under ``run``'s model (in the worker)."""
        if run is None or not run_matches(run, dataset):
            self.clear()
            self.title.setText("Nearest training samples: the loaded data is not the data this model "
                               "was trained on.")
            self.setVisible(True)
            return
        if self.training is not None and self.training.run is not run:
            self.training = None
        self._run, self._dataset = run, dataset
        if self.training is None:
            self.title.setText(f"Encoding {len(run.train_index):,} training samples to find the "
                               f"{K} nearest to your drawing…")
        else:
            self.title.setText(f"Finding the {K} training samples nearest to your drawing…")
        self.setVisible(True)
        self.worker.submit(neighbours_job, run, dataset, np.array(drawing, np.float32), self.training)

    def use_run(self, run) -> None:
        """The explorer took ``run``'s weights: neighbours found under any other model go."""
        if self._run is not None and run is not self._run:
            self.clear()

    def _show(self, found: Neighbours) -> None:
        if found.training.run is not self._run:
            return  # a run dropped since the job started
        self.training, self.shown = found.training, found
        levels = found.training.model.levels
        dataset = self._dataset
        for i, (thumb, caption) in enumerate(zip(self.thumbs, self.captions)):
            if i >= len(found.rows):
                thumb.clear_sample()
                caption.setText("")
                continue
            thumb.show_sample(found.samples[i], levels)
            for side in ("left", "bottom"):  # a thumbnail has no room for axes
                thumb.getPlotItem().showAxis(side, False)
            name = f" · {dataset.label_name(int(found.labels[i]))}" if found.labels is not None else ""
            distance = float(found.distances[i])  # a training sample sent as it is: float noise, not 2.6e-06
            shown = f"d = {distance:.3g}" if distance >= 1e-4 else "d ≈ 0"
            caption.setText(f"row {int(found.rows[i])}{name}\n{shown}")
            caption.setToolTip(caption.text().replace("\n", ", ") + " (distance between codes)")
        self.title.setText(f"Nearest of {len(found.training.rows):,} training samples (d: code distance):")
        self.title.setToolTip("The training samples whose codes lie nearest to your drawing's code, nearest first")

    def _failed(self, message: str) -> None:
        self.title.setText(f"The nearest training samples could not be found: {message}")

    def clear(self) -> None:
        """Drop the neighbours, the run's codes and any search still running; hide the strip."""
        self.worker.cancel()
        self.training = self.shown = None
        self._run = self._dataset = None
        for thumb, caption in zip(self.thumbs, self.captions):
            thumb.clear_sample()
            caption.setText("")
            caption.setToolTip("")
        self.title.setText("")
        self.setVisible(False)

    def shutdown(self) -> bool:
        """The window is closing: cancel and join the search."""
        return self.worker.shutdown(1.0)
