"""The latent-space computations of the engine: codes, the 2-D map and back, paths through code space."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aegui.core.data import load_dataset
from aegui.core.inference import Cancelled, InferenceModel
import aegui.core.latent as latent
from aegui.core.latent import (
    Embedding, decode_grid, encode_posterior, encode_rows, grid_codes, lerp, prior_codes, project,
    projection_choices, slerp, spread_on_map, traversal,
)
from aegui.core.models import build_model
from aegui.core.presets import fit_to_input, get_preset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist5k", limit=300, seed=0)


@pytest.fixture(scope="module")
def model(digits):
    spec = fit_to_input(get_preset("vae"), digits.kind, digits.sample_shape, digits.in_unit_range)
    torch.manual_seed(0)
    return InferenceModel(spec, build_model(spec).state_dict())


@pytest.fixture(scope="module")
def ae_model(digits):
    spec = fit_to_input(get_preset("ae"), digits.kind, digits.sample_shape, digits.in_unit_range)
    torch.manual_seed(0)
    return InferenceModel(spec, build_model(spec).state_dict())


def test_chunked_encode_equals_one_pass(model, digits):
    rows = np.arange(0, 300, 2)
    whole = model.encode(digits.as_float(rows), chunk=10_000)
    assert whole.shape == (150, model.code_dim)
    np.testing.assert_allclose(encode_rows(model, digits, rows, chunk=7), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.encode(digits.as_float(rows), chunk=13), whole, rtol=1e-5, atol=1e-6)


def test_encoding_stops_between_chunks_when_cancelled(model, digits):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        encode_rows(model, digits, np.arange(100), chunk=10, cancel=cancel)
    assert len(calls) == 3  # two chunks ran, the third was refused


def test_pca_projection_round_trips_codes_in_its_plane():
    rng = np.random.default_rng(0)
    # Codes that lie in a 2-D plane of a 6-D space, off the origin.
    basis = np.linalg.qr(rng.standard_normal((6, 2)))[0].T
    codes = (rng.standard_normal((200, 2)) * [3.0, 1.0]) @ basis + 5.0
    points, proj = project(codes.astype(np.float32))
    assert proj.kind == "pca" and points.shape == (200, 2)
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-5)
    back = np.stack([proj.code_at(x, y) for x, y in points])
    np.testing.assert_allclose(back, codes, atol=1e-4)
    # The first axis is the wider one.
    assert points[:, 0].std() > points[:, 1].std()
    np.testing.assert_allclose(proj.points(back), points, atol=1e-4)


def test_code_at_keeps_the_part_of_the_base_code_off_the_plane():
    rng = np.random.default_rng(3)
    codes = rng.standard_normal((300, 8)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)
    _, proj = project(codes)
    base = rng.standard_normal(8).astype(np.float32) * 4
    code = proj.code_at(1.25, -0.5, base)
    np.testing.assert_allclose(proj.points(code[None])[0], [1.25, -0.5], atol=1e-5)
    # The difference from the base lies in the plane: nothing off it moved.
    moved = code.astype(np.float64) - base
    in_plane = (moved @ proj.components.T.astype(np.float64)) @ proj.components.astype(np.float64)
    np.testing.assert_allclose(moved, in_plane, atol=1e-5)
    # Going to a code's own point with that code as the base gives the code back.
    point = proj.points(codes[5:6])[0]
    np.testing.assert_allclose(proj.code_at(*point, base=codes[5]), codes[5], atol=1e-4)


def test_decoding_the_point_of_a_code_lands_near_its_own_decoding(model, digits):
    codes = model.encode(digits.as_float(np.arange(200)))
    points, proj = project(codes)
    # Through the plane alone, the decoding is of the code's shadow on it; with the code as the
    # base (what the sliders hold once a point is picked) it is the code's own decoding.
    own = model.decode(codes[:10])
    back = model.decode(np.stack([proj.code_at(x, y, codes[i]) for i, (x, y) in enumerate(points[:10])]))
    np.testing.assert_allclose(back, own, atol=1e-4)


def test_two_chosen_dimensions_are_drawn_as_they_are():
    codes = np.random.default_rng(4).standard_normal((20, 5)).astype(np.float32)
    points, proj = project(codes, "dims", (3, 1))
    np.testing.assert_array_equal(points, codes[:, [3, 1]])
    assert proj.axis_names == ("code 3", "code 1")
    code = proj.code_at(0.5, -2.0, codes[0])
    assert code[3] == 0.5 and code[1] == -2.0 and code[[0, 2, 4]].tolist() == codes[0, [0, 2, 4]].tolist()
    with pytest.raises(ValueError, match="two different"):
        project(codes, "dims", (2, 2))


def test_umap_and_tsne_are_offered_only_when_installed(monkeypatch):
    assert projection_choices(2) == ["code"]
    monkeypatch.setattr(latent.importlib.util, "find_spec", lambda name: None)
    assert projection_choices(16) == ["pca", "dims"]
    with pytest.raises(ValueError, match="none is installed"):
        latent.embed(np.zeros((10, 16), np.float32), "tsne")
    monkeypatch.setattr(latent.importlib.util, "find_spec", lambda name: object() if name == "sklearn" else None)
    assert projection_choices(16) == ["pca", "dims", "tsne"]
    monkeypatch.setattr(latent.importlib.util, "find_spec", lambda name: object() if name == "umap" else None)
    assert projection_choices(16) == ["pca", "dims", "umap"]


def test_an_embedding_goes_back_to_the_codes_drawn_near_a_point():
    codes = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]], np.float32)
    embedding = Embedding(codes, np.array([[0.0, 0.0], [5.0, 5.0]], np.float32), "tsne", neighbours=2)
    np.testing.assert_allclose(embedding.code_at(0.0, 0.0), codes[0], atol=1e-4)
    middle = embedding.code_at(2.5, 2.5)
    np.testing.assert_allclose(middle, [5.0, 5.0, 5.0], atol=1e-4)
    assert embedding.axis_names == ("t-SNE 1", "t-SNE 2")


def test_posterior_spread_is_none_for_a_plain_code_and_positive_for_a_vae(model, digits, ae_model):
    x = digits.as_float(np.arange(12))
    means, std = encode_posterior(model, x)
    np.testing.assert_allclose(means, model.encode(x), atol=1e-6)
    assert std.shape == means.shape and np.all(std > 0)
    _, proj = project(model.encode(digits.as_float(np.arange(100))))
    spread = spread_on_map(proj, std)
    assert spread.shape == (12, 2) and np.all(spread > 0)
    # An axis-aligned map reads the two dimensions' own deviations.
    _, dims = project(means, "dims", (0, 2))
    np.testing.assert_allclose(spread_on_map(dims, std), std[:, [0, 2]], rtol=1e-5)
    assert encode_posterior(ae_model, x)[1] is None


def test_a_two_dimensional_code_is_its_own_map():
    codes = np.array([[0.5, -1.0], [2.0, 3.0]], np.float32)
    points, proj = project(codes)
    assert proj.kind == "code"
    np.testing.assert_array_equal(points, codes)
    np.testing.assert_array_equal(proj.code_at(2.0, 3.0), [2.0, 3.0])
    one_d, proj1 = project(np.array([[1.5], [-2.0]], np.float32))
    np.testing.assert_array_equal(one_d, [[1.5, 0.0], [-2.0, 0.0]])
    assert proj1.code_at(4.0, 9.0).tolist() == [4.0]


def test_grid_codes_sit_at_the_cell_centres_from_the_top_left(model):
    codes = np.random.default_rng(1).standard_normal((50, model.code_dim)).astype(np.float32)
    _, proj = project(codes)
    grid = grid_codes(proj, (-1.0, 2.0), (-3.0, 3.0), 3)
    points = proj.points(grid)
    # Cells of 1 x 2: the first tile is centred in the top-left cell, the last in the bottom-right one.
    np.testing.assert_allclose(points[0], [-0.5, 2.0], atol=1e-5)
    np.testing.assert_allclose(points[-1], [1.5, -2.0], atol=1e-5)
    base = codes[7]
    off_plane = grid_codes(proj, (-1.0, 2.0), (-3.0, 3.0), 3, base)
    np.testing.assert_allclose(proj.points(off_plane), points, atol=1e-5)
    images = decode_grid(model, proj, (-1.0, 1.0), (-2.0, 2.0), 3)
    images = decode_grid(model, proj, (-1.0, 1.0), (-2.0, 2.0), 3)
    assert images.shape == (9, 1, 28, 28)


def test_traversal_moves_one_dimension_only():
    centre = np.array([0.0, 1.0, -2.0, 0.5], np.float32)
    codes = traversal(centre, 2, scale=0.5, steps=7, span=3.0)
    assert codes.shape == (7, 4)
    np.testing.assert_allclose(codes[:, 2], -2.0 + np.linspace(-1.5, 1.5, 7), atol=1e-6)
    for d in (0, 1, 3):
        assert np.all(codes[:, d] == centre[d])
    np.testing.assert_allclose(codes[3], centre)  # the middle step is the centre
    with pytest.raises(ValueError, match="outside"):
        traversal(centre, 4)


def test_lerp_is_a_straight_line_with_both_ends():
    a, b = np.array([0.0, 0.0]), np.array([2.0, 4.0])
    path = lerp(a, b, 5)
    np.testing.assert_allclose(path, [[0, 0], [0.5, 1], [1, 2], [1.5, 3], [2, 4]])


def test_slerp_keeps_its_ends_and_the_norm_of_equal_norm_codes():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = slerp(a, b, 11)
    assert path.shape == (11, 16)
    np.testing.assert_allclose(path[0], a, rtol=1e-6)
    np.testing.assert_allclose(path[-1], b, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-5)
    # Unlike the straight line, whose middle falls towards the origin.
    assert np.linalg.norm(lerp(a, b, 11)[5]) < 0.9 * np.linalg.norm(path[5])
    # Different norms: the length moves linearly, and the angle evenly.
    c = 3 * b
    path = slerp(a, c, 5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linspace(np.linalg.norm(a), np.linalg.norm(c), 5),
                               rtol=1e-5)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    angles = np.arccos(np.clip(np.sum(unit[:-1] * unit[1:], axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-4)


def test_slerp_of_parallel_or_zero_codes_falls_back_to_a_line():
    a = np.array([1.0, 2.0])
    np.testing.assert_allclose(slerp(a, 3 * a, 3), lerp(a, 3 * a, 3))
    np.testing.assert_allclose(slerp(np.zeros(2), a, 3), lerp(np.zeros(2), a, 3))


def test_prior_codes_are_standard_normal():
    codes = prior_codes(4000, 3, np.random.default_rng(0))
    assert codes.shape == (4000, 3) and codes.dtype == np.float32
    assert abs(codes.mean()) < 0.05 and abs(codes.std() - 1) < 0.05


def test_inference_model_decodes_and_scores_in_chunks(model, digits):
    x = digits.as_float(np.arange(40))
    codes = model.encode(x)
    np.testing.assert_allclose(model.decode(codes, chunk=6), model.decode(codes), atol=1e-6)
    recon = model.reconstruct(x, chunk=9)
    assert recon.shape == x.shape
    errors = model.errors(x, chunk=9)
    np.testing.assert_allclose(errors, ((recon - x) ** 2).reshape(40, -1).mean(axis=1), rtol=1e-5)
    assert model.levels == (0.0, 1.0)  # digits: a Bernoulli likelihood
