"""The built-in sets: offline, labelled, deterministic, and shaped as the issue asks."""
from __future__ import annotations

import numpy as np
import pytest

from aegui.core.data import (
    BUILTIN_DATASETS, DataError, load_dataset, load_shapes, load_signals, load_transactions, unstandardise,
)
from aegui.core.data.shapes import SCALES, render


def test_registry_lists_the_four_sets_and_each_loads_without_arguments():
    assert list(BUILTIN_DATASETS) == ["mnist5k", "shapes", "signals", "transactions"]
    for name, (loader, description) in BUILTIN_DATASETS.items():
        d = loader()
        assert d.name == name and d.labels is not None and len(d) >= 2000 and description
        assert d.label_names and int(d.labels.max()) < len(d.label_names)


def test_shapes_factors_labels_and_determinism():
    d = load_shapes(n=600, seed=4)
    assert d.kind == "image" and d.x.dtype == np.uint8 and d.x.shape == (600, 1, 32, 32)
    factors = d.meta["factors"]
    assert factors.shape == (600, 5) and d.meta["factor_names"] == ["shape", "scale", "rotation", "x", "y"]
    np.testing.assert_array_equal(factors[:, 0], d.labels)
    assert d.label_names == ["square", "ellipse", "heart"] and np.bincount(d.labels).tolist() == [200] * 3
    assert np.isclose(factors[:, 1, None], SCALES[None, :]).any(axis=1).all()
    again = load_shapes(n=600, seed=4)
    np.testing.assert_array_equal(d.x, again.x)
    assert not np.array_equal(d.x, load_shapes(n=600, seed=5).x)
    # Every image holds a sprite, and nothing is left on the border rows.
    assert (d.x.reshape(600, -1).max(axis=1) == 255).all()
    assert d.x[:, 0, 0, :].max() == 0 and d.x[:, 0, -1, :].max() == 0


def test_shapes_factors_really_drive_the_pixels():
    # Bigger scale: more ink. Moving right: the centre of mass moves right. Rotating a square: same ink.
    small = render([0], [0.5], [0.0], [0.5], [0.5])[0].astype(float)
    big = render([0], [1.0], [0.0], [0.5], [0.5])[0].astype(float)
    assert big.sum() > 3 * small.sum()
    left = render([1], [1.0], [0.0], [0.0], [0.5])[0].astype(float)
    right = render([1], [1.0], [0.0], [1.0], [0.5])[0].astype(float)
    cols = np.arange(32)
    assert (right.sum(0) @ cols) / right.sum() - (left.sum(0) @ cols) / left.sum() > 12
    turned = render([1], [1.0], [np.pi / 2], [0.5], [0.5])[0].astype(float)
    flat = render([1], [1.0], [0.0], [0.5], [0.5])[0].astype(float)
    assert abs(turned.sum() - flat.sum()) / flat.sum() < 0.05
    assert not np.array_equal(turned, flat)  # the ellipse is not round
    # A subset keeps the factors in step with the samples.
    d = load_shapes(n=90)
    sub = d.subset(np.array([5, 7]))
    np.testing.assert_array_equal(sub.meta["factors"], d.meta["factors"][[5, 7]])


def test_signals_are_standardised_sequences_with_rare_anomalies():
    d = load_signals()
    assert d.kind == "sequence" and d.x.dtype == np.float32 and d.sample_shape == (128, 1)
    assert d.anomaly_labels == (1,) and d.label_names == ["normal", "anomalous"]
    share = d.labels.mean()
    assert 0.05 < share < 0.12
    assert abs(float(d.x.mean())) < 1e-3 and abs(float(d.x.std()) - 1) < 1e-3
    assert (d.meta["anomaly_type"] > 0).tolist() == d.labels.astype(bool).tolist()
    assert set(np.unique(d.meta["signal_type"])) == {0, 1}
    np.testing.assert_array_equal(d.x, load_signals().x)
    # Anomalous series are, on average, further from the normal mean series.
    normal_mean = d.x[d.labels == 0].mean(axis=0)
    dist = ((d.x - normal_mean) ** 2).mean(axis=(1, 2))
    assert dist[d.labels == 1].mean() > dist[d.labels == 0].mean()


def test_transactions_are_named_standardised_columns_with_rare_fraud():
    d = load_transactions()
    assert d.kind == "vector" and d.x.dtype == np.float32 and d.sample_shape == (10,)
    assert d.feature_names[:2] == ["amount", "hour"] and len(d.feature_names) == 10
    assert d.anomaly_labels == (1,) and d.label_names == ["legitimate", "fraud"]
    assert 0.01 < d.labels.mean() < 0.04
    np.testing.assert_allclose(d.x.mean(axis=0), 0, atol=1e-4)
    raw = unstandardise(d, d.x)
    assert raw[:, 0].min() > 0 and 0 <= raw[:, 1].min() and raw[:, 1].max() < 24
    assert set(np.unique(np.round(raw[:, 8], 3))) == {0.0, 1.0}  # online is a flag
    fraud, legit = raw[d.labels == 1], raw[d.labels == 0]
    assert np.median(fraud[:, 4]) > 1.5 * np.median(legit[:, 4])  # amount to median


def test_unknown_name_lists_builtins_and_limit_rules():
    with pytest.raises(DataError) as err:
        load_dataset("cifar")
    assert "unknown dataset 'cifar'" in str(err.value)
    assert all(name in str(err.value) for name in BUILTIN_DATASETS)
    with pytest.raises(DataError, match="at least 2"):
        load_dataset("mnist5k", limit=1)
    d = load_dataset("transactions", limit=500, seed=1)
    assert len(d) == 500 and d.labels.sum() == 10  # 2% kept
    assert d.feature_mean is not None and d.anomaly_labels == (1,)


def test_builtin_images_can_be_resized_and_coloured():
    d = load_dataset("mnist5k", limit=20, image_size=32, channels=3)
    assert d.x.shape == (20, 3, 32, 32) and d.x.dtype == np.uint8
    with pytest.raises(DataError, match="applies to images"):
        load_dataset("signals", image_size=32)
