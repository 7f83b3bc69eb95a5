"""GAN Lab's views (gankit.views), the step-by-step Lab, the live view, the best checkpoint and numbered folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import gankit
import gankit.live
from fast_metrics import use_fast_metrics
from gankit import views
from gankit.errors import GankitError
from gankit.lab import Lab

TINY = dict(g_hidden=(16, 16), d_hidden=(16, 16))


@pytest.fixture(autouse=True)
def fast_metrics(monkeypatch):
    use_fast_metrics(monkeypatch)


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize(
    ("latent", "lines", "says"), [(1, 1, "z in"), (2, 18, "9 x 9 lattice"), (10, 18, "z1-z2 plane")]
)
def test_the_manifold_lattice(latent, lines, says):
    z, text = views.lattice(latent)
    assert z.shape[0] == lines and z.shape[2] == latent and says in text
    if latent > 2:
        assert np.all(z[:, :, 2:] == 0)  # a slice through z, the other coordinates at their mean
    assert np.abs(z).max() == views.LATTICE


class Bowl(nn.Module):
    """D's logit = a * (1 - |x|^2): it says real near the origin (of model space), fake far from it."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(3.0))

    def forward(self, x):
        return self.a * (1 - x.square().sum(1))


def test_the_push_of_g_s_loss_points_up_d_s_slope(tmp_path):
    generator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    config = gankit.TrainConfig(dataset="moons", latent_dim=2, steps=1)
    lab = Lab(config, tmp_path / "bowl", generator=generator, discriminator=Bowl())
    view = views.snapshot(views.trainer_sources(lab.trainer), lab.step)
    mean, std = lab.trainer.dataset.mean.numpy(), lab.trainer.dataset.std.numpy()
    model = (view["fake"] - mean) / std
    # In model space the push is -d(loss)/dx: for the non-saturating loss, toward the origin, D's high ground.
    towards = np.sum((view["push"] / std) * -model, axis=1)
    assert np.mean(towards > 0) > 0.95
    assert view["prob"].shape == (views.GRID, views.GRID) and view["manifold"].shape == (18, 41, 2)
    assert view["real"].shape == (1000, 2) and view["push"].shape == view["fake"].shape


def test_snapshots_are_saved_at_each_evaluation_and_small(tmp_path):
    run = gankit.train(
        gankit.TrainConfig(dataset="swiss_roll", steps=60, eval_every=20, **TINY), tmp_path / "roll", progress=False
    )
    saved = views.load_snapshots(run.path)
    assert [v["step"] for v in saved] == [20, 40, 60]
    assert all((run.path / "views" / f"step-{s:08d}.npz").stat().st_size < 150_000 for s in (20, 40, 60))
    assert list(saved[-1]["cols"]) == [0, 2] and "x-z plane" in saved[-1]["plane"]  # the roll's plane, said
    np.testing.assert_array_equal(saved[0]["real"], saved[-1]["real"])  # the same training points in every frame
    assert not np.array_equal(saved[0]["fake"], saved[-1]["fake"])
    with Image.open(run.path / "figures" / "progress.gif") as gif:
        assert gif.n_frames == 3  # the animation is of lab views
    figure = run.lab_view()
    assert len(figure.axes) == 3 and "step 60" in figure.axes[0].get_title()


def test_the_lab_steps_d_only_then_g_only_and_its_checkpoint_resumes(tmp_path):
    lab = Lab(gankit.TrainConfig(dataset="circle", steps=200, eval_every=100, **TINY), tmp_path / "lab")
    g, d = _weights(lab.trainer.G), _weights(lab.trainer.D)
    lab.step_d()
    assert lab.step == 0 and _same(g, _weights(lab.trainer.G)) and not _same(d, _weights(lab.trainer.D))
    d = _weights(lab.trainer.D)
    assert lab.step_g() is lab
    assert lab.step == 1 and _same(d, _weights(lab.trainer.D)) and not _same(g, _weights(lab.trainer.G))
    assert lab.last["update"] == "G"
    lab.train(99)
    assert lab.step == 100 and any("w1" in r for r in lab.records)
    before = lab._repr_png_()
    lab.step_d()  # half a step, then a checkpoint of exactly that state
    assert lab._repr_png_() != before  # the view is redrawn from the new D
    run = lab.run()
    assert run.step == 100 and _same(_weights(run.trainer.D), _weights(lab.trainer.D))
    with pytest.raises(GankitError, match="at most 100"):
        lab.train(101)
    assert gankit.resume(lab.path, progress=False, figures=False).step == 200


def test_the_best_checkpoint_is_kept_and_plotted(tmp_path):
    run = gankit.train(
        gankit.TrainConfig(dataset="circle", steps=90, eval_every=30, keep_checkpoints=1, **TINY),
        tmp_path / "best",
        progress=False,
        figures=False,
    )
    evals = {r["step"]: r["w1_ratio"] for r in run.metrics if "w1_ratio" in r}
    assert run.best_step == min(evals, key=evals.get)
    best = run.best()
    assert best.step == run.best_step
    assert best.evaluate()["w1_ratio"] == pytest.approx(evals[run.best_step])
    figures = run.plot(best=True)
    assert set(figures) >= {"real_vs_generated", "losses"}
    assert (run.path / "figures" / "best" / "real_vs_generated.png").is_file()


def test_re_running_a_cell_trains_into_the_next_numbered_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = gankit.TrainConfig(dataset="circle", steps=10, eval_every=10, **TINY)
    first = gankit.train(config, progress=False, figures=False)
    second = gankit.train(config, progress=False, figures=False)
    assert (first.path.name, second.path.name) == ("circle-1", "circle-2")
    with pytest.raises(GankitError, match=r"already exists.*out=None.*force=True"):
        gankit.train(config, first.path, progress=False, figures=False)


def test_a_sampler_takes_your_own_z_in_data_units(circle_run):
    z = np.zeros((3, circle_run.config.latent_dim), np.float32)
    points = circle_run.sample(3, z=z)
    assert points.shape == (3, 2) and np.allclose(points, points[0])  # the same z, the same point
    assert np.abs(points).max() < 5  # data units: the unit circle, not standardised ones


class FakeDisplay:
    """Stands in for the notebook's output area: every PNG drawn into it, in order."""

    def __init__(self):
        self.images: list[bytes] = []

    def show(self, png: bytes) -> None:
        self.images.append(png)


@pytest.fixture
def notebook(monkeypatch):
    """Training as if in a notebook: the live view draws into one FakeDisplay."""
    display = FakeDisplay()
    monkeypatch.setattr(gankit.live, "in_notebook", lambda: True)
    monkeypatch.setattr(gankit.live, "Display", lambda: display)
    return display


def test_the_live_view_redraws_one_display_every_n_steps(tmp_path, notebook):
    gankit.train(
        gankit.TrainConfig(dataset="moons", steps=300, eval_every=100, **TINY),
        tmp_path / "live",
        progress=False,
        figures=False,
        live=100,
    )
    assert len(notebook.images) == 4  # steps 100, 200, 300 and the last drawing at the end
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in notebook.images)
    assert len(set(notebook.images)) >= 3  # the drawing changes as G and D train


def test_the_default_live_view_keeps_within_its_time_budget(tmp_path, notebook, monkeypatch):
    monkeypatch.setattr(gankit.live, "LIVE_BUDGET", 0.0)  # any drawing is over this budget ...
    view = gankit.live.live_view(None, [], None)
    assert view.budget == 0.0 and view.every == gankit.live.LIVE_EVERY
    gankit.train(
        gankit.TrainConfig(dataset="circle", steps=600, eval_every=600, **TINY),
        tmp_path / "budget",
        progress=False,
        figures=False,
    )
    assert len(notebook.images) == 2  # ... so only the first due redraw and the last one are drawn


def test_no_live_view_in_a_terminal(tmp_path):
    assert gankit.live.live_view(None, [], None) is None
    assert gankit.live.live_view(None, [], 50) is None
    with pytest.raises(GankitError, match="live"):
        gankit.live.live_view(None, [], -3)
