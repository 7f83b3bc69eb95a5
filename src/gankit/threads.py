"""How many torch CPU threads a training uses, chosen in one place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from gankit.config import TrainConfig


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def training_threads(config: TrainConfig, members: int = 1) -> int:
    """`config.threads`, else: one thread for a single toy GAN (its matrices are too small for more to pay:
    less synchronisation than work) and every usable core for image models and for stacks of two or
    more toy GANs (64 GANs: 1.4x faster on two cores than on one at width 32, 1.7x at width 128)."""
    if config.threads:
        return config.threads
    return usable_cores() if config.is_image or members > 1 else 1


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` torch threads, then restore the caller's count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
