"""The roofline benchmark's count of a step's multiply-adds is the count torch's FLOP counter sees."""

from __future__ import annotations

import pytest
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.roofline import products
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.trainer import Trainer


@pytest.mark.parametrize(
    "widths", [dict(), dict(g_hidden=(64, 64), d_hidden=(64,), batch_size=100), dict(g_hidden=(8, 16, 4))]
)
def test_counted_multiply_adds_are_those_of_one_training_step(widths):
    config = TrainConfig(dataset="circle", n_samples=256, **widths)
    trainer = Trainer(config, load_dataset(config))
    trainer.train_step()  # the first step creates Adam's state: count a step like every later one
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    counted = sum(count * n * fan_in * fan_out for count, n, fan_in, fan_out in products(trainer))
    assert 2 * counted == counter.get_total_flops()
