"""Guided experiments: each idea of the tutorial as a one-click comparison on real data.

    model.py           the dataclasses: Experiment, Arm, Budget, ArmResult, ExperimentResult, Finding;
                       VIEWS, how each picture is drawn
    catalogue.py       the experiments, as data (EXPERIMENTS, in display order)
    measures.py        the figures measured on a trained arm, by name; measures_codes.py: those on codes
    verdicts.py        each experiment's claims checked against this run's numbers
    runner.py          run_experiment (and iter_experiment, the same as a generator of progress): build,
                       train and measure each arm, then the verdict
    report.py          write_report: report.md, a self-contained report.html, result.json, PNG figures
    drawing.py         the PNG charts (Pillow only): line and bar charts, scatter plots, image grids

No Qt: the window and the command line both drive it.
"""
from ..inference import Cancelled
from .catalogue import EXPERIMENTS
from .model import (
    BUDGET_NAMES, VIEWS, WALL_CLOCK_FIGURES, Arm, ArmResult, Budget, Experiment, ExperimentProgress,
    ExperimentResult, Finding, FromData, ViewInfo, view_info,
)
from .report import write_report
from .runner import get_experiment, iter_experiment, run_experiment

__all__ = [
    "BUDGET_NAMES", "EXPERIMENTS", "VIEWS", "WALL_CLOCK_FIGURES", "Arm", "ArmResult", "Budget", "Cancelled",
    "Experiment", "ExperimentProgress", "ExperimentResult", "Finding", "FromData", "ViewInfo", "get_experiment",
    "iter_experiment", "run_experiment", "view_info", "write_report",
]
