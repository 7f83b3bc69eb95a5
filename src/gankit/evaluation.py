"""Evaluating a game's members: which evaluator a config gets, and what samples it is given.

Evaluation draws its own z (EVAL_SEED), never from the training RNG, so evaluating does not change
a run; every member of a stack is scored on the samples `Trainer.samples` would draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gankit.config import TrainConfig
from gankit.data import Dataset
from gankit.threads import policy_threads

EVAL_SEED = 1_000_003
# Generated images per evaluation: as many as the MNIST test set that FD compares with (conditional: 1,000 per digit).
EVAL_SAMPLES = 10_000


def make_evaluator(config: TrainConfig, dataset: Dataset) -> Any:
    """The metrics of a config's data: the classifier metrics for MNIST's images, the random features' FD for your
    own, W1 and friends for points (their reference statistics computed on the thread policy's count for `config`)."""
    with policy_threads(config):
        if config.is_own_images:
            from gankit.metrics.features import FeatureEvaluator

            return FeatureEvaluator(dataset.train)
        if dataset.is_image:
            from gankit.metrics.classifier import ImageEvaluator

            return ImageEvaluator(dataset=config.dataset, data_dir=config.data_dir)
        from gankit.metrics.toy import ToyEvaluator

        return ToyEvaluator(None if config.is_point_file else config.dataset, dataset.fresh, noise=config.noise)


def evaluation_draw(config: TrainConfig, evaluators: Sequence[Any], n_classes: int) -> tuple[int, torch.Tensor | None]:
    """(how many samples an evaluation scores, the labels they are drawn for, balanced over a conditional G's
    `n_classes`, or None), for `evaluators` of `config`'s data."""
    n = EVAL_SAMPLES if config.is_image and not config.is_own_images else max(e.needs for e in evaluators)
    return n, torch.arange(n) % n_classes if n_classes else None


def score(evaluator: Any, samples: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
    """An evaluator's metrics of samples in data units (images with the labels they were drawn for)."""
    if labels is not None or samples.dim() > 2:
        return evaluator.evaluate(samples, labels)
    return evaluator.evaluate(samples.numpy())


def evaluate_members(game: Any, evaluators: Sequence[Any | None]) -> list[dict[str, float] | None]:
    """Each member's metrics (None where its evaluator is None): one draw of G's own samples for all members."""
    live = [e for e in evaluators if e is not None]
    if not live:
        return [None] * len(evaluators)
    n, labels = evaluation_draw(game.configs[0], live, game.n_classes)
    samples = game.samples(n, seed=EVAL_SEED, labels=labels)
    return [None if e is None else score(e, s, labels) for e, s in zip(evaluators, samples)]
