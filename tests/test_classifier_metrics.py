"""The classifier-based image metrics: formulas on synthetic numbers, the cache, and (slow) the real classifier."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

import gankit.data.mnist
from fast_metrics import assert_registered
from gankit.errors import GankitError
from gankit.metrics import classifier as clf
from gankit.metrics.classifier import (
    ImageEvaluator,
    MNISTClassifier,
    class_coverage,
    classifier_path,
    classifier_score,
    embed,
    frechet_distance,
    frechet_distance_from_statistics,
    label_accuracy,
    load_classifier,
)


def _reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's general sqrtm, as pytorch-fid computes it."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


# ----- Frechet distance -----
def test_fd_of_identical_sets_is_zero():
    a = np.random.default_rng(0).standard_normal((500, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fd_matches_the_closed_form_in_one_dimension():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 2.0, (400, 1)), rng.normal(-0.5, 0.5, (300, 1))
    var_a, var_b = a.var(ddof=1), b.var(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + (math.sqrt(var_a) - math.sqrt(var_b)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)
    # and the population value, up to sampling error: (1.5)^2 + (2 - 0.5)^2 = 4.5
    assert frechet_distance(rng.normal(1.0, 2.0, (20000, 1)), rng.normal(-0.5, 0.5, (20000, 1))) == pytest.approx(
        4.5, rel=0.05
    )


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    sd_a, sd_b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    expected = ((mu_a - mu_b) ** 2).sum() + ((sd_a - sd_b) ** 2).sum()  # 10 + 5
    assert frechet_distance_from_statistics(mu_a, np.diag(sd_a**2), mu_b, np.diag(sd_b**2)) == pytest.approx(
        expected, rel=1e-12
    )


def test_fd_agrees_with_scipy_sqrtm_on_correlated_features():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((600, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6)) + 0.3
    assert frechet_distance(a, b) == pytest.approx(_reference_fd(a, b), rel=1e-8)


def test_fd_is_symmetric_and_positive_for_a_shift():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 5)), rng.standard_normal((200, 5)) * 1.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-10)
    # Shifting every feature by 1 keeps the covariance: the distance is exactly ||shift||^2 = 5.
    assert frechet_distance(a, a + 1.0) == pytest.approx(5.0, rel=1e-9)
    assert frechet_distance(a, a + 0.01) > 0


def test_fd_handles_singular_covariances_and_rejects_bad_input():
    rng = np.random.default_rng(4)
    few = rng.standard_normal((5, 20))  # fewer samples than features: rank-deficient covariance
    distance = frechet_distance(few, rng.standard_normal((8, 20)))
    assert np.isfinite(distance) and distance >= 0
    constant = np.ones((10, 3))  # zero covariance
    assert frechet_distance(constant, constant + 2.0) == pytest.approx(12.0)
    assert math.isnan(frechet_distance(np.full((4, 3), np.nan), few[:, :3]))
    with pytest.raises(GankitError, match="same width"):
        frechet_distance(few, few[:, :3])
    with pytest.raises(GankitError):
        frechet_distance(few[:1], few)  # one sample has no covariance
    with pytest.raises(GankitError):
        frechet_distance(np.zeros(10), np.zeros(10))


# ----- scores of predictions -----
def _one_hot(classes, n=10) -> np.ndarray:
    return np.eye(n)[np.asarray(classes)]


def test_classifier_score_bounds():
    assert classifier_score(_one_hot([3] * 50)) == pytest.approx(1.0)
    soft = np.tile(np.array([0.5, 0.2, 0.1, 0.1, 0.1, 0, 0, 0, 0, 0]), (40, 1))
    assert classifier_score(soft) == pytest.approx(1.0)  # same (unsure) prediction everywhere
    assert classifier_score(_one_hot(np.arange(200) % 10)) == pytest.approx(10.0)
    assert classifier_score(_one_hot(np.arange(200) % 5)) == pytest.approx(5.0)  # half of the digits missing
    assert classifier_score(np.full((30, 10), 0.1)) == pytest.approx(1.0)  # confident of nothing
    assert math.isnan(classifier_score(np.full((3, 10), np.nan)))
    with pytest.raises(GankitError, match="negative"):
        classifier_score(-_one_hot([1, 2]))


def test_class_coverage_counts_argmax_shares():
    probs = _one_hot([0, 0, 1, 9]) * 0.8 + 0.02
    shares = class_coverage(probs)
    assert shares.shape == (10,) and shares.dtype == np.float64
    assert shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares, [0.5, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.25])
    rng = np.random.default_rng(5)
    assert class_coverage(rng.dirichlet(np.ones(10), 1000)).sum() == pytest.approx(1.0)


def test_label_accuracy():
    probs = _one_hot([0, 1, 2, 3])
    assert label_accuracy(probs, [0, 1, 2, 3]) == 1.0
    assert label_accuracy(probs, torch.tensor([0, 1, 5, 5])) == 0.5
    assert label_accuracy(probs, np.array([9, 9, 9, 9])) == 0.0
    with pytest.raises(GankitError, match="labels.shape"):
        label_accuracy(probs, [0, 1])


# ----- the network and its cache, with random weights (no training) -----
def test_classifier_shapes_and_embed():
    torch.manual_seed(0)
    model = MNISTClassifier().eval()
    images = torch.rand(25, 1, 28, 28) * 2 - 1
    assert model(images).shape == (25, 10)
    features = model.features(images)
    assert features.shape == (25, clf.FEATURES) and 64 <= features.shape[1] <= 128
    model.train()
    feats, probs = embed(model, images, batch_size=7)
    assert model.training  # embed uses eval mode but restores the caller's
    assert feats.dtype == probs.dtype == np.float64 and feats.shape == (25, clf.FEATURES) and probs.shape == (25, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    np.testing.assert_allclose(feats, model.eval().features(images).detach().numpy(), rtol=1e-5, atol=1e-6)
    same_feats, _ = embed(model, images.numpy().reshape(25, 28, 28))  # numpy, (N, 28, 28), one batch
    np.testing.assert_allclose(same_feats, feats, rtol=1e-5, atol=1e-6)
    with pytest.raises(GankitError, match="images.shape"):
        embed(model, torch.zeros(3, 3, 28, 28))
    with pytest.raises(GankitError, match="batch_size"):
        embed(model, images, batch_size=0)


def test_cache_round_trip_and_locations(tmp_path, monkeypatch):
    monkeypatch.delenv(clf.CLASSIFIER_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert classifier_path() == clf.SHIPPED["mnist"]  # MNIST's ships with gankit
    assert classifier_path("fashion_mnist") == tmp_path / "xdg" / "gankit" / "classifier-fashion_mnist.safetensors"
    monkeypatch.setenv(clf.CLASSIFIER_DIR_ENV, str(tmp_path / "env"))
    assert classifier_path("fashion_mnist") == tmp_path / "env" / "classifier-fashion_mnist.safetensors"
    assert classifier_path(cache_dir=tmp_path / "arg") == tmp_path / "arg" / "classifier-mnist.safetensors"
    with pytest.raises(GankitError, match="dataset"):
        classifier_path("cifar10")

    with pytest.raises(GankitError, match="train_if_missing=False"):
        load_classifier(train_if_missing=False)
    torch.manual_seed(1)
    model = MNISTClassifier()
    metadata = {"format": clf.FORMAT, "version": clf.FORMAT_VERSION, "test_accuracy": "0.1234", "seed": "0"}
    clf._write_cache(classifier_path(), model, metadata)
    assert [p.name for p in (tmp_path / "env").iterdir()] == ["classifier-mnist.safetensors"]  # no temporary left
    loaded = load_classifier(train_if_missing=False)  # found through GANKIT_CLASSIFIER_DIR
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.metadata["test_accuracy"] == "0.1234"
    images = torch.rand(10, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(loaded(images), model.eval()(images))

    classifier_path().write_bytes(b"not a safetensors file")
    with pytest.raises(GankitError, match="could not be read"):
        load_classifier(train_if_missing=False)
    clf._write_cache(classifier_path(), model, {**metadata, "version": "0"})  # an older format counts as missing
    with pytest.raises(GankitError, match="no mnist classifier is cached"):
        load_classifier(train_if_missing=False)


def _fake_mnist(monkeypatch, n_train=384, n_test=120):
    """Replace the real files with small seeded random digits-shaped data."""
    rng = torch.Generator().manual_seed(7)
    data = {
        "train": (torch.rand(n_train, 1, 28, 28, generator=rng) * 2 - 1, torch.arange(n_train) % 10),
        "test": (torch.rand(n_test, 1, 28, 28, generator=rng) * 2 - 1, torch.arange(n_test) % 10),
    }
    monkeypatch.setattr(gankit.data.mnist, "load_mnist", lambda split="train", **_: data[split])
    return data


def test_training_is_seeded_and_leaves_global_state_alone(monkeypatch):
    _fake_mnist(monkeypatch)  # 3 steps per epoch
    torch.manual_seed(123)
    before_rng, before_threads = torch.get_rng_state(), torch.get_num_threads()
    first = clf.train_classifier(seed=5, progress=False)
    second = clf.train_classifier(seed=5, progress=False)
    assert torch.equal(torch.get_rng_state(), before_rng) and torch.get_num_threads() == before_threads
    assert not first.training
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    assert {"test_accuracy", "seed", "version", "format"} <= first.metadata.keys()
    assert first.metadata["seed"] == "5"


def test_image_evaluator_on_fake_data(tmp_path, monkeypatch):
    data = _fake_mnist(monkeypatch)
    torch.manual_seed(2)
    metadata = {"format": clf.FORMAT, "version": clf.FORMAT_VERSION}
    clf._write_cache(classifier_path(cache_dir=tmp_path), MNISTClassifier(), metadata)
    evaluator = ImageEvaluator(cache_dir=tmp_path, n_reference=120, progress=False)
    assert evaluator.floor > 0
    test_images, test_labels = data["test"]
    result = evaluator.evaluate(test_images, test_labels)
    assert set(result) == {"fd", "fd_floor", "classifier_score", "coverage_min", "class_shares", "label_accuracy"}
    assert_registered(result)
    assert result["fd"] == pytest.approx(0.0, abs=1e-6)  # the reference itself
    assert result["fd_floor"] == evaluator.floor
    assert len(result["class_shares"]) == 10 and sum(result["class_shares"]) == pytest.approx(1.0)
    assert result["coverage_min"] == min(result["class_shares"])
    assert 1.0 <= result["classifier_score"] <= 10.0
    assert evaluator.evaluate(torch.ones(50, 1, 28, 28))["fd"] > evaluator.floor
    assert "label_accuracy" not in evaluator.evaluate(test_images.numpy()[:30])
    diverged = evaluator.evaluate(torch.full((20, 1, 28, 28), float("nan")))
    assert math.isnan(diverged["fd"]) and math.isnan(diverged["classifier_score"])
    with pytest.raises(GankitError, match="n_reference"):
        ImageEvaluator(cache_dir=tmp_path, n_reference=121, progress=False)
    with pytest.raises(GankitError, match="labels.shape"):
        evaluator.evaluate(test_images, test_labels[:5])
    with pytest.raises(GankitError, match="images"):
        evaluator.evaluate(test_images[:1])


# ----- the real thing -----
def test_the_shipped_classifier_is_small_and_recorded(monkeypatch):
    monkeypatch.delenv(clf.CLASSIFIER_DIR_ENV, raising=False)
    path = clf.SHIPPED["mnist"]
    assert path.stat().st_size < 1_000_000  # in the package: kept small
    model = load_classifier(train_if_missing=False)  # no training, whatever the machine
    metadata = model.metadata
    assert metadata["format"] == clf.FORMAT and metadata["version"] == clf.FORMAT_VERSION
    assert metadata["dataset"] == "mnist" and metadata["seed"] == str(clf.SEED)
    assert float(metadata["test_accuracy"]) >= 0.99
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert f'"{path.relative_to(Path(clf.__file__).parents[1]).as_posix()}"' in pyproject  # package-data: installed


def test_a_missing_shipped_classifier_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv(clf.CLASSIFIER_DIR_ENV, raising=False)
    monkeypatch.setitem(clf.SHIPPED, "mnist", tmp_path / "classifier-mnist.safetensors")
    with pytest.raises(GankitError, match="gankit installed again, or cache_dir"):
        load_classifier()
    assert not any(tmp_path.iterdir())  # never trained into the package


@pytest.mark.slow
def test_real_classifier_and_evaluator(mnist_dir, monkeypatch):
    """The classifier that ships with gankit, on the genuine MNIST files."""
    from gankit.data.mnist import load_mnist

    monkeypatch.delenv(clf.CLASSIFIER_DIR_ENV, raising=False)
    evaluator = ImageEvaluator(data_dir=mnist_dir, progress=False)
    assert evaluator.test_accuracy >= 0.99  # measured again, on the weights read back from the package
    recorded = float(evaluator.classifier.metadata["test_accuracy"])  # other thread counts may flip an image or two
    assert evaluator.test_accuracy == pytest.approx(recorded, abs=2e-4)
    assert 0 < evaluator.floor < 10

    test_images, test_labels = load_mnist("test", data_dir=mnist_dir)
    real = evaluator.evaluate(test_images, test_labels)
    assert real["label_accuracy"] >= 0.99
    assert real["classifier_score"] > 9.0 and real["coverage_min"] > 0.08

    # Other real training images than the floor's: close to the floor.
    train_images, _ = load_mnist("train", data_dir=mnist_dir)
    other = torch.from_numpy(np.random.default_rng(123).choice(len(train_images), 10_000, replace=False))
    assert evaluator.evaluate(train_images[other])["fd"] < 3 * evaluator.floor

    noise = torch.rand(10_000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    scores = evaluator.evaluate(noise)
    assert scores["fd"] > 50 * evaluator.floor
    assert scores["classifier_score"] < 2.0


def test_evaluators_of_one_process_embed_the_reference_once_and_follow_changed_data(tmp_path, monkeypatch):
    data = _fake_mnist(monkeypatch)
    torch.manual_seed(3)
    metadata = {"format": clf.FORMAT, "version": clf.FORMAT_VERSION}
    clf._write_cache(classifier_path(cache_dir=tmp_path), MNISTClassifier(), metadata)
    embedded, embed = [], clf.embed
    monkeypatch.setattr(clf, "embed", lambda model, images: embedded.append(len(images)) or embed(model, images))
    first = ImageEvaluator(cache_dir=tmp_path, n_reference=100, progress=False)
    second = ImageEvaluator(cache_dir=tmp_path, n_reference=100, progress=False)
    assert embedded == [100, 100]  # the test and training references, once
    assert (second.floor, second.test_accuracy) == (first.floor, first.test_accuracy)
    assert np.array_equal(second.mu, first.mu) and np.array_equal(second.cov, first.cov)
    images, labels = data["train"]
    data["train"] = (images.flip(0).clone(), labels.flip(0).clone())  # other training images: other statistics
    third = ImageEvaluator(cache_dir=tmp_path, n_reference=100, progress=False)
    assert embedded == [100, 100, 100, 100] and third.floor != first.floor
