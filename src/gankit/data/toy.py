"""Toy point clouds in the style of scikit-learn's `make_*` generators.

Every generator takes `n_samples` first and keyword-only options, accepts `random_state`
(None, an int or a numpy Generator) and returns a float32 array of shape (n_samples, dim).
Calling a generator again with another seed gives fresh samples of the same distribution,
which is what the metrics compare against.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from gankit.errors import GankitError, bad_value
from gankit.files import open_regular
from gankit.resources import require

RandomState = int | np.random.Generator | None


def _rng(random_state: RandomState) -> np.random.Generator:
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def _sklearn_seed(random_state: RandomState) -> int:
    # scikit-learn wants a legacy RandomState or an int; derive an int from ours.
    return int(_rng(random_state).integers(2**31 - 1))


def _check_size(n_samples: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples <= 0:
        raise bad_value("n_samples", n_samples, "a positive integer")


def make_circle(n_samples: int = 100, *, noise: float = 0.0, random_state: RandomState = None) -> np.ndarray:
    """Points on the unit circle: standard Gaussian points divided by their norm (the lab's recipe).

    Returns an array of shape (n_samples, 2). With `noise` > 0, Gaussian noise of that standard
    deviation is added after normalising, so the points leave the circle.
    """
    _check_size(n_samples)
    rng = _rng(random_state)
    points = rng.standard_normal((n_samples, 2))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    if noise:
        points += noise * rng.standard_normal(points.shape)
    return points.astype(np.float32)


def make_moons(n_samples: int = 1000, *, noise: float = 0.05, random_state: RandomState = None) -> np.ndarray:
    """scikit-learn's two interleaving half circles, shape (n_samples, 2), labels dropped."""
    _check_size(n_samples)
    import sklearn.datasets  # on first use: importing it costs seconds on a busy machine

    points, _ = sklearn.datasets.make_moons(n_samples, noise=noise, random_state=_sklearn_seed(random_state))
    return points.astype(np.float32)


def make_swiss_roll(n_samples: int = 2000, *, noise: float = 0.05, random_state: RandomState = None) -> np.ndarray:
    """scikit-learn's 3-D swiss roll, shape (n_samples, 3): the roll lies in the x-z plane, y is its height."""
    _check_size(n_samples)
    import sklearn.datasets

    points, _ = sklearn.datasets.make_swiss_roll(n_samples, noise=noise, random_state=_sklearn_seed(random_state))
    return points.astype(np.float32)


RING_RADIUS, RING_SIGMA, RING_MODES = 1.0, 0.01, 8
GRID_VALUES, GRID_SIGMA = (-4.0, -2.0, 0.0, 2.0, 4.0), 0.05


def ring_means() -> np.ndarray:
    """The 8 mode centres of the ring benchmark, evenly spaced on the circle of radius 1."""
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    return (RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_means() -> np.ndarray:
    """The 25 mode centres of the grid benchmark, {-4,-2,0,2,4}^2."""
    xs, ys = np.meshgrid(GRID_VALUES, GRID_VALUES, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def _mixture(means: np.ndarray, sigma: float, n_samples: int, random_state: RandomState) -> np.ndarray:
    _check_size(n_samples)
    rng = _rng(random_state)
    modes = rng.integers(len(means), size=n_samples)
    return (means[modes] + sigma * rng.standard_normal((n_samples, means.shape[1]))).astype(np.float32)


def make_ring(n_samples: int = 10000, *, noise: float = RING_SIGMA, random_state: RandomState = None) -> np.ndarray:
    """Mixture of 8 Gaussians on the unit circle (PacGAN/VEEGAN ring), sigma `noise` = 0.01; shape (n_samples, 2)."""
    return _mixture(ring_means(), noise, n_samples, random_state)


def make_grid(n_samples: int = 10000, *, noise: float = GRID_SIGMA, random_state: RandomState = None) -> np.ndarray:
    """Mixture of 25 Gaussians on the 5x5 grid {-4,...,4}^2 (PacGAN/VEEGAN grid), sigma `noise` = 0.05."""
    return _mixture(grid_means(), noise, n_samples, random_state)


def load_points(path: str | Path) -> np.ndarray:
    """Points from a user's file: `.npy` (a 2-D float array) or `.csv` (numbers only, optional header row,
    a UTF-8 byte-order mark allowed).

    Returns float32 of shape (N, dim). Raises GankitError for a missing file, an unknown suffix, a file that
    is not a regular one, text that is not numbers, rows of unequal width, NaN or infinite values.
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".npy"):
        raise bad_value("data_path", str(path), "a .csv or .npy file")
    if not path.exists():
        raise GankitError(
            f"data_path={str(path)!r} does not exist or is not a file; accepted: an existing .csv or .npy file"
        )
    accepted = "an existing .csv or .npy file"
    try:
        with open_regular(path, "data_path", accepted) as handle:
            # a CSV's numbers take more memory as Python floats than as text
            require(f"data_path={str(path)!r}", 8 * os.fstat(handle.fileno()).st_size, "a smaller data file")
            if path.suffix.lower() == ".npy":
                points = np.load(handle, allow_pickle=False)
            else:
                points = _read_csv(path, io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))
    except GankitError:
        raise
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(
            f"data_path={str(path)!r} could not be read ({reason[:120]}); accepted: a numeric 2-D array in .npy or .csv"
        ) from None
    if not isinstance(points, np.ndarray) or points.dtype.kind not in "fiu":
        kind = points.dtype if isinstance(points, np.ndarray) else type(points).__name__
        raise GankitError(f"data_path={str(path)!r} holds {kind} values; accepted: a plain array of real numbers")
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 2:
        raise GankitError(
            f"data_path={str(path)!r} holds an array of shape {points.shape}; accepted: shape (N, dim) with N >= 2 "
            "points of dim >= 2 coordinates"
        )
    points = check_points(points, f"data_path={str(path)!r}")
    if (points == points[0]).all():
        raise GankitError(
            f"data_path={str(path)!r} holds {len(points)} identical points; accepted: at least two distinct points"
        )
    return points


def check_points(points: np.ndarray, what: str) -> np.ndarray:
    """`points` as float32, or GankitError naming `what` for a NaN, infinite or float32-overflowing value."""
    points = points.astype(np.float64)
    bad_rows = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if bad_rows.size:
        raise GankitError(f"{what} has a NaN or infinite value in row {bad_rows[0]}; accepted: finite numbers only")
    too_large = np.flatnonzero((np.abs(points) > np.finfo(np.float32).max / 1e3).any(axis=1))
    if too_large.size:  # float32 would overflow (or its standardisation would)
        raise GankitError(
            f"{what} row {too_large[0]} holds a value of magnitude {np.abs(points[too_large[0]]).max():.3g}, "
            "beyond what training in float32 can take; accepted: values of magnitude below 3e35"
        )
    return points.astype(np.float32)


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)


def _read_csv(path: Path, handle) -> np.ndarray:
    rows = []
    width = None
    for line_number, line in enumerate(handle, start=1):
        fields = [field.strip() for field in line.strip().split(",")]
        if fields == [""]:
            continue
        # float() alone would read '1_000' as 1000 and ' 1 ' as 1: a number is written as numbers are
        if all(NUMBER.fullmatch(field) for field in fields):
            row = [float(field) for field in fields]
        else:
            if not rows and line_number == 1:
                continue  # a header row
            raise GankitError(
                f"data_path={str(path)!r} line {line_number} is not numeric: {line.strip()[:60]!r}; "
                "accepted: comma-separated numbers"
            )
        if width is not None and len(row) != width:
            raise GankitError(
                f"data_path={str(path)!r} line {line_number} has {len(row)} columns, earlier rows {width}; "
                "accepted: rows of equal width"
            )
        width = len(row)
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)
