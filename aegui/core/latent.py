"""The latent space of a trained model, as numbers: codes, a 2-D map of them, and paths through it.

Everything the latent explorer shows is computed here, with no Qt, so it can
run in a worker thread, be tested on its own, and be used by a script:

- ``encode_rows``: chunked codes of a dataset selection (cancellable between chunks);
- ``project``: a 2-D map of codes (PCA, any two dimensions, or the code itself when it
  has two) with ``Projection.code_at`` to go back from the map to a code;
- ``embed``: UMAP or t-SNE maps, offered only when their package is installed
  (``projection_choices``), with a nearest-codes way back;
- ``encode_posterior``: a VAE's posterior means and standard deviations;
- ``grid_codes`` and ``decode_grid``: a grid over the map, and its decoded mosaic;
- ``traversal``: one code dimension varied around a centre;
- ``lerp`` and ``slerp``: paths between two codes;
- ``prior_codes``: draws from N(0, I), the prior of a VAE or AAE;
- ``nearest``: the k codes nearest to one code (a drawing's training neighbours).

Decoding the codes is ``InferenceModel.decode``.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .inference import CHUNK, InferenceModel, check_cancel


def encode_rows(model: InferenceModel, dataset, rows: np.ndarray, chunk: int = CHUNK,
                cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """Codes of ``dataset``'s ``rows``, converted to floats one chunk at a time (a 60,000-image
    selection never exists as one float array)."""
    rows = np.asarray(rows)
    out = np.empty((len(rows), model.code_dim), np.float32)
    for start in range(0, len(rows), chunk):
        check_cancel(cancel)
        part = rows[start:start + chunk]
        out[start:start + len(part)] = model.encode(dataset.as_float(part), chunk=chunk)
    return out


@dataclass
class Projection:
    """A linear map from codes to the plane: ``points = (codes - mean) @ components.T``."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (2, D), orthonormal rows
    kind: str  # "pca", "dims" (two chosen code dimensions), or "code" when the code itself is drawn
    dims: tuple[int, int] = (0, 1)  # the dimensions drawn, for "dims" and "code"

    def points(self, codes: np.ndarray) -> np.ndarray:
        return ((np.asarray(codes, np.float32) - self.mean) @ self.components.T).astype(np.float32)

    def code_at(self, x: float, y: float, base: np.ndarray | None = None) -> np.ndarray:
        """The code under a point of the map. The D-2 directions off the plane come from ``base``
        (its part orthogonal to the plane is kept as it is), or from the mean code without one:
        so dragging over the map moves only the two drawn directions of whatever code the
        sliders hold, and ``points(code_at(x, y, base))`` is (x, y) again."""
        mean = self.mean.astype(np.float64)
        components = self.components.astype(np.float64)
        code = mean + x * components[0] + y * components[1]
        if base is not None:
            offset = np.asarray(base, np.float64) - mean
            code += offset - (offset @ components.T) @ components
        return code.astype(np.float32)

    @property
    def axis_names(self) -> tuple[str, str]:
        if self.kind == "pca":
            return ("PC 1", "PC 2")
        return (f"code {self.dims[0]}", f"code {self.dims[1]}")


@dataclass
class Embedding:
    """A non-linear map (UMAP, t-SNE) of a fixed set of codes. It has no inverse, so the code
    under a point is the distance-weighted mean of the codes drawn nearest to it."""

    codes: np.ndarray  # (N, D)
    embedded: np.ndarray  # (N, 2)
    kind: str  # "umap" or "tsne"
    neighbours: int = 8

    def points(self, codes: np.ndarray) -> np.ndarray:
        return self.embedded.copy()  # only the codes it was made from have a place on it

    def code_at(self, x: float, y: float, base: np.ndarray | None = None) -> np.ndarray:
        distance = np.hypot(self.embedded[:, 0] - x, self.embedded[:, 1] - y)
        nearest = np.argsort(distance)[: self.neighbours]
        weights = 1.0 / (distance[nearest] + 1e-6)
        return (weights @ self.codes[nearest] / weights.sum()).astype(np.float32)

    @property
    def axis_names(self) -> tuple[str, str]:
        name = "UMAP" if self.kind == "umap" else "t-SNE"
        return (f"{name} 1", f"{name} 2")


# A non-linear map and the packages that can make it, first found first used.
EMBEDDERS = {"umap": ("umap",), "tsne": ("openTSNE", "sklearn")}


def projection_choices(code_dim: int) -> list[str]:
    """The maps this installation can draw for codes of ``code_dim`` dimensions."""
    choices = ["code"] if code_dim <= 2 else ["pca", "dims"]
    for kind, packages in EMBEDDERS.items():
        if code_dim > 2 and any(importlib.util.find_spec(name) is not None for name in packages):
            choices.append(kind)
    return choices


def embed(codes: np.ndarray, kind: str, seed: int = 0) -> Embedding:
    """A UMAP or t-SNE map of ``codes`` (seconds to minutes: run it in a worker). The packages are
    imported here, not at the top, because they are optional and slow to import."""
    codes = np.asarray(codes, np.float32)
    found = [name for name in EMBEDDERS[kind] if importlib.util.find_spec(name) is not None]
    if not found:
        raise ValueError(f"{kind} needs one of {', '.join(EMBEDDERS[kind])}, and none is installed")
    if found[0] == "umap":
        import umap
        embedded = umap.UMAP(random_state=seed).fit_transform(codes)
    elif found[0] == "openTSNE":
        import openTSNE
        embedded = np.asarray(openTSNE.TSNE(random_state=seed).fit(codes))
    else:
        from sklearn.manifold import TSNE
        embedded = TSNE(random_state=seed, init="pca").fit_transform(codes)
    return Embedding(codes, np.asarray(embedded, np.float32), kind)


def project(codes: np.ndarray, kind: str = "pca", dims: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, Projection]:
    """(points (N, 2), projection). Codes of two dimensions are drawn as they are; one dimension
    is drawn on x with y at 0; more are reduced to their first two principal components, or
    drawn by two chosen dimensions (``kind="dims"``)."""
    codes = np.asarray(codes, np.float32)
    d = codes.shape[1]
    if d <= 2:
        # The code itself, not centred: the axes then read as code values.
        projection = Projection(np.zeros(d, np.float32), np.eye(2, d, dtype=np.float32), "code")
        return projection.points(codes), projection
    if kind == "dims":
        if dims[0] == dims[1] or not all(0 <= i < d for i in dims):
            raise ValueError(f"dimensions {dims} are not two different ones of the code's {d}")
        components = np.zeros((2, d), np.float32)
        components[0, dims[0]] = components[1, dims[1]] = 1.0
        projection = Projection(np.zeros(d, np.float32), components, "dims", tuple(dims))
        return projection.points(codes), projection
    mean = codes.mean(axis=0)
    # Eigenvectors of the small D x D scatter matrix: the same axes as an SVD of the N x D
    # codes at a fraction of the cost (an SVD of 1,000 codes took 213 ms on the 2-core machine).
    # The scatter matrix is torch's product, not numpy's: once torch has worked in the process,
    # numpy's multi-threaded OpenBLAS fights its OpenMP threads, and 5,000 x 20 codes took
    # 150-240 ms through numpy against 0.3 ms through torch (2-core machine).
    centred = torch.from_numpy((codes - mean).astype(np.float64))
    _, vectors = np.linalg.eigh((centred.T @ centred).numpy())
    components = vectors[:, ::-1][:, :2].T
    # eigh's signs are arbitrary; fix them so the map does not flip between snapshots.
    signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    components = (components * signs[:, None]).astype(np.float32)
    projection = Projection(mean.astype(np.float32), components, "pca")
    return projection.points(codes), projection


def encode_posterior(model: InferenceModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(means, standard deviations) of a VAE's posterior for float inputs ``x``; the deviations are
    None for a model with a deterministic code. A few hundred samples: one pass."""
    with torch.no_grad():
        encoded = model.model.encode(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    means = encoded.mean_code.numpy().copy()
    if encoded.logvar is None:
        return means, None
    return means, torch.exp(0.5 * encoded.logvar).numpy().reshape(means.shape).copy()


def spread_on_map(projection: Projection, std: np.ndarray) -> np.ndarray:
    """(N, 2) standard deviations along the map's two axes of diagonal Gaussians with ``std`` (N, D)."""
    return np.sqrt((np.asarray(std, np.float64) ** 2) @ (projection.components.astype(np.float64) ** 2).T)


def grid_codes(projection: Projection, x_range: tuple[float, float], y_range: tuple[float, float],
               n: int, base: np.ndarray | None = None) -> np.ndarray:
    """(n*n, D) codes on an n x n grid over the map, row by row from the top (largest y) down,
    as a mosaic of the decoded images reads; off the plane they take ``base`` (see ``code_at``).
    Each tile sits at the centre of its cell, so the mosaic drawn over the range lines up."""
    xs = x_range[0] + (np.arange(n) + 0.5) * (x_range[1] - x_range[0]) / n
    ys = y_range[1] - (np.arange(n) + 0.5) * (y_range[1] - y_range[0]) / n
    return np.stack([projection.code_at(x, y, base) for y in ys for x in xs])


def decode_grid(model: InferenceModel, projection: Projection, x_range: tuple[float, float],
                y_range: tuple[float, float], n: int, base: np.ndarray | None = None,
                cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """(n*n, *input_shape) images decoded from a grid over the map (see ``grid_codes``)."""
    return model.decode(grid_codes(projection, x_range, y_range, n, base), cancel=cancel)


def traversal(centre: np.ndarray, dim: int, scale: float = 1.0, steps: int = 9, span: float = 3.0) -> np.ndarray:
    """(steps, D) copies of ``centre`` with dimension ``dim`` moved from -span to +span times ``scale``."""
    centre = np.asarray(centre, np.float32)
    if not 0 <= dim < len(centre):
        raise ValueError(f"dimension {dim} is outside the code's {len(centre)} dimensions")
    codes = np.repeat(centre[None], steps, axis=0)
    codes[:, dim] += (np.linspace(-span, span, steps) * (scale or 1.0)).astype(np.float32)
    return codes


def lerp(a: np.ndarray, b: np.ndarray, steps: int = 9) -> np.ndarray:
    """(steps, D) points on the straight line from ``a`` to ``b``, both included."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - t) * np.asarray(a, np.float64) + t * np.asarray(b, np.float64)).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int = 9) -> np.ndarray:
    """(steps, D) points from ``a`` to ``b`` along the great circle, the norm moving linearly.

    A straight line between two draws of a high-dimensional Gaussian passes near the
    origin, where the prior has almost no mass, and decodes to blur; turning the
    direction and interpolating the length keeps every point as far out as its ends."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return lerp(a, b, steps)  # no direction to turn
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6 or np.pi - omega < 1e-6:
        return lerp(a, b, steps)  # (anti)parallel: the great circle is not unique
    t = np.linspace(0.0, 1.0, steps)[:, None]
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    out = direction * ((1 - t) * na + t * nb)
    out[0], out[-1] = a, b  # exact ends, not ends within rounding
    return out.astype(np.float32)


def prior_codes(n: int, dim: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """(n, dim) draws from N(0, I)."""
    rng = rng or np.random.default_rng()
    return rng.standard_normal((n, dim)).astype(np.float32)


def nearest(codes: np.ndarray, code: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(indices, Euclidean distances) of the ``k`` rows of ``codes`` (N, D) nearest to ``code`` (D,),
    nearest first; all N when k > N. ``argpartition`` picks the k in O(N) before only they are
    sorted: 60,000 training codes need no full sort. The differences go through torch, not numpy
    (see ``project``: numpy's threaded products stall once torch has run in the process)."""
    codes = np.ascontiguousarray(codes, np.float32)
    if not codes.flags.writeable:  # torch warns about (and would share) a read-only buffer
        codes = codes.copy()
    code = np.array(code, np.float32).reshape(-1)
    if codes.ndim != 2 or len(code) != codes.shape[1]:
        raise ValueError(f"a {len(code)}-D code cannot be compared with codes of shape {codes.shape}")
    k = max(0, min(int(k), len(codes)))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    offsets = torch.from_numpy(codes) - torch.from_numpy(code[None])
    squared = (offsets * offsets).sum(dim=1).numpy()
    chosen = np.argpartition(squared, k - 1)[:k] if k < len(codes) else np.arange(len(codes))
    chosen = chosen[np.argsort(squared[chosen], kind="stable")]
    return chosen.astype(np.int64), np.sqrt(squared[chosen]).astype(np.float32)
