"""The project file a headless run keeps: ``--project FILE.aeproj`` (or the resumed file) and the
``--checkpoint-every N`` checkpoint, each written at epoch ends with the whole training state, so an
interrupted run can be continued exactly with ``--resume``. Under torchrun only rank 0 writes them,
with its state, which is every rank's.
"""
from __future__ import annotations

from pathlib import Path

from .main import CliError
from .run_folder import say


def save_project_file(path: Path, trainer, ref, project=None) -> None:
    from ..core.project import Project, ProjectError, save_project
    from ..core.run import RunArtifact

    run = RunArtifact.from_trainer(trainer, ref, with_state=True)
    summary = {"name": f"{trainer.spec.name} (command line)", "preset": trainer.spec.name, "dataset": ref.name,
               "history": run.history, "result": run.result.to_json() if run.result is not None else None}
    runs = list(project.runs) if project is not None else []
    if runs and runs[-1].get("name") == summary["name"]:
        runs[-1] = summary  # the same run, further along
    else:
        runs.append(summary)
    name = project.name if project is not None else path.stem
    try:
        save_project(Project(spec=trainer.spec, run=run, dataset=ref, runs=runs, name=name,
                             marks=list(project.marks) if project is not None else []), path)
    except ProjectError as exc:
        raise CliError(str(exc)) from None


class ProjectWriter:
    """The project file (--project or the resumed one) and the --checkpoint-every checkpoint, written at
    epoch ends. A failed write is said once and training goes on: the weights are still in memory."""

    def __init__(self, trainer, ref, project, path: Path | None, checkpoint: Path | None, every: int | None):
        self.trainer, self.ref, self.project = trainer, ref, project
        self.path, self.checkpoint, self.every = path, checkpoint, every
        self.failed: set[Path] = set()

    def _write(self, path: Path) -> bool:
        try:
            save_project_file(path, self.trainer, self.ref, self.project)
        except CliError as exc:
            if path not in self.failed:
                say(f"warning: {exc}; training goes on")
            self.failed.add(path)
            return False
        self.failed.discard(path)
        return True

    def epoch_end(self, epoch: int) -> None:
        if self.path is not None:  # a crash loses at most this epoch
            self._write(self.path)
        if self.checkpoint is not None and epoch % self.every == 0:
            self._write(self.checkpoint)

    def final(self) -> str:
        """The last write of the project file; '' or the line saying it failed."""
        if self.path is None or self._write(self.path):
            return ""
        return f"the project file {self.path} could not be written (see the warning above)"
