"""A student's own G, D and loss train in gankit exactly as gankit's own do: run folder, figures,
metrics, checkpoints, resume; modules of another shape, or that misbehave, are refused in one line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.errors import GankitError
from gankit.runfolder import list_checkpoints

TINY = dict(dataset="circle", latent_dim=4, steps=40, log_every=10, eval_every=20, batch_size=64)


def lab_networks(width: int = 16, *, seed: int = 0, sigmoid: bool = True) -> tuple[nn.Module, nn.Module]:
    """The lab's nn.Sequential G and D (D ending in a sigmoid)."""
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))
    layers = [nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)]
    D = nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))
    return G, D


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_the_labs_sequential_networks_train_plot_and_evaluate(tmp_path):
    G, D = lab_networks()
    run = gankit.train(gankit.TrainConfig(**TINY), generator=G, discriminator=D, out=tmp_path / "mine", progress=False)
    assert run.config.model == "custom" and run.step == 40
    recorded = json.loads((tmp_path / "mine" / "networks.json").read_text())
    assert recorded["generator"]["class"] == "Sequential"
    assert recorded["generator"]["parameters"] == sum(p.numel() for p in G.parameters())
    assert set(run.plot(save=False)) == {"real_vs_generated", "d_verdict", "decision_map", "losses"}
    metrics = run.evaluate()
    assert metrics["w1"] > 0 and "radial_error" in metrics
    # D trained on its logit; its probabilities are what the student's D itself outputs
    points = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    x = run.trainer.dataset.to_model_space(torch.from_numpy(points))
    with torch.no_grad():
        own = run.trainer.D(x).squeeze(1)
    np.testing.assert_allclose(run.d_probability(points), own.numpy(), rtol=1e-5, atol=1e-6)
    assert run.trainer.outputs_probability


def test_a_sigmoid_d_trains_as_its_logit_d_does():
    """Stripping the sigmoid is exact: the same networks with and without it train to the same weights."""
    config = gankit.TrainConfig(**TINY)
    data = gankit.data.load_dataset(config)
    with_sigmoid = gankit.run.Trainer(config, data, generator=lab_networks()[0], discriminator=lab_networks()[1])
    G, D = lab_networks(sigmoid=False)
    logits = gankit.run.Trainer(config, data, generator=G, discriminator=D)
    for _ in range(15):
        torch.testing.assert_close(with_sigmoid.train_step(), logits.train_step(), rtol=0, atol=0)
    for a, b in zip(with_sigmoid.D.parameters(), logits.D.parameters()):
        assert torch.equal(a, b)


class _FlatD(nn.Module):
    """A D that returns shape (B,) rather than (B, 1)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


def test_a_d_returning_b_or_b_by_1_trains_the_same():
    config = gankit.TrainConfig(**TINY)
    data = gankit.data.load_dataset(config)
    flat = _FlatD()
    column = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    column.load_state_dict(flat.net.state_dict())
    a = gankit.run.Trainer(config, data, generator=lab_networks()[0], discriminator=flat)
    b = gankit.run.Trainer(config, data, generator=lab_networks()[0], discriminator=column)
    for _ in range(5):
        torch.testing.assert_close(a.train_step(), b.train_step(), rtol=0, atol=0)


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, z):
        raise RuntimeError("my bug")


class _NaN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, z):
        return self.layer(z) * float("nan")


@pytest.mark.parametrize(
    "generator, discriminator, message",
    [
        (nn.Sequential(nn.Linear(4, 3)), None, r"generator \(Sequential\) returned shape \(2, 3\).*accepted: \(2, 2\)"),
        (
            None,
            nn.Sequential(nn.Linear(2, 3)),
            r"discriminator \(Sequential\) returned shape \(2, 3\).*\(2,\) or \(2, 1\)",
        ),
        (_Raises(), None, r"generator \(_Raises\) raised RuntimeError\('my bug'\) on z of shape \(2, 4\)"),
        (_NaN(), None, r"generator \(_NaN\) returned NaN or infinite samples"),
        (nn.Sequential(), None, r"generator \(Sequential\) has no trainable parameters"),
        (nn.Sequential(nn.Linear(5, 2)), None, r"generator \(Sequential\) raised RuntimeError"),
    ],
)
def test_misbehaving_networks_are_refused_in_one_line_before_anything_is_written(
    tmp_path, generator, discriminator, message
):
    G, D = lab_networks()
    with pytest.raises(GankitError, match=message) as error:
        gankit.train(
            gankit.TrainConfig(**TINY),
            generator=G if generator is None else generator,
            discriminator=D if discriminator is None else discriminator,
            out=tmp_path / "bad",
            progress=False,
        )
    assert "\n" not in str(error.value) and "accepted" in str(error.value)
    assert not (tmp_path / "bad").exists()


def test_reading_a_run_of_own_networks_needs_modules_of_its_shapes(tmp_path):
    G, D = lab_networks()
    trained = gankit.train(
        gankit.TrainConfig(**TINY), generator=G, discriminator=D, out=tmp_path / "mine", progress=False, figures=False
    )
    with pytest.raises(GankitError, match=r"your own networks \(generator Sequential of 386 parameters.*generator=G"):
        gankit.Run(tmp_path / "mine")
    G2, D2 = lab_networks(width=32)
    with pytest.raises(GankitError, match=r"weight '0.weight' is \(32, 4\) here and \(16, 4\) there.*Sequential"):
        gankit.Run(tmp_path / "mine", generator=G2, discriminator=D2)
    fresh_G, fresh_D = lab_networks(seed=5)
    again = gankit.Run(tmp_path / "mine", generator=fresh_G, discriminator=fresh_D)  # weights come from the checkpoint
    np.testing.assert_array_equal(again.sample(50, seed=3), trained.sample(50, seed=3))
    # the CLI says what to pass
    assert main(["eval", str(tmp_path / "mine")]) == 2


def test_a_run_of_own_networks_resumes_exactly(tmp_path):
    config = gankit.TrainConfig(**TINY)
    G, D = lab_networks()
    gankit.train(config, generator=G, discriminator=D, out=tmp_path / "whole", progress=False, figures=False)
    G, D = lab_networks()
    gankit.train(
        config.replace(steps=20), generator=G, discriminator=D, out=tmp_path / "half", progress=False, figures=False
    )
    with pytest.raises(GankitError, match="your own networks"):
        gankit.resume(tmp_path / "half", steps=40, progress=False)
    G, D = lab_networks(seed=9)  # any weights: the checkpoint's are loaded
    gankit.resume(tmp_path / "half", steps=40, generator=G, discriminator=D, progress=False, figures=False)
    a, b = (load_checkpoint(list_checkpoints(tmp_path / name)[-1]) for name in ("whole", "half"))
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name}"


def test_own_loss_functions_and_an_r1_penalised_loss(tmp_path):
    def d_loss(real, fake):  # on D's outputs: probabilities, since this D ends in a sigmoid
        return -(torch.log(real) + torch.log(1 - fake)).mean()

    def g_loss(fake):
        return -torch.log(fake).mean()

    seen = {}

    class R1(gankit.Loss):
        """The non-saturating loss with an R1 penalty on D's gradient at the real points."""

        def d_loss(self, batch):
            seen["batch"] = batch
            real = batch.real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(batch.discriminator(real).sum(), real, create_graph=True)
            return gankit.LOSSES["nonsaturating"].d_loss(batch) + 5.0 * grad.square().sum(1).mean()

        def g_loss(self, batch):
            return gankit.LOSSES["nonsaturating"].g_loss(batch)

    for name, loss in (("functions", gankit.Loss(discriminator=d_loss, generator=g_loss)), ("r1", R1())):
        G, D = lab_networks()
        run = gankit.train(
            gankit.TrainConfig(**TINY),
            generator=G,
            discriminator=D,
            loss=loss,
            out=tmp_path / name,
            progress=False,
            figures=False,
        )
        assert run.config.loss == "custom" and np.isfinite(run.metrics_summary()["loss_d"])
        assert json.loads((tmp_path / name / "networks.json").read_text())["loss"] in ("Loss", "R1")
    assert seen["batch"].real.shape == (64, 2) and seen["batch"].fake_logits.shape == (64,)
    with pytest.raises(GankitError, match="your own loss"):
        gankit.resume(
            tmp_path / "r1", steps=60, generator=lab_networks()[0], discriminator=lab_networks()[1], progress=False
        )


MODELS_FILE = """
from torch import nn


def make_generator(config):
    return nn.Sequential(nn.Linear(config.latent_dim, 16), nn.ReLU(), nn.Linear(16, 2))


def make_discriminator(config):
    return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())
"""


def test_a_models_file_through_the_cli(tmp_path, capsys):
    (tmp_path / "my_models.py").write_text(MODELS_FILE)
    flags = ["--dataset", "circle", "--latent-dim", "4", "--steps", "20", "--eval-every", "10", "--quiet"]
    assert main(["train", *flags, "--models", str(tmp_path / "my_models.py"), "--out", str(tmp_path / "run")]) == 0
    recorded = json.loads((tmp_path / "run" / "networks.json").read_text())
    assert recorded["models_file"].endswith("my_models.py")
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "run"), "--out", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert "--models FILE (this run used --models" in err and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "sample",
                str(tmp_path / "run"),
                "--models",
                str(tmp_path / "my_models.py"),
                "--out",
                str(tmp_path / "s.npz"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "s.npz")["samples"].shape == (1000, 2)
    assert (
        main(
            [
                "train",
                "--resume",
                str(tmp_path / "run"),
                "--steps",
                "30",
                "--models",
                str(tmp_path / "my_models.py"),
                "--quiet",
            ]
        )
        == 0
    )
    # the same seed gives the same initial weights: the file's networks are built under the run's seed
    assert main(["train", *flags, "--models", str(tmp_path / "my_models.py"), "--out", str(tmp_path / "again")]) == 0
    first = load_checkpoint(tmp_path / "again" / "checkpoints" / "step-00000020.safetensors")
    reference = load_checkpoint(tmp_path / "run" / "checkpoints" / "step-00000020.safetensors")
    assert all(torch.equal(first["G"][k], reference["G"][k]) for k in first["G"])


def test_a_models_file_imports_a_module_beside_it_and_leaves_the_import_path_as_it_was(tmp_path, monkeypatch):
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "gk_test_layers.py").write_text("from torch import nn\nWIDTH = 12\nACTIVATION = nn.Tanh\n")
    (folder / "with_helper.py").write_text(
        "from torch import nn\nfrom gk_test_layers import ACTIVATION, WIDTH\n\n\n"
        "def make_generator(config):\n"
        "    return nn.Sequential(nn.Linear(config.latent_dim, WIDTH), ACTIVATION(), nn.Linear(WIDTH, 2))\n\n\n"
        "def make_discriminator(config):\n"
        "    return nn.Sequential(nn.Linear(2, WIDTH), ACTIVATION(), nn.Linear(WIDTH, 1))\n"
    )
    monkeypatch.delitem(sys.modules, "gk_test_layers", raising=False)
    path = list(sys.path)
    code = gankit.models.user.load_models_file(folder / "with_helper.py")
    monkeypatch.delitem(sys.modules, "gk_test_layers")  # imported from beside the file
    assert sys.path == path
    G, _ = gankit.models.user.build_pair(code.make_generator, code.make_discriminator, gankit.TrainConfig(**TINY))
    assert G[0].out_features == 12 and isinstance(G[1], nn.Tanh)
    (folder / "broken.py").write_text("import gk_no_such_module\n")
    with pytest.raises(GankitError, match="ModuleNotFoundError"):
        gankit.models.user.load_models_file(folder / "broken.py")
    assert sys.path == path


def test_train_help_says_the_models_file_runs_code(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--models FILE" in text and "its code runs" in text
    assert "one of: nonsaturating, minimax, hinge, least_squares" in text  # registered names, from the registry


def test_a_sweep_stacks_own_mlp_networks_and_matches_single_runs(tmp_path):
    def make_g(config):
        return nn.Sequential(nn.Linear(config.latent_dim, 16), nn.ReLU(), nn.Linear(16, 2))

    def make_d(config):
        return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())

    base = gankit.TrainConfig(**{**TINY, "steps": 20, "eval_every": 20})
    result = gankit.sweep(
        base, {}, seeds=2, generator=make_g, discriminator=make_d, out=tmp_path / "sweep", progress=False, figures=False
    )
    for seed in (0, 1):
        config = base.replace(seed=seed)
        G, D = gankit.models.user.build_pair(make_g, make_d, config)
        alone = gankit.train(
            config, generator=G, discriminator=D, out=tmp_path / f"alone{seed}", progress=False, figures=False
        )
        row = next(r for r in result.rows if r["seed"] == seed)
        assert row["w1"] == pytest.approx(alone.metrics_summary()["w1"], rel=1e-3)
        np.testing.assert_allclose(
            result.run("all", seed=seed, generator=G, discriminator=D).sample(100),
            alone.sample(100),
            rtol=1e-4,
            atol=1e-5,
        )
    # its report page: the runs saved no views, so the median run is drawn from its networks, made again
    with pytest.raises(GankitError, match="write_report\\(path, generator=make_g, discriminator=make_d\\)"):
        gankit.write_report(result.path)
    page = gankit.write_report(result.path, generator=make_g, discriminator=make_d).read_text()
    assert page.count('<div class="gk-viewer"') == 1 and "training points" in page


def test_networks_a_stack_cannot_compute_train_one_at_a_time(tmp_path, capsys):
    def make_g(config):
        return nn.Sequential(nn.Linear(config.latent_dim, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))

    def make_d(config):
        return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    base = gankit.TrainConfig(**{**TINY, "steps": 10, "eval_every": 10})
    result = gankit.sweep(
        base, {}, seeds=2, generator=make_g, discriminator=make_d, out=tmp_path / "sweep", progress=False, figures=False
    )
    assert (
        "2 GANs train one at a time, not as a stack: the generator holds a BatchNorm1d layer" in capsys.readouterr().err
    )
    assert len(result.rows) == 2 and all(np.isfinite(r["w1"]) for r in result.rows)
    with pytest.raises(GankitError, match="a function config -> nn.Module"):
        gankit.sweep(
            base, {}, seeds=2, generator=make_g(base), discriminator=make_d(base), out=tmp_path / "x", progress=False
        )
