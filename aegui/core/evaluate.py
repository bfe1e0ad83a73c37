"""Scoring samples by how badly the model reconstructs them (anomaly detection).

An autoencoder trained on normal data reconstructs anomalies poorly, so the
per-sample reconstruction error is an anomaly score; with labels marking the
anomalies, ROC AUC says how well that score separates them.
"""
from __future__ import annotations

import numpy as np
import torch

from .data import Dataset
from .models import Autoencoder
from .objectives import output_from_logits


@torch.no_grad()
def per_sample_error(model: Autoencoder, dataset: Dataset, batch_size: int = 1024,
                     index: np.ndarray | None = None) -> np.ndarray:
    """Mean squared error per sample, in model space (0-1 for images), after the output link."""
    device = next(model.parameters()).device
    likelihood = model.spec.likelihood
    was = model.training
    model.eval()
    rows = np.arange(len(dataset)) if index is None else np.asarray(index)
    out = np.empty(len(rows), dtype=np.float64)
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            x = torch.from_numpy(dataset.as_float(chunk)).to(device)
            logits, _ = model(x)
            recon = output_from_logits(logits.float(), likelihood)
            out[start:start + len(chunk)] = ((recon - x) ** 2).flatten(1).mean(dim=1).cpu().numpy()
    finally:
        model.train(was)
    return out


def roc_auc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random anomaly scores above a random normal sample.

    Computed from ranks (the Mann-Whitney U statistic), with ties counted half.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(is_anomaly, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both anomalies and normal samples")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties so equal scores count as half a win.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def anomaly_mask(dataset: Dataset, anomaly_class: int | None = None) -> np.ndarray:
    """Which samples count as anomalies: the dataset's own anomaly labels, or one chosen class."""
    if dataset.labels is None:
        raise ValueError(f"dataset '{dataset.name}' has no labels to mark anomalies")
    if anomaly_class is not None:
        return dataset.labels == anomaly_class
    if not dataset.anomaly_labels:
        raise ValueError(f"dataset '{dataset.name}' marks no anomalies; choose a class to treat as the anomaly")
    return np.isin(dataset.labels, list(dataset.anomaly_labels))
