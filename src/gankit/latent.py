"""What z is drawn from: the prior that G maps onto the data (`TrainConfig.latent`).

- `gaussian`: z ~ N(0, I).
- `mixture`: a disconnected latent, z ~ (1/K) sum_k N(c_k, s^2 I) with K = `latent_modes` fixed centres (the
  idea of DeLiGAN, Gurumurthy et al., CVPR 2017, with the centres fixed rather than learned). A G continuous in a
  Gaussian z must carry mass across the gaps between the modes it covers; with gaps in z itself, G can put each
  component on a mode and never sample the space between. The centres are a farthest-point choice among
  draws of N(0, I) (the same for every run of a given K and dimension), and s such that the balls holding
  99.9% of each component (radius `component_radius(dim)` * s) do not touch.

Every z that training, evaluation, sampling and the views draw comes from `draw_latent`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from gankit.registry import Registry

CENTRE_SEED = 1_000_033  # the mixture's centres: a function of (K, dim) only
CENTRE_POOL = 64  # candidate centres per centre, farthest-point chosen
INNER_SHARE = 0.999  # of each component's draws inside its ball: the balls of the closest two centres touch

Prior = Callable[[Any, int, torch.Generator, torch.device | str], torch.Tensor]


def _gaussian(config: Any, size: int, generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    return torch.randn(size, config.latent_dim, generator=generator, device=device)


def component_radius(dim: int) -> float:
    """The radius, in component sigmas, of the ball holding INNER_SHARE of a dim-dimensional Gaussian."""
    from scipy.stats import chi2

    return float(chi2.ppf(INNER_SHARE, dim)) ** 0.5


@functools.cache
def mixture_centres(modes: int, dim: int) -> tuple[torch.Tensor, float]:
    """(centres (modes, dim), the components' sigma) of the mixture latent."""
    pool = torch.randn(CENTRE_POOL * modes, dim, generator=torch.Generator().manual_seed(CENTRE_SEED))
    chosen = [0]
    nearest = (pool - pool[0]).norm(dim=1)
    for _ in range(modes - 1):
        chosen.append(int(nearest.argmax()))
        nearest = torch.minimum(nearest, (pool - pool[chosen[-1]]).norm(dim=1))
    centres = pool[chosen]
    if modes == 1:
        return centres, 1.0
    return centres, float(torch.pdist(centres).min()) / (2 * component_radius(dim))


def _mixture(config: Any, size: int, generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    centres, sigma = mixture_centres(config.latent_modes, config.latent_dim)
    component = torch.randint(len(centres), (size,), generator=generator, device=device)
    return centres.to(device)[component] + sigma * torch.randn(
        size, config.latent_dim, generator=generator, device=device
    )


LATENTS: Registry[Prior] = Registry("latent")
LATENTS.add("gaussian", _gaussian)
LATENTS.add("mixture", _mixture)


def draw_latent(config: Any, size: int, generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """`size` latent points (size, latent_dim) from `config.latent`'s prior, drawn with `generator`."""
    return LATENTS[config.latent](config, size, generator, device)
