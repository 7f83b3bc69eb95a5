"""Datasets: toy point clouds and image sets, turned into the tensors the trainer draws batches from.

Toy points are standardised per coordinate (mean 0, std 1) before training, because a
network with default initialisation outputs values near 0 and the swiss roll spans about
[-10, 15]; `Dataset.to_data_space` maps generated points back to the data's own units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gankit.config import TrainConfig
from gankit.data.toy import (
    grid_means,
    load_points,
    make_circle,
    make_grid,
    make_moons,
    make_ring,
    make_swiss_roll,
    ring_means,
)

__all__ = [
    "TOY_GENERATORS",
    "Dataset",
    "grid_means",
    "load_dataset",
    "load_points",
    "make_circle",
    "make_grid",
    "make_moons",
    "make_ring",
    "make_swiss_roll",
    "ring_means",
]

TOY_GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "circle": make_circle,
    "moons": make_moons,
    "swiss_roll": make_swiss_roll,
    "ring": make_ring,
    "grid": make_grid,
}


@dataclass
class Dataset:
    name: str
    train: torch.Tensor  # (N, *shape) float32, standardised (toy) or in [-1, 1] (images)
    labels: torch.Tensor | None  # (N,) int64 class indices, images only
    n_classes: int
    mean: torch.Tensor  # per-coordinate shift and scale undone by to_data_space (0 and 1 for images)
    std: torch.Tensor
    fresh: Callable[[int, int], np.ndarray] | None  # (n, seed) -> new real points in data units; toy only

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.train.dim() == 4

    def to_data_space(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def load_dataset(config: TrainConfig) -> Dataset:
    """The training data a config names; toy sets are drawn with `config.seed`."""
    if config.is_image:
        from gankit.data.mnist import load_mnist

        images, labels = load_mnist("train", dataset=config.dataset, data_dir=config.data_dir)
        if config.n_samples is not None:  # the first n training images (views: the cached tensors stay whole)
            images, labels = images[: config.n_samples], labels[: config.n_samples]
        zero, one = torch.zeros(()), torch.ones(())
        return Dataset(config.dataset, images, labels, 10, zero, one, None)
    if config.is_point_file:
        points = load_points(config.dataset)

        def fresh(n: int, seed: int) -> np.ndarray:
            # A file is all the data there is: "fresh" samples are a seeded draw from it.
            index = np.random.default_rng(seed).choice(len(points), size=n, replace=n > len(points))
            return points[index]
    else:
        generator = TOY_GENERATORS[config.dataset]
        noise = {} if config.noise is None else {"noise": config.noise}  # None: the generator's own default

        def fresh(n: int, seed: int) -> np.ndarray:
            return generator(n, **noise, random_state=seed)

        points = fresh(config.n_samples, config.seed)

    train = torch.from_numpy(points)
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return Dataset(config.dataset, (train - mean) / std, None, 0, mean, std, fresh)
