"""``aegui experiments`` lists the guided experiments; ``aegui experiment NAME`` runs one headless.

A run writes report.md, report.html, result.json and the PNG figures into ``--out`` (by default
experiments/NAME-DATE-TIME), through the same incomplete-folder-then-move rule as ``train``, so
an interrupted run never leaves a half-written report where a finished one was. Progress goes to
stderr, one line an epoch; the last line of stdout is the result as one JSON object.

Training uses one torch thread (AEGUI_TRAIN_THREADS overrides it, 0 keeps torch's default): these
small models gain little from a second thread, a busy machine's cores make a team of threads wait
on each other, and a fixed thread count keeps a seed's figures the same on any machine.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .main import CliError
from .run_folder import RunFolder, check_out_folder, say


def cmd_experiments(args) -> int:
    from ..core.experiments import EXPERIMENTS

    width = max(len(name) for name in EXPERIMENTS)
    for name, experiment in EXPERIMENTS.items():
        print(f"{name:<{width}}  {experiment.description}")
    return 0


def _threads() -> int:
    override = os.environ.get("AEGUI_TRAIN_THREADS", "").strip()
    return int(override) if override.isdigit() else 1


def _out_folder(args, name: str) -> Path:
    if args.out is not None:
        if not args.out.strip():
            raise CliError("--out: give a folder name (an empty name would write into the current folder)")
        return Path(args.out)
    base = Path(f"experiments/{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _progress(update) -> None:
    say(f"[{update.arm_index + 1}/{update.arm_count}] {update.message}")


def cmd_experiment(args) -> int:
    from ..core.experiments import get_experiment, run_experiment
    from ..core.experiments.report import write_report
    from ..core.inference import Cancelled
    from ..core.validation import seed_problem
    from .signals import StopOnSignals, signals_held

    try:
        experiment = get_experiment(args.name)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    problem = seed_problem(args.seed)
    if problem:
        raise CliError(f"--seed {args.seed}: {problem}")
    out = _out_folder(args, experiment.name)
    check_out_folder(out, args.overwrite)
    threads = _threads()
    if threads:
        import torch

        torch.set_num_threads(threads)
    say(f"{experiment.title}: {len(experiment.arms)} arms on {experiment.dataset}, budget {args.budget}, "
        f"seed {args.seed}")
    from ..core.control import TrainControl

    control = TrainControl()  # the first Ctrl-C stops the experiment at the next report
    started = time.perf_counter()
    with StopOnSignals(control) as signals:
        try:
            result = run_experiment(experiment, args.budget, args.seed, device=args.device or "cpu",
                                    progress=_progress, cancel=lambda: control.stopped)
        except Cancelled:
            say("error: stopped before the experiment finished; nothing was written")
            return signals.hit or 130
        folder = RunFolder(out)
        work = folder.create()
        with signals_held():  # the finished report is written whatever arrives now
            try:
                write_report(result, experiment, work)
                folder.finish()
            except OSError as exc:
                raise CliError(f"cannot write the report into {work}: {exc.strerror or exc}") from None
    for finding in result.findings:
        verdict = {True: "holds", False: "CONTRADICTED", None: "inconclusive"}[finding.holds]
        say(f"{verdict}: {finding.claim} {finding.evidence}")
    say(f"report written to {out / 'report.md'} in {time.perf_counter() - started:.1f} s")
    summary = result.to_json()
    summary["out"] = str(out)
    print(json.dumps(summary, allow_nan=False))
    return 0


# core.experiments.model.BUDGET_NAMES, written out: importing the experiments package imports torch,
# which every other command (presets, --help) would then pay for. A test checks the two agree.
BUDGETS = ("tiny", "default", "full")


def add_parsers(sub) -> None:
    """The ``experiments`` and ``experiment`` subcommands, on main's subparsers."""
    from ..core.spec_rules import DEVICES

    sub.add_parser("experiments", help="list the guided experiments")
    run = sub.add_parser("experiment", help="run one guided experiment headless and write its report")
    run.add_argument("name", metavar="NAME", help="an experiment (see 'experiments')")
    run.add_argument("--budget", choices=BUDGETS, default="default",
                     help="tiny (seconds, for tests), default (under 3 minutes) or full (better figures)")
    run.add_argument("--seed", type=int, default=0, help="the same seed gives the same figures, except the times")
    run.add_argument("--out", help="output folder (default experiments/NAME-TIME)")
    run.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder once finished")
    run.add_argument("--device", choices=DEVICES, help="where to train (default cpu)")

