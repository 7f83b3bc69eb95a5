"""Numbers that say whether a toy GAN worked.

W1 is exact (optimal one-to-one assignment between equal-size samples), so it is only
comparable at a fixed sample size: it is always reported beside the real-vs-real floor,
the W1 between two independent real samples of the same size.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from gankit.data import DATASETS

EVAL_SIZE = 1000  # points per side for W1 and MMD
MODE_EVAL_SIZE = 2500  # generated points for mode coverage (PacGAN's protocol)


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """Exact 1-Wasserstein distance between two equal-size point clouds (Euclidean ground cost)."""
    if a.shape != b.shape:
        raise ValueError(f"W1 needs samples of equal shape, got {a.shape} and {b.shape}")
    cost = cdist(a.astype(np.float64), b.astype(np.float64))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def mmd(a: np.ndarray, b: np.ndarray, *, bandwidths: tuple[float, ...] | None = None) -> float:
    """Unbiased squared MMD with a sum of Gaussian kernels.

    Default bandwidths are the median pairwise distance of the pooled sample times
    (0.25, 0.5, 1, 2, 4), so that both fine and coarse mismatches count.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    pooled = np.concatenate([a, b])
    distances = {key: cdist(x, y, "sqeuclidean") for key, (x, y) in {"aa": (a, a), "bb": (b, b), "ab": (a, b)}.items()}
    if bandwidths is None:
        median = float(np.sqrt(np.median(cdist(pooled[:500], pooled[:500], "sqeuclidean"))))
        bandwidths = tuple(median * s for s in (0.25, 0.5, 1.0, 2.0, 4.0))
    kernels = {key: sum(np.exp(-d / (2 * h * h)) for h in bandwidths) for key, d in distances.items()}
    n, m = len(a), len(b)
    within_a = (kernels["aa"].sum() - np.trace(kernels["aa"])) / (n * (n - 1))
    within_b = (kernels["bb"].sum() - np.trace(kernels["bb"])) / (m * (m - 1))
    return float(within_a + within_b - 2 * kernels["ab"].mean())


def mode_coverage(samples: np.ndarray, means: np.ndarray, sigma: float) -> tuple[int, float]:
    """(modes covered, share of high-quality samples), as VEEGAN and PacGAN count them.

    A sample is high quality when it lies within 3 sigma of its nearest mode; a mode is
    covered when at least one high-quality sample is nearest to it.
    """
    distances = cdist(samples.astype(np.float64), means.astype(np.float64))
    nearest = distances.argmin(1)
    good = distances[np.arange(len(samples)), nearest] <= 3 * sigma
    return int(np.unique(nearest[good]).size), float(good.mean())


def mean_radial_error(samples: np.ndarray) -> float:
    """Mean | ||x|| - 1 | : how far generated points lie from the unit circle."""
    return float(np.abs(np.linalg.norm(samples, axis=1) - 1.0).mean())


class ToyEvaluator:
    """Compares generated points with fresh real ones; the floor is computed once.

    `fresh(n, seed)` draws real points in data units. `dataset` is a registered name (its entry says
    whether there are modes to count or points on the unit circle) or None, e.g. for a file of points.
    """

    def __init__(
        self, dataset: str | None, fresh, *, size: int = EVAL_SIZE, seed: int = 12345, noise: float | None = None
    ):
        entry = DATASETS[dataset] if dataset is not None and dataset in DATASETS else None
        self.size = size
        self.reference = fresh(size, seed)
        self.floor = wasserstein1(self.reference, fresh(size, seed + 1))
        self.mode_centres = entry.mode_centres() if entry is not None and entry.mode_centres else None
        self.mode_sigma = noise if noise is not None else (entry.mode_sigma if entry is not None else None)
        self.unit_circle = bool(entry is not None and entry.unit_circle)

    @property
    def needs(self) -> int:
        return MODE_EVAL_SIZE if self.mode_centres is not None else self.size

    def evaluate(self, generated: np.ndarray) -> dict[str, float]:
        """Metrics of `generated` (at least `needs` points, data units)."""
        head = generated[: self.size]
        w1 = wasserstein1(head, self.reference)
        result = {"w1": w1, "w1_floor": self.floor, "w1_ratio": w1 / self.floor, "mmd": mmd(head, self.reference)}
        if self.unit_circle:
            result["radial_error"] = mean_radial_error(generated)
        if self.mode_centres is not None:
            modes, quality = mode_coverage(generated[:MODE_EVAL_SIZE], self.mode_centres, self.mode_sigma)
            result["modes"] = modes
            result["high_quality"] = quality
        return result
