"""Numbers that say whether a toy GAN worked, with their standard errors.

W1 is exact (an optimal transport between the two empirical distributions), so it depends on the
sample size: it is always reported beside the real-vs-real floor, the W1 between two independent
real samples of the same size. Both vary a lot from one draw to the next (docs/guide/metrics.md), so
`ToyEvaluator` averages W1 over W1_DRAWS independent (generated, real) pairs and the floor over
FLOOR_DRAWS real pairs, and reports the standard error of each mean and of their ratio. The pairs are
of 500 points: the exact assignment costs about n^3, so 8 draws of 500 cost about what one of 1,000
costs, with half its spread.

The mode-collapse benchmarks (ring, grid) follow PacGAN (Lin et al. 2018, Table 1): 2,500 samples,
a sample is high quality within 3 sigma of its nearest mode, a mode is covered when a high-quality
sample is nearest to it, and the reverse KL is KL(modes of the high-quality samples || uniform). Beside them,
why samples miss (`mode_shape`: tails, bridges, each mode's spread) and the share the data itself scores.
2-D data also gets GAN Lab's divergences between histograms on a 30 x 30 grid (`histogram_divergences`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from gankit.data import DATASETS
from gankit.resources import require

EVAL_SIZE = 500  # points per side of each W1 draw
W1_DRAWS = 8  # independent (generated, real) pairs per evaluation: W1 is their mean
FLOOR_DRAWS = 30  # independent real pairs for the floor, drawn once per data set and process
MMD_DRAWS = 2  # MMD between the first two generated pieces and the first two real draws: 1,000 points each
MODE_EVAL_SIZE = 2500  # generated points for mode coverage (PacGAN's protocol)
HIGH_QUALITY_SIGMAS = 3.0
BRIDGE_SIGMAS = 6.0  # beyond this from every mode a sample lies between modes, not in a wide mode's tail
HISTOGRAM_BINS = 30  # GAN Lab's grid, per axis
HISTOGRAM_REAL = 20_000  # real points behind the reference histogram, drawn once per evaluator
HISTOGRAM_SMOOTHING = 1e-4  # added to every cell's probability, as GAN Lab does, so that empty cells stay finite
# Sizes whose least common multiple is at most this are solved as one assignment of repeated points.
REPEAT_LIMIT = 3000


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """Exact 1-Wasserstein distance (Euclidean ground cost) between the empirical distributions of
    point clouds `a` (n, dim) and `b` (m, dim), each point of equal weight.

    Equal sizes: an optimal one-to-one assignment. Sizes n != m: every point of `a` repeated L/n times
    and of `b` L/m times, L = lcm(n, m), which is the same distribution, and assigned (an optimal
    transport between two uniform distributions of L points is a permutation); when L > REPEAT_LIMIT,
    the transport linear program (scipy.stats.wasserstein_distance_nd: seconds for a few hundred points,
    minutes for 1,000 against 999).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"W1 needs two non-empty point clouds (n, dim) of one dim, got {a.shape} and {b.shape}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    n, m = len(a), len(b)
    size = math.lcm(n, m)
    if size > REPEAT_LIMIT and n != m:
        from scipy.stats import wasserstein_distance_nd

        return float(wasserstein_distance_nd(a, b))
    cost = cdist(np.repeat(a, size // n, axis=0), np.repeat(b, size // m, axis=0))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def mean_and_error(values: np.ndarray) -> tuple[float, float]:
    """(mean, standard error of the mean) of independent draws."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def ratio_error(numerator: tuple[float, float], denominator: tuple[float, float]) -> tuple[float, float]:
    """(ratio, standard error) of two independent means given as (mean, standard error), to first order."""
    (x, sx), (y, sy) = numerator, denominator
    ratio = x / y
    return ratio, abs(ratio) * math.sqrt((sx / x) ** 2 + (sy / y) ** 2)


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
        if median == 0:  # those points are one point (a collapsed G): the distances between both samples then
            mixed = np.concatenate([a[:250], b[:250]])
            spread = cdist(mixed, mixed, "sqeuclidean")
            median = float(np.sqrt(np.median(spread[spread > 0]))) if (spread > 0).any() else 1.0
        bandwidths = tuple(median * s for s in (0.25, 0.5, 1.0, 2.0, 4.0))
    kernels = {key: sum(np.exp(-d / (2 * h * h)) for h in bandwidths) for key, d in distances.items()}
    n, m = len(a), len(b)
    within_a = (kernels["aa"].sum() - np.trace(kernels["aa"])) / (n * (n - 1))
    within_b = (kernels["bb"].sum() - np.trace(kernels["bb"])) / (m * (m - 1))
    return float(within_a + within_b - 2 * kernels["ab"].mean())


def mode_counts(samples: np.ndarray, means: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """(high-quality samples nearest each mode, share of high-quality samples), as VEEGAN and PacGAN count:
    a sample is high quality when it lies within 3 sigma of its nearest mode."""
    distances = cdist(samples.astype(np.float64), means.astype(np.float64))
    nearest = distances.argmin(1)
    good = distances[np.arange(len(samples)), nearest] <= HIGH_QUALITY_SIGMAS * sigma
    return np.bincount(nearest[good], minlength=len(means)), float(good.mean())


def high_quality_ceiling(dim: int) -> float:
    """The share of the data's own samples that are high quality: P(||x - mu|| <= 3 sigma) for x ~ N(mu, sigma^2 I)
    in `dim` dimensions (a chi-square CDF; 1 - e^(-4.5) in 2-D). No G can score above it without narrowing the modes."""
    from scipy.stats import chi2

    return float(chi2.cdf(HIGH_QUALITY_SIGMAS**2, dim))


def mode_shape(samples: np.ndarray, means: np.ndarray, sigma: float) -> dict[str, float | list[float | None]]:
    """Why samples miss the 3-sigma rings: the share between 3 and 6 sigma of their nearest mode (`tails`: modes too
    wide), the share beyond 6 sigma of every mode (`bridges`: mass between the modes), and each mode's spread
    sigma_G / sigma (`mode_spreads`, None for a mode with fewer than 2 samples within 6 sigma; `spread_ratio`
    their median). sigma_G is the root mean square distance to the mode per coordinate of the samples within 6
    sigma: about 1 for the data itself."""
    samples, means = samples.astype(np.float64), means.astype(np.float64)
    distances = cdist(samples, means)
    nearest = distances.argmin(1)
    closest = distances[np.arange(len(samples)), nearest] / sigma
    near = closest <= BRIDGE_SIGMAS
    spreads: list[float | None] = []
    for mode in range(len(means)):
        own = closest[near & (nearest == mode)]
        spreads.append(float(np.sqrt((own**2).mean() / samples.shape[1])) if len(own) >= 2 else None)
    measured = [value for value in spreads if value is not None]
    return {
        "tails": float(((closest > HIGH_QUALITY_SIGMAS) & near).mean()),
        "bridges": float((~near).mean()),
        "spread_ratio": float(np.median(measured)) if measured else math.nan,
        "mode_spreads": spreads,
    }


def mode_coverage(samples: np.ndarray, means: np.ndarray, sigma: float) -> tuple[int, float]:
    """(modes covered, share of high-quality samples): a mode is covered when at least one
    high-quality sample is nearest to it."""
    counts, quality = mode_counts(samples, means, sigma)
    return int((counts > 0).sum()), quality


def reverse_kl(counts: np.ndarray) -> float:
    """KL(P || uniform) in nats, P the distribution of the high-quality samples over the modes (PacGAN's
    reverse KL, at most log(modes), which one mode alone scores); NaN when no sample is high quality."""
    total = counts.sum()
    if total == 0:
        return math.nan
    p = counts[counts > 0] / total
    return float((p * np.log(p * len(counts))).sum())


class Histogram:
    """GAN Lab's grid: HISTOGRAM_BINS x HISTOGRAM_BINS cells over the bounding box of `real` (2-D), plus one
    cell for everything outside it, so that generated points that leave the box still count."""

    def __init__(self, real: np.ndarray, bins: int = HISTOGRAM_BINS):
        self.bins = bins
        self.low, self.high = real.min(0), real.max(0)
        self.reference = self.probabilities(real)

    def probabilities(self, points: np.ndarray) -> np.ndarray:
        """The share of `points` in each cell, the outside cell last."""
        scaled = (points - self.low) / (self.high - self.low) * self.bins
        cells = np.floor(scaled).astype(np.int64).clip(0, self.bins - 1)  # the box's upper edge is in its last cell
        inside = ((scaled >= 0) & (scaled <= self.bins)).all(1)
        index = np.where(inside, cells[:, 0] * self.bins + cells[:, 1], self.bins * self.bins)
        return np.bincount(index, minlength=self.bins * self.bins + 1) / len(points)


def histogram_divergences(reference: np.ndarray, generated: np.ndarray) -> tuple[float, float]:
    """(KL(real || generated), JS) in bits between two histograms' cell probabilities, each cell smoothed
    by HISTOGRAM_SMOOTHING as GAN Lab computes them (its 'KL divergence (by grid)')."""
    p, q = reference + HISTOGRAM_SMOOTHING, generated + HISTOGRAM_SMOOTHING
    middle = 0.5 * (reference + generated) + HISTOGRAM_SMOOTHING
    kl = float((p * np.log2(p / q)).sum())
    js = float(0.5 * ((p * np.log2(p / middle)).sum() + (q * np.log2(q / middle)).sum()))
    return kl, js


def mean_radial_error(samples: np.ndarray) -> float:
    """Mean | ||x|| - 1 | : how far generated points lie from the unit circle."""
    return float(np.abs(np.linalg.norm(samples, axis=1) - 1.0).mean())


Fresh = Callable[[int, int], np.ndarray]  # (n, seed) -> n new real points in data units
_FLOORS: dict[tuple, tuple[float, float]] = {}  # a registered data set's floor, computed once per process


class ToyEvaluator:
    """Compares generated points with fresh real ones; the floor and the reference histogram are drawn once.

    `fresh(n, seed)` draws real points in data units. `dataset` is a registered name (its entry says
    whether there are modes to count or points on the unit circle) or None, e.g. for a file of points.
    The real pieces (W1_DRAWS references, then FLOOR_DRAWS pairs) are one shuffled draw `fresh(n, seed)`.
    """

    def __init__(
        self, dataset: str | None, fresh: Fresh, *, size: int = EVAL_SIZE, seed: int = 12345, noise: float | None = None
    ):
        entry = DATASETS[dataset] if dataset is not None and dataset in DATASETS else None
        self.size = size
        # Every real draw is a random piece of one large draw, so that its points are independent, as a
        # generator's are: scikit-learn's make_moons spaces its points evenly along the arcs, and two of its
        # own draws lie closer to each other than independent points can, so even real points drawn one by one
        # scored well above a floor made of its draws.
        dim = fresh(2, seed).shape[1]
        # the pool, its shuffled copy and the generated points evaluated against it, float64 at worst
        require(
            f"evaluating {dim}-dimensional points",
            3 * 8 * size * (W1_DRAWS + 2 * FLOOR_DRAWS) * dim,
            "fewer dimensions",
        )
        pool = fresh(size * (W1_DRAWS + 2 * FLOOR_DRAWS), seed)
        pieces = pool[np.random.default_rng(seed).permutation(len(pool))].reshape(-1, size, pool.shape[1])
        self.references = list(pieces[:W1_DRAWS])
        self.reference = self.references[0]
        key = (dataset, noise, size, seed) if entry is not None else None
        self.floor_draws = _FLOORS.get(key) if key else None
        if self.floor_draws is None:
            pairs = pieces[W1_DRAWS:]
            self.floor_draws = mean_and_error([wasserstein1(a, b) for a, b in zip(pairs[0::2], pairs[1::2])])
            if key:
                _FLOORS[key] = self.floor_draws
        self.floor = self.floor_draws[0]
        self.mode_centres = entry.mode_centres() if entry is not None and entry.mode_centres else None
        self.mode_sigma = noise if noise is not None else (entry.mode_sigma if entry is not None else None)
        self.unit_circle = bool(entry is not None and entry.unit_circle)
        self.histogram = Histogram(fresh(HISTOGRAM_REAL, seed - 1)) if self.reference.shape[1] == 2 else None

    @property
    def needs(self) -> int:
        return max(W1_DRAWS * self.size, MODE_EVAL_SIZE if self.mode_centres is not None else 0)

    def evaluate(self, generated: np.ndarray) -> dict[str, float]:
        """Metrics of `generated` (at least `needs` points, data units): W1 and the floor as means over
        independent draws with their standard errors (`_se`), MMD, and the data set's own metrics."""
        pieces = [generated[i * self.size : (i + 1) * self.size] for i in range(W1_DRAWS)]
        w1 = mean_and_error([wasserstein1(piece, real) for piece, real in zip(pieces, self.references)])
        ratio = ratio_error(w1, self.floor_draws)
        result = {
            "w1": w1[0],
            "w1_se": w1[1],
            "w1_floor": self.floor_draws[0],
            "w1_floor_se": self.floor_draws[1],
            "w1_ratio": ratio[0],
            "w1_ratio_se": ratio[1],
            "mmd": mmd(np.concatenate(pieces[:MMD_DRAWS]), np.concatenate(self.references[:MMD_DRAWS])),
        }
        if self.unit_circle:
            result["radial_error"] = mean_radial_error(generated)
        if self.mode_centres is not None:
            points = generated[:MODE_EVAL_SIZE]
            counts, quality = mode_counts(points, self.mode_centres, self.mode_sigma)
            result.update(
                modes=int((counts > 0).sum()),
                high_quality=quality,
                high_quality_ceiling=high_quality_ceiling(points.shape[1]),
                reverse_kl=reverse_kl(counts),
                **mode_shape(points, self.mode_centres, self.mode_sigma),
            )
        if self.histogram is not None:
            kl, js = histogram_divergences(self.histogram.reference, self.histogram.probabilities(generated))
            result.update(hist_kl=kl, hist_js=js)
        return result
