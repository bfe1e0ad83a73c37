"""``aegui export FILE.aeproj --onnx|--torchscript|--python|--images``: the project's model, elsewhere.

The project is read with every check of ``core.project`` (nothing is unpickled), the
run's model is exported by ``core.export``, and each problem is one line with exit 2;
a refused export leaves nothing behind. The last line of stdout is JSON naming the files.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .main import CliError
from .train import reload_dataset


def cmd_export(args) -> int:
    from ..core.export import ExportError, export_images, export_onnx, export_python, export_torchscript
    from ..core.project import ProjectError, load_project

    try:
        project = load_project(args.project)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    run = project.run
    if run is None:
        raise CliError(f"{args.project} holds no trained model yet; train it first")
    target = Path(args.onnx or args.torchscript or args.python or args.images)
    created = not target.exists()  # a folder this export makes is removed again if it fails
    try:
        if args.onnx:
            result = export_onnx(run, target)
        elif args.torchscript:
            result = export_torchscript(run, target)
        elif args.python:
            result = export_python(run, target)
        else:
            result = export_images(run, reload_dataset(run.dataset, "--images"), target)
    except ExportError as exc:
        if created and target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
    for note in result.notes:
        print(note)
    print(json.dumps({"project": str(args.project), "files": [str(p) for p in result.paths]}))
    return 0
