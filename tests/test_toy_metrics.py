import numpy as np
import pytest

from gankit.data import grid_means, make_circle, make_moons, make_ring, ring_means
from gankit.metrics.toy import ToyEvaluator, mean_radial_error, mmd, mode_coverage, wasserstein1


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


def test_evaluator_real_data_is_near_the_floor_and_noise_far_above():
    evaluator = ToyEvaluator("ring", lambda n, seed: make_ring(n, random_state=seed))
    real = evaluator.evaluate(make_ring(2500, random_state=99))
    assert real["w1_ratio"] < 1.6 and real["modes"] == 8 and real["high_quality"] > 0.98
    noise = evaluator.evaluate(np.random.default_rng(0).normal(size=(2500, 2)).astype(np.float32))
    assert noise["w1_ratio"] > 5 and noise["high_quality"] < 0.1
