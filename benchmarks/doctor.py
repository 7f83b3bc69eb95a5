"""False alarms and misses of the doctor (gankit.doctor): how many seeds of each setting raise each finding.

    python -m benchmarks.doctor [--seeds 3] [--steps 2000] [--evals 8] [--only circle,lab-circle]
                                [--mnist-steps 1500] [--data-dir DIR]

Healthy settings: gankit's toy defaults on each toy data set, and the lab's own settings (the `gankit lab`
circle with the GAN Lab networks and learning rates, its moons and swiss roll); a finding on one of them is a
false alarm. Induced settings: a condition made on purpose, whose finding should appear (a miss where it does
not): a saturating loss with a strong D, a D learning 10x faster than G, a G that ignores z (every sample
is one point), a learning rate that diverges. MNIST: the mnist-gan and mnist-cgan presets (healthy); a G that
ignores z (one image: one digit), and a conditional G that ignores its label (both mode_collapse). Each setting trains its seeds as one sweep (a stack of the seeds'
GANs, each equal to its own `gankit.train` run) with `--evals` evaluations, and the doctor reads each run's log.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import gankit
from gankit import doctor
from gankit.config import PRESETS
from gankit.labbook import LAB_SETTINGS
from gankit.models import MLPDiscriminator, MLPGenerator
from gankit.runfolder import read_config


class OnePoint(nn.Module):
    """A G that ignores z: every sample is the same (learnable) point, a collapse made on purpose."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.point = nn.Parameter(torch.zeros(dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.point + 0 * z[:, :1]


class OneImage(nn.Module):
    """A G that ignores z: every sample is the same learnable image, a collapse onto one digit made on purpose."""

    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.image).expand(len(z), 1, 28, 28) + 0 * z[:, :1, None, None]


class IgnoresLabels(nn.Module):
    """A conditional G that never reads its label: gankit's MNIST MLP G, unconditional, given (z, labels)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.net = MLPGenerator(latent_dim, (1, 28, 28), (256, 512, 1024), tanh_output=True, batch_norm=True)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def mnist_discriminator(config: gankit.TrainConfig) -> nn.Module:
    """gankit's MNIST MLP D (conditional: its projection of the label), for a G of one's own."""
    return MLPDiscriminator((1, 28, 28), config.d_hidden, n_classes=10 if config.conditional else 0)


def plain_discriminator(config: gankit.TrainConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))


# name -> (the finding expected: None for a healthy setting, the TrainConfig fields, sweep keywords)
SETTINGS: dict[str, tuple[str | None, dict[str, Any], dict[str, Any]]] = {
    "circle": (None, dict(dataset="circle"), {}),
    "moons": (None, dict(dataset="moons"), {}),
    "swiss_roll": (None, dict(dataset="swiss_roll"), {}),
    "ring": (None, dict(dataset="ring"), {}),
    "grid": (None, dict(dataset="grid"), {}),
    "lab-circle": (None, dict(dataset="circle", latent_dim=2, **LAB_SETTINGS), {}),
    "lab-moons": (None, dict(dataset="moons", latent_dim=2), {}),
    "lab-swiss_roll": (None, dict(dataset="swiss_roll", latent_dim=2), {}),
    "minimax-strong-d": ("vanishing_gradient", dict(dataset="circle", loss="minimax", lr_d=1e-2, d_steps=5), {}),
    "lr_d-10x": ("d_overpowers", dict(dataset="circle", lr_g=2e-4, lr_d=2e-3), {}),
    "one-point-g": (
        "mode_collapse",
        dict(dataset="circle"),
        dict(generator=lambda c: OnePoint(), discriminator=plain_discriminator),
    ),
    "lr-diverges": ("divergence", dict(dataset="circle", lr_g=1e10, lr_d=1e10), {}),
    # MNIST: each seed one gankit.train run (sweeps train points only), scored by the shipped classifier
    "mnist-gan": (None, dict(PRESETS["mnist-gan"]), {}),
    "mnist-cgan": (None, dict(PRESETS["mnist-cgan"]), {}),
    "mnist-one-image-g": (
        "mode_collapse",
        dict(dataset="mnist"),
        dict(generator=lambda c: OneImage(), discriminator=mnist_discriminator),
    ),
    "mnist-cgan-ignores-labels": (
        "mode_collapse",
        dict(PRESETS["mnist-cgan"]),
        dict(generator=lambda c: IgnoresLabels(c.latent_dim), discriminator=mnist_discriminator),
    ),
}


def findings_of(name: str, seeds: int, steps: int, evals: int, folder: Path) -> tuple[list[set[str]], float]:
    """Each seed's kinds of finding for one setting, and the sweep's seconds."""
    _, fields, extra = SETTINGS[name]
    config = gankit.TrainConfig.from_dict(
        {**fields, "steps": steps, "eval_every": steps // evals, "keep_checkpoints": 1}
    )
    started = time.perf_counter()
    if config.is_image:
        runs = []
        for seed in range(seeds):
            networks = {role: make(config) for role, make in extra.items()}
            run = gankit.train(
                config.replace(seed=seed),
                folder / name / str(seed),
                progress=False,
                figures=False,
                live=False,
                **networks,
            )
            runs.append(run.path)
    else:
        result = gankit.sweep(config, {}, seeds=seeds, out=folder / name, progress=False, figures=False, **extra)
        runs = [result.path / row["run"] for row in result.rows]
    seconds = time.perf_counter() - started
    kinds = [{f.kind for f in doctor.diagnose(gankit.read_metrics(run), read_config(run))} for run in runs]
    return kinds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--evals", type=int, default=8, help="evaluations per run")
    parser.add_argument("--only", default=",".join(SETTINGS), help="comma-separated settings")
    parser.add_argument("--mnist-steps", type=int, default=1500, help="steps of the MNIST settings")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["GANKIT_DATA_DIR"] = args.data_dir
    names = args.only.split(",")
    print(
        f"{args.seeds} seeds, {args.steps:,} steps (MNIST: {args.mnist_steps:,}), {args.evals} evaluations each; "
        f"{platform.processor()}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="gankit-doctor-") as tmp:
        for name in names:
            steps = args.mnist_steps if name.startswith("mnist") else args.steps
            kinds, seconds = findings_of(name, args.seeds, steps, args.evals, Path(tmp))
            rows.append((name, kinds, seconds))
            print(f"  {name}: {[sorted(k) for k in kinds]} ({seconds:.0f} s)", flush=True)
    header = "| setting | expected | " + " | ".join(doctor.KINDS) + " | seconds |"
    print("\n" + header + "\n|" + "---|" * (len(doctor.KINDS) + 3))
    for name, kinds, seconds in rows:
        expected = SETTINGS[name][0] or "none (healthy)"
        counts = [f"{sum(kind in k for k in kinds)}/{len(kinds)}" for kind in doctor.KINDS]
        print(f"| {name} | {expected} | " + " | ".join(counts) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
