"""The standard figures of a run, built from plain inputs with the pure functions in `gankit.plots`.

Inputs are a sampling function `sample(n, *, seed, labels)` (data units: points, or images in
[-1, 1]), D's probability function for points in data units, fresh real points, a snapshot of the
lab's views (`gankit.views`) and the metrics records, so that these figures serve a finished run, a
training in progress and a user's own networks alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import gankit.plots as plots
from gankit.data.images import GRID_IMAGES, grid_labels
from gankit.plots import Figure, Figures
from gankit.views import FIGURE_SEED, Snapshot

__all__ = [
    "FIGURE_SEED",
    "N_POINTS",
    "lab_figure",
    "point_figures",
    "progress_gif",
    "run_figures",
    "sample_grid",
    "training_label",
]

Sample = Callable[..., np.ndarray]  # (n, *, seed, labels) -> samples in data units
N_POINTS = 1000
PROGRESS_DIR = "progress"  # figures/progress/step-N.png: a frame at each evaluation (fixed z), for the animation
PROGRESS_GIF = "progress.gif"  # figures/progress.gif: those frames, animated
PROGRESS_FPS = 2


def _fresh_label(n: int, n_train: int | None) -> str:
    """What the real points of a figure are: fresh draws of the distribution, not the training points."""
    trained = f"; trained on {n_train:,}" if n_train is not None and n_train != n else ""
    return f"real data (n = {n:,} fresh draws{trained})"


def training_label(shown: int, n_train: int) -> str:
    """What the real points of the lab view are: the training set, or a fixed subset of it."""
    return f"training points (n = {n_train:,})" if shown == n_train else f"training points ({shown:,} of {n_train:,})"


def point_figures(
    sample: Sample,
    d_probability: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray,
    *,
    title: str,
    n_train: int | None = None,
) -> dict[str, Figure]:
    """real_vs_generated, d_verdict and (for 2-D and 3-D data) decision_map of a toy run; `real` are fresh
    draws, and `n_train` (the training-set size) is said beside them when it differs."""
    fake = sample(N_POINTS, seed=FIGURE_SEED, labels=None)
    label = _fresh_label(len(real), n_train)
    figures = {
        "real_vs_generated": plots.real_vs_generated(real, fake, title=title, real_title=label[0].upper() + label[1:]),
        "d_verdict": plots.discriminator_verdict(fake, d_probability(fake), real=real, real_label=label),
    }
    if real.shape[1] <= 3:
        figures["decision_map"] = plots.decision_map(d_probability, real, fake, real_label=label)
    return figures


def lab_figure(view: Snapshot, records: Sequence[dict[str, Any]] | None = None, *, title: str | None = None) -> Figure:
    """GAN Lab's view of a toy snapshot (heatmap, manifold, points, arrows), with the curves of `records` to
    its step; images: the snapshot's sample grid."""
    step = int(view["step"])
    if "images" in view:
        return _grid(view["images"], _view_classes(view), title=title or f"samples, step {step:,}")
    cols = [int(c) for c in view["cols"]]
    names = (
        ("x", "y", "z") if view["real"].shape[1] <= 3 else tuple(f"coordinate {c + 1}" for c in range(max(cols) + 1))
    )
    return plots.lab_view(
        view["real"][:, cols],
        view["fake"][:, cols],
        box=view["box"],
        prob=view["prob"],
        push=view["push"][:, cols] if len(view["push"]) else None,
        manifold=view["manifold"][:, :, cols],
        labels=(names[cols[0]], names[cols[1]]),
        manifold_label="G's manifold",
        real_label=training_label(len(view["real"]), int(view.get("n_train", len(view["real"])))),
        note="\n".join(n for n in (str(view["plane"]), f"manifold: {view['latent']}") if n),  # the slice, said
        records=records,
        step=step,
        title=title,
    )


def _view_classes(view: Snapshot) -> tuple[str, ...]:
    """The classes of an image snapshot's rows (a snapshot without their names: the labels' numbers)."""
    if "classes" in view:
        return tuple(str(c) for c in view["classes"])
    return tuple(str(c) for c in np.unique(view["labels"]))


def _grid(images: np.ndarray, classes: Sequence[str], *, title: str) -> Figure:
    if classes:
        return plots.image_grid(images, nrow=len(classes), row_labels=list(classes), title=f"{title} (row = class)")
    return plots.image_grid(images, nrow=10, title=title)


def sample_grid(sample: Sample, *, classes: Sequence[str] = (), title: str) -> Figure:
    """A 10x10 grid of the same 100 draws of z (FIGURE_SEED) in every call; with `classes` (a conditional G's),
    a row of 10 per class."""
    labels = grid_labels(classes)
    n = len(labels) if labels is not None else GRID_IMAGES
    return _grid(sample(n, seed=FIGURE_SEED, labels=labels), classes, title=title)


def run_figures(
    *,
    dataset: str,
    step: int,
    records: Sequence[dict[str, Any]],
    sample: Sample,
    d_probability: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray | None,
    classes: Sequence[str] = (),
    n_train: int | None = None,
) -> Figures:
    """Every standard figure of a run at `step`: for points (`real` given) the point figures, for images the
    sample grid; and the loss curves of `records`. (The lab view is `lab_figure`, and each progress frame.)"""
    name = Path(dataset).stem
    if real is None:
        figures = {"samples": sample_grid(sample, classes=classes, title=f"{name} samples, step {step}")}
    else:
        figures = point_figures(sample, d_probability, real, title=f"{name}, step {step}", n_train=n_train)
    figures["losses"] = plots.loss_curves(list(records))
    return Figures(figures)


def save_figures(figures: dict[str, Figure], figure_dir: Path) -> list[Path]:
    """Each figure as figure_dir/<name>.png, and the progress frames animated into progress.gif."""
    paths = [plots.save_figure(figure, Path(figure_dir) / f"{name}.png") for name, figure in figures.items()]
    progress_gif(figure_dir)
    return paths


def save_progress_frame(figure_dir: Path, view: Snapshot, *, records: Sequence[dict[str, Any]], dataset: str) -> Path:
    """figures/progress/step-N.png, a frame of the training animation (the same z in every frame): the lab
    view with the curves so far, or the sample grid for images."""
    step = int(view["step"])
    figure = lab_figure(view, records, title=f"{Path(dataset).stem}, step {step:,}")
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
