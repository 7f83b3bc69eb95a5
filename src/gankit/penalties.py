"""Penalties on D's input gradients, added to D's loss: one registry of them, and what a game computes.

Each penalty takes D's gradient with respect to its input at some points, per sample, and adds
weight * mean over the batch of its formula:

- `gp`, WGAN-GP's gradient penalty (Gulrajani et al. 2017): lambda * (||grad D(x_hat)|| - 1)^2 at
  x_hat = eps * x + (1 - eps) * G(z), real sample i paired with fake i, one eps ~ U[0, 1] per pair;
- `r1` (Mescheder et al. 2018): gamma / 2 * ||grad D(x)||^2 at the real samples;
- `r2`: gamma / 2 * ||grad D(G(z))||^2 at the fakes (R3GAN pairs it with R1 of the same gamma).

Their weights are the config fields `gp_lambda`, `r1_gamma` and `r2_gamma`; a field left at None takes
the registered loss's own weight (`Loss.penalties`: wasserstein's gp 10, relativistic's r1 and r2), else 0. With
`penalty_every` = k they are computed at every k-th step only, weighted k (StyleGAN2's lazy regularisation).

The code is shape-agnostic: one GAN's (B, ...) batch or a stack's (K, B, ...). D scores each sample of
each member on its own, so the gradient of the summed logits with respect to the inputs holds every
member's every sample's own gradient. The points enter D in float32 and their gradients stay float32
when D's products run under bf16 autocast. eps is drawn from the trainer's own generator (the batch's
`draw_uniform`), after that step's data and z, so that a run stays reproducible and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.linalg import vector_norm

from gankit.losses import DiscriminatorBatch
from gankit.registry import Registry


@dataclass(frozen=True)
class Penalty:
    field: str  # the TrainConfig field that holds its weight
    points: str  # where D's input gradient is taken: real, fake or between (see _points)
    formula: Callable[[torch.Tensor], torch.Tensor]  # gradients (..., n), flattened per sample -> (...) penalties


PENALTIES: Registry[Penalty] = Registry("penalty")
# vector_norm's gradient at a zero gradient is 0, where sqrt(sum of squares) would give NaN.
PENALTIES.add("gp", Penalty("gp_lambda", "between", lambda g: (vector_norm(g, dim=-1) - 1) ** 2))
PENALTIES.add("r1", Penalty("r1_gamma", "real", lambda g: 0.5 * g.square().sum(-1)))
PENALTIES.add("r2", Penalty("r2_gamma", "fake", lambda g: 0.5 * g.square().sum(-1)))


class GradientPenalties:
    """The penalties that the members of a game ask for (one TrainConfig per member: its weights, concrete).

    Called on D's batch, it returns the weighted sum of the penalties, per member ((K,) for a stack,
    a scalar for one GAN), or 0.0 at a step that `penalty_every` skips. False when no member has any,
    so that a game without penalties computes nothing.
    """

    def __init__(self, configs: Sequence[Any], *, stacked: bool, device: torch.device):
        self.every = configs[0].penalty_every
        self.terms: list[tuple[Penalty, float | torch.Tensor]] = []
        for _, penalty in PENALTIES.items():
            values = [getattr(config, penalty.field) * self.every for config in configs]
            if any(values):
                weight = torch.tensor(values, dtype=torch.float32, device=device) if stacked else values[0]
                self.terms.append((penalty, weight))
        self.points = list(dict.fromkeys(penalty.points for penalty, _ in self.terms))
        # The members that draw interpolation weights: those whose own run would (a weight of 0 draws nothing).
        self.draws_uniform = [
            any(getattr(config, penalty.field) for penalty, _ in self.terms if penalty.points == "between")
            for config in configs
        ]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor | float:
        if batch.step % self.every:
            return 0.0
        dim = 1 if batch.stacked else 0  # the samples' dim
        inputs = [_points(kind, batch) for kind in self.points]
        if batch.mixes_batch:  # each set of points in a D call of its own, as D's loss scores them
            gradients = [input_gradient(batch.discriminator, x, labels) for x, labels in inputs]
        else:  # one D call for all of them
            points = torch.cat([x for x, _ in inputs], dim)
            labels = torch.cat([labels for _, labels in inputs]) if inputs[0][1] is not None else None
            sizes = [x.shape[dim] for x, _ in inputs]
            gradients = input_gradient(batch.discriminator, points, labels).split(sizes, dim)
        total: torch.Tensor | float = 0.0
        for penalty, weight in self.terms:
            gradient = gradients[self.points.index(penalty.points)]
            total = total + weight * penalty.formula(gradient.flatten(dim + 1)).mean(-1)
        return total


def _points(kind: str, batch: DiscriminatorBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The points (float32, detached) where a penalty of `kind` takes D's gradient, with their labels."""
    real, fake = batch.real.detach().float(), batch.fake.detach().float()
    if kind == "real":
        return real, batch.real_labels
    if kind == "fake":
        return fake, batch.fake_labels
    eps = batch.draw_uniform()  # (B,) or (K, B): one weight per pair of samples
    eps = eps.reshape(*eps.shape, *[1] * (real.dim() - eps.dim()))
    return eps * real + (1 - eps) * fake, batch.real_labels  # a conditional D judges them with the real labels


def input_gradient(
    discriminator: Callable[..., torch.Tensor], x: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """The gradient of D's logit of each sample with respect to that sample, float32, with its graph (so that
    a penalty of it trains D)."""
    x = x.detach().float().requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(x, labels).sum(), x, create_graph=True)
    return gradient
