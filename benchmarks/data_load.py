"""How fast the importers load 5,000 and 60,000 images, and how much memory they take.

The images are the embedded 5,000 digits, repeated to reach 60,000, written
into a temporary folder as PNG files in one subfolder per digit, and as
MNIST-format IDX files (raw and gzipped). Each load runs in its own Python
process, so its peak resident memory is its own (the peak is reset after
the imports where Linux allows); the time counts the load alone, not the
start of Python or the imports.

    python benchmarks/data_load.py [--quick]    # --quick: 5,000 only

The last line of stdout is JSON: folder_5k_s, folder_60k_s, idx_5k_s, idx_60k_s,
idx_gz_60k_s (seconds), each case's *_rss_mb (peak resident memory of its
process) and *_load_mb (how far the load raised it), and peak_rss_mb (the
largest of them).
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from aegui.core.data import load_mnist5k  # noqa: E402

# Runs in a child process: load once, report time and memory as JSON.
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from aegui.core.data import load_dataset

def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None

before = status_mb("VmRSS")
try:
    # Reset this process's peak (VmHWM) so that it measures the load, not the imports before it.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
start = time.perf_counter()
dataset = load_dataset(sys.argv[1])
seconds = time.perf_counter() - start
peak = status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({"s": seconds, "n": len(dataset), "shape": list(dataset.x.shape), "rss_mb": peak,
                  "load_mb": peak - before}))
"""


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, n: int) -> float:
    """n PNG files, digit i in subfolder i; each distinct digit is encoded once and its bytes reused."""
    from PIL import Image

    start = time.perf_counter()
    encoded = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        encoded.append(buf.getvalue())
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True)
    for i in range(n):
        j = i % len(images)
        (root / str(labels[j]) / f"{i:05d}.png").write_bytes(encoded[j])
    return time.perf_counter() - start


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray, n: int, gz: bool) -> Path:
    folder.mkdir(parents=True)
    index = np.arange(n) % len(images)
    ext = ".gz" if gz else ""
    pack = gzip.compress if gz else (lambda b: b)
    (folder / f"train-labels-idx1-ubyte{ext}").write_bytes(pack(idx_bytes(labels[index])))
    path = folder / f"train-images-idx3-ubyte{ext}"
    path.write_bytes(pack(idx_bytes(images[index])))
    return path


def time_load(path: Path, repeats: int) -> dict:
    """The best of ``repeats`` child-process loads (the least disturbed by the rest of the machine)."""
    best = None
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT)], capture_output=True, text=True,
                             check=False)
        if out.returncode != 0:
            raise SystemExit(f"loading {path} failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["s"] < best["s"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 images only")
    parser.add_argument("--repeats", type=int, default=2, help="loads per case; the fastest counts")
    args = parser.parse_args()

    digits = load_mnist5k()
    images, labels = digits.x[:, 0], digits.labels.astype(np.uint8)
    sizes = {"5k": 5_000} if args.quick else {"5k": 5_000, "60k": 60_000}
    figures: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory(prefix="aegui-bench-") as tmp:
        tmp = Path(tmp)
        cases = []
        for tag, n in sizes.items():
            figures[f"write_folder_{tag}_s"] = round(write_folder(tmp / f"folder_{tag}", images, labels, n), 3)
            cases.append((f"folder_{tag}", tmp / f"folder_{tag}", n))
            cases.append((f"idx_{tag}", write_idx(tmp / f"idx_{tag}", images, labels, n, gz=False), n))
        last = list(sizes)[-1]
        cases.append((f"idx_gz_{last}", write_idx(tmp / f"idx_gz_{last}", images, labels, sizes[last], gz=True),
                      sizes[last]))
        for name, path, n in cases:
            result = time_load(path, args.repeats)
            assert result["n"] == n and result["shape"] == [n, 1, 28, 28], result
            figures[f"{name}_s"] = round(result["s"], 3)
            figures[f"{name}_rss_mb"] = round(result["rss_mb"], 1)
            figures[f"{name}_load_mb"] = round(result["load_mb"], 1)
            print(f"{name:>14}: {n:>6,} images in {result['s']:7.3f} s "
                  f"({n / result['s']:>9,.0f} images/s), peak RSS {result['rss_mb']:.0f} MB "
                  f"(+{result['load_mb']:.0f} MB for the load)", flush=True)
    figures["peak_rss_mb"] = max(v for k, v in figures.items() if k.endswith("_rss_mb"))
    figures["cpus"] = os.cpu_count() or 0
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
