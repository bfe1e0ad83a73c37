"""The headless command line: the same engine the GUI drives, without Qt.

Every user mistake (a bad argument, spec, dataset, device or project file) ends in
one line on stderr and exit code 2. The last line of stdout of ``train`` and ``experiment`` is
one JSON object. The commands live beside this module: train.py (train, resume), export.py and
experiments.py (experiments, experiment).
"""
from __future__ import annotations

import argparse
import sys

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


def _memory_size(text: str) -> int:
    from ..core.memory_estimate import parse_memory_size

    try:
        return parse_memory_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    # The choices offered come from the spec's own tables, as the builder's do.
    from ..core.spec import INPUT_KINDS
    from ..core.spec_rules import DEVICES

    parser = OneLineParser(prog="aegui", description="Autoencoder Studio. With no command, opens the application.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a model headless")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a built-in spec (see 'presets')")
    source.add_argument("--spec", help="a spec JSON file")
    train.add_argument("--dataset", help="a built-in dataset name or a file/folder path (default mnist5k)")
    train.add_argument("--limit", type=int, help="train on a stratified subsample of N samples")
    train.add_argument("--image-size", type=_image_size, help="resize imported images to N or HxW pixels")
    train.add_argument("--channels", type=int, choices=[1, 3], help="make imported images grey (1) or colour (3)")
    train.add_argument("--kind", choices=INPUT_KINDS,
                       help="what each sample of an imported array is (an (N,28,28) array: image)")
    train.add_argument("--label-column", help="the label column of a CSV table, by name or 0-based index")
    train.add_argument("--without-class", help="train on every class but this one (by name or number), as the "
                                               "app's anomaly experiments do")
    train.add_argument("--stream", action="store_true", default=None,
                       help="leave an .npy file of uint8 images on disk and read its rows batch by batch, for data "
                            "that does not fit in memory (docs/scaling.md)")
    train.add_argument("--stream-workers", type=int, metavar="N",
                       help="with --stream: processes that read the coming batches (default 2; 0 reads in the "
                            "training process)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--latent", type=int, help="code size")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--seed", type=int)
    train.add_argument("--out", help="output folder (default runs/NAME-TIME); the run is written beside it and "
                                     "moved into place when it has finished")
    train.add_argument("--overwrite", action="store_true",
                       help="replace a non-empty --out folder (only once this run has finished)")
    train.add_argument("--checkpoint-every", type=int, metavar="N",
                       help="every N epochs, write OUT.incomplete-*/checkpoint.aeproj: a killed run can be "
                            "continued from it with --resume")
    train.add_argument("--memory-limit", type=_memory_size, metavar="SIZE",
                       help="the memory a model may need for training, e.g. 30GB (default: 60%% of the "
                            "device's memory, or AEGUI_MEMORY_LIMIT)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--snapshots", action="store_true", help="write the latest losses and pictures to "
                       "snapshot.safetensors in the run folder (twice a second), for the window's Watch run folder")
    train.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard logs into DIR/<run folder name> "
                                                            "(needs: pip install tensorboard)")
    train.add_argument("--project", help="also write a project file (.aeproj) at each epoch's end and at the end")
    train.add_argument("--resume", metavar="FILE.aeproj",
                       help="continue the run in this project to --epochs N in total, updating the file")
    sub.add_parser("presets", help="list the built-in presets")
    export = sub.add_parser("export", help="export a project's trained model")
    export.add_argument("project", metavar="FILE.aeproj")
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--onnx", metavar="OUT.onnx", help="the model, and OUT.encoder.onnx and OUT.decoder.onnx")
    what.add_argument("--torchscript", metavar="OUT.pt", help="a TorchScript archive of the model")
    what.add_argument("--python", metavar="DIR", help="DIR/model.py (plain torch code) and DIR/weights.safetensors")
    what.add_argument("--images", metavar="DIR", help="reconstructions, filters and the latent map as PNG, and the "
                                                    "metrics as CSV")
    from .experiments import add_parsers as add_experiment_parsers

    add_experiment_parsers(sub)
    return parser


def cmd_presets(args) -> int:
    from ..core.presets import describe_presets

    rows = describe_presets()
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def _say_error(line: str, own: bool = False) -> None:
    """An error line on stderr. Under torchrun every process meets the same mistake in the same
    arguments (``train`` compares its set-up across processes: cli/torchrun.py), so rank 0 alone says
    it; ``own``: a failure of this process's own, which it says with its rank."""
    from ..core.training.distributed import DistributedError, launch_from_env

    try:
        launch = launch_from_env()
    except DistributedError:
        launch = None
    if launch is None or launch.world_size == 1 or launch.is_main:
        print(line, file=sys.stderr)
    elif own:
        print(f"rank {launch.rank}: {line}", file=sys.stderr)
    else:
        from .torchrun import quiet_exit_delay

        quiet_exit_delay()


def main(argv: list[str] | None = None) -> int:
    from .signals import Aborted

    try:
        # Imported inside the try: torch takes a second or two to import, and a Ctrl-C then is
        # still one line, not a traceback.
        from ..core.data import DataError
        from ..core.device import DeviceError
        from ..core.serialize import SpecError

        try:
            return _run_command(argv)
        except CliError as exc:
            _say_error(f"error: {exc}")
        except SpecError as exc:
            _say_error(f"error: invalid spec: {exc.first_line}")
        except (DataError, DeviceError) as exc:
            _say_error(f"error: {exc}")
        except MemoryError:
            _say_error("error: out of memory (the data or the model did not fit; try --limit, a smaller "
                       "--image-size or a smaller model)", own=True)
            return 1
        except Exception as exc:  # a bug or an input nobody foresaw: still one line, never a traceback
            detail = str(exc).splitlines()[0] if str(exc) else ""
            _say_error(f"error: {type(exc).__name__}: {detail} (unexpected; please report it)", own=True)
            return 1
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Aborted as exc:
        print("error: aborted; the run's folder was left as it was (its files are whole)", file=sys.stderr)
        return exc.exit_code


def _run_command(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from .train import cmd_train

        return cmd_train(args)
    if args.command == "presets":
        return cmd_presets(args)
    if args.command == "export":
        from .export import cmd_export

        return cmd_export(args)
    if args.command in ("experiments", "experiment"):
        from .experiments import cmd_experiment, cmd_experiments

        return cmd_experiments(args) if args.command == "experiments" else cmd_experiment(args)
    raise CliError("no command given; use 'train', 'presets', 'export', 'experiments' or 'experiment'")


if __name__ == "__main__":
    sys.exit(main())
