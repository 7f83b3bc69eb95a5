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
    """The metrics of a config's data: the classifier metrics for images, W1 and friends for points
    (their reference statistics computed on the thread policy's count for `config`)."""
    with policy_threads(config):
        if dataset.is_image:
            from gankit.metrics.classifier import ImageEvaluator

            return ImageEvaluator(dataset=config.dataset, data_dir=config.data_dir)
        from gankit.metrics.toy import ToyEvaluator

        return ToyEvaluator(None if config.is_point_file else config.dataset, dataset.fresh, noise=config.noise)


def evaluate_members(game: Any, evaluators: Sequence[Any | None]) -> list[dict[str, float] | None]:
    """Each member's metrics (None where its evaluator is None): one draw of samples for all members."""
    live = [e for e in evaluators if e is not None]
    if not live:
        return [None] * len(evaluators)
    config = game.configs[0]
    if config.is_image:
        n = EVAL_SAMPLES
        labels = torch.arange(n) % 10 if config.conditional else None
        samples = game.samples(n, seed=EVAL_SEED, labels=labels)
        return [None if e is None else e.evaluate(s, labels) for e, s in zip(evaluators, samples)]
    samples = game.samples(max(e.needs for e in live), seed=EVAL_SEED)
    return [None if e is None else e.evaluate(s.numpy()) for e, s in zip(evaluators, samples)]
