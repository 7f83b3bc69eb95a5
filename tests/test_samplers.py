"""Samplers of a trained run: rejection by a density ratio follows the target where the ratio is known, the
Jacobian rule drops what G stretches across a gap, and every sampler works on a run (gankit's or the user's)
without changing it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import gankit
from gankit import samplers
from gankit.errors import GankitError
from gankit.metrics.toy import high_quality_ceiling, mode_shape


def _gaussian_proposals(rng: torch.Generator, score):
    def propose(count, labels):
        x = torch.randn(count, 2, generator=rng)
        return x, score(x)

    return propose


def test_rejection_by_a_known_ratio_follows_the_target():
    # proposals N(0, I), target N(0, 0.5^2 I): log ratio -1.5 ||x||^2 up to a constant
    rng = torch.Generator().manual_seed(0)
    propose = _gaussian_proposals(rng, lambda x: -1.5 * x.pow(2).sum(1))
    kept, acceptance, _ = samplers.rejection_sample(propose, samplers.RatioRule, 20_000, rng=rng)
    assert kept.shape == (20_000, 2)
    for coordinate in kept.T:
        assert stats.kstest(coordinate.numpy(), stats.norm(scale=0.5).cdf).pvalue > 1e-3
    # E_p[exp(-1.5 ||x||^2)] = 1/4 in 2-D, over M = the largest ratio seen (close to exp(0))
    assert 0.24 < acceptance < 0.27


def test_rejection_samples_each_class_for_its_label():
    rng = torch.Generator().manual_seed(1)

    def propose(count, labels):
        x = labels.float()[:, None] + 0.01 * torch.randn(count, 1, generator=rng)
        return x, torch.zeros(count)

    labels = torch.tensor([3, 0, 3, 7, 0, 7, 7])
    kept, acceptance, _ = samplers.rejection_sample(propose, samplers.RatioRule, 7, rng=rng, labels=labels, pilot=10)
    assert torch.allclose(kept[:, 0], labels.float(), atol=0.1) and acceptance == 1.0


def test_the_limit_rule_keeps_scores_up_to_a_multiple_of_the_pilots_median():
    rng = torch.Generator().manual_seed(2)
    propose = _gaussian_proposals(rng, lambda x: x.pow(2).sum(1))  # chi-square with 2 degrees: median 2 ln 2
    kept, acceptance, _ = samplers.rejection_sample(propose, lambda: samplers.LimitRule(2.0), 5000, rng=rng)
    assert kept.pow(2).sum(1).max() <= 2.0 * 2 * math.log(2) * 1.05
    assert acceptance == pytest.approx(1 - math.exp(-2 * math.log(2)), abs=0.02)  # P(chi2_2 <= 4 ln 2) = 3/4


def test_a_sampler_that_keeps_almost_nothing_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(samplers, "MAX_PROPOSALS_PER_SAMPLE", 3)
    rng = torch.Generator().manual_seed(3)
    propose = _gaussian_proposals(rng, lambda x: -1e4 * x.pow(2).sum(1))
    with pytest.raises(GankitError, match=r"kept \d+ of [\d,]+ proposals") as error:
        samplers.rejection_sample(propose, samplers.RatioRule, 100, rng=rng, pilot=10, batch_size=50)
    assert "\n" not in str(error.value)


def test_jacobian_norms_estimate_the_frobenius_norm():
    matrix = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    z = torch.randn(4000, 3, generator=torch.Generator().manual_seed(4))
    outputs, norms = samplers.jacobian_norms(lambda v, labels: v @ matrix.T, z, None, torch.Generator().manual_seed(5))
    torch.testing.assert_close(outputs, z @ matrix.T)
    assert norms.pow(2).mean().item() == pytest.approx(float(matrix.pow(2).sum()), rel=0.03)  # ||A||_F^2 = 14


class TwoModes(torch.nn.Module):
    """G(z) = (tanh(10 z_0), 0) in model space: two modes at -1 and 1, and the stretch between them at z_0 = 0."""

    def forward(self, z):
        return torch.stack([torch.tanh(10 * z[:, 0]), torch.zeros(len(z))], dim=1)


def test_the_jacobian_rule_drops_what_g_stretches_between_two_modes():
    rng = torch.Generator().manual_seed(6)
    g = TwoModes()

    def propose(count, labels):
        return samplers.jacobian_norms(lambda v, _: g(v), torch.randn(count, 2, generator=rng), None, rng)

    plain = g(torch.randn(20_000, 2, generator=rng))[:, 0].abs()
    kept, _, _ = samplers.rejection_sample(propose, lambda: samplers.LimitRule(samplers.JACOBIAN_LIMIT), 5000, rng=rng)
    between = lambda x: float((x < 0.9).float().mean())  # noqa: E731
    assert between(plain) > 0.05 and between(kept[:, 0].abs()) < 0.2 * between(plain)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    config = gankit.TrainConfig(dataset="ring", g_hidden=(16, 16), d_hidden=(16, 16), steps=60, eval_every=60)
    return gankit.train(config, tmp_path_factory.mktemp("ring") / "run", progress=False, figures=False, live=False)


@pytest.mark.parametrize("sampler", ["plain", "jacobian", "drs"])
def test_every_sampler_draws_from_a_run_and_leaves_it_as_it_was(ring_run, sampler, monkeypatch):
    monkeypatch.setattr(samplers, "DRS_REFIT_STEPS", 20)
    monkeypatch.setattr(samplers, "REJECTION_PILOT", 2500)
    weights = {k: v.clone() for k, v in ring_run.trainer.D.state_dict().items()}
    first = ring_run.sample(300, seed=3, sampler=sampler)
    assert first.shape == (300, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, ring_run.sample(300, seed=3, sampler=sampler))  # seeded
    for name, value in ring_run.trainer.D.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    drawn = ring_run.draw(300, seed=3, sampler=sampler)
    assert 0 < drawn.acceptance <= 1 and drawn.seconds > 0
    metrics = ring_run.evaluate(sampler=sampler)
    assert {"high_quality", "high_quality_ceiling", "bridges", "tails"} <= set(metrics)
    assert ("acceptance" in metrics) == (sampler != "plain")


def test_the_configs_sampler_is_the_default_and_z_bypasses_it(ring_run, monkeypatch):
    monkeypatch.setattr(samplers, "REJECTION_PILOT", 2500)
    run = gankit.Run(ring_run.path)
    run.config.sampler = "jacobian"
    np.testing.assert_array_equal(run.sample(200, seed=1), ring_run.sample(200, seed=1, sampler="jacobian"))
    z = np.random.default_rng(0).standard_normal((5, run.config.latent_dim))
    np.testing.assert_array_equal(run.sample(5, z=z), ring_run.sample(5, z=z, sampler="plain"))
    with pytest.raises(GankitError, match="sampler='nope' is not valid; accepted: plain, drs, jacobian"):
        run.sample(5, sampler="nope")


def test_mode_shape_of_the_data_itself():
    from gankit.data import DATASETS

    entry = DATASETS["grid"]
    points = entry.make(200_000, random_state=0)
    shape = mode_shape(points, entry.mode_centres(), entry.mode_sigma)
    ceiling = high_quality_ceiling(2)
    assert ceiling == pytest.approx(1 - math.exp(-4.5))
    assert shape["tails"] == pytest.approx(1 - ceiling, abs=0.002) and shape["bridges"] < 1e-4
    assert shape["spread_ratio"] == pytest.approx(1.0, abs=0.01)
    assert all(spread == pytest.approx(1.0, abs=0.03) for spread in shape["mode_spreads"])
    assert high_quality_ceiling(3) < ceiling  # more dimensions: more of a Gaussian's mass beyond 3 sigma


def test_bridges_and_wide_modes_are_told_apart():
    means = np.array([[-1.0, 0.0], [1.0, 0.0]])
    rng = np.random.default_rng(0)
    wide = means[rng.integers(2, size=20_000)] + 0.075 * rng.standard_normal((20_000, 2))  # sigma_G = 1.5 sigma
    bridge = np.stack([rng.uniform(-0.5, 0.5, 1000), np.zeros(1000)], axis=1)  # beyond 6 sigma of both
    shape = mode_shape(np.concatenate([wide, bridge]), means, 0.05)
    assert shape["bridges"] == pytest.approx(1000 / 21_000, abs=0.005)
    # 3 to 6 sigma is 2 to 4 sigma_G: e^-2 - e^-8 of the wide modes' samples
    assert shape["spread_ratio"] == pytest.approx(1.5, rel=0.02)
    assert shape["tails"] == pytest.approx((math.exp(-2) - math.exp(-8)) * 20_000 / 21_000, abs=0.01)


def test_the_command_line_samples_and_evaluates_through_a_sampler(ring_run, tmp_path, capsys, monkeypatch):
    from gankit.cli import main

    monkeypatch.setattr(samplers, "REJECTION_PILOT", 2500)
    out = tmp_path / "kept.npz"
    assert main(["sample", str(ring_run.path), "--n", "50", "--sampler", "jacobian", "--out", str(out)]) == 0
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["samples"], ring_run.sample(50, sampler="jacobian"))
    assert main(["eval", str(ring_run.path), "--sampler", "jacobian", "--json"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"sampler": "jacobian"' in printed and '"acceptance"' in printed
    assert main(["eval", str(ring_run.path), "--sampler", "nope"]) == 2


def test_a_run_sampled_by_its_sampler_shows_it_on_its_page_and_in_its_figures(ring_run, tmp_path, monkeypatch):
    import json
    import shutil

    monkeypatch.setattr(samplers, "REJECTION_PILOT", 2500)
    folder = tmp_path / "run"
    shutil.copytree(ring_run.path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "sampler": "jacobian"}))  # its checkpoints stay its own
    run = gankit.Run(folder)
    assert "sampler" in run.plot(save=False)
    page = gankit.write_report(folder).read_text()
    assert "Sampled by <code>sampler=&#x27;jacobian&#x27;</code>" in page and "of G's samples kept" in page
