"""DCGAN-style convolutional generator and discriminator for images (C, H, W) with H and W multiples of 4
(Radford et al. 2016); MNIST's (1, 28, 28) shown, with h = H / 4, w' = W / 4 in general:

G: z [+ one-hot label] -> [linear -> BN, ReLU] per `hidden` width -> linear -> (2w, 7, 7) -> BN, ReLU
   -> ConvTranspose2d 4x4 stride 2 -> (w, 14, 14) -> BN, ReLU
   -> ConvTranspose2d 4x4 stride 2 -> (C, 28, 28) -> tanh
D: (C, 28, 28) -> Conv2d 4x4 stride 2 -> (w, 14, 14) -> LeakyReLU(0.2)
   -> Conv2d 4x4 stride 2 -> (2w, 7, 7) -> BN, LeakyReLU(0.2) -> flatten
   -> [linear -> BN, LeakyReLU(0.2)] per `hidden` width -> linear -> one logit

This is the layout of InfoGAN's MNIST networks (Chen et al. 2016), DCGAN's recipe with one fully
connected layer on the 7x7 side of each network. Two up-/down-sampling stages are all
28 = 7 * 2 * 2 needs (hence sides that are multiples of 4). The convolutions are kept narrow
(w = 32) because this package trains on a CPU, where their cost grows with w squared; the global
shape of a digit is left to the fully connected layer, which is cheap there. Without it, at equal
wall time, the strokes were clean but many shapes were not digits, whatever the convolution width,
batch size or learning rate; a layer of 512 did better than one of 1024 in the same time.

As in the DCGAN paper, D has batch norm on every layer but its first, and the trainer scores
the real and the fake batch in separate passes, so each is normalised by its own statistics.
Without it this small D fell to chance (D(x) = D(G(z)) = 0.5) within 1,000 steps and G stalled
(Frechet distance 158 after 1,500 steps, against 127 with it). Every weight starts from
N(0, 0.02), the DCGAN paper's initialisation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 4  # the two stride-2 stages: a side must be a multiple of this


def base_side(side: int) -> int:
    """The side of the 2w-channel map at the fully connected layers (7 for 28); ValueError unless a multiple
    of STRIDE."""
    if side % STRIDE or side < STRIDE:
        raise ValueError(f"a side of {side} pixels is not a multiple of {STRIDE}")
    return side // STRIDE


def _dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02), biases 0; batch-norm scales N(1, 0.02)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) [+ labels (B,)] -> images (B, *image_shape) in [-1, 1].

    A conditional G sees the label as a one-hot vector appended to z, as the MLP generator does.
    """

    keeps_contract = True  # called by the trainer as it is (see gankit.models.user)

    def __init__(
        self,
        latent_dim: int,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        n_classes: int = 0,
        hidden: Sequence[int] = (512,),
        width: int = 32,
    ):
        super().__init__()
        self.latent_dim, self.n_classes, self.width = latent_dim, n_classes, width
        channels, height, breadth = image_shape
        self.base = (base_side(height), base_side(breadth))
        widths = [latent_dim + n_classes, *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [
                nn.Linear(width_in, width_out, bias=False),
                nn.BatchNorm1d(width_out),
                nn.ReLU(),
            ]  # BN follows: no bias
        cells = self.base[0] * self.base[1]
        self.project = nn.Sequential(*layers, nn.Linear(widths[-1], 2 * width * cells, bias=False))
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),  # 14 -> 28
            nn.Tanh(),
        )
        _dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        return self.net(self.project(z).view(len(z), 2 * self.width, *self.base))


class DCGANDiscriminator(nn.Module):
    """images (B, *image_shape) [+ labels (B,)] -> logits (B,).

    A conditional D gets the one-hot label appended to its flattened convolutional features, at the
    input of its fully connected layers: the convolutions stay label-free (no extra input channels to
    convolve) and the fully connected layer judges whether the features fit the label. A projection
    discriminator (Miyato & Koyama 2018; logit + <embed(y), h>), which the conditional MLP D is, made
    this D win at once: D(G(z)) fell towards 0 and G collapsed.
    """

    keeps_contract = True  # called by the trainer as it is (see gankit.models.user)

    def __init__(
        self,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        n_classes: int = 0,
        hidden: Sequence[int] = (512,),
        width: int = 32,
    ):
        super().__init__()
        self.n_classes, self.image_shape = n_classes, tuple(image_shape)
        base = base_side(image_shape[1]) * base_side(image_shape[2])
        self.convolutions = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 4, stride=2, padding=1),  # 28 -> 14
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),  # 14 -> 7
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        widths = [2 * width * base + n_classes, *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out, bias=False), nn.BatchNorm1d(width_out), nn.LeakyReLU(0.2)]
        self.fully_connected = nn.Sequential(*layers, nn.Linear(widths[-1], 1))
        _dcgan_init(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convolutions(x.reshape(len(x), *self.image_shape))
        if self.n_classes:
            h = torch.cat([h, F.one_hot(labels, self.n_classes).to(h.dtype)], dim=1)
        return self.fully_connected(h).squeeze(1)
