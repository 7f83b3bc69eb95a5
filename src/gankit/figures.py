"""The standard figures of a run, built from the pure functions in `gankit.plots`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from gankit import plots

if TYPE_CHECKING:
    from gankit.run import Run

FIGURE_SEED = 7  # the same points in every figure of a run, and from one call to the next
N_POINTS = 1000


def run_figures(run: "Run", *, save: bool = True) -> dict[str, Figure]:
    figures = _image_figures(run) if run.config.is_image else _toy_figures(run)
    figures["losses"] = plots.loss_curves(run.metrics)
    if save:
        for name, figure in figures.items():
            plots.save_figure(figure, run.path / "figures" / f"{name}.png")
    return figures


def _toy_figures(run: "Run") -> dict[str, Figure]:
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


def _image_figures(run: "Run") -> dict[str, Figure]:
    from gankit.data.mnist import images_to_uint8

    if run.config.conditional:
        labels = np.repeat(np.arange(10), 10)  # row = digit
        images = images_to_uint8(run.sample(100, seed=FIGURE_SEED, labels=labels))
        grid = plots.image_grid(images, nrow=10, row_labels=[str(d) for d in range(10)],
                                title=f"{run.config.dataset} conditional samples, step {run.step}")
    else:
        images = images_to_uint8(run.sample(100, seed=FIGURE_SEED))
        grid = plots.image_grid(images, nrow=10, title=f"{run.config.dataset} samples, step {run.step}")
    return {"samples": grid}
