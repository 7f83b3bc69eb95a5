"""The student's own MNIST networks, as the lab sheet asks for them, trained by `gankit.train` with gankit's defaults.

    python -m benchmarks.student_mnist [--models cgan,dcgan] [--seeds 3] [--seconds 180] [--config JSON]
                                       [--loss sheet] [--data-dir DIR]

- cgan: the sheet's conditional GAN: MLPs, the one-hot label appended to z and to D's input, D ending in
  nn.Sigmoid, the sheet's loss written with torch.log on D's probabilities;
- dcgan: a student's convolutional pair: G a linear layer to 128 x 7 x 7 then two ConvTranspose2d (batch norm,
  ReLU, tanh), D two strided Conv2d (LeakyReLU) and a linear layer, ending in nn.Sigmoid; the sheet's loss.

`--loss` another loss than the sheet's, by its registered name (a reference: `nonsaturating`).
Each seed is one `gankit.train` call with only the data set, the seed and `max_seconds` set (plus `--config`),
as a student calls it, its evaluations included in the time (`steps` set past what the time allows). Printed per model: each seed's steps, FD over
its floor and (cgan) label accuracy at the end, with their medians, and the share of the time the
evaluations and checkpoints took.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch
from torch import nn

import gankit
from benchmarks.student_toys import sheet_loss

LATENT = 100
UNLIMITED_STEPS = 10**6


class ConditionalGenerator(nn.Module):
    """G(z, y): the one-hot label y appended to z, an MLP to 784 pixels in [-1, 1]."""

    def __init__(self, latent_dim: int = LATENT):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim + 10, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 784),
            nn.Tanh(),
        )

    def forward(self, z, y):
        return self.net(torch.cat([z, y], dim=1)).view(-1, 1, 28, 28)


class ConditionalDiscriminator(nn.Module):
    """D(x, y): the one-hot label y appended to the flattened image; P(real) from a sigmoid."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784 + 10, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, x, y):
        return self.net(torch.cat([x.view(len(x), -1), y], dim=1))


class ConvGenerator(nn.Module):
    def __init__(self, latent_dim: int = LATENT):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(latent_dim, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.up(self.project(z).view(-1, 128, 7, 7))


class ConvDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.net(x)


MODELS = {
    "cgan": (ConditionalGenerator, ConditionalDiscriminator, {"conditional": True}),
    "dcgan": (ConvGenerator, ConvDiscriminator, {}),
}


def train_one(
    model: str, seed: int, seconds: float, folder: Path, data_dir: str | None, fields: dict, loss: str = "sheet"
) -> dict:
    make_g, make_d, own = MODELS[model]
    # the time decides where the run stops, not the default steps
    fields = {"steps": UNLIMITED_STEPS, **fields}
    config = gankit.TrainConfig(
        dataset="mnist", latent_dim=LATENT, seed=seed, max_seconds=seconds, data_dir=data_dir, **own, **fields
    )
    torch.manual_seed(seed)
    run = gankit.train(
        config,
        folder / f"{model}-{seed}",
        generator=make_g(),
        discriminator=make_d(),
        loss=sheet_loss() if loss == "sheet" else gankit.LOSSES[loss],
        progress=False,
        figures=False,
        live=False,
    )
    last = next(r for r in reversed(run.metrics) if "fd" in r)
    end = next(r for r in reversed(run.metrics) if r.get("event") == "end")
    return {
        "seed": seed,
        "step": run.step,
        "fd_ratio": last["fd"] / last["fd_floor"],
        "label_accuracy": last.get("label_accuracy"),
        "eval_share": end["eval_seconds"] / end["seconds"],
    }


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cgan,dcgan")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=180.0, help="max_seconds of each run (evaluations included)")
    parser.add_argument("--config", default="{}", help="a JSON object of TrainConfig fields besides those above")
    parser.add_argument("--loss", default="sheet", help="sheet (the lab sheet's, as written) or a registered loss")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    fields = json.loads(args.config)
    print(
        f"the student's MNIST networks, {args.loss} loss, gankit.train for {args.seconds:g} s"
        f"{', ' + args.config if fields else ''}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models.split(","):
            rows = []
            for seed in range(args.seeds):
                rows.append(train_one(model, seed, args.seconds, Path(folder), args.data_dir, fields, args.loss))
                print(json.dumps(rows[-1]), flush=True)
            accuracy = (
                f", label accuracy {_median(rows, 'label_accuracy'):.1%}"
                if rows[0]["label_accuracy"] is not None
                else ""
            )
            print(
                f"{model}: median of {len(rows)} seeds: FD / floor {_median(rows, 'fd_ratio'):.2f}{accuracy}, "
                f"{_median(rows, 'step'):.0f} steps, evaluations {_median(rows, 'eval_share'):.1%} of the time",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
