import numpy as np
import pytest
import torch

import gankit
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.evaluation import evaluate_members
from gankit.metrics.toy import ToyEvaluator
from gankit.run import Run, read_metrics
from gankit.trainer import Trainer

TINY = dict(g_hidden=(32, 32), d_hidden=(32, 32))


def _weights(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in (*trainer.G.parameters(), *trainer.D.parameters())]


def test_short_training_lowers_w1_on_the_circle():
    config = TrainConfig(dataset="circle", steps=1500, **TINY)
    dataset = load_dataset(config)
    trainer = Trainer(config, dataset)
    evaluator = ToyEvaluator("circle", dataset.fresh)
    before = evaluate_members(trainer, [evaluator])[0]["w1"]
    for _ in range(config.steps):
        trainer.train_step()
    after = evaluate_members(trainer, [evaluator])[0]
    assert after["w1"] < 0.5 * before
    assert after["radial_error"] < 0.25


def test_same_seed_same_weights_other_seed_other_weights():
    def run(seed):
        config = TrainConfig(dataset="moons", steps=30, seed=seed, **TINY)
        trainer = Trainer(config, load_dataset(config))
        for _ in range(config.steps):
            trainer.train_step()
        return _weights(trainer)

    for a, b in zip(run(0), run(0)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not all(torch.equal(a, b) for a, b in zip(run(0), run(1)))


def test_trainer_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Trainer(TrainConfig(**TINY), load_dataset(TrainConfig()))
    torch.testing.assert_close(torch.rand(3), expected)


def test_d_step_uses_detached_fakes_and_g_step_leaves_d_unchanged():
    config = TrainConfig(dataset="circle", **TINY)
    trainer = Trainer(config, load_dataset(config))
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    g_before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.train_step()
    # both players moved exactly once per step, and D's grads were reset, not accumulated across the G step
    assert all(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters()))
    assert all(p.requires_grad for p in trainer.D.parameters())
    assert trainer.opt_d.state_dict()["state"][0]["step"].item() == 1


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax", "hinge", "least_squares"])
def test_every_loss_trains_without_nan(loss):
    config = TrainConfig(dataset="moons", loss=loss, steps=20, **TINY)
    trainer = Trainer(config, load_dataset(config))
    stats = torch.stack([trainer.train_step() for _ in range(20)])
    assert torch.isfinite(stats).all()


def test_run_folder_layout_and_metrics_log(circle_run):
    path = circle_run.path
    assert (path / "config.json").is_file() and (path / "metrics.jsonl").is_file()
    assert [p.name for p in sorted((path / "checkpoints").iterdir())] == [
        "step-00000150.safetensors",
        "step-00000300.safetensors",
    ]
    records = read_metrics(path)
    train_steps = [r["step"] for r in records if "loss_d" in r]
    assert train_steps == [50, 100, 150, 200, 250, 300]
    evals = [r for r in records if "w1" in r]
    assert [r["step"] for r in evals] == [150, 300]
    assert all(r["w1_floor"] > 0 and "radial_error" in r for r in evals)
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records if "d_real" in r)


def test_save_then_load_gives_identical_samples(circle_run):
    reloaded = Run(circle_run.path)
    np.testing.assert_array_equal(reloaded.sample(200, seed=5), circle_run.sample(200, seed=5))
    assert not np.array_equal(reloaded.sample(200, seed=5), reloaded.sample(200, seed=6))
    assert reloaded.sample(10).shape == (10, 2)


def test_evaluate_matches_the_logged_final_metrics(circle_run):
    logged = [r for r in circle_run.metrics if "w1" in r][-1]
    assert circle_run.evaluate()["w1"] == pytest.approx(logged["w1"])


def test_plot_writes_every_figure(circle_run):
    figures = circle_run.plot()
    assert set(figures) == {"real_vs_generated", "d_verdict", "decision_map", "losses"}
    for name in figures:
        assert (circle_run.path / "figures" / f"{name}.png").stat().st_size > 5000


def test_swiss_roll_run_samples_in_3d_and_its_figures_use_3d_views(tmp_path):
    run = gankit.train(
        TrainConfig(dataset="swiss_roll", latent_dim=3, steps=20, eval_every=20, **TINY),
        tmp_path / "roll",
        progress=False,
    )
    assert run.sample(5).shape == (5, 3)
    assert (tmp_path / "roll" / "figures" / "decision_map.png").is_file()
    assert run.sample(2000).std(0).min() > 0  # de-standardised back to data units


def test_point_file_dataset_trains(tmp_path):
    path = tmp_path / "points.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(300, 2)) + 5, delimiter=",")
    run = gankit.train(
        TrainConfig(dataset=str(path), steps=20, eval_every=20, **TINY), tmp_path / "run", progress=False, figures=False
    )
    assert abs(run.sample(500).mean() - 5) < 2  # points come back in the file's units


def test_toy_runs_write_a_training_animation(tmp_path):
    run = gankit.train(TrainConfig(dataset="moons", steps=40, eval_every=10, **TINY), tmp_path / "anim", progress=False)
    frames = sorted((run.path / "figures" / "progress").glob("step-*.png"))
    assert [f.name for f in frames] == [f"step-{s:08d}.png" for s in (10, 20, 30, 40)]
    from PIL import Image

    with Image.open(run.path / "figures" / "progress.gif") as gif:
        assert gif.n_frames >= 2


def test_the_sampled_average_of_g_gets_the_batch_norm_statistics_of_its_own_activations():
    from torch import nn

    from gankit.trainer import STANDING_BATCHES, STANDING_SEED

    config = TrainConfig(dataset="circle", latent_dim=3, batch_size=32, n_samples=200)

    def trainer() -> Trainer:
        torch.manual_seed(0)
        G = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
        D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        return Trainer(config, load_dataset(config), generator=G, discriminator=D)

    sampled, twin = trainer(), trainer()
    for _ in range(5):
        sampled.train_step(), twin.train_step()
    samples = sampled.generate(100, seed=1)
    # The average's first layer over the standing draws (z, then the unused labels, per batch)
    rng = torch.Generator().manual_seed(STANDING_SEED)
    batches = []
    for _ in range(STANDING_BATCHES):
        batches.append(sampled.G_ema[0](torch.randn(32, 3, generator=rng)))
        torch.randint(1, (32,), generator=rng)
    norm = sampled.G_ema[1]
    torch.testing.assert_close(norm.running_mean, torch.cat(batches).mean(0))
    torch.testing.assert_close(norm.running_var, torch.stack([b.var(0) for b in batches]).mean(0))
    assert not torch.allclose(norm.running_mean, sampled.G[1].running_mean, atol=1e-3)  # not G's own
    assert torch.equal(sampled.generate(100, seed=1), samples)
    # Sampling leaves training as it was: the twin that never sampled takes the same steps
    for _ in range(3):
        assert torch.equal(sampled.train_step(), twin.train_step())
    assert all(torch.equal(a, b) for a, b in zip(_weights(sampled), _weights(twin)))


def _slow_evaluations(monkeypatch, seconds: float) -> None:
    import time

    import gankit.loop

    def slow(game, evaluators):
        time.sleep(seconds)
        return evaluate_members(game, evaluators)

    monkeypatch.setattr(gankit.loop, "evaluate_members", slow)


def test_evaluations_take_at_most_their_share_of_the_time_by_default(tmp_path, monkeypatch):
    """With eval_every left to its default, an evaluation (and checkpoint) due while they have taken more than
    eval_share of the time is put off; the final step is evaluated all the same."""
    _slow_evaluations(monkeypatch, 0.3)  # far more than the training between two evaluations
    config = TrainConfig(dataset="circle", steps=1000, g_hidden=(16,), d_hidden=(16,), log_every=50)
    assert config.eval_every == 100 and config.eval_share == 0.1
    run = gankit.train(config, tmp_path / "r", progress=False, figures=False)
    evaluated = [r["step"] for r in run.metrics if "w1" in r]
    assert evaluated[0] == 100 and evaluated[-1] == 1000 and len(evaluated) <= 3  # not all 10
    (end,) = [r for r in run.metrics if r.get("event") == "end"]
    assert 0 < end["eval_seconds"] < end["seconds"]


def test_an_explicit_eval_every_is_kept(tmp_path, monkeypatch):
    _slow_evaluations(monkeypatch, 0.02)
    config = TrainConfig(dataset="circle", steps=200, g_hidden=(16,), d_hidden=(16,), eval_every=20)
    assert config.eval_share == 0
    run = gankit.train(config, tmp_path / "r", progress=False, figures=False)
    assert [r["step"] for r in run.metrics if "w1" in r] == list(range(20, 201, 20))
