"""One rank of a distributed test run: trains presets with the Trainer under torch.distributed directly.

Started by tests/test_distributed.py through ``python -m torch.distributed.run --nproc_per_node=N``.
``--runs`` names the runs, one after another in one process group: a preset's name, or
``stop:PRESET`` (rank 1 alone asks to stop during its 3rd step), ``nan:PRESET`` (rank 1's share
of the 3rd batch is NaN), ``bn:PRESET`` (batch norm on every encoder layer) or ``amp:PRESET``
(mixed precision). ``--one-gpu`` puts every rank on GPU 0 over gloo (NCCL needs a GPU per rank),
to check the CUDA paths on a machine with one GPU. Every rank writes RUN-rankR.safetensors (its
final weights, the discriminator's too) and RUN-rankR.json (its result and history), so the test
can compare the ranks bit for bit. The specs come from ``spec_for``, which the test's single-process runs use too.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def load_digits(limit: int):
    from aegui.core.data import load_dataset

    return load_dataset("mnist5k", limit=limit, seed=0)


def spec_for(name: str, dataset, epochs: int, batch_size: int, device: str = "cpu", kind: str = ""):
    from aegui.core.presets import fit_to_input, get_preset

    spec = fit_to_input(get_preset(name), dataset.kind, dataset.sample_shape, unit_range=dataset.in_unit_range)
    spec.train.epochs = epochs
    spec.train.batch_size = batch_size
    spec.train.device = device
    spec.objective.stacked.epochs_per_layer = 1
    if kind == "bn":
        for layer in spec.encoder.layers:
            layer.batch_norm = True
    if kind == "amp":
        spec.train.amp = True
    return spec


def one_gpu_context():
    import torch
    import torch.distributed as dist

    from aegui.core.training.distributed import Distributed, launch_from_env

    launch = launch_from_env()
    dist.init_process_group("gloo", rank=launch.rank, world_size=launch.world_size)
    return Distributed(launch.rank, launch.world_size, launch.local_rank, torch.device("cuda", 0), "gloo")


def _upset_third_step(trainer, kind: str) -> None:
    """On this rank only: ask to stop during the 3rd step, or make its share of the 3rd batch NaN."""
    step_once, calls = trainer.train_step, []

    def step(x):
        calls.append(1)
        if len(calls) == 3 and kind == "nan":
            x = x * float("nan")
        step_once(x)
        if len(calls) == 3 and kind == "stop":
            trainer.control.stop()

    trainer.train_step = step


def main() -> int:
    from safetensors.torch import save_file

    from aegui.core.training import Trainer
    from aegui.core.training.distributed import launch_from_env, session

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--one-gpu", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    dataset = load_digits(args.limit)
    device = "cuda" if args.one_gpu else "cpu"
    with (nullcontext(one_gpu_context()) if args.one_gpu else session(launch_from_env(), "cpu")) as context:
        for run in args.runs.split(","):
            kind, _, name = run.rpartition(":")
            spec = spec_for(name, dataset, args.epochs, args.batch_size, device, kind)
            trainer = Trainer(spec, dataset, distributed=context)
            if kind in ("stop", "nan") and context.rank == 1:
                _upset_third_step(trainer, kind)
            result = trainer.fit()
            weights = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
            if trainer.disc is not None:
                weights.update({f"disc.{k}": v.detach().cpu().contiguous()
                                for k, v in trainer.disc.state_dict().items()})
            tag = run.replace(":", "-")
            save_file(weights, str(out / f"{tag}-rank{context.rank}.safetensors"))
            (out / f"{tag}-rank{context.rank}.json").write_text(json.dumps({
                "result": result.to_json(), "history": trainer.history, "world_size": context.world_size,
            }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
