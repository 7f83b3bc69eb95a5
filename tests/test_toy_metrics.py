import math

import numpy as np
import pytest

from fast_metrics import assert_registered
from gankit.data import grid_means, make_circle, make_grid, make_moons, make_ring, ring_means
from gankit.metrics.toy import (
    REPEAT_LIMIT,
    Histogram,
    ToyEvaluator,
    histogram_divergences,
    mean_and_error,
    mean_radial_error,
    mmd,
    mode_counts,
    mode_coverage,
    ratio_error,
    reverse_kl,
    wasserstein1,
)


def test_w1_is_zero_for_identical_samples_and_the_shift_for_a_translation():
    points = make_moons(300, random_state=0)
    assert wasserstein1(points, points) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([0.3, -0.4], dtype=np.float32)
    assert wasserstein1(points, points + shift) == pytest.approx(0.5, rel=1e-5)


def test_w1_is_symmetric_and_insensitive_to_order():
    a, b = make_moons(200, random_state=1), make_moons(200, random_state=2)
    assert wasserstein1(a, b) == pytest.approx(wasserstein1(b, a))
    assert wasserstein1(a, b) == pytest.approx(wasserstein1(a[::-1], b))


def test_mmd_separates_same_from_different_distributions():
    a, b = make_circle(500, random_state=1), make_circle(500, random_state=2)
    far = make_moons(500, random_state=3)
    assert abs(mmd(a, b)) < 0.01
    assert mmd(a, far) > 10 * abs(mmd(a, b))


def test_mode_coverage_counts_modes_and_quality():
    assert mode_coverage(ring_means(), ring_means(), 0.01) == (8, 1.0)
    collapsed = np.repeat(grid_means()[:3], 10, axis=0)
    assert mode_coverage(collapsed, grid_means(), 0.05) == (3, 1.0)
    off = grid_means() + 1.0  # between the modes
    assert mode_coverage(off, grid_means(), 0.05)[1] == 0.0


def test_radial_error_is_zero_on_the_circle():
    assert mean_radial_error(make_circle(100, random_state=0)) == pytest.approx(0, abs=1e-6)
    assert mean_radial_error(2 * make_circle(100, random_state=0)) == pytest.approx(1, abs=1e-6)


def _unit_circle(n):
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], 1)


@pytest.mark.parametrize("n, m", [(100, 1000), (30, 45), (59, 61)])  # repeated points, and the LP (lcm > limit)
def test_w1_between_samples_of_different_sizes_is_exact(n, m):
    # every point of the centre travels to the unit circle: W1 = 1 whatever the sizes
    assert wasserstein1(np.zeros((n, 2)), _unit_circle(m)) == pytest.approx(1.0, rel=1e-9)
    a, b = make_moons(n, random_state=1), make_moons(m, random_state=2)
    assert wasserstein1(a, b) == pytest.approx(wasserstein1(b, a), rel=1e-6)
    assert wasserstein1(a, np.repeat(a, 3, axis=0)) == pytest.approx(0.0, abs=1e-9)  # the same distribution
    assert (math.lcm(n, m) > REPEAT_LIMIT) == ((n, m) == (59, 61))


def test_w1_of_different_sizes_agrees_with_the_transport_lp():
    from scipy.stats import wasserstein_distance_nd

    a, b = make_ring(40, random_state=3), make_ring(25, random_state=4)
    assert wasserstein1(a, b) == pytest.approx(wasserstein_distance_nd(a, b), rel=1e-6)


def test_standard_errors():
    assert mean_and_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx((2.5, np.std([1, 2, 3, 4], ddof=1) / 2))
    ratio, error = ratio_error((2.0, 0.2), (1.0, 0.05))
    assert ratio == 2.0 and error == pytest.approx(2.0 * math.hypot(0.1, 0.05))


def test_reverse_kl_of_the_mode_histogram():
    assert reverse_kl(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert reverse_kl(np.array([9, 0, 0, 0])) == pytest.approx(math.log(4))  # all in one mode: log(modes)
    p = np.array([0.5, 0.25, 0.25])
    assert reverse_kl(np.array([2, 1, 1, 0])) == pytest.approx(float((p * np.log(p * 4)).sum()))
    assert math.isnan(reverse_kl(np.zeros(4, dtype=int)))
    # only high-quality samples count, each at its nearest mode
    samples = np.concatenate([ring_means()[:2], ring_means()[:1] + 0.03, [[0.0, 0.0]]])  # 0.042 off: not
    counts, quality = mode_counts(samples, ring_means(), 0.01)
    assert counts.tolist() == [1, 1, 0, 0, 0, 0, 0, 0] and quality == 0.5


def test_histogram_divergences_in_bits():
    real = make_grid(20000, random_state=0)
    histogram = Histogram(real)
    same = histogram_divergences(histogram.reference, histogram.probabilities(real))
    assert same == pytest.approx((0.0, 0.0), abs=1e-12)
    far = histogram.probabilities(real + 100.0)  # every point outside the box: the outside cell
    assert far[-1] == 1.0
    kl, js = histogram_divergences(histogram.reference, far)
    assert kl > 5 and js > 0.95  # disjoint: JS is one bit, less the smoothing


def test_evaluator_real_data_is_near_the_floor_and_noise_far_above():
    evaluator = ToyEvaluator("ring", lambda n, seed: make_ring(n, random_state=seed))
    real = evaluator.evaluate(make_ring(evaluator.needs, random_state=99))
    assert abs(real["w1_ratio"] - 1) < 3 * real["w1_ratio_se"] and real["w1_ratio_se"] < 0.2
    assert real["modes"] == 8 and real["high_quality"] > 0.98 and real["reverse_kl"] < 0.01
    assert real["hist_js"] < 0.01 and real["w1_se"] > 0 and real["w1_floor_se"] > 0
    assert_registered(real)
    noise = evaluator.evaluate(np.random.default_rng(0).normal(size=(evaluator.needs, 2)).astype(np.float32))
    assert noise["w1_ratio"] > 5 and noise["high_quality"] < 0.1 and noise["hist_js"] > 0.5


def test_a_sampler_of_the_moons_reaches_their_floor():
    # scikit-learn spaces the moons' points evenly along the arcs; a generator's points are independent.
    # The floor must be one that independent points reach: real moons drawn point by point score ~1x.
    evaluator = ToyEvaluator("moons", lambda n, seed: make_moons(n, random_state=seed))
    rng = np.random.default_rng(7)
    angle, inner = rng.uniform(0, np.pi, evaluator.needs), rng.random(evaluator.needs) < 0.5
    outer_points = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points = np.where(inner[:, None], [1.0, 0.5] - outer_points, outer_points)  # scikit-learn's inner moon
    real = evaluator.evaluate((points + rng.normal(0, 0.05, points.shape)).astype(np.float32))
    assert abs(real["w1_ratio"] - 1) < 3 * real["w1_ratio_se"] and real["w1_ratio_se"] < 0.2
