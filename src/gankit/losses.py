"""GAN losses as pure functions of D's logits (P(real) = sigmoid(logit)).

Written with softplus instead of log(sigmoid) so that confident logits never give log(0):
log D(x) = -softplus(-l) and log(1 - D(x)) = -softplus(l).
Each returns the mean over the batch, as a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.nn.functional import relu, softplus

from gankit.errors import bad_value


def d_loss_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's side of the minimax game: minimise -[log D(x) + log(1 - D(G(z)))]."""
    return softplus(-real_logits).mean() + softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The saturating G loss of the original game: minimise log(1 - D(G(z))).

    Its gradient vanishes when D confidently rejects the fakes, early in training.
    """
    return -softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The usual fix (Goodfellow et al. 2014): minimise -log D(G(z)); same fixed point, strong early gradients."""
    return softplus(-fake_logits).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss (SAGAN, BigGAN): mean(relu(1 - l_real)) + mean(relu(1 + l_fake))."""
    return relu(1 - real_logits).mean() + relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def d_loss_least_squares(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN (Mao et al. 2017) with targets 1 for real and 0 for fake: ((l_real - 1)^2 + l_fake^2) / 2."""
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def g_loss_least_squares(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake_logits - 1) ** 2).mean()


class GANLoss(NamedTuple):
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]


LOSSES: dict[str, GANLoss] = {
    "nonsaturating": GANLoss(d_loss_logistic, g_loss_nonsaturating),
    "minimax": GANLoss(d_loss_logistic, g_loss_minimax),
    "hinge": GANLoss(d_loss_hinge, g_loss_hinge),
    "least_squares": GANLoss(d_loss_least_squares, g_loss_least_squares),
}


def get_loss(name: str) -> GANLoss:
    if name not in LOSSES:
        raise bad_value("loss", name, sorted(LOSSES))
    return LOSSES[name]
