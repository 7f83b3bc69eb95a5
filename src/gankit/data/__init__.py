"""Datasets: the registry of named data sets, and the tensors the trainer draws batches from.

Toy points are standardised per coordinate (mean 0, std 1) before training, because a
network with default initialisation outputs values near 0 and the swiss roll spans about
[-10, 15]; `Dataset.to_data_space` maps generated points back to the data's own units.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from gankit.data import mnist
from gankit.data.images import is_image_archive, is_image_folder, load_images
from gankit.data.toy import (
    GRID_SIGMA,
    RING_SIGMA,
    check_points,
    grid_means,
    load_points,
    make_circle,
    make_grid,
    make_moons,
    make_ring,
    make_swiss_roll,
    ring_means,
)
from gankit.errors import bad_value
from gankit.registry import Registry
from gankit.resources import require


class DataConfig(Protocol):
    """What `load_dataset` reads of a config (a `gankit.TrainConfig`)."""

    dataset: str
    n_samples: int | None
    noise: float | None
    seed: int
    data_dir: str | None
    image_size: int | None
    conditional: bool
    is_image: bool
    is_own_images: bool
    is_point_file: bool


__all__ = [
    "DATASETS",
    "POINT_FILE_SUFFIXES",
    "Dataset",
    "DatasetEntry",
    "grid_means",
    "is_image_dataset",
    "is_own_images",
    "is_point_file",
    "load_dataset",
    "load_points",
    "make_circle",
    "make_grid",
    "make_moons",
    "make_ring",
    "make_swiss_roll",
    "ring_means",
]

POINT_FILE_SUFFIXES = (".csv", ".npy")


@dataclass(frozen=True)
class DatasetEntry:
    """A named data set: `toy` (a generator of points) or `image` (MNIST's IDX files: 28x28 with labels)."""

    kind: str
    make: Callable[..., np.ndarray] | None = None  # toy: (n_samples, *, noise, random_state) -> (n, dim) float32
    train_size: int | None = None  # toy: the default training-set size
    mode_centres: Callable[[], np.ndarray] | None = None  # mixture benchmarks: where the modes are ...
    mode_sigma: float | None = None  # ... and their default standard deviation
    unit_circle: bool = False  # points lie on the unit circle (metrics report the radial error)


DATASETS: Registry[DatasetEntry] = Registry("dataset")
# The lab's sizes, except the circle: a G trained on the lab's 100 points learns those points and stalls
# further from the circle than one trained on more (docs/guide/data.md). `--n-samples 100` gives the lab's.
DATASETS.add("circle", DatasetEntry("toy", make_circle, 1000, unit_circle=True))
DATASETS.add("moons", DatasetEntry("toy", make_moons, 1000))
DATASETS.add("swiss_roll", DatasetEntry("toy", make_swiss_roll, 2000))
DATASETS.add("ring", DatasetEntry("toy", make_ring, 10000, ring_means, RING_SIGMA))
DATASETS.add("grid", DatasetEntry("toy", make_grid, 10000, grid_means, GRID_SIGMA))
for _name in mnist.DATASETS:
    DATASETS.add(_name, DatasetEntry("image"))


def is_point_file(name: str) -> bool:
    """Whether a dataset name is a path to a file of points (.csv or .npy)."""
    return name.lower().endswith(POINT_FILE_SUFFIXES)


def is_own_images(name: str) -> bool:
    """Whether a dataset name is a path to the user's own images: an .npz, or a folder (gankit.data.images)."""
    return name not in DATASETS and (is_image_archive(name) or (not is_point_file(name) and is_image_folder(name)))


def is_image_dataset(name: str) -> bool:
    """Whether a dataset name gives images (a registered image set or the user's own) rather than points."""
    return (name in DATASETS and DATASETS[name].kind == "image") or is_own_images(name)


@dataclass
class Dataset:
    """A training set as the trainer draws from it, and how to map its samples back to the data's units."""

    name: str
    train: torch.Tensor  # (N, *shape) float32, standardised (toy) or (N, C, H, W) in [-1, 1] (images)
    labels: torch.Tensor | None  # (N,) int64 class indices, images only
    n_classes: int
    mean: torch.Tensor  # per-coordinate shift and scale undone by to_data_space (0 and 1 for images)
    std: torch.Tensor
    fresh: Callable[[int, int], np.ndarray] | None  # (n, seed) -> new real points in data units; toy only
    classes: tuple[str, ...] = ()  # the classes' names, in label order; () with n_classes: their numbers

    def __post_init__(self) -> None:
        if self.n_classes and not self.classes:
            self.classes = tuple(str(k) for k in range(self.n_classes))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.train.dim() == 4

    def fingerprint(self) -> str:
        """A hash of the training data (points or images and labels): a checkpoint records it, so a run
        does not silently resume on data that changed."""
        digest = hashlib.blake2b(digest_size=16)
        for tensor in (self.train, self.labels):
            if tensor is not None:
                digest.update(str(tuple(tensor.shape)).encode())
                digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()

    def to_data_space(self, x: torch.Tensor) -> torch.Tensor:
        """Model-space samples (standardised) in the data's own units."""
        return x * self.std + self.mean

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        """Samples in the data's units, standardised as the networks see them."""
        return (x - self.mean) / self.std


def _check_size(config: DataConfig, available: int, what: str) -> None:
    if config.n_samples > available:
        raise bad_value("n_samples", config.n_samples, f"at most the {available} {what} of {config.dataset!r}")


def _own_images(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...]]:
    """The user's images (N, C, H, W) in [-1, 1], their labels and class names; GankitError where a conditional
    GAN is asked of images without labels."""
    images = load_images(config.dataset, config.image_size)
    if config.conditional and images.labels is None:
        raise bad_value(
            "conditional",
            True,
            f"False for dataset {config.dataset!r}, which has no labels (labels: one sub-folder per class, or "
            "`labels` in the .npz)",
        )
    pixels = torch.from_numpy(images.pixels).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()
    labels = None if images.labels is None else torch.from_numpy(images.labels)
    return pixels, labels, images.classes


def load_dataset(config: DataConfig) -> Dataset:
    """The training data a config names; toy sets are drawn with `config.seed`."""
    if config.is_image:
        if config.is_own_images:
            images, labels, classes = _own_images(config)
        else:
            images, labels = mnist.load_mnist("train", dataset=config.dataset, data_dir=config.data_dir)
            classes = mnist.CLASSES[config.dataset]
        if config.n_samples is not None:  # the first n training images (views: the cached tensors stay whole)
            _check_size(config, len(images), "images")
            images = images[: config.n_samples]
            labels = None if labels is None else labels[: config.n_samples]
        zero, one = torch.zeros(()), torch.ones(())
        return Dataset(config.dataset, images, labels, len(classes), zero, one, None, classes)
    if config.is_point_file:
        points = load_points(config.dataset)
        if config.n_samples is not None:  # the first n points of the file
            _check_size(config, len(points), "points")
            points = points[: config.n_samples]

        def fresh(n: int, seed: int) -> np.ndarray:
            # A file is all the data there is: "fresh" samples are a seeded draw from it.
            index = np.random.default_rng(seed).choice(len(points), size=n, replace=n > len(points))
            return points[index]
    else:
        generator = DATASETS[config.dataset].make
        noise = {} if config.noise is None else {"noise": config.noise}  # None: the generator's own default

        def fresh(n: int, seed: int) -> np.ndarray:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflowing noise is refused in one line below
                return generator(n, **noise, random_state=seed)

        dim = fresh(2, 0).shape[1]
        # drawn in float64, then float32, standardised: about four copies at once
        require(
            f"a training set of n_samples={config.n_samples:,}", 4 * 8 * config.n_samples * dim, "a smaller n_samples"
        )
        points = fresh(config.n_samples, config.seed)
        points = check_points(points, f"dataset {config.dataset!r} (noise={config.noise})")

    train = torch.from_numpy(points)
    # A coordinate that never varies keeps its scale (1); any other is standardised, however small its scale.
    mean, std = train.mean(0), train.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return Dataset(config.dataset, (train - mean) / std, None, 0, mean, std, fresh)
