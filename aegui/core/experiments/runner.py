"""Running an experiment: build each arm's spec, train it, measure it, and draw the verdict.

Arms train one after another (dropout and weight initialisation draw from torch's global
stream, so two at once would not be reproducible). Each arm trains with the experiment's seed
and reports every fixed number of steps rather than by the clock, so the NaN guard looks at the
same steps in every run: the same seed gives the same figures bit for bit on the CPU, with the
same number of torch threads, except the wall-clock ones (``model.WALL_CLOCK_FIGURES``:
``seconds`` and ``samples_per_s``). Callers choose the thread count (the CLI uses one).
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Callable, Generator

import numpy as np

from ..control import TrainControl
from ..data import Dataset, load_dataset, split_indices
from ..inference import Cancelled, InferenceModel
from ..presets import get_preset
from ..reports import EPOCH
from ..run import DatasetRef, RunArtifact
from ..spec import AutoencoderSpec
from ..spec_rules import get_path, set_path, sync_capsule_code
from ..validation import check
from . import measures_codes  # noqa: F401  (registers the measures on codes)
from .catalogue import EXPERIMENTS
from .measures import ArmContext, measure, spread_rows
from .model import BUDGET_NAMES, ArmResult, Experiment, ExperimentProgress, ExperimentResult, FromData

REPORTS_PER_EPOCH = 4  # step-counted reports: the NaN guard's checkpoints, and cancel's
_INDEXED = re.compile(r"^(?P<list>[\w.]+)\[(?P<index>\*|\d+)\]\.(?P<rest>[\w.]+)$")

TrainArm = Callable[[AutoencoderSpec, Dataset, str, int], RunArtifact]


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment '{name}'; choose one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


# --- data ----------------------------------------------------------------------------------------------
_DATA_CACHE: "OrderedDict[tuple, Dataset]" = OrderedDict()
_DATA_LOCK = threading.Lock()
_CACHED_SETS = 4  # a few limited sets: the tests run every experiment, most on the same digits


def experiment_data(experiment: Experiment, budget: str, seed: int) -> tuple[Dataset, dict]:
    """The experiment's dataset at this budget's limit (a stratified subsample chosen by ``seed``),
    and the options that load it again. Cached and shared between calls: nobody changes a Dataset's
    arrays in place (the trainer and the measures copy the rows they use)."""
    limit = experiment.budgets[budget].limit
    options = {"limit": limit, "seed": seed} if limit is not None else {}
    key = (experiment.dataset, limit, seed if limit is not None else None)
    with _DATA_LOCK:
        if key in _DATA_CACHE:
            _DATA_CACHE.move_to_end(key)
            return _DATA_CACHE[key], options
    dataset = load_dataset(experiment.dataset, **options)
    with _DATA_LOCK:
        _DATA_CACHE[key] = dataset
        while len(_DATA_CACHE) > _CACHED_SETS:
            _DATA_CACHE.popitem(last=False)
    return dataset, options


# --- specs ---------------------------------------------------------------------------------------------
def apply_override(spec: AutoencoderSpec, path: str, value) -> None:
    """``set_path``, with ``list[i].field`` and ``list[*].field`` reaching into layer lists; a path
    that names no field is an error (a misspelt path must not pass silently)."""
    match = _INDEXED.match(path)
    if match:
        items = get_path(spec, match["list"])
        targets = items if match["index"] == "*" else [items[int(match["index"])]]
        for item in targets:
            get_path(item, match["rest"])
            set_path(item, match["rest"], value)
        return
    try:
        get_path(spec, path)
    except AttributeError:
        raise ValueError(f"override {path!r} names no field of the spec") from None
    set_path(spec, path, value)


def resolve(value, spec: AutoencoderSpec, dataset: Dataset, train_rows: np.ndarray):
    if not isinstance(value, FromData):
        return value
    if value.what == "output_mean_logit":
        mean = float(np.clip(dataset.as_float(train_rows).mean(), 1e-4, 1 - 1e-4))
        # The output bias passes through the likelihood's link: a Bernoulli output is sigmoid(bias).
        return float(np.log(mean / (1 - mean))) if spec.likelihood == "bernoulli" else mean
    raise ValueError(f"unknown data-dependent value {value.what!r}")


def arm_spec(experiment: Experiment, arm_index: int, dataset: Dataset, budget: str, seed: int,
             device: str = "cpu") -> AutoencoderSpec:
    """The spec arm ``arm_index`` trains: its preset fitted to the data, the budget's epochs (and batch
    size), the arm's overrides, the experiment's seed and step-counted reports. Validated."""
    from ..presets import fit_to_input

    arm = experiment.arms[arm_index]
    chosen = experiment.budgets[budget]
    spec = fit_to_input(get_preset(arm.preset or experiment.base), dataset.kind, dataset.sample_shape,
                        dataset.in_unit_range)
    spec.train.epochs = chosen.epochs
    if chosen.batch_size is not None:
        spec.train.batch_size = chosen.batch_size
    spec.train.seed, spec.train.device = seed, device
    train_rows, _ = split_indices(len(dataset), spec.train.val_fraction, seed)
    for path, value in arm.overrides.items():
        if not isinstance(value, FromData):
            apply_override(spec, path, value)
    for path, value in arm.overrides.items():  # after the others: they may change the likelihood
        if isinstance(value, FromData):
            apply_override(spec, path, resolve(value, spec, dataset, train_rows))
    sync_capsule_code(spec)
    steps = max(1, len(train_rows) // max(1, min(spec.train.batch_size, len(train_rows))))
    spec.train.report_every_steps = max(1, steps // REPORTS_PER_EPOCH)
    spec.description = f"{experiment.title}: {arm.label}"
    return check(spec)


# --- training ------------------------------------------------------------------------------------------
def train_here(spec: AutoencoderSpec, dataset: Dataset, ref: DatasetRef, device: str,
               cancel: Callable[[], bool] | None) -> Generator[object, None, RunArtifact]:
    """Train in this thread, yielding each epoch's report; ``cancel()`` is looked at every report and
    stops the run cooperatively (then Cancelled)."""
    from ..training import Trainer

    control = TrainControl()
    control.set_snapshots_wanted(False)  # nobody looks at pictures while it trains: reports stay cheap
    trainer = Trainer(spec, dataset, control=control, device=device)
    for report in trainer.run():
        if cancel is not None and cancel():
            control.stop()
        if report.kind == EPOCH:
            yield report
    if cancel is not None and cancel():
        raise Cancelled()
    return RunArtifact.from_trainer(trainer, ref)


def iter_experiment(experiment: Experiment, budget: str = "default", seed: int = 0, *, device: str = "cpu",
                    cancel: Callable[[], bool] | None = None,
                    train_arm: TrainArm | None = None) -> Generator[ExperimentProgress, None, ExperimentResult]:
    """``run_experiment`` as a generator: it yields the progress and returns the result (for a worker
    that runs generators). ``cancel()`` returning True ends it with ``Cancelled`` at the next report."""
    if budget not in BUDGET_NAMES:
        raise ValueError(f"unknown budget '{budget}'; choose one of {', '.join(BUDGET_NAMES)}")
    dataset, options = experiment_data(experiment, budget, seed)
    ref = DatasetRef.from_dataset(dataset, options=options)
    wanted = tuple(dict.fromkeys(experiment.figures + experiment.views))
    count = len(experiment.arms)
    arms: list[ArmResult] = []
    for i, arm in enumerate(experiment.arms):
        spec = arm_spec(experiment, i, dataset, budget, seed, device)
        epochs = spec.train.epochs
        yield ExperimentProgress(i, count, arm.label, 0, epochs, f"{arm.label}: training")
        started = time.perf_counter()
        if train_arm is not None:
            run = train_arm(spec, dataset, arm.label, seed)
        else:
            training = train_here(spec, dataset, ref, device, cancel)
            while True:
                try:
                    report = next(training)
                except StopIteration as finished:
                    run = finished.value
                    break
                mse = (report.val_losses or {}).get("recon_mse")
                words = f", validation MSE {mse:.4g}" if mse is not None else ""
                yield ExperimentProgress(i, count, arm.label, report.epoch, epochs,
                                         f"{arm.label}: epoch {report.epoch}/{epochs}{words}")
        seconds = time.perf_counter() - started
        if cancel is not None and cancel():
            raise Cancelled()
        yield ExperimentProgress(i, count, arm.label, epochs, epochs, f"{arm.label}: measuring")
        arms.append(measure_arm(run, dataset, seed, seconds, wanted, arm.label))
    result = ExperimentResult(experiment.name, budget, seed, arms, [])
    result.findings = experiment.verdict(result)
    return result


def run_experiment(experiment: Experiment, budget: str = "default", seed: int = 0, *, device: str = "cpu",
                   progress: Callable[[ExperimentProgress], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   train_arm: TrainArm | None = None) -> ExperimentResult:
    """Train and measure every arm, then draw the verdict. ``progress`` is called (in this thread)
    as arms train; ``cancel()`` returning True ends it with ``Cancelled`` at the next report;
    ``train_arm(spec, dataset, label, seed)`` trains an arm in the caller's own way (the window's run
    manager) instead of in this thread."""
    steps = iter_experiment(experiment, budget, seed, device=device, cancel=cancel, train_arm=train_arm)
    while True:
        try:
            update = next(steps)
        except StopIteration as finished:
            return finished.value
        if progress is not None:
            progress(update)


def measure_arm(run: RunArtifact, dataset: Dataset, seed: int, seconds: float, wanted: tuple[str, ...],
                label: str) -> ArmResult:
    ctx = ArmContext(run=run, model=InferenceModel.from_run(run), dataset=dataset,
                     val_rows=spread_rows(run.validation_rows(dataset)),
                     train_rows=spread_rows(run.dataset.trained_rows(dataset)[run.train_index]),
                     seed=seed, seconds=seconds, history=run.history)
    measured = measure(ctx, wanted)
    message = run.result.message if run.result is not None else ""
    return ArmResult(label, measured.figures, measured.curves, measured.images, run, measured.captions, message)
