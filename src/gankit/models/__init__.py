"""Networks: forward passes only. `MODELS` names gankit's own pairs; `build_models` makes the pair a config asks for.

Adding a model is one file (its G and D) and one entry here. Your own networks need no entry: pass
them to `gankit.train(..., generator=G, discriminator=D)` (see `gankit.models.user`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from gankit.errors import bad_value
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.registry import Registry
from gankit.resources import require


class ModelConfig(Protocol):
    """What building gankit's networks reads of a config (a `gankit.TrainConfig`)."""

    model: str
    latent_dim: int
    g_hidden: tuple[int, ...]
    d_hidden: tuple[int, ...]
    conditional: bool
    is_image: bool


__all__ = ["MODELS", "MLPDiscriminator", "MLPGenerator", "ModelEntry", "build_models"]

Widths = tuple[int, ...]


@dataclass(frozen=True)
class ModelEntry:
    """How to build a model's G and D, and the hidden widths it gets when a config leaves them at None."""

    build: Callable[[ModelConfig, Sequence[int], int], tuple[nn.Module, nn.Module]]
    toy_hidden: tuple[Widths, Widths] | None  # (G, D) widths for toy data; None: the model needs image data
    image_hidden: tuple[Widths, Widths]

    @property
    def needs_images(self) -> bool:
        return self.toy_hidden is None


def _build_mlp(config: ModelConfig, data_shape: Sequence[int], n_classes: int) -> tuple[nn.Module, nn.Module]:
    image = config.is_image
    generator = MLPGenerator(
        config.latent_dim, data_shape, config.g_hidden, n_classes=n_classes, tanh_output=image, batch_norm=image
    )
    return generator, MLPDiscriminator(data_shape, config.d_hidden, n_classes=n_classes)


def _build_dcgan(config: ModelConfig, data_shape: Sequence[int], n_classes: int) -> tuple[nn.Module, nn.Module]:
    from gankit.models.dcgan import STRIDE, DCGANDiscriminator, DCGANGenerator

    if len(data_shape) != 3 or data_shape[1] % STRIDE or data_shape[2] % STRIDE:
        raise bad_value(
            "model",
            "dcgan",
            f"mlp for images of shape {tuple(data_shape)} (dcgan needs sides that are multiples of {STRIDE}: "
            "image_size=N resizes your own images to N x N)",
        )
    return (
        DCGANGenerator(config.latent_dim, image_shape=data_shape, n_classes=n_classes, hidden=config.g_hidden),
        DCGANDiscriminator(image_shape=data_shape, n_classes=n_classes, hidden=config.d_hidden),
    )


MODELS: Registry[ModelEntry] = Registry(
    "model", custom="your own networks: gankit.train(..., generator=G, discriminator=D), or --models FILE"
)
# Toy: two hidden layers, the lab's three linear layers, narrow because wider ones cost more per step and reach
# each quality later (docs/benchmarks.md). MNIST MLP: the widths of the common MNIST GAN. DCGAN: one
# fully connected layer of 512 on each side (see models/dcgan.py).
MODELS.add("mlp", ModelEntry(_build_mlp, toy_hidden=((64, 64), (64, 64)), image_hidden=((256, 512, 1024), (512, 256))))
MODELS.add("dcgan", ModelEntry(_build_dcgan, toy_hidden=None, image_hidden=((512,), (512,))))


def build_models(config: ModelConfig, data_shape: Sequence[int], n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) for `config`; `n_classes` > 0 makes both conditional. Initial weights come from torch's global RNG.

    The pair is first built on the meta device (shapes, no memory) to refuse, in one line, networks
    that could not be held with their gradients and both Adams' moments."""
    build = MODELS[config.model].build
    n_classes = n_classes if config.conditional else 0
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        shapes = build(config, data_shape, n_classes)
    weights = sum(p.numel() for module in shapes for p in module.parameters())
    # weights, gradients, two Adam moments and G's moving average: five float32 copies at most
    require(f"networks of {weights:,} weights", 5 * 4 * weights, "smaller latent_dim, g_hidden or d_hidden")
    return build(config, data_shape, n_classes)
