"""The latent prior: the Gaussian draws are torch's own, the mixture's components are separated and all used."""

from __future__ import annotations

import pytest
import torch

import gankit
from gankit.errors import GankitError
from gankit.latent import INNER_SHARE, component_radius, draw_latent, mixture_centres


def test_the_gaussian_prior_is_torchs_own_draw():
    config = gankit.TrainConfig(latent_dim=5)
    z = draw_latent(config, 7, torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, torch.randn(7, 5, generator=torch.Generator().manual_seed(3)), rtol=0, atol=0)


@pytest.mark.parametrize("modes, dim", [(8, 2), (25, 2), (10, 10)])
def test_the_mixtures_components_are_separated_and_every_one_is_drawn(modes, dim):
    config = gankit.TrainConfig(dataset="grid", latent="mixture", latent_modes=modes, latent_dim=dim)
    centres, sigma = mixture_centres(modes, dim)
    assert centres.shape == (modes, dim)
    radius = component_radius(dim) * sigma  # the ball holding INNER_SHARE of a component
    assert float(torch.pdist(centres).min()) == pytest.approx(2 * radius)
    z = draw_latent(config, 20_000, torch.Generator().manual_seed(0))
    distances = torch.cdist(z, centres)
    nearest = distances.argmin(1)
    assert torch.bincount(nearest, minlength=modes).min() > 20_000 / modes / 2  # every component, about evenly
    # the draws of a component stay in its ball, which no other component's ball overlaps
    assert (distances.min(1).values <= radius).float().mean() == pytest.approx(INNER_SHARE, abs=0.001)
    torch.testing.assert_close(mixture_centres(modes, dim)[0], centres)  # a function of (K, dim) alone


def test_a_mixture_latent_run_samples_from_its_components(tmp_path):
    config = gankit.TrainConfig(
        dataset="ring", latent="mixture", latent_modes=8, latent_dim=2, g_hidden=(8, 8), d_hidden=(8, 8), steps=20
    )
    run = gankit.train(config, tmp_path / "run", progress=False, figures=False, live=False)
    again = gankit.Run(run.path)
    assert again.config.latent == "mixture"
    assert (again.sample(50, seed=2) == run.sample(50, seed=2)).all()


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(latent="uniform"), "latent='uniform' is not valid; accepted: gaussian, mixture"),
        (dict(latent_modes=0), "latent_modes=0 is not valid; accepted: a positive integer"),
    ],
)
def test_a_bad_latent_is_one_line(fields, message):
    with pytest.raises(GankitError, match=message):
        gankit.TrainConfig(**fields)
