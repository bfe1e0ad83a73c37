"""``aegui train``: a fresh run, or a run resumed from a project file, headless.

A fresh run builds its spec from a preset or a spec file and loads its data from the
options; ``--resume FILE.aeproj`` takes both from the project instead, refuses any option
that would change the model, the data or the optimisation, and continues the run exactly
(the trainer's state restores every random stream) to the new epoch total.
``--project FILE.aeproj`` (or the resumed file itself) is written at each epoch's end and
at the end, so an interrupted run loses at most an epoch.

Under torchrun (``torchrun --nproc-per-node=N main.py train ...``) every process runs this
command and trains its share of each batch (core/training/distributed.py); rank 0 alone
writes the run folder and the project, shows progress and prints the JSON line, which then
says ``world_size``. ``--batch-size`` stays the global batch.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .main import CliError
from .project_writer import ProjectWriter
from .run_folder import CHECKPOINT_NAME, HistoryFile, RunFolder, check_out_folder, save_with_rescue, say
from .run_outputs import RunOutputs, check_outputs
from .signals import StopOnSignals, signals_held
from .torchrun import check_world_batch, this_launch, together

# Options that would change the model, the data or the optimisation: a resumed run keeps the project's.
RESUME_REFUSED = ("preset", "spec", "dataset", "limit", "image_size", "channels", "kind", "label_column",
                  "without_class", "latent", "batch_size", "lr", "seed", "stream")


def _spec_from_args(args):
    from ..core.presets import get_preset
    from ..core.spec import AutoencoderSpec

    if args.spec:
        spec = AutoencoderSpec.load(args.spec)
    else:
        name = "ae" if args.preset is None else args.preset
        try:
            spec = get_preset(name)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
    if args.epochs is not None:
        spec.train.epochs = args.epochs
    if args.batch_size is not None:
        spec.train.batch_size = args.batch_size
    if args.lr is not None:
        spec.train.lr = args.lr
    if args.device is not None:
        spec.train.device = args.device
    if args.seed is not None:
        spec.train.seed = args.seed
    if args.latent is not None:
        from ..core.spec_rules import set_code_size

        problem = set_code_size(spec, args.latent)
        if problem:
            raise CliError(f"--latent {args.latent}: {problem}")
    return spec


def _fit_input(spec, dataset, from_file: bool):
    """Presets follow the dataset's shape; a spec file must already match it."""
    from ..core.spec_rules import input_fits

    if input_fits(spec, dataset):
        return spec
    if from_file:
        raise CliError(
            f"the spec's input is {spec.input.kind} {list(spec.input.shape)} but dataset '{dataset.name}' holds "
            f"{dataset.kind} samples of shape {list(dataset.sample_shape)}"
        )
    from ..core.presets import fit_to_input

    return fit_to_input(spec, dataset.kind, dataset.sample_shape, unit_range=dataset.in_unit_range)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _without_class(dataset, which: str) -> int:
    """The label of the class named by its label name or number (the run trains without it)."""
    if dataset.labels is None:
        raise CliError(f"--without-class {which}: dataset '{dataset.name}' has no labels")
    label = dataset.find_label(which)
    if label is None:
        import numpy as np

        shown = ", ".join(dataset.label_name(v) for v in np.unique(dataset.labels).tolist())
        raise CliError(f"--without-class {which}: no such class in '{dataset.name}'; its classes are {shown}")
    return label


def _fresh_run_folder(name: str) -> Path:
    """runs/NAME-DATE-TIME, with -2, -3... when two runs start in the same second."""
    base = Path(f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _new_run(args):
    """(spec, dataset, DatasetRef, name) for a fresh run."""
    from ..core.data import DataError, load_dataset
    from ..core.run import DatasetRef
    from ..core.validation import seed_problem

    spec = _spec_from_args(args)
    if args.spec:
        _check_naming(spec, args.spec)  # all of a spec file's own problems first, before it meets the data
    # The data split uses the seed before the whole spec can be validated (that needs the data's shape).
    problem = seed_problem(spec.train.seed)
    if problem:
        raise CliError(f"seed {spec.train.seed}: {problem}")
    label_column = args.label_column
    if label_column is not None and label_column.lstrip("-").isdigit():
        label_column = int(label_column)
    # What reloads exactly this data when the run is resumed from a project.
    options = {"limit": args.limit, "seed": spec.train.seed, "image_size": list(args.image_size) if args.image_size
               else None, "channels": args.channels, "kind": args.kind, "label_column": label_column}
    options = {k: v for k, v in options.items() if v is not None}
    if args.stream:  # recorded with the data's options, so --resume streams it again
        if args.without_class is not None:
            raise CliError("--without-class cannot be used with --stream: it copies the other classes' rows "
                           "into memory; leave out --stream")
        options["stream"] = True
    try:
        dataset = load_dataset(args.dataset or "mnist5k", **_load_options(options))
    except DataError as exc:
        raise CliError(str(exc)) from None
    excluded = _without_class(dataset, args.without_class) if args.without_class is not None else None
    # The full set as loaded, with the class held out of it: the run's split indexes what the user loads.
    ref = DatasetRef.from_dataset(dataset, excluded_label=excluded, options=options)
    if excluded is not None:
        dataset = dataset.without_label(excluded)
    spec = _fit_input(spec, dataset, from_file=bool(args.spec))
    _check_naming(spec, args.spec)  # every problem at once, before any folder is made
    name = args.preset or (spec.name if args.spec else "ae")
    return spec, dataset, ref, name


def _check_naming(spec, source: str | None) -> None:
    """validation.check, with the spec file named in the message when the spec came from one."""
    from ..core.serialize import SpecError
    from ..core.validation import check

    try:
        check(spec)
    except SpecError as exc:
        raise SpecError(exc.issues, source=source or "") from None


def _load_options(options: dict) -> dict:
    kw = dict(options)
    if kw.get("image_size") is not None:
        kw["image_size"] = tuple(kw["image_size"])
    return kw


def _resumed_run(args, announce: bool = True):
    """(spec, dataset, DatasetRef, name, project) for --resume: everything comes from the project."""
    from ..core.project import ProjectError, load_project

    given = [name for name in RESUME_REFUSED if getattr(args, name, None) is not None]
    if given:
        option = "--" + given[0].replace("_", "-")
        raise CliError(f"{option} cannot be used with --resume: a resumed run keeps the project's model, data "
                       f"and optimisation")
    if args.project:
        raise CliError("--project cannot be used with --resume: the resumed project file is updated itself")
    if args.epochs is None:
        raise CliError("--resume needs --epochs N: the total number of epochs to train to")
    try:
        project = load_project(args.resume)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    run = project.run
    if run is None or run.training_state is None:
        raise CliError(f"{args.resume} holds no training state to resume; train it first")
    done = run.training_state["position"]
    trained = done["phase_epoch"] if done["phase_index"] == len(run.training_state["stage_optimizers"]) else 0
    if args.epochs <= trained:
        raise CliError(f"--epochs {args.epochs}: the run in {args.resume} has already trained {trained} epochs; "
                       f"give a larger total")
    ref = run.dataset
    dataset = reload_dataset(ref, "--resume")
    if ref.excluded_label is not None:
        dataset = dataset.without_label(ref.excluded_label)
    spec = run.spec.copy()
    spec.train.epochs = args.epochs
    if args.device is not None:
        spec.train.device = args.device
    if announce:
        _say_how_the_schedule_continues(run, args.epochs)
    return spec, dataset, ref, spec.name, project


def reload_dataset(ref, option: str):
    """The data a project's run was trained on, loaded again from its source and options, and checked
    against its checksum; one CliError line naming ``option`` when it cannot be had."""
    from ..core.data import DataError, load_dataset
    from ..core.run import dataset_checksum

    try:
        dataset = load_dataset(ref.source, **_load_options(ref.options))
    except DataError as exc:
        raise CliError(f"{option}: the project's dataset cannot be loaded again: {exc}") from None
    if dataset_checksum(dataset) != ref.checksum:
        raise CliError(f"{option}: dataset '{ref.source}' is not the data the project was trained on "
                       f"(its checksum differs)")
    return dataset


def _say_how_the_schedule_continues(run, epochs: int) -> None:
    """A schedule planned for a total keeps that total, so a resumed run matches a straight one; past it,
    one line says what the rate does."""
    state = run.training_state.get("scheduler") or {}
    kind = run.spec.train.lr_schedule
    if kind == "cosine" and epochs > int(state.get("T_max", epochs)):
        print(f"note: the cosine schedule was planned for {state['T_max']} epochs; past them it continues along "
              f"the cosine, so the rate rises again towards its start", file=sys.stderr)
    elif kind == "step" and epochs > int(state.get("step_size", 1)) * 3:
        print(f"note: the step schedule keeps halving the rate every {state['step_size']} epochs past the "
              f"{int(state['step_size']) * 3} it was planned for", file=sys.stderr)


def _check_memory(spec, dataset, args) -> None:
    from ..core.data.streaming import device_data_bytes
    from ..core.memory_estimate import memory_problem

    # The trainer copies the data onto the device (streamed: its validation rows): counted, as the window does.
    data_bytes = device_data_bytes(dataset, spec.train.val_fraction)
    problem = memory_problem(spec, limit_bytes=args.memory_limit, data_bytes=data_bytes)
    if problem:
        raise CliError(problem)


@dataclass
class PreparedRun:
    """A run ready to train; the run folder, history file and project writer are rank 0's alone."""

    trainer: object
    dataset: object
    ref: object
    name: str
    project_path: Path | None
    folder: RunFolder | None = None
    history: HistoryFile | None = None
    projects: ProjectWriter | None = None


def cmd_train(args) -> int:
    from ..core.training import distributed

    try:
        context = distributed.join(this_launch())  # without torchrun: SINGLE, today's one process
    except distributed.DistributedError as exc:
        raise CliError(str(exc)) from None
    code = 1
    try:
        run = together(context, lambda: _prepare(args, context),
                       discard=lambda run: run.folder.discard() if run.folder is not None else None)
        code = _train(args, context, run)
        return code
    finally:
        distributed.stop(context, failed=code != 0)


def _prepare(args, context) -> PreparedRun:
    from ..core.control import TrainControl
    from ..core.training import Trainer
    from ..core.training.distributed import DistributedError

    main = context.is_main
    project = None
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise CliError(f"--checkpoint-every {args.checkpoint_every}: give a number of epochs of at least 1")
    if args.stream_workers is not None and args.stream_workers < 0:
        raise CliError(f"--stream-workers {args.stream_workers}: give 0 or more reading processes")
    if args.out is not None and not args.out.strip():
        raise CliError("--out: give a folder name (an empty name would write into the current folder)")
    if args.resume:
        spec, dataset, ref, name, project = _resumed_run(args, announce=main)
        project_path = Path(args.resume)
    else:
        spec, dataset, ref, name = _new_run(args)
        project_path = Path(args.project) if args.project else None
        if project_path is not None and project_path.suffix != ".aeproj":
            raise CliError(f"--project {args.project}: a project file's name ends in .aeproj")
    check_world_batch(spec.train.batch_size, context.world_size)
    out = None
    if main:  # the other processes of a distributed run write nothing
        out = Path(args.out) if args.out else _fresh_run_folder(name)
        check_out_folder(out, args.overwrite)
        check_outputs(args)
    _check_memory(spec, dataset, args)
    try:
        context.place(spec.train.device)
    except DistributedError as exc:
        raise CliError(str(exc)) from None
    control = TrainControl()
    control.set_snapshots_wanted(False)  # nobody looks at reconstructions here: reports stay cheap
    workers = {} if args.stream_workers is None else {"stream_workers": args.stream_workers}
    # A model that fails to build leaves no folder behind.
    trainer = Trainer(spec, dataset, control=control, distributed=context, **workers)
    if project is not None:
        trainer.load_state_dict(project.run.training_state)
    run = PreparedRun(trainer, dataset, ref, name, project_path)
    if main:
        run.folder = RunFolder(out)
        work = run.folder.create()
        try:
            trainer.spec.save(work / "spec.json")
        except OSError as exc:
            run.folder.discard()
            raise CliError(f"cannot write into {work}: {exc.strerror or exc}") from None
        run.history = HistoryFile(work / "history.jsonl")
        checkpoint = work / CHECKPOINT_NAME if args.checkpoint_every else None
        run.projects = ProjectWriter(trainer, ref, project, project_path, checkpoint, args.checkpoint_every)
    return run


def _train(args, context, run: PreparedRun) -> int:
    from ..core.reports import EPOCH
    from ..core.run import RunArtifact
    from ..core.training.distributed import DistributedError, failure_line

    main, trainer, history, folder = context.is_main, run.trainer, run.history, run.folder
    control = trainer.control
    bar = RunOutputs(args, main, trainer, folder.work if main else None)  # progress, --snapshots, --tensorboard
    started = time.perf_counter()
    signals = StopOnSignals(control, announce=main)
    saved_to, save_failure, project_failure = None, "", ""
    with signals:
        written = 0
        try:
            for report in trainer.run():
                bar.update(report)
                if report.kind == EPOCH and main:
                    rows = [json.dumps({k: _json_safe(v) for k, v in row.items()})
                            for row in trainer.history[written:]]
                    written = len(trainer.history)
                    if not history.write(rows) and not control.stopped:
                        bar.close()
                        say(f"error: {history.failure}; stopping the run to save its weights")
                        control.stop()
                    run.projects.epoch_end(written)
        except DistributedError as exc:  # met alike on every rank (a spec DDP cannot train): said once
            raise CliError(str(exc)) from None
        except Exception as exc:
            if not context.enabled:
                raise
            # Another process died, or this one failed: torchrun now stops the others, and that signal
            # must not be announced as a clean stop. The run's folder keeps what was written.
            signals.announce = False
            trainer.lockstep.release()
            bar.close()
            kept = f" ({folder.work} keeps what was written)" if main and folder.work else ""
            say(f"error: {failure_line(exc, context)}; the run stops unsaved{kept}")
            return 1
        bar.close()
        replicas_agree = context.replicas_agree(trainer.model, trainer.disc)
        if main:
            history.close()
            with signals_held():  # the finished run is saved whatever arrives now
                saved_to, save_failure = save_with_rescue(RunArtifact.from_trainer(trainer, run.ref).save, folder,
                                                          run.name)
                project_failure = run.projects.final()
    result = trainer.result
    failed = result.stop_reason == "non_finite" or save_failure or project_failure or (main and history.failure)
    code = 1 if failed else signals.hit
    if main:
        for line in (save_failure, project_failure):
            if line:
                say(f"error: {line}")
        if not replicas_agree:
            say("warning: the processes of this run ended with different weights; rank 0's were saved")
        if result.message and not (signals.hit or history.failure):  # those stops were said when they came
            print(result.message, file=sys.stderr)
        _print_summary(run, context, result, started, saved_to, replicas_agree)
    # Every process ends with the same code, and none before rank 0 has saved: torchrun stops the rest
    # of a job when one process exits with an error.
    try:
        return context.max_int(code)
    except Exception as exc:
        if main:
            say(f"warning: {failure_line(exc, context)}, after this run was saved")
        return code or 1


def _print_summary(run: PreparedRun, context, result, started: float, saved_to, replicas_agree: bool) -> None:
    summary = {
        "preset": run.name,
        "epochs": result.epochs,
        "steps": result.steps,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "val_recon_mse": result.val_recon_mse,
        "samples_per_s": round(result.samples_per_s, 1),  # of all processes together
        "device": result.device,
        "world_size": context.world_size,
        "dataset": run.dataset.name,
        "stop_reason": result.stop_reason,
        "seconds": round(time.perf_counter() - started, 2),
        "out": str(saved_to) if saved_to is not None else None,
    }
    if context.enabled:
        summary["replicas_agree"] = replicas_agree
    if run.project_path is not None:
        summary["project"] = str(run.project_path)
    print(json.dumps({k: _json_safe(v) for k, v in summary.items()}), flush=True)
