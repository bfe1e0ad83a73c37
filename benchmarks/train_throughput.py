"""Trainer throughput against a bare PyTorch loop on the same network and data.

The network is the VAE 784-400-20 (BCE with logits, Adam, batch 128) on the
embedded 5,000 digits. Both loops train on the same 90% split; the bare loop
also runs the same per-epoch validation pass, since any real training script
validates, so what is compared is the trainer's own overhead (device-side
accumulation, reports about ten times a second with a snapshot batch, the NaN
guard). Rounds alternate in one process so drift hits both alike.

    python benchmarks/train_throughput.py [--device cpu|cuda] [--rounds 7] [--epochs 3]

The last line of stdout is JSON: bare_samples_per_s, trainer_samples_per_s, ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from aegui.core import Trainer, get_preset, load_dataset  # noqa: E402
from aegui.core.data import split_indices  # noqa: E402
from aegui.core.models import build_model  # noqa: E402


def vae_spec(epochs: int, device: str):
    spec = get_preset("vae")  # 784-400-20, BCE, Adam
    spec.train.epochs = epochs
    spec.train.batch_size = 128
    spec.train.device = device
    return spec


def bare_loop(spec, dataset, device: torch.device, epochs: int) -> float:
    """A plain training loop written the way a tutorial would, without any reporting."""
    torch.manual_seed(spec.train.seed)
    model = build_model(spec).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=spec.train.lr)
    train_idx, val_idx = split_indices(len(dataset), spec.train.val_fraction, spec.train.seed)
    x_train = torch.from_numpy(dataset.x[train_idx]).to(device)
    x_val = torch.from_numpy(dataset.x[val_idx]).to(device)
    bs = spec.train.batch_size
    steps = len(train_idx) // bs
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(train_idx), device=device)
        for b in range(steps):
            x = x_train[order[b * bs:(b + 1) * bs]].float().div_(255.0)
            logits, enc = model(x)
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
            kl = (0.5 * (enc.mu.pow(2) + enc.logvar.exp() - 1 - enc.logvar)).sum(1).mean()
            loss = recon + kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            xv = x_val.float().div_(255.0)
            logits, _ = model(xv)
            float(F.binary_cross_entropy_with_logits(logits, xv))
        model.train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return epochs * steps * bs / (time.perf_counter() - start)


def trainer_loop(spec, dataset) -> tuple[float, int]:
    trainer = Trainer(spec, dataset)
    reports = 0
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in trainer.run():
        reports += 1
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    samples = trainer.step * trainer.batch_size
    return samples / (time.perf_counter() - start), reports


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    dataset = load_dataset("mnist5k")
    spec = vae_spec(args.epochs, args.device)
    device = torch.device(args.device)
    # Warm-up: first-call allocations and kernel selection.
    bare_loop(spec, dataset, device, 1)
    trainer_loop(vae_spec(1, args.device), dataset)
    bare, ours, reports = [], [], []
    for r in range(args.rounds):
        bare.append(bare_loop(spec, dataset, device, args.epochs))
        rate, n = trainer_loop(spec, dataset)
        ours.append(rate)
        reports.append(n)
        print(f"round {r + 1}: bare {bare[-1]:9.0f}  trainer {ours[-1]:9.0f} samples/s  ({n} reports)")
    b, t = statistics.median(bare), statistics.median(ours)
    # Each round's two runs are neighbours in time, so their ratio cancels the machine's drift
    # (a shared 2-core VM swings 30% between rounds); the median of those paired ratios is
    # the figure. The ratio of the two medians is printed beside it.
    paired = statistics.median(o / r for o, r in zip(ours, bare))
    print(f"median: bare {b:.0f} samples/s, trainer {t:.0f} samples/s; ratio {paired:.3f} (median of "
          f"paired rounds; ratio of medians {t / b:.3f}), torch threads {torch.get_num_threads()}, device {args.device}")
    print(json.dumps({"bare_samples_per_s": round(b, 1), "trainer_samples_per_s": round(t, 1),
                      "ratio": round(paired, 4), "ratio_of_medians": round(t / b, 4), "device": args.device,
                      "epochs": args.epochs, "rounds": args.rounds, "reports_per_run": statistics.median(reports)}))


if __name__ == "__main__":
    main()
