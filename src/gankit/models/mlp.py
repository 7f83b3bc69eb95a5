"""Fully connected generator and discriminator, for toy points and flattened images."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def _mlp(
    widths: Sequence[int], activation: type[nn.Module], *, batch_norm: bool = False, **activation_args
) -> nn.Sequential:
    """Linear layers between consecutive widths, with the activation between them (not after the last).

    `batch_norm` puts a BatchNorm1d before each of those activations (after every linear layer but the last).
    """
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(itertools.pairwise(widths)):
        if index:
            if batch_norm:
                layers.append(nn.BatchNorm1d(width_in))
            layers.append(activation(**activation_args))
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, latent_dim) [+ one-hot label] -> linear layers -> points of `data_shape`.

    With the default two hidden widths that is the lab's three linear layers. `tanh_output`
    bounds the output to [-1, 1] for images scaled to that range; toy points stay linear.
    `batch_norm` normalises every hidden layer (BatchNorm1d before the ReLU), as image models get:
    without it the MNIST generator settles on one grey average digit (Frechet distance ~950 after
    4,500 steps, against ~310 with it after 3,000), while toy models train well without it.
    """

    keeps_contract = True  # called by the trainer as it is (see gankit.models.user)

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (64, 64),
        *,
        n_classes: int = 0,
        tanh_output: bool = False,
        batch_norm: bool = False,
    ):
        super().__init__()
        self.latent_dim, self.n_classes, self.data_shape = latent_dim, n_classes, tuple(data_shape)
        data_dim = int(torch.Size(self.data_shape).numel())
        self.net = _mlp([latent_dim + n_classes, *hidden, data_dim], nn.ReLU, batch_norm=batch_norm)
        self.tanh_output = tanh_output

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        x = self.net(z)
        if self.tanh_output:
            x = torch.tanh(x)
        return x.view(len(z), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """points (B, *data_shape) [+ label (B,)] -> linear layers -> one logit per point, shape (B,).

    LeakyReLU keeps gradients flowing for points D rejects; the output is a logit, so
    P(real) = sigmoid(logit) and the losses stay numerically stable.

    A conditional D is a projection discriminator (Miyato & Koyama 2018, as BigGAN and StudioGAN
    condition D): logit = out(h) + <E one_hot(y), h>, with h the last hidden layer and E a learned
    embedding of the label (a row of E per class). A one-hot label appended to the 784 pixels is a weak
    signal among them: the digits follow their labels far later (docs/guide/mnist.md).
    """

    keeps_contract = True  # called by the trainer as it is (see gankit.models.user)

    def __init__(self, data_shape: Sequence[int], hidden: Sequence[int] = (64, 64), *, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        data_dim = int(torch.Size(tuple(data_shape)).numel())
        self.net = _mlp([data_dim, *hidden, 1], nn.LeakyReLU, negative_slope=0.2)
        if n_classes:
            self.label_embedding = nn.Embedding(n_classes, self.net[-1].in_features)  # one row per class, as wide as h
            # small, as the output layer's weights: at N(0, 1) the label term alone would decide D's first verdicts
            nn.init.normal_(self.label_embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        *body, head = self.net  # not self.net[:-1]: a slice builds a new Sequential on every call
        features = x.reshape(len(x), -1)
        for layer in body:
            features = layer(features)
        logits = head(features).squeeze(1)
        if self.n_classes:
            logits = logits + (self.label_embedding(labels) * features).sum(1)
        return logits
