"""The standard figures of a run, built from plain inputs with the pure functions in `gankit.plots`.

Inputs are a sampling function `sample(n, *, seed, labels)` (data units: points, or images in
[-1, 1]), D's probability function for points in data units, fresh real points, and the metrics
records, so that these figures serve a finished run, a training in progress and a user's own
networks alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import gankit.plots as plots

Sample = Callable[..., np.ndarray]  # (n, *, seed, labels) -> samples in data units
FIGURE_SEED = 7  # the same points in every figure of a run, and from one call to the next
N_POINTS = 1000
PROGRESS_DIR = "progress"  # figures/progress/step-N.png: a frame at each evaluation (fixed z), for the animation
PROGRESS_GIF = "progress.gif"  # figures/progress.gif: those frames, animated
PROGRESS_FPS = 2


def point_figures(
    sample: Sample, d_probability: Callable[[np.ndarray], np.ndarray], real: np.ndarray, *, title: str
) -> dict[str, Figure]:
    """real_vs_generated, d_verdict and (for 2-D and 3-D data) decision_map of a toy run."""
    fake = sample(N_POINTS, seed=FIGURE_SEED, labels=None)
    figures = {
        "real_vs_generated": plots.real_vs_generated(real, fake, title=title),
        "d_verdict": plots.discriminator_verdict(fake, d_probability(fake), real=real),
    }
    if real.shape[1] <= 3:
        figures["decision_map"] = plots.decision_map(d_probability, real, fake)
    return figures


def sample_grid(sample: Sample, *, conditional: bool, title: str) -> Figure:
    """A 10x10 grid of the same 100 draws of z (FIGURE_SEED) in every call; conditional: row = digit."""
    from gankit.data.mnist import images_to_uint8

    labels = np.repeat(np.arange(10), 10) if conditional else None
    images = images_to_uint8(sample(100, seed=FIGURE_SEED, labels=labels))
    if conditional:
        return plots.image_grid(images, nrow=10, row_labels=[str(d) for d in range(10)], title=f"{title} (row = digit)")
    return plots.image_grid(images, nrow=10, title=title)


def run_figures(
    *,
    dataset: str,
    step: int,
    records: Sequence[dict[str, Any]],
    sample: Sample,
    d_probability: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray | None,
    conditional: bool = False,
) -> dict[str, Figure]:
    """Every standard figure of a run at `step`: for points (`real` given) the point figures, for images
    the sample grid; and the loss curves of `records`."""
    name = Path(dataset).stem
    if real is None:
        figures = {"samples": sample_grid(sample, conditional=conditional, title=f"{name} samples, step {step}")}
    else:
        figures = point_figures(sample, d_probability, real, title=f"{name}, step {step}")
    figures["losses"] = plots.loss_curves(list(records))
    return figures


def save_figures(figures: dict[str, Figure], figure_dir: Path) -> list[Path]:
    """Each figure as figure_dir/<name>.png, and the progress frames animated into progress.gif."""
    paths = [plots.save_figure(figure, Path(figure_dir) / f"{name}.png") for name, figure in figures.items()]
    progress_gif(figure_dir)
    return paths


def save_progress_frame(
    figure_dir: Path, step: int, *, sample: Sample, real: np.ndarray | None, dataset: str, conditional: bool = False
) -> Path:
    """figures/progress/step-N.png, a frame of the training animation (the same z in every frame):
    real vs generated points, or the sample grid for images."""
    name = Path(dataset).stem
    if real is None:
        figure = sample_grid(sample, conditional=conditional, title=f"{name} samples, step {step}")
    else:
        figure = plots.real_vs_generated(
            real, sample(N_POINTS, seed=FIGURE_SEED, labels=None), title=f"{name}, step {step}"
        )
    return plots.save_figure(figure, Path(figure_dir) / PROGRESS_DIR / f"step-{step:08d}.png")


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
