"""Spectral normalisation of D: torch's, applied under the run's seed; the stack's power iteration equals it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.models import MLPDiscriminator
from gankit.models.normalization import is_spectral, normalise_discriminator, stacked_spectral_weight
from gankit.models.user import describe


def test_the_stacked_power_iteration_is_torchs_for_each_member():
    layers = [spectral_norm(nn.Linear(5, 3)) for _ in range(4)]
    weights = torch.stack([layer.parametrizations.weight.original.detach().t() for layer in layers])  # (K, in, out)
    u = torch.stack([layer.parametrizations.weight[0]._u for layer in layers])
    v = torch.stack([layer.parametrizations.weight[0]._v for layer in layers])
    for _ in range(3):  # each call is one forward pass in training mode: one power iteration
        stacked = stacked_spectral_weight(weights, u, v)
        for k, layer in enumerate(layers):
            torch.testing.assert_close(stacked[k], layer.weight.t())
            torch.testing.assert_close(u[k], layer.parametrizations.weight[0]._u)
            torch.testing.assert_close(v[k], layer.parametrizations.weight[0]._v)


def test_spectral_norm_divides_each_layer_by_its_largest_singular_value():
    d = normalise_discriminator(MLPDiscriminator((2,), (64, 64)), "spectral", seed=0)
    layers = [layer for layer in d.modules() if isinstance(layer, nn.Linear)]
    assert len(layers) == 3 and all(is_spectral(layer) for layer in layers)
    for _ in range(100):  # training-mode passes: the power iteration converges (slowly when the top two are close)
        d(torch.randn(8, 2))
    for layer in layers:
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2) == pytest.approx(1.0, rel=5e-3)


def test_the_same_seed_gives_the_same_vectors_and_the_global_rng_is_untouched():
    plain = [MLPDiscriminator((2,), (8, 8))]
    plain += [copy.deepcopy(plain[0]) for _ in range(2)]  # one D, three copies

    def vectors(d, seed):
        d = normalise_discriminator(d, "spectral", seed=seed)
        return torch.cat([b for name, b in d.named_buffers() if name.endswith(("_u", "_v"))])

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = vectors(plain[0], 0)
    torch.testing.assert_close(torch.rand(3), expected)
    assert torch.equal(first, vectors(plain[1], 0)) and not torch.equal(first, vectors(plain[2], 1))


def test_normalising_twice_changes_nothing_and_none_is_a_no_op():
    d = normalise_discriminator(MLPDiscriminator((2,), (8, 8)), "spectral", seed=0)
    keys = list(d.state_dict())
    assert list(normalise_discriminator(d, "spectral", seed=0).state_dict()) == keys
    plain = MLPDiscriminator((2,), (8, 8))
    assert normalise_discriminator(plain, "none", seed=0) is plain and not any(map(is_spectral, plain.modules()))


def test_a_network_is_recognised_with_and_without_spectral_norm():
    for d in (
        nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()),
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 1)),
    ):
        before = describe(d)
        assert describe(normalise_discriminator(d, "spectral", seed=0)) == before


def test_spectral_norm_needs_linear_or_convolution_layers():
    class Weighted(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2))

        def forward(self, x):
            return (x * self.w).sum(1)

    with pytest.raises(GankitError, match=r"d_norm='spectral' is not valid; accepted: none for .*Weighted has none"):
        normalise_discriminator(Weighted(), "spectral", seed=0)


def test_a_run_of_own_networks_with_spectral_norm_reads_back(tmp_path):
    def networks():
        g = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
        return g, nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    config = gankit.TrainConfig(dataset="circle", steps=20, eval_every=20, d_norm="spectral")
    g, d = networks()
    run = gankit.train(config, tmp_path / "sn", generator=g, discriminator=d, progress=False, figures=False)
    g2, d2 = networks()
    again = gankit.Run(tmp_path / "sn", generator=g2, discriminator=d2)
    assert again.sample(5).shape == (5, 2)
    for name, value in d.state_dict().items():  # the checkpoint's weights and singular vectors went into d2
        assert torch.equal(d2.state_dict()[name], value), name
    assert run.config.d_norm == "spectral"


def test_cli_sweep_crosses_losses_norms_and_penalty_weights(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--dataset", "ring", "--loss", "nonsaturating,wasserstein", "--d-norm", "none,spectral"]
    argv += ["--r1-gamma", "0.5", "--g-hidden", "16,16", "--d-hidden", "16,16", "--steps", "10", "--eval-every", "10"]
    argv += ["--seeds", "2"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    assert "one at a time" not in capsys.readouterr().err  # every setting trained as a stack
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["grid"] == {"loss": ["nonsaturating", "wasserstein"], "d_norm": ["none", "spectral"]}
    assert len(saved["rows"]) == 8 and all("reverse_kl" in r and "modes" in r for r in saved["rows"])
    for row in saved["rows"]:
        config = json.loads((out / row["run"] / "config.json").read_text())
        assert (config["loss"], config["d_norm"]) == (row["loss"], row["d_norm"])
        assert (config["gp_lambda"], config["r1_gamma"]) == ((10.0 if row["loss"] == "wasserstein" else 0.0), 0.5)
