"""core.latent.nearest: the k codes nearest to one code, nearest first, as a brute-force sort finds them."""
from __future__ import annotations

import numpy as np
import pytest

from aegui.core.latent import nearest


def brute_force(codes: np.ndarray, code: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    distances = np.sqrt(((codes.astype(np.float64) - code) ** 2).sum(axis=1))
    order = np.argsort(distances)[:k]
    return order, distances[order]


@pytest.mark.parametrize("n, dim, k", [(5000, 16, 5), (300, 2, 1), (1000, 32, 40), (7, 3, 7)])
def test_nearest_finds_the_same_rows_and_distances_as_a_full_sort(n, dim, k):
    rng = np.random.default_rng(n + dim + k)
    codes = rng.standard_normal((n, dim)).astype(np.float32)
    code = rng.standard_normal(dim).astype(np.float32)
    rows, distances = nearest(codes, code, k)
    expected_rows, expected_distances = brute_force(codes, code, k)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5)
    assert np.all(np.diff(distances) >= 0)


def test_a_code_that_is_one_of_the_codes_is_its_own_nearest_at_distance_zero():
    codes = np.random.default_rng(1).standard_normal((2000, 20)).astype(np.float32)
    rows, distances = nearest(codes, codes[1234], 5)
    assert rows[0] == 1234 and distances[0] == pytest.approx(0.0, abs=1e-6)
    assert distances[1] > 0.5  # the rest are other codes, well apart in 20 dimensions


def test_k_larger_than_the_codes_gives_every_row_sorted():
    codes = np.array([[3.0, 0.0], [1.0, 0.0], [-2.0, 0.0]], np.float32)
    rows, distances = nearest(codes, np.zeros(2, np.float32), k=5)
    assert rows.tolist() == [1, 2, 0]
    np.testing.assert_allclose(distances, [1.0, 2.0, 3.0])
    rows, distances = nearest(codes[:0], np.zeros(2, np.float32), k=5)
    assert rows.shape == (0,) and distances.shape == (0,)


def test_a_read_only_cache_of_codes_is_searched_as_it_is():
    codes = np.random.default_rng(2).standard_normal((100, 4)).astype(np.float32)
    codes.flags.writeable = False
    rows, _ = nearest(codes, codes[17], 3)
    assert rows[0] == 17


def test_a_code_of_another_size_is_refused_in_words():
    with pytest.raises(ValueError, match=r"3-D code cannot be compared with codes of shape \(10, 4\)"):
        nearest(np.zeros((10, 4), np.float32), np.zeros(3, np.float32))
