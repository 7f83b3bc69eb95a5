"""One thread policy for all that gankit computes, progress bars that --quiet silences, files that follow the umask."""

from __future__ import annotations

import os
import stat

import pytest
import torch
from threadpoolctl import threadpool_info

import gankit
from gankit import threads
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.files import atomic_write, current_umask
from gankit.metrics import classifier as clf
from gankit.metrics.toy import ToyEvaluator
from gankit.notebook import progress_bar, silenced
from gankit.threads import choose_threads, policy_threads, usable_cores
from test_classifier_metrics import _fake_mnist

TOY = TrainConfig(dataset="circle", steps=40, g_hidden=(16,), d_hidden=(16,), log_every=20, eval_every=20)


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.fixture
def load(monkeypatch):
    """Sets how many cores' worth of CPU the other processes keep busy, as the policy measures it."""
    busy = {"others": 0.0}
    monkeypatch.setattr(threads, "others_now", lambda: busy["others"])
    return busy


def test_the_policy_sets_the_threads_restores_them_and_the_outer_block_decides(load):
    torch.set_num_threads(1)
    cores = usable_cores()
    with policy_threads() as count:  # work of no run: the free cores
        assert count == cores == torch.get_num_threads()
        assert _blas_threads() <= {count}  # numpy's BLAS too
        with policy_threads(TOY) as inner:  # a toy run's own choice would be 1; inside, the outer block's stays
            assert inner == cores == torch.get_num_threads()
    assert torch.get_num_threads() == 1


def test_the_policy_follows_the_load_and_a_pinned_count(load, monkeypatch):
    cores = usable_cores()
    image = TrainConfig(dataset="mnist")
    assert choose_threads() == choose_threads(image) == cores
    load["others"] = float(cores)  # every core busy with other work: one thread, never zero
    assert choose_threads() == choose_threads(image) == choose_threads(TOY, members=8) == 1
    assert choose_threads(image.replace(threads=cores)) == cores  # pinned: the load does not matter
    monkeypatch.setattr(threads, "others_now", lambda: pytest.fail("a single toy GAN needs no look at the load"))
    assert choose_threads(TOY) == 1


def test_the_load_is_looked_at_once_for_many_small_computations(monkeypatch):
    sleeps = []
    monkeypatch.setattr(threads.time, "sleep", sleeps.append)
    monkeypatch.setattr(threads, "_recent", None)
    first = threads.others_now()
    assert threads.others_now() == first and sleeps == [threads.PROBE_SECONDS]


@pytest.mark.skipif(usable_cores() < 2, reason="needs two usable cores to see the policy choose fewer")
def test_evaluation_and_a_runs_computations_follow_the_policy(load, monkeypatch, tmp_path, circle_run):
    _fake_mnist(monkeypatch)
    torch.manual_seed(2)
    clf._write_cache(clf.classifier_path(cache_dir=tmp_path), clf.MNISTClassifier(), {"format": clf.FORMAT})
    seen = []
    embed = clf.embed
    monkeypatch.setattr(clf, "embed", lambda *a, **k: seen.append(torch.get_num_threads()) or embed(*a, **k))
    toy_evaluate = ToyEvaluator.evaluate
    monkeypatch.setattr(
        ToyEvaluator, "evaluate", lambda self, *a: seen.append(torch.get_num_threads()) or toy_evaluate(self, *a)
    )
    torch.set_num_threads(2)
    load["others"] = 2.0  # the machine is busy: everything gankit computes takes one thread
    evaluator = clf.ImageEvaluator(cache_dir=tmp_path, n_reference=120, progress=False)
    evaluator.evaluate(torch.rand(30, 1, 28, 28) * 2 - 1)
    assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    seen.clear()
    circle_run.evaluate()  # a toy run's evaluation: one thread, whatever the caller's count
    assert seen == [1] and torch.get_num_threads() == 2


def test_silenced_hides_every_bar_the_classifiers_too(monkeypatch, tmp_path, capsys):
    with silenced():
        assert progress_bar(total=3, desc="x").disable
        assert progress_bar(total=3, desc="x", unit="B", unit_scale=True).disable
        with silenced(False):  # an inner block cannot turn them back on
            assert progress_bar(total=3, desc="x").disable
    assert not progress_bar(total=3, desc="x").disable
    _fake_mnist(monkeypatch)
    monkeypatch.setenv(clf.CLASSIFIER_DIR_ENV, str(tmp_path))
    with silenced():
        clf.load_classifier()  # trains one of the user's own, on the fake data
    assert "training the mnist classifier" not in capsys.readouterr().err


def test_quiet_training_prints_no_bar(tmp_path, capsys):
    flags = ["--dataset", "circle", "--steps", "40", "--g-hidden", "16", "--d-hidden", "16", "--eval-every", "20"]
    assert main(["train", *flags, "--quiet", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "step/s" not in err and "%|" not in err


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_follow_the_umask(tmp_path, mask):
    before = os.umask(mask)
    try:
        assert current_umask() == mask
        atomic_write(tmp_path / "file.bin", b"data")
        assert stat.S_IMODE((tmp_path / "file.bin").stat().st_mode) == 0o666 & ~mask
        if mask != 0o022:
            return
        # A whole run folder and its page, as a teacher would share them.
        run = gankit.train(TOY, tmp_path / "run", progress=False)
        gankit.write_report(run.path)
    finally:
        os.umask(before)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert {"run/config.json", "run/metrics.jsonl", "run/report.html"} <= modes.keys()
    assert any(name.endswith(".safetensors") for name in modes)  # the checkpoints
    wrong = {
        name: oct(mode) for name, mode in modes.items() if mode != (0o755 if (tmp_path / name).is_dir() else 0o644)
    }
    assert not wrong
