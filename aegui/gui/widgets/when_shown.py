"""Panels that run a trained model do it only while someone can see them.

The training worker hands over a RunArtifact (spec, weights, split, history)
after every epoch. Encoding a map of codes or scoring a validation set costs
tens of milliseconds or more (run in a worker thread, but still CPU and GIL
time the trainer waits for), so a hidden panel only keeps the newest run and
uses it when it is shown.
"""
from __future__ import annotations


def run_matches(run, dataset) -> bool:
    """Whether ``dataset`` is the data ``run`` was cut from, so the run's split indexes into it.

    Name, size and sample shape: the checksum would be exact but costs ~0.1 s for a
    60,000-image set, and this is asked on the GUI thread after every epoch."""
    ref = run.dataset
    return (dataset is not None and ref.name == dataset.name and ref.size == len(dataset)
            and tuple(ref.sample_shape) == tuple(dataset.sample_shape))


class WeightsWhenShown:
    """Mixin for a QWidget (list it first): ``set_weights`` keeps the newest RunArtifact and calls
    ``use_weights(run)`` now if the widget is visible, else when it is shown."""

    _pending = None

    def set_weights(self, run) -> None:
        self._pending = run
        if self.isVisible():
            self._apply_pending()

    def forget_weights(self) -> None:
        self._pending = None

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._apply_pending()

    def _apply_pending(self) -> None:
        run, self._pending = self._pending, None
        if run is not None:
            self.use_weights(run)

    def use_weights(self, run) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say what it does with a run's weights")
