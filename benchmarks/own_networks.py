"""The lab's own nn.Sequential G and D (D ending in a sigmoid) against gankit's MLP, trained the same way.

    python -m benchmarks.own_networks [--seeds 8] [--steps 3000]

Both train with gankit's toy defaults on the circle (1,000 points; batch, lr, Adam's betas and the EMA
as docs/guide/training.md), as one sweep each (the lab's networks stack like gankit's), and are scored on
held-out data with the evaluator of `gankit.train` (W1 / floor; docs/guide/metrics.md). Prints each one's mean
W1 / floor [95% t-interval] over the seeds.

Three pairs of networks, each G from a 10-d latent through 3 linear layers (ReLU):
- the lab's: G 128-wide, D = Linear(2, 128), ReLU, Linear(128, 128), ReLU, Linear(128, 1), Sigmoid
  (the networks of the lab's text, as `benchmarks.baselines.lab_circle` writes them);
- a smaller pair: G 64-wide, D = Linear(2, 64), LeakyReLU(0.2), Linear(64, 1), Sigmoid (one hidden layer);
- gankit's MLP at its toy default: G and D 64-wide, two hidden layers each, D's LeakyReLU(0.2), a logit.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from torch import nn

import gankit
from gankit.sweep import mean_interval


def _generator(width: int) -> Callable[[gankit.TrainConfig], nn.Module]:
    def make(config: gankit.TrainConfig) -> nn.Module:
        return nn.Sequential(
            nn.Linear(config.latent_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2)
        )

    return make


def labs_discriminator(config: gankit.TrainConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid())


def small_discriminator(config: gankit.TrainConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1), nn.Sigmoid())


PAIRS = {
    "the lab's nn.Sequential G and D (128)": (_generator(128), labs_discriminator),
    "a smaller pair (64, D of one hidden layer)": (_generator(64), small_discriminator),
    "gankit's MLP (64, 64)": (None, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    base = gankit.TrainConfig(dataset="circle", steps=args.steps, eval_every=args.steps)
    with tempfile.TemporaryDirectory() as folder:
        results = {
            name: gankit.sweep(
                base,
                {},
                seeds=args.seeds,
                out=Path(folder) / str(index),
                generator=generator,
                discriminator=discriminator,
                progress=False,
                figures=False,
                save_runs=False,
            )
            for index, (name, (generator, discriminator)) in enumerate(PAIRS.items())
        }
    print(f"circle, {args.steps} steps, seeds 0..{args.seeds - 1}: held-out W1 / floor, mean [95% t-interval]")
    for name, result in results.items():
        mean, low, high = mean_interval([row["w1_ratio"] for row in result.rows])
        print(f"  {name:<44} {mean:.2f} [{low:.2f}, {high:.2f}]  (training {result.seconds:.0f} s)")


if __name__ == "__main__":
    main()
