"""The headless command line: the same engine the GUI drives, without Qt.

Every user mistake (a bad argument, spec, dataset or device) ends in one line on
stderr and exit code 2. The last line of stdout of ``train`` is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

USAGE_ERROR = 2


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a mistake in one line instead of a usage dump."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        raise CliError(f"{self.prog}: {message}")


def _image_size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not N or HxW") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not N or HxW with sizes of at least 1")
    return parts[0], parts[1]


def build_parser() -> argparse.ArgumentParser:
    # The choices offered come from the spec's own tables, as the builder's do.
    from .core.spec import INPUT_KINDS
    from .core.spec_rules import DEVICES

    parser = OneLineParser(prog="aegui", description="Autoencoder Studio. With no command, opens the application.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a model headless")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a built-in spec (see 'presets')")
    source.add_argument("--spec", help="a spec JSON file")
    train.add_argument("--dataset", default="mnist5k", help="a built-in dataset name or a file/folder path")
    train.add_argument("--limit", type=int, help="train on a stratified subsample of N samples")
    train.add_argument("--image-size", type=_image_size, help="resize imported images to N or HxW pixels")
    train.add_argument("--channels", type=int, choices=[1, 3], help="make imported images grey (1) or colour (3)")
    train.add_argument("--kind", choices=INPUT_KINDS,
                       help="what each sample of an imported array is (an (N,28,28) array: image)")
    train.add_argument("--label-column", help="the label column of a CSV table, by name or 0-based index")
    train.add_argument("--without-class", help="train on every class but this one (by name or number), as the "
                                               "app's anomaly experiments do")
    train.add_argument("--epochs", type=int)
    train.add_argument("--latent", type=int, help="code size")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--seed", type=int)
    train.add_argument("--out", help="output folder (default runs/NAME-TIME)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("presets", help="list the built-in presets")
    return parser


def _spec_from_args(args):
    from .core.presets import get_preset
    from .core.spec import AutoencoderSpec

    if args.spec:
        spec = AutoencoderSpec.load(args.spec)
    else:
        name = args.preset or "ae"
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
        from .core.spec_rules import set_code_size

        problem = set_code_size(spec, args.latent)
        if problem:
            raise CliError(f"--latent {args.latent}: {problem}")
    return spec


def _fit_input(spec, dataset, from_file: bool):
    """Presets follow the dataset's shape; a spec file must already match it."""
    from .core.spec_rules import input_fits

    if input_fits(spec, dataset):
        return spec
    if from_file:
        raise CliError(
            f"the spec's input is {spec.input.kind} {list(spec.input.shape)} but dataset '{dataset.name}' holds "
            f"{dataset.kind} samples of shape {list(dataset.sample_shape)}"
        )
    from .core.presets import fit_to_input

    return fit_to_input(spec, dataset.kind, dataset.sample_shape, unit_range=dataset.in_unit_range)


class ProgressBar:
    """A one-line bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def update(self, report) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, report.epoch_progress / max(report.epochs_total, 1))
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        loss = report.losses.get("total")
        loss_text = f" loss {loss:.4g}" if loss is not None and math.isfinite(loss) else ""
        sys.stderr.write(f"\r{report.phase:>13} [{bar}] {report.epoch_progress:5.2f}/{report.epochs_total} ep"
                         f"{loss_text} {report.samples_per_s:7.0f} samples/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


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


class StopOnInterrupt:
    """While entered, the first Ctrl-C stops training cooperatively, so the weights so far, the
    history and the summary line are still written; a second one interrupts at once."""

    def __init__(self, control) -> None:
        self.control = control
        self.hit = False  # whether Ctrl-C stopped the run
        self._previous = None

    def _first_interrupt(self, signum, frame) -> None:
        print("\nstopping after this step (Ctrl-C again to abort)", file=sys.stderr)
        self.hit = True
        self.control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> "StopOnInterrupt":
        if threading.current_thread() is threading.main_thread():  # only there may signals be handled
            self._previous = signal.signal(signal.SIGINT, self._first_interrupt)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def cmd_train(args) -> int:
    from .core.control import TrainControl
    from .core.data import DataError, load_dataset
    from .core.reports import EPOCH
    from .core.run import DatasetRef, RunArtifact
    from .core.training import Trainer
    from .core.validation import check, seed_problem

    control = TrainControl()
    control.set_snapshots_wanted(False)  # nobody looks at reconstructions here: reports stay cheap
    spec = _spec_from_args(args)
    if args.spec:
        check(spec)  # all of a spec file's own problems first, before it is compared with the data
    # The data split uses the seed before the whole spec can be validated (that needs the data's shape).
    problem = seed_problem(spec.train.seed)
    if problem:
        raise CliError(f"seed {spec.train.seed}: {problem}")
    try:
        label_column = args.label_column
        if label_column is not None and label_column.lstrip("-").isdigit():
            label_column = int(label_column)
        dataset = load_dataset(args.dataset, limit=args.limit, seed=spec.train.seed, image_size=args.image_size,
                               channels=args.channels, kind=args.kind, label_column=label_column)
    except DataError as exc:
        raise CliError(str(exc)) from None
    excluded = None
    dataset_ref = None
    if args.without_class is not None:
        excluded = _without_class(dataset, args.without_class)
        dataset_ref = DatasetRef.from_dataset(dataset, excluded_label=excluded)  # the full set, as loaded
        dataset = dataset.without_label(excluded)
    spec = _fit_input(spec, dataset, from_file=bool(args.spec))
    check(spec)  # every problem at once, before any folder is made
    name = args.preset or (spec.name if args.spec else "ae")
    out = Path(args.out) if args.out else _fresh_run_folder(name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    trainer = Trainer(spec, dataset, control=control)
    try:
        trainer.spec.save(out / "spec.json")
        history = open(out / "history.jsonl", "w", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write into {out}: {exc.strerror or exc} ({getattr(exc, 'filename', '')})") from None
    bar = ProgressBar(not args.quiet)
    started = time.perf_counter()
    interrupt = StopOnInterrupt(control)
    with history, interrupt:
        written = 0
        for report in trainer.run():
            bar.update(report)
            if report.kind == EPOCH:
                for row in trainer.history[written:]:
                    history.write(json.dumps({k: _json_safe(v) for k, v in row.items()}) + "\n")
                history.flush()
                written = len(trainer.history)
    bar.close()
    result = trainer.result
    try:
        # The run folder is the run's own save: spec, weights, history, split, dataset reference, result
        # and, for tables and signals, the standardisation that maps the model's numbers back to the data's.
        RunArtifact.from_trainer(trainer, dataset_ref).save(out)
    except OSError as exc:
        raise CliError(f"cannot write into {out}: {exc.strerror or exc}") from None
    if result.message:
        print(result.message, file=sys.stderr)
    summary = {
        "preset": name,
        "epochs": result.epochs,
        "steps": result.steps,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "val_recon_mse": result.val_recon_mse,
        "samples_per_s": round(result.samples_per_s, 1),
        "device": result.device,
        "dataset": dataset.name,
        "stop_reason": result.stop_reason,
        "seconds": round(time.perf_counter() - started, 2),
        "out": str(out),
    }
    print(json.dumps({k: _json_safe(v) for k, v in summary.items()}))
    if result.stop_reason == "non_finite":
        return 1
    return 130 if interrupt.hit else 0


def cmd_presets(args) -> int:
    from .core.presets import describe_presets

    rows = describe_presets()
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .core.data import DataError
    from .core.device import DeviceError
    from .core.serialize import SpecError

    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "presets":
            return cmd_presets(args)
        raise CliError("no command given; use 'train' or 'presets'")
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except SpecError as exc:
        print(f"error: invalid spec: {exc.first_line}", file=sys.stderr)
    except (DataError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an input nobody foresaw: still one line, never a traceback
        detail = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: {type(exc).__name__}: {detail} (unexpected; please report it)", file=sys.stderr)
        return 1
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
