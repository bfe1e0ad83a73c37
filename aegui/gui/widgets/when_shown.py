"""Panels that run a trained model: they use it only while someone can see them, and drop it when
it no longer describes the model being edited or the data loaded.

The training worker hands over a RunArtifact (spec, weights, split, history)
after every epoch. Encoding a map of codes or scoring a validation set costs
tens of milliseconds or more (run in a worker thread, but still CPU and GIL
time the trainer waits for), so a hidden panel only keeps the newest run and
uses it when it is shown.

The mixin also owns "the run this view shows" (``shown_run``). When the spec or
the dataset changes and that run no longer describes them, it drops the run
(shown or waiting) and asks the panel to clear every picture it drew from it and
say why: one mechanism, so no panel can keep showing, or keep running, an
earlier model on data it was not made for.
"""
from __future__ import annotations

import pyqtgraph as pg

from ...core.spec_rules import LIVE_PATHS, get_path, input_fits, set_path

MODEL_CHANGED = "The model changed"
DATA_CHANGED = "The data changed"


def run_matches(run, dataset) -> bool:
    """Whether ``dataset`` is the data ``run`` was cut from, so the run's split indexes into it.

    Name, size and sample shape: the checksum would be exact but costs ~0.1 s for a
    60,000-image set, and this is asked on the GUI thread after every epoch."""
    ref = run.dataset
    return (dataset is not None and ref.name == dataset.name and ref.size == len(dataset)
            and tuple(ref.sample_shape) == tuple(dataset.sample_shape))


def same_model(trained, spec) -> bool:
    """Whether ``spec`` still describes the model trained from ``trained``.

    The values a user may change while a run trains (learning rate, β, noise level, sparsity
    weight) do not count: the builder writes them back into the spec when the run ends, and
    that edit must not make the run's own results look stale."""
    a, b = trained.copy(), spec.copy()
    for path in LIVE_PATHS:
        set_path(b, path, get_path(a, path))
    return a == b


def why_stale(run, spec, dataset) -> str:
    """'' while ``run``'s results describe ``spec`` on ``dataset``; otherwise the reason, in words."""
    if dataset is None or not input_fits(run.spec, dataset) or not run_matches(run, dataset):
        return DATA_CHANGED
    if not same_model(run.spec, spec):
        return MODEL_CHANGED
    return ""


def blank(view) -> None:
    """Empty the pictures of an ImageGrid, or of a SampleView (its images and its traces).

    Duck-typed so it needs neither class: ImageGrid and SampleView have no clear() of their own yet."""
    for grid in (view, getattr(view, "images", None)):
        image = getattr(grid, "image", None)
        if isinstance(image, pg.ImageItem):
            image.clear()
    traces = getattr(view, "traces", None)
    for curve in getattr(traces, "curves", ()):
        curve.setData([], [])
        curve.setVisible(False)


class WeightsWhenShown:
    """Mixin for a QWidget (list it first).

    ``set_weights`` keeps the newest RunArtifact and calls ``use_weights(run)`` now if the
    widget is visible, else when it is shown. ``use_weights`` may return False to refuse a
    run (the view then still shows the one before).

    After ``watch_state(state)``, a change of the spec or the dataset that the shown (or
    waiting) run no longer fits drops it and calls ``clear_shown(message)``: the panel clears
    every picture made from the run and shows the message, which says why and what to do
    (``"The model changed: " + stale_hint``). A spec change while training is locked is the
    running run's own and changes nothing shown.
    """

    _pending = None
    shown_run = None  # the run whose results the view shows, or is making; None when none
    _dropped = False  # a run was dropped and nothing has been shown since
    stale_hint = "train it to see its results here."

    def watch_state(self, state) -> None:
        self._watched = state
        state.specChanged.connect(self._on_spec_changed)
        state.datasetChanged.connect(self._on_dataset_changed)

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
        if run is None:
            return
        state = getattr(self, "_watched", None)
        if state is not None and (state.dataset is None or not input_fits(run.spec, state.dataset)):
            return  # a model is never run on data of another shape
        if self.use_weights(run) is not False:
            self.shown_run, self._dropped = run, False

    def _on_spec_changed(self, spec) -> None:
        if self._watched.locked:
            return  # nothing but the running run's own bookkeeping can change the spec now
        self._check(spec, self._watched.dataset)

    def _on_dataset_changed(self, dataset) -> None:
        if self._dropped and self.shown_run is None and self._pending is None:
            # Cleared by an edit a moment ago (loading data refits the spec first, or the model was
            # changed before): the message should name the latest change.
            self.clear_shown(f"{DATA_CHANGED}: {self.stale_hint}")
            return
        self._check(self._watched.spec, dataset)

    def _check(self, spec, dataset) -> None:
        # Loading a dataset refits the spec first (specChanged, with the new data already
        # current), so that edit is reported as what it is: a change of data.
        for run in (self.shown_run, self._pending):
            why = why_stale(run, spec, dataset) if run is not None else ""
            if why:
                self.drop_run(why)
                return

    def drop_run(self, why: str) -> None:
        """Forget the shown and the waiting run, and clear what was drawn from them."""
        self._pending = None
        self.shown_run = None
        self._dropped = True
        self.clear_shown(f"{why}: {self.stale_hint}")

    def use_weights(self, run):
        raise NotImplementedError(f"{type(self).__name__} must say what it does with a run's weights")

    def clear_shown(self, message: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} must clear what it drew from a run")
