"""The lab's own networks and the sheet's loss, trained by gankit's defaults on the toy data sets.

    python -m benchmarks.student_toys [--seeds 5] [--datasets circle,moons,swiss_roll] [--losses sheet,minimax]

The networks are the lab's: G an nn.Sequential of three linear layers (128 wide, ReLU) from a 10-d latent, D an
nn.Sequential of three linear layers (128 wide, ReLU) ending in nn.Sigmoid. The losses: the sheet's, written on D's
probabilities with torch.log (D maximises log D(x) + log(1 - D(G(z))), G minimises log(1 - D(G(z)))), and gankit's
built-in `minimax` (the same game on logits). Each seed trains as `gankit.train` with nothing but the data set and the
seed set, as a student calls it (the seeds as one sweep, whose members equal their own runs). Prints, per data set and loss, each seed's held-out W1 / floor at the end and at its
best evaluation, the median, and how many seeds end within 2x the floor.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from torch import nn

import gankit


def lab_generator(latent_dim: int, dim: int, width: int = 128) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, dim)
    )


def lab_discriminator(dim: int, width: int = 128) -> nn.Module:
    return nn.Sequential(
        nn.Linear(dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1), nn.Sigmoid()
    )


def sheet_loss() -> gankit.Loss:
    """The lab sheet's losses, verbatim."""
    return gankit.Loss(
        discriminator=lambda real, fake: -(torch.log(real) + torch.log(1 - fake)).mean(),
        generator=lambda fake: torch.log(1 - fake).mean(),
    )


LOSSES = {"sheet": sheet_loss, "minimax": lambda: gankit.LOSSES["minimax"]}
DIMS = {"circle": 2, "moons": 2, "swiss_roll": 3}


def train_seeds(dataset: str, loss: str, seeds: int, folder: Path, **fields) -> list[dict[str, float]]:
    """Every seed of one data set and loss, as one sweep (a stack of the seeds' GANs, each equal to its own
    `gankit.train` run): each seed's W1 / floor at the end and at its best evaluation."""
    dim = DIMS[dataset]
    result = gankit.sweep(
        gankit.TrainConfig(dataset=dataset, **fields),
        {},
        seeds=seeds,
        out=folder / f"{dataset}-{loss}",
        generator=lambda config: lab_generator(config.latent_dim, dim),
        discriminator=lambda config: lab_discriminator(dim),
        loss=LOSSES[loss](),
        progress=False,
        figures=False,
    )
    rows = []
    for row in result.rows:
        ratios = [r["w1_ratio"] for r in gankit.read_metrics(result.path / row["run"]) if "w1_ratio" in r]
        rows.append({"final": ratios[-1], "best": min(ratios), "seconds": row["seconds"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="circle,moons,swiss_roll")
    parser.add_argument("--losses", default="sheet,minimax")
    parser.add_argument("--config", default="{}", help="JSON of TrainConfig fields to set besides dataset and seed")
    args = parser.parse_args()
    import json

    fields = json.loads(args.config)
    print(f"gankit.train defaults{' + ' + args.config if fields else ''}; W1 / floor (held out), {args.seeds} seeds")
    print(f"{'data':<11} {'loss':<8} {'median':>7} {'<=2x':>5}  final (best) per seed")
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets.split(","):
            for loss in args.losses.split(","):
                rows = train_seeds(dataset, loss, args.seeds, Path(folder), **fields)
                finals = [r["final"] for r in rows]
                shown = "  ".join(f"{r['final']:.2f} ({r['best']:.2f})" for r in rows)
                within = sum(f <= 2 for f in finals)
                print(
                    f"{dataset:<11} {loss:<8} {statistics.median(finals):>7.2f} {within:>3}/{len(rows)}  {shown}"
                    f"  [{rows[0]['seconds']:.0f} s a GAN]",
                    flush=True,
                )


if __name__ == "__main__":
    main()
