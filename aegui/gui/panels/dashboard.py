"""The training dashboard: watch every variant learn, live, at full training speed.

Three tabs. "Live" holds the loss plot, the reconstructions and the run
statistics on the left, and a column of small panels on the right (sparsity,
VAE health, weights and biases, attention or capsules); a panel that does not
apply to the run's objective collapses to one line saying why. "Runs" lists
every run of the session and overlays any of them; "Anomalies" scores samples
by reconstruction error. The last two are not per-report, so they sit in tabs.

How reports are drawn: ``add_report`` records the numbers (cheap, every report)
and keeps the report as the newest; a 33 ms timer draws only the newest report,
so older undrawn ones are skipped rather than queued, and the GUI does at most
30 refreshes a second however fast reports come. The timer runs only while
there is something new to draw, and nothing is drawn while Live is hidden.

Each refresh draws one group of panels, and slowly changing panels are drawn
at most a few times a second (DrawSchedule, below, says why and how much).
"""
from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ...core.reports import Report
from ...core.spec_rules import active_terms
from ..dashboard.anomaly_panel import AnomalyPanel
from ..dashboard.attention_panel import AttentionPanel
from ..dashboard.code_panels import SparsityPanel, VaePanel
from ..dashboard.history import RunRecorder, SnapshotRing
from ..dashboard.loss_panel import LossPanel
from ..dashboard.plots import Section
from ..dashboard.recon_panel import ReconPanel
from ..dashboard.reference import find_band
from ..dashboard.runs_panel import RunsPanel
from ..dashboard.stats_panel import StatsPanel
from ..dashboard.weights_panel import WeightsPanel
from ..widgets.when_shown import DATA_CHANGED, MODEL_CHANGED, same_model

REFRESH_MS = 33  # at most ~30 refreshes a second
# Panels drawn together in one tick, the most watched first; each group costs about as much as
# the loss plot alone (benchmarks/dashboard_refresh.py prints each panel's cost).
GROUPS: tuple[tuple[str, ...], ...] = (("loss",), ("stats", "recon", "attention"), ("weights", "vae"), ("sparsity",))
# The shortest time between two drawings of a panel, in seconds (0: every report it gets a tick for).
MIN_INTERVAL_S = {"loss": 0.0, "stats": 0.0, "recon": 0.0, "sparsity": 0.2, "vae": 0.2, "attention": 0.2,
                  "weights": 0.5}


class DrawSchedule:
    """Which panels the dashboard draws on each tick of its timer. Qt-free, so it is tested alone.

    Two rules keep the GUI thread's work small and even, measured with
    benchmarks/dashboard_refresh.py and benchmarks/gui_training.py:

    - Staggering: panels are drawn in groups, one group a tick, the next group
      that has not drawn the newest report. Every panel still shows the newest
      report, a tick or two later, but no tick pays for all of them at once, so the
      GUI thread is never busy long enough to delay input or queued signals.
    - Rates: panels whose pictures change slowly (weights, attention, the
      histograms) are drawn at most a few times a second. Every millisecond the
      GUI thread spends in Python holds the GIL that the training thread needs
      between its torch calls, so the dashboard's total work per second is what
      costs training throughput, not only its work per tick.

    Nothing here touches Qt; the dashboard asks ``next_group`` what to draw.
    """

    def __init__(self, groups=GROUPS, intervals=None, clock: Callable[[], float] = time.monotonic):
        self.groups = groups
        self.intervals = dict(MIN_INTERVAL_S if intervals is None else intervals)
        self.clock = clock
        self.names = [name for group in groups for name in group]
        self.reset()

    def reset(self) -> None:
        self.seq = 0  # reports received
        self.drawn = {name: 0 for name in self.names}  # the newest report each panel has drawn
        self.last = {name: -1e9 for name in self.names}  # when each panel was last drawn
        self._next = 0

    def new_report(self) -> None:
        self.seq += 1

    @property
    def pending(self) -> bool:
        """Some panel has not drawn the newest report yet."""
        return any(seq < self.seq for seq in self.drawn.values())

    def next_group(self, applies: Callable[[str], bool]) -> list[str]:
        """The panels to draw now (marked as drawn); [] when none is due this tick.

        ``applies(name)`` says whether a panel has anything to draw for this run;
        one that has not counts as drawn, so it never keeps the timer going.
        """
        now = self.clock()
        for offset in range(len(self.groups)):
            g = (self._next + offset) % len(self.groups)
            due = []
            for name in self.groups[g]:
                if self.drawn[name] >= self.seq:
                    continue
                if not applies(name):
                    self.drawn[name] = self.seq
                elif now - self.last[name] >= self.intervals.get(name, 0.0):
                    due.append(name)
            if due:
                for name in due:
                    self.drawn[name] = self.seq
                    self.last[name] = now
                self._next = (g + 1) % len(self.groups)
                return due
        return []


WHY_NOT = {
    "sparsity": "no sparsity penalty here",
    "vae": "not a variational model",
    "attention": "attention and capsule models only",
}


class TrainingDashboard(QWidget):
    def __init__(self, state=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingDashboard")
        self.state = state
        self.recorder = RunRecorder()
        self.ring = SnapshotRing()
        self.loss = LossPanel(self.recorder)
        self.recon = ReconPanel(self.ring)
        self.stats = StatsPanel()
        self.sparsity = SparsityPanel(self.recorder)
        self.vae = VaePanel()
        self.weights = WeightsPanel()
        self.attention = AttentionPanel()
        self.runs = RunsPanel(state)
        self.anomaly = AnomalyPanel(state)
        # Names the window and other tests know from the first dashboard.
        self.progress = self.stats.progress
        self.recon_grid = self.recon.view.images
        self.loss_plot = self.loss.plot_widget

        self.recon_section = Section("Reconstructions", self.recon)
        self.sections = {
            "sparsity": Section("Sparsity", self.sparsity),
            "vae": Section("VAE health", self.vae),
            "weights": Section("Weights and biases", self.weights),
            "attention": Section("Attention / capsules", self.attention),
        }
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(3)
        left_layout.addWidget(self.loss, 5)
        left_layout.addWidget(self.recon_section, 3)
        left_layout.addWidget(self.stats)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(3)
        for name, stretch in (("sparsity", 4), ("vae", 3), ("weights", 4), ("attention", 3)):
            right_layout.addWidget(self.sections[name], stretch)
        right_layout.addStretch(0)
        # The small panels scroll rather than set a minimum height for the whole window.
        right.setAutoFillBackground(True)
        column = QScrollArea()
        column.setWidget(right)
        column.setWidgetResizable(True)
        column.setFrameShape(QFrame.Shape.NoFrame)
        column.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        column.setMinimumWidth(250)  # narrower, the small plots' titles and warnings become unreadable
        self.live = QSplitter(Qt.Orientation.Horizontal)
        self.live.setObjectName("liveDashboard")
        # One opaque page: text lines paint the window colour, and so must what is around them.
        self.live.setAutoFillBackground(True)
        self.live.addWidget(left)
        self.live.addWidget(column)
        self.live.setStretchFactor(0, 3)
        self.live.setStretchFactor(1, 2)
        self.live.setSizes([560, 370])
        self.tabs = QTabWidget()
        self.tabs.setObjectName("dashboardTabs")
        self.tabs.addTab(self.live, "Live")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.anomaly, "Anomalies")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        # Plots may shrink far: the window must still fit small screens (and the 800x800 test screen).
        for view in self.findChildren(pg.GraphicsView):
            view.setMinimumSize(60, 36)

        self.panels = {"loss": self.loss, "stats": self.stats, "recon": self.recon, "weights": self.weights,
                       "attention": self.attention, "sparsity": self.sparsity, "vae": self.vae}
        self._newest: Report | None = None
        self.schedule = DrawSchedule()
        self._configured = False  # set by the first training report of a run
        self.reports_drawn = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.tabs.currentChanged.connect(lambda _: self._wake())
        self._shown: tuple | None = None  # (spec, data) of the run on the Live tab, None when none is
        self._dropped = False  # the Live tab was cleared by an edit and has shown no run since
        self._restored = False  # curves read from a project wait to be drawn until the Live tab shows
        self._configure_from_spec()
        if state is not None:
            state.specChanged.connect(lambda _: self._configure_from_spec() if not state.locked else None)
            state.specChanged.connect(lambda _: self._check_shown())
            state.datasetChanged.connect(lambda _: self._check_shown(data=True))

    # --- which panels apply --------------------------------------------------------------------
    def _set_relevance(self, sparsity: bool, vae: bool, attention: bool) -> None:
        for name, on in (("sparsity", sparsity), ("vae", vae), ("attention", attention)):
            self.sections[name].set_relevant(on, WHY_NOT[name])

    def _configure_from_spec(self) -> None:
        """Before and at the start of a run: what the spec says will be shown."""
        if self.state is None:
            return
        spec = self.state.spec
        terms = active_terms(spec)  # the sparsity and VAE panels show the terms the objective has
        self._set_relevance("sparsity" in terms, "kl" in terms, spec.family in ("attention", "capsule"))
        self.vae.configure(spec.objective.variational.warmup_epochs)

    def _configure_from_report(self, report: Report) -> None:
        """The first training report decides for good: it carries exactly what the trainer measures."""
        self._configured = True
        self._set_relevance(report.sparsity_weight is not None,
                            report.kl_per_dim is not None or report.beta is not None,
                            report.attention is not None or report.capsule_lengths is not None)
        self.ring.configure(report.epochs_total * report.steps_per_epoch)

    # --- the run on show, and when it stops describing the model ----------------------------------------
    @staticmethod
    def _data_key(dataset) -> tuple | None:
        return None if dataset is None else (dataset.name, len(dataset), tuple(dataset.sample_shape))

    def _check_shown(self, data: bool = False) -> None:
        """The Live tab shows one run's model: once the spec or the data is another, clear it and say why.

        While training, the spec is locked and the only edits are the run's own; the builder's
        write-back of live values when it ends does not count either (see same_model)."""
        if self.state.locked:
            return
        if self._shown is None:
            if data and self._dropped:  # cleared a moment ago: name the latest change
                self._say_why(DATA_CHANGED)
            return
        spec, shown_data = self._shown
        if self._data_key(self.state.dataset) != shown_data:
            why = DATA_CHANGED
        elif not same_model(spec, self.state.spec):
            why = MODEL_CHANGED
        else:
            return
        self.clear()
        self._shown, self._dropped = None, True
        self._say_why(why)

    def _say_why(self, why: str) -> None:
        self.stats.labels["phase"].setText(f"{why}: the last run stays in the Runs tab; train it to watch it "
                                           "learn here.")

    # --- feeding -------------------------------------------------------------------------------
    def clear(self, dataset=None, keep_curves: bool = False) -> None:
        """Forget the last run's curves and pictures; a new run is about to start on ``dataset``
        (default: the current dataset). ``keep_curves``: the run continues one whose curves are
        shown (Continue training), so they stay and the new points follow them."""
        if not keep_curves:
            self.recorder.clear()
        self._restored = False
        self.ring.clear()
        for panel in (self.loss, self.recon, self.stats, self.sparsity, self.vae, self.weights, self.attention):
            panel.clear()
        # Not every part's clear() empties its pictures yet (filters, attention maps): empty them all
        # here, so no picture of an earlier model survives into the next run.
        for view in self.live.findChildren(pg.GraphicsView):
            for item in view.scene().items():
                if isinstance(item, pg.ImageItem):
                    item.clear()
        if self.state is not None:
            self._shown, self._dropped = (self.state.spec, self._data_key(self.state.dataset)), False
        self._newest = None
        self.schedule.reset()
        self._configured = False
        self._configure_from_spec()
        if self.state is not None:
            band, why = find_band(self.state.spec, dataset if dataset is not None else self.state.dataset)
            self.loss.set_reference(band, why)
        else:
            self.loss.set_reference(None)

    def restore(self, curves: dict, marks: list[dict], run=None, dataset=None) -> None:
        """The curves of a saved project's run (no pictures: a project keeps numbers); ``run`` and
        ``dataset`` say which model and data they describe, so a later edit clears them as it
        would a live run's."""
        self.clear(dataset)
        self.recorder.restore(curves, marks)
        if not self.recorder.curves and run is not None and run.history:
            # A project from the command line keeps no dashboard curves: draw its epoch history instead.
            self.recorder.restore_history(run.history, run.spec.train.epochs)
        if run is not None:
            self._shown = (run.spec.copy(), (run.dataset.name, run.dataset.size, tuple(run.dataset.sample_shape)))
        else:
            self._shown = None
        self._restored = bool(self.recorder.curves)
        result = run.result if run is not None else None
        if result is not None and run.spec.train.epochs:  # how far the saved run got, as when it ended
            self.stats.progress.setValue(round(100 * min(result.epochs / run.spec.train.epochs, 1.0)))
        if self._restored:
            self.stats.labels["phase"].setText("Opened from a project: the saved run's curves. Reconstructions "
                                               "and filters appear when it trains again.")
        self._draw_restored()

    def _draw_restored(self) -> None:
        """Draw restored curves once the Live tab is on screen (a hidden plot has no width to fit)."""
        if not self._restored or not self.live.isVisible():
            return
        self._restored = False
        length = self.recorder.run_length
        self.loss.draw(SimpleNamespace(pretraining=False, epochs_total=length[0], steps_per_epoch=length[1])
                       if length else None)

    def add_report(self, report: Report) -> None:
        """Record the numbers now (cheap); draw the newest report on the next tick."""
        self.recorder.add(report)
        if not report.pretraining and not self._configured and report.kind != "finished":
            self._configure_from_report(report)
        if report.reconstructions is not None and not report.pretraining:
            self.ring.admit(report.step, report.reconstructions, report.corrupted)
        if report.live_changes and self.loss.band is not None:
            # The band measured stock settings; after a live change this run is no longer that run.
            self.loss.set_reference(None, "a setting was changed while training, so the stock preset's "
                                          "losses no longer compare")
        self._newest = report
        self.schedule.new_report()
        if not self._timer.isActive():
            self._wake()

    def set_weights(self, payload) -> None:
        """A RunArtifact snapshot of the weights: the anomaly view scores it when it is on screen."""
        self.anomaly.set_weights(payload)

    # --- drawing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw the group of panels that is due (see DrawSchedule); stop ticking when all are current."""
        report = self._newest
        if report is None or not self.live.isVisible():
            self._timer.stop()  # nobody to see it: tick again when a report or the tab comes
            return
        names = self.schedule.next_group(lambda name: self._applies(name, report))
        for name in names:
            if name == "attention":
                self.attention.levels = self.recon.levels
            self.panels[name].draw(report)
        if names:
            self.reports_drawn += 1
        if not self.schedule.pending:
            self._timer.stop()

    def _applies(self, name: str, report: Report) -> bool:
        """Whether a panel has anything to draw for this run and report."""
        if name in self.sections and not self.sections[name].relevant:
            return False
        # Pretraining reports carry losses only; the reconstructions say when their pictures will come.
        return not report.pretraining or name in ("loss", "stats", "recon")

    def _wake(self) -> None:
        self._draw_restored()
        if self._newest is not None and self.schedule.pending and self.live.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._wake()

    def shutdown(self) -> None:
        self._timer.stop()
        self.anomaly.shutdown()  # its scoring worker
