"""The standard figures of a run, built from the pure functions in `gankit.plots`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from gankit import plots

if TYPE_CHECKING:
    from gankit.run import Run
    from gankit.trainer import Trainer

FIGURE_SEED = 7  # the same points in every figure of a run, and from one call to the next
N_POINTS = 1000
PROGRESS_DIR = "progress"  # figures/progress/step-N.png: a frame at each evaluation (fixed z), for the animation
PROGRESS_GIF = "progress.gif"  # figures/progress.gif: those frames, animated
PROGRESS_FPS = 2


def run_figures(run: Run, *, save: bool = True) -> dict[str, Figure]:
    figures = _image_figures(run) if run.config.is_image else _toy_figures(run)
    figures["losses"] = plots.loss_curves(run.metrics)
    if save:
        for name, figure in figures.items():
            plots.save_figure(figure, run.path / "figures" / f"{name}.png")
        progress_gif(run.path / "figures")
    return figures


def _toy_figures(run: Run) -> dict[str, Figure]:
    from gankit.data import load_dataset

    real = load_dataset(run.config).fresh(N_POINTS, FIGURE_SEED)
    fake = run.sample(N_POINTS, seed=FIGURE_SEED)
    title = f"{run.config.dataset}, step {run.step}"
    figures = {
        "real_vs_generated": plots.real_vs_generated(real, fake, title=title),
        "d_verdict": plots.discriminator_verdict(fake, run.d_probability(fake), real=real),
    }
    if real.shape[1] <= 3:
        figures["decision_map"] = plots.decision_map(run.d_probability, real, fake)
    return figures


def _sample_grid(sample: Callable[..., np.ndarray], conditional: bool, dataset: str, step: int) -> Figure:
    """A 10x10 grid of the same 100 draws of z (FIGURE_SEED) in every call; conditional: row = digit.

    `sample(n, seed=, labels=)` returns images in [-1, 1], like Run.sample.
    """
    from gankit.data.mnist import images_to_uint8

    if conditional:
        labels = np.repeat(np.arange(10), 10)
        images = images_to_uint8(sample(100, seed=FIGURE_SEED, labels=labels))
        return plots.image_grid(
            images, nrow=10, row_labels=[str(d) for d in range(10)], title=f"{dataset} conditional samples, step {step}"
        )
    images = images_to_uint8(sample(100, seed=FIGURE_SEED, labels=None))
    return plots.image_grid(images, nrow=10, title=f"{dataset} samples, step {step}")


def _image_figures(run: Run) -> dict[str, Figure]:
    return {"samples": _sample_grid(run.sample, run.config.conditional, run.config.dataset, run.step)}


def save_progress_frame(figure_dir: Path, trainer: Trainer) -> Path:
    """Write figures/progress/step-N.png, a frame of the training animation: the sampled G's
    fixed-noise grid for images, real vs generated points (same z every frame) for toy data."""
    import torch

    if trainer.dataset.is_image:

        def sample(n: int, *, seed: int, labels: np.ndarray | None) -> np.ndarray:
            label_tensor = torch.as_tensor(labels, dtype=torch.int64) if labels is not None else None
            return trainer.generate(n, seed=seed, labels=label_tensor).numpy()

        figure = _sample_grid(sample, bool(trainer.n_classes), trainer.config.dataset, trainer.step)
    else:
        dataset = trainer.dataset
        fake = dataset.to_data_space(trainer.generate(N_POINTS, seed=FIGURE_SEED)).numpy()
        figure = plots.real_vs_generated(
            dataset.fresh(N_POINTS, FIGURE_SEED), fake, title=f"{trainer.config.dataset}, step {trainer.step}"
        )
    return plots.save_figure(figure, Path(figure_dir) / PROGRESS_DIR / f"step-{trainer.step:08d}.png")


def progress_gif(figure_dir: Path) -> Path | None:
    """Animate the progress frames under figure_dir/progress into figure_dir/progress.gif (None when there are none)."""
    from PIL import Image

    paths = sorted((Path(figure_dir) / PROGRESS_DIR).glob("step-*.png"))
    if not paths:
        return None
    frames = []
    for path in paths:
        with Image.open(path) as image:
            frames.append(np.asarray(image.convert("RGB")))
    # A tight bounding box can differ by a pixel between frames: pad all to the largest, on white.
    height, width = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    padded = []
    for frame in frames:
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        canvas[: frame.shape[0], : frame.shape[1]] = frame
        padded.append(canvas)
    path = Path(figure_dir) / PROGRESS_GIF
    plots.animation_frames_to_gif(padded, path, fps=PROGRESS_FPS)
    return path
