"""Metrics of your own images without a download: a Fréchet distance in the features of a fixed random network.

There is no classifier for images gankit has never seen, and Inception's weights would be a download (and were
trained on photographs of another size). The features here are those of a small convolutional network whose
weights are drawn from a fixed seed (He-scaled normal, numpy's generator, so the same on every machine and torch
version): three 3x3 convolutions of stride 2 with ReLUs, each layer's channels averaged over the image and
concatenated. Random convolutional features see colour, contrast, edges and textures at three scales; they do not
see what a trained network would (whether a face has two eyes): a G can come close to the floor and still draw
things no one would take for the data. Use the number to compare runs on the same data and image size, never
across data sets, and never as an FID.

The reference is a fixed seeded half of the training images (at most MAX_REFERENCE); the floor `fd_random_floor` is
the FD between that reference and as many other training images: what a sample of real images scores. A G that
copies its training images reaches the floor too.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from gankit.errors import bad_value
from gankit.metrics.classifier import _psd_sqrt, feature_statistics, frechet_distance_from_statistics
from gankit.threads import follows_policy

FEATURE_SEED = 0  # the random network's weights
REFERENCE_SEED = 0  # which training images are the reference and which the floor's sample
WIDTHS = (32, 64, 128)
MAX_REFERENCE = 5000


class RandomFeatures:
    """images (N, C, H, W) in [-1, 1] -> features (N, sum(WIDTHS)), float64."""

    def __init__(self, channels: int) -> None:
        rng = np.random.default_rng(FEATURE_SEED)
        self.weights, fan_in = [], channels
        for width in WIDTHS:
            scale = np.sqrt(2.0 / (fan_in * 9))
            self.weights.append(torch.from_numpy(rng.normal(0.0, scale, (width, fan_in, 3, 3)).astype(np.float32)))
            fan_in = width

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, *, batch_size: int = 500) -> np.ndarray:
        features = []
        for start in range(0, len(images), batch_size):
            h, pooled = images[start : start + batch_size].float(), []
            for weight in self.weights:
                h = F.relu(F.conv2d(h, weight, stride=2, padding=1))
                pooled.append(h.mean(dim=(2, 3)))
            features.append(torch.cat(pooled, dim=1))
        return torch.cat(features).double().numpy()


class FeatureEvaluator:
    """Scores generated images against a reference half of the training images `train` (N, C, H, W) in [-1, 1],
    N >= 4: `evaluate(images, labels=None)` gives {"fd_random", "fd_random_floor"}. `needs`: how many generated
    images an evaluation scores (as many as the reference: FD depends on the sample size)."""

    @follows_policy
    def __init__(self, train: torch.Tensor) -> None:
        if len(train) < 4:
            raise bad_value("training images", len(train), "at least 4 (a reference and a floor of 2 each)")
        self.needs = min(len(train) // 2, MAX_REFERENCE)
        order = torch.from_numpy(np.random.default_rng(REFERENCE_SEED).permutation(len(train)))
        self.features = RandomFeatures(train.shape[1])
        reference = self.features(train[order[: self.needs]])
        self.mu, self.cov = feature_statistics(reference)
        self._sqrt_cov = _psd_sqrt(self.cov)
        self.floor = self._distance(self.features(train[order[self.needs : 2 * self.needs]]))
        self.shape = tuple(train.shape[1:])

    def _distance(self, features: np.ndarray) -> float:
        if not np.isfinite(features).all():
            return float("nan")
        mu, cov = feature_statistics(features)
        return frechet_distance_from_statistics(self.mu, self.cov, mu, cov, sqrt_cov_a=self._sqrt_cov)

    @follows_policy
    def evaluate(self, images, labels=None) -> dict[str, float]:
        """Metrics of generated `images` (N >= 2, in [-1, 1], shape (N, *shape of the training images));
        `labels` (a conditional G's) are not used: no network here knows the classes."""
        images = torch.as_tensor(images)
        if images.dim() != 4 or tuple(images.shape[1:]) != self.shape or len(images) < 2:
            raise bad_value("images.shape", tuple(images.shape), f"(N, {', '.join(map(str, self.shape))}), N >= 2")
        return {"fd_random": self._distance(self.features(images)), "fd_random_floor": self.floor}
