"""Normalisation of D's layers (`d_norm`): none, or spectral normalisation (Miyato et al. 2018).

Spectral normalisation divides each weight W of D's linear and convolution layers by an estimate of its
largest singular value, sigma = u . (W v), so that every layer, and with 1-Lipschitz activations D
itself, is at most 1-Lipschitz. It is torch's `torch.nn.utils.parametrizations.spectral_norm`: W (out, in)
keeps the trained weight as `parametrizations.weight.original` and the singular vectors as buffers `_u`
(out,) and `_v` (in,); each forward pass in training mode first runs one power iteration
(u <- normalize(W v), v <- normalize(W^T u), in place), and in eval mode none. `stacked_spectral_weight`
is the same computation for a stack's (K, in, out) weights, so that a stack member equals the single run.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm, spectral_norm

from gankit.errors import bad_value
from gankit.step import seeded

D_NORMS = ("none", "spectral")
NORMALISED_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
EPS = 1e-12  # torch's spectral_norm default


def is_spectral(layer: nn.Module) -> bool:
    """Whether a layer's weight is spectrally normalised (torch's parametrization)."""
    return parametrize.is_parametrized(layer, "weight") and any(
        isinstance(p, _SpectralNorm) for p in layer.parametrizations.weight
    )


def trained_weight(layer: nn.Module) -> torch.Tensor:
    """The weight tensor that training updates: the layer's own, or the original under a parametrization."""
    return layer.parametrizations.weight.original if parametrize.is_parametrized(layer, "weight") else layer.weight


def singular_vectors(layer: nn.Module) -> _SpectralNorm:
    """The spectral_norm parametrization of a layer, which holds its `_u` and `_v` buffers."""
    return next(p for p in layer.parametrizations.weight if isinstance(p, _SpectralNorm))


def normalise_discriminator(module: nn.Module, d_norm: str, *, seed: int) -> nn.Module:
    """`module` with `d_norm` applied to its linear and convolution layers, in place (layers that already have
    spectral normalisation keep it). The power iteration's random start vectors are drawn under `seed`, leaving
    the caller's RNG as it was, so the same seed gives the same D."""
    if d_norm not in D_NORMS:
        raise bad_value("d_norm", d_norm, D_NORMS)
    if d_norm == "none":
        return module
    layers = [layer for layer in module.modules() if isinstance(layer, NORMALISED_LAYERS)]
    if not layers:
        raise bad_value(
            "d_norm",
            d_norm,
            f"none for a discriminator without linear or convolution layers ({type(module).__name__} has none)",
        )

    def apply() -> nn.Module:
        for layer in layers:
            if not is_spectral(layer):
                spectral_norm(layer, eps=EPS)
        return module

    return seeded(seed, apply)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    """F.normalize(x, dim=-1, eps=EPS): x / max(||x||, eps)."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(EPS)


def stacked_spectral_weight(weight: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """K stacked Linear weights (K, in, out), each divided by its spectral norm as torch's spectral_norm
    does in training mode for the weight (out, in): one power iteration updates u (K, out) and v (K, in)
    in place, then sigma = u . (W v) with copies of them (the graph keeps the copies)."""
    with torch.no_grad():
        u.copy_(_normalize(torch.bmm(v[:, None], weight)[:, 0]))  # W v
        v.copy_(_normalize(torch.bmm(weight, u[:, :, None])[:, :, 0]))  # W^T u
    sigma = (u.clone() * torch.bmm(v.clone()[:, None], weight)[:, 0]).sum(-1)
    return weight / sigma[:, None, None]
