import numpy as np
import pytest

from gankit.data import (
    DATASETS,
    grid_means,
    load_points,
    make_circle,
    make_grid,
    make_moons,
    make_ring,
    make_swiss_roll,
    ring_means,
)
from gankit.errors import GankitError

TOY_GENERATORS = {name: entry.make for name, entry in DATASETS.items() if entry.kind == "toy"}


@pytest.mark.parametrize(
    "name, n_default, dim",
    [("circle", 100, 2), ("moons", 1000, 2), ("swiss_roll", 2000, 3), ("ring", 10000, 2), ("grid", 10000, 2)],
)
def test_default_sizes_shapes_and_dtype(name, n_default, dim):
    points = TOY_GENERATORS[name](random_state=0)
    assert points.shape == (n_default, dim)
    assert points.dtype == np.float32


@pytest.mark.parametrize("name", sorted(TOY_GENERATORS))
def test_same_seed_same_points_other_seed_other_points(name):
    make = TOY_GENERATORS[name]
    np.testing.assert_array_equal(make(50, random_state=3), make(50, random_state=3))
    assert not np.allclose(make(50, random_state=3), make(50, random_state=4))


@pytest.mark.parametrize("name", sorted(TOY_GENERATORS))
def test_options_are_keyword_only(name):
    with pytest.raises(TypeError):
        TOY_GENERATORS[name](50, 0.1)


def test_circle_points_have_norm_one_and_cover_all_angles():
    points = make_circle(5000, random_state=0)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=1e-6)
    angles = np.arctan2(points[:, 1], points[:, 0])
    counts, _ = np.histogram(angles, bins=8, range=(-np.pi, np.pi))
    assert counts.min() > 5000 / 8 * 0.8  # uniform in angle: a normalised isotropic Gaussian


def test_circle_noise_moves_points_off_the_circle():
    points = make_circle(2000, noise=0.1, random_state=0)
    assert np.abs(np.linalg.norm(points, axis=1) - 1).mean() > 0.05


def test_moons_and_swiss_roll_default_noise_is_005():
    # Their spread around the noiseless curve equals sklearn's noise=0.05 output.
    import sklearn.datasets

    points = make_moons(300, random_state=0)
    assert 0 < np.abs(points).max() < 2.5
    roll = make_swiss_roll(300, random_state=0)
    assert roll.shape[1] == 3 and sklearn.datasets.make_swiss_roll(10)[0].shape[1] == 3


def test_ring_has_8_distinct_modes_at_radius_1_with_sigma_001():
    means = ring_means()
    assert len(np.unique(means.round(6), axis=0)) == 8
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, atol=1e-6)
    points = make_ring(8000, random_state=0)
    distance = np.linalg.norm(points[:, None] - means[None], axis=2)
    nearest = distance.argmin(1)
    assert np.bincount(nearest, minlength=8).min() > 800
    assert (
        0.008 < distance.min(1).mean() / np.sqrt(np.pi / 2) < 0.012
    )  # mean of a 2-D Gaussian radius is sigma*sqrt(pi/2)


def test_grid_has_25_modes_on_minus4_to_4_with_sigma_005():
    means = grid_means()
    assert sorted(set(means[:, 0])) == [-4, -2, 0, 2, 4] and len(means) == 25
    points = make_grid(25000, random_state=0)
    distance = np.linalg.norm(points[:, None] - means[None], axis=2)
    assert np.bincount(distance.argmin(1), minlength=25).min() > 700
    assert (points[:, 0] - np.round(points[:, 0] / 2) * 2).std() == pytest.approx(0.05, rel=0.1)


def test_bad_size_is_a_clear_error():
    with pytest.raises(GankitError, match="n_samples=0"):
        make_circle(0)


def test_load_points_from_csv_with_header_and_npy(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("x,y\n1,2\n3,4.5\n")
    np.testing.assert_array_equal(load_points(csv), [[1, 2], [3, 4.5]])
    npy = tmp_path / "p.npy"
    np.save(npy, np.arange(6.0).reshape(3, 2))
    assert load_points(npy).shape == (3, 2)


@pytest.mark.parametrize(
    "content, message",
    [
        ("1,2\n3\n", "line 2 has 1 columns"),
        ("1,2\n3,abc\n", "line 2 is not numeric"),
        ("1,2\nnan,3\n", "NaN or infinite value in row 1"),
        ("1,2\n", "shape"),
    ],
)
def test_malformed_csv_names_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(GankitError, match=message):
        load_points(path)


def test_missing_or_unsupported_point_file(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        load_points(tmp_path / "nope.csv")
    with pytest.raises(GankitError, match="accepted: a .csv or .npy file"):
        load_points(tmp_path / "points.txt")
