"""Networks: forward passes only. `build_models` picks the pair a config asks for."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from gankit.config import TrainConfig
from gankit.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["MLPDiscriminator", "MLPGenerator", "build_models"]


def build_models(config: TrainConfig, data_shape: Sequence[int], n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) for `config`; `n_classes` > 0 makes both conditional. Initial weights come from torch's global RNG."""
    n_classes = n_classes if config.conditional else 0
    if config.model == "dcgan":
        from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator

        return (
            DCGANGenerator(config.latent_dim, n_classes=n_classes, hidden=config.g_hidden),
            DCGANDiscriminator(n_classes=n_classes, hidden=config.d_hidden),
        )
    generator = MLPGenerator(
        config.latent_dim,
        data_shape,
        config.g_hidden,
        n_classes=n_classes,
        tanh_output=config.is_image,
        batch_norm=config.is_image,
    )
    discriminator = MLPDiscriminator(data_shape, config.d_hidden, n_classes=n_classes)
    return generator, discriminator
