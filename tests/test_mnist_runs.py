"""MNIST runs end to end: progress grids, `gankit sample` files, bad input at the CLI, max_seconds, evaluation.

The tiny runs here train a few steps on the first 512 images with a stand-in evaluator, so that
they need neither the cached classifier nor minutes; one slow test uses the real evaluator.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

import gankit
import gankit.evaluation
import gankit.run
from gankit.cli import main

TINY = dict(
    dataset="mnist", n_samples=512, batch_size=32, g_hidden=(32,), d_hidden=(32,), latent_dim=8, log_every=3, threads=1
)


class StubEvaluator:
    """Stands in for ImageEvaluator: no classifier, the same call shape."""

    def evaluate(self, images, labels=None):
        assert images.shape[1:] == (1, 28, 28)
        return {"fd": float(images.float().mean()), "fd_floor": 0.0}


@pytest.fixture(scope="module")
def runs(mnist_dir, tmp_path_factory):
    """{"cgan": conditional MLP run, "dcgan": unconditional DCGAN run}, 6 steps each, evaluated at steps 3 and 6."""
    root = tmp_path_factory.mktemp("mnist-runs")
    made = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gankit.run, "make_evaluator", lambda config, dataset: StubEvaluator())
        patch.setattr(gankit.evaluation, "EVAL_SAMPLES", 100)  # generating 10,000 images is most of a tiny run's time
        for name, options in {"cgan": dict(model="mlp", conditional=True), "dcgan": dict(model="dcgan")}.items():
            config = gankit.TrainConfig(data_dir=str(mnist_dir), steps=6, eval_every=3, **TINY, **options)
            made[name] = gankit.train(config, root / name, progress=False)
    return made


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ")
    return err[0]


@pytest.mark.parametrize("name", ["cgan", "dcgan"])
def test_progress_grids_and_gif_are_written_at_each_evaluation(runs, name):
    figures = runs[name].path / "figures"
    assert sorted(p.name for p in (figures / "progress").iterdir()) == ["step-00000003.png", "step-00000006.png"]
    assert (figures / "progress.gif").stat().st_size > 0 and (figures / "samples.png").is_file()
    from PIL import Image

    with Image.open(figures / "progress.gif") as gif:
        assert gif.n_frames == 2


def test_force_replaces_the_old_progress_frames(runs, mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(gankit.run, "make_evaluator", lambda config, dataset: StubEvaluator())
    monkeypatch.setattr(gankit.evaluation, "EVAL_SAMPLES", 100)
    config = gankit.TrainConfig(data_dir=str(mnist_dir), steps=4, eval_every=4, **TINY)
    gankit.train(config, tmp_path / "r", progress=False)
    (tmp_path / "r" / "figures" / "progress" / "step-00000002.png").write_bytes(b"stale")
    gankit.train(config, tmp_path / "r", progress=False, force=True)
    assert [p.name for p in (tmp_path / "r" / "figures" / "progress").iterdir()] == ["step-00000004.png"]


def test_sample_conditional_balanced_and_single_label(runs, tmp_path, capsys):
    run = runs["cgan"].path
    assert main(["sample", str(run), "--n", "25", "--out", str(tmp_path / "all.npz")]) == 0
    with np.load(tmp_path / "all.npz") as data:
        assert sorted(data.files) == ["images", "labels"]
        images, labels = data["images"], data["labels"]
    assert images.shape == (25, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [i % 10 for i in range(25)]

    assert main(["sample", str(run), "--n", "7", "--label", "3", "--out", str(tmp_path / "three.npz")]) == 0
    with np.load(tmp_path / "three.npz") as data:
        assert data["images"].shape == (7, 28, 28) and data["labels"].tolist() == [3] * 7


def test_sample_unconditional_has_images_only(runs, tmp_path):
    assert main(["sample", str(runs["dcgan"].path), "--n", "12", "--seed", "5", "--out", str(tmp_path / "d.npz")]) == 0
    with np.load(tmp_path / "d.npz") as data:
        assert data.files == ["images"] and data["images"].shape == (12, 28, 28) and data["images"].dtype == np.uint8
    assert main(["sample", str(runs["dcgan"].path), "--n", "12", "--seed", "5", "--out", str(tmp_path / "e.npz")]) == 0
    with np.load(tmp_path / "d.npz") as first, np.load(tmp_path / "e.npz") as second:
        assert np.array_equal(first["images"], second["images"])  # same seed, same images


@pytest.mark.parametrize("name,label", [("cgan", "11"), ("cgan", "-1"), ("dcgan", "3")])
def test_sample_with_a_bad_label_exits_2_with_one_line(runs, tmp_path, capsys, name, label):
    out = tmp_path / "x.npz"
    assert main(["sample", str(runs[name].path), "--label", label, "--out", str(out)]) == 2
    assert "--label" in _one_error_line(capsys)
    assert not out.exists()


def test_train_with_an_empty_data_dir_exits_2_with_one_line(tmp_path, capsys):
    empty, out = tmp_path / "empty", tmp_path / "run"
    empty.mkdir()
    assert main(["train", "--dataset", "mnist", "--data-dir", str(empty), "--out", str(out), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert str(empty) in line and "train-images-idx3-ubyte.gz" in line
    assert not out.exists()


def test_train_with_a_corrupt_file_exits_2_with_one_line(mnist_dir, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (data / name).write_bytes((mnist_dir / name).read_bytes())
    (data / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    assert main(["train", "--dataset", "mnist", "--data-dir", str(data), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "train-labels-idx1-ubyte.gz" in _one_error_line(capsys)


def test_max_seconds_ends_training_early_with_an_evaluation_and_a_checkpoint(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(gankit.run, "make_evaluator", lambda config, dataset: StubEvaluator())
    monkeypatch.setattr(gankit.evaluation, "EVAL_SAMPLES", 100)
    config = gankit.TrainConfig(data_dir=str(mnist_dir), steps=1_000_000, max_seconds=0.5, **TINY)
    started = time.perf_counter()
    run = gankit.train(config, tmp_path / "r", progress=False, figures=False)
    assert time.perf_counter() - started < 30
    assert 0 < run.step < config.steps
    last = [r for r in run.metrics if "event" not in r][-2:]
    assert [r["step"] for r in last] == [run.step, run.step] and "fd" in last[1] and last[0]["seconds"] >= 0.5
    assert run.metrics[-1]["event"] == "end" and run.metrics[-1]["seconds"] >= 0.5
    assert (tmp_path / "r" / "checkpoints" / f"step-{run.step:08d}.safetensors").is_file()


@pytest.mark.slow
def test_real_evaluation_end_to_end_and_fast(runs, capsys):
    """With the real classifier (trained and cached on first use, about a minute): `gankit eval` and its speed."""
    run = gankit.Run(runs["cgan"].path)
    evaluator = gankit.evaluation.make_evaluator(run.config, run._dataset)  # builds (or loads) the classifier
    started = time.perf_counter()
    (metrics,) = gankit.evaluation.evaluate_members(run.trainer, [evaluator])
    seconds = time.perf_counter() - started
    assert seconds < 15, f"evaluating {gankit.evaluation.EVAL_SAMPLES} samples took {seconds:.1f} s"
    for key in ("fd", "fd_floor", "classifier_score", "coverage_min", "label_accuracy"):
        assert np.isfinite(metrics[key]), key
    assert 0 <= metrics["fd_floor"] < metrics["fd"]  # 6 steps of training are far from real digits
    assert 1 <= metrics["classifier_score"] <= 10 and 0 <= metrics["label_accuracy"] <= 1

    capsys.readouterr()
    assert main(["eval", str(run.path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["fd"] == pytest.approx(metrics["fd"], rel=1e-4)
    assert printed["label_accuracy"] == pytest.approx(metrics["label_accuracy"])


def test_evaluation_draws_eval_samples_images_balanced_over_digits(runs):
    seen = {}

    class Recorder:
        def evaluate(self, images, labels=None):
            seen.update(images=images, labels=labels)
            return {}

    run = gankit.Run(runs["cgan"].path)
    gankit.evaluation.evaluate_members(run.trainer, [Recorder()])
    assert seen["images"].shape == (gankit.evaluation.EVAL_SAMPLES, 1, 28, 28)
    assert torch.bincount(seen["labels"]).tolist() == [gankit.evaluation.EVAL_SAMPLES // 10] * 10
