"""tensorboard=True writes the metrics log's numbers (and the sample figures of a run) as TensorBoard
events, read back here with TensorBoard's own reader."""

from __future__ import annotations

import pytest

import gankit
from gankit.runfolder import read_metrics

accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

TINY = dict(dataset="circle", g_hidden=(8, 8), d_hidden=(8, 8), steps=20, log_every=10, eval_every=10, tensorboard=True)


def _events(folder):
    events = accumulator.EventAccumulator(str(folder), size_guidance={accumulator.IMAGES: 0})
    events.Reload()
    return events


def test_a_run_writes_its_numbers_and_figures_as_events(tmp_path):
    run = gankit.train(gankit.TrainConfig(**TINY), tmp_path / "run", progress=False)
    events = _events(run.path / "tensorboard")
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "eval/w1", "eval/w1_floor"} <= scalars
    logged = [(r["step"], r["loss_d"]) for r in read_metrics(run.path) if "loss_d" in r]
    read_back = [(e.step, e.value) for e in events.Scalars("train/loss_d")]
    assert [s for s, _ in read_back] == [s for s, _ in logged]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(read_back, logged))  # the log stays the source of truth
    assert [e.step for e in events.Images("samples")] == [10, 20]


def test_a_sweep_writes_one_event_folder_per_gan(tmp_path):
    result = gankit.sweep(
        gankit.TrainConfig(**TINY), {"latent_dim": [2, 3]}, seeds=1, out=tmp_path / "s", progress=False, figures=False
    )
    for row in result.rows:
        events = _events(result.path / row["run"] / "tensorboard")
        assert [e.step for e in events.Scalars("eval/w1")] == [10, 20]
