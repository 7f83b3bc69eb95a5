"""GAN Lab's views of a GAN, computed from plain inputs into a snapshot of small arrays.

For toy data a snapshot holds what the lab view draws (`gankit.figures.lab_figure`, the report page):

- `real`: the training points (at most VIEW_REAL of them; `n_train`: how many there are), `fake`: N_FAKE
  generated points, the same z at every step (VIEW_SEED), all in data units;
- `push`: on each generated point, the change the generator's loss asks for: minus its gradient with
  respect to the point, taken in the space G trains in and shown in data units (GAN Lab's arrows);
- `prob`: D's P(real) on a GRID x GRID lattice over `box`, on the plane of coordinates `cols`
  (2-D data: x-y; the swiss roll: x-z, D at the median height y; more coordinates: the first two, the
  others at their medians), `plane` says which in words;
- `manifold`: G's manifold, the image of lattice lines of z, shape (lines, points, d): for a 1-D latent
  the curve G(z) over [-LATTICE, LATTICE], for a 2-D latent a 9 x 9 lattice with its grid lines, for
  more the lattice on the z1-z2 plane with the other coordinates at 0; `latent` says which.

For images a snapshot holds the grid of the same 100 draws of z (`images`, uint8 (N, H, W) or (N, H, W, C))
and, for a conditional model, 10 draws per class: the class of each (`labels`, row = class) and the classes'
names (`classes`).

The training loop saves one snapshot per evaluation as RUN/views/step-N.npz (about 50 kB), so that a
report page can redraw the views at every step after the fact.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.data.images import GRID_IMAGES, grid_labels, to_uint8
from gankit.files import atomic_write, read_npz
from gankit.losses import GeneratorBatch
from gankit.runfolder import VIEW_DIR

FIGURE_SEED = 7  # the same z in every figure and view of a run, and from one call to the next
N_FAKE = 500  # generated points in a view (each with its arrow)
VIEW_REAL = 1000  # training points shown, at most
GRID = 64  # D's heatmap: GRID x GRID values
LATTICE = 2.5  # z lattice over [-2.5, 2.5] per coordinate: 98.8% of N(0, 1)
LATTICE_LINES, LATTICE_POINTS, CURVE_POINTS = 9, 41, 201
BOX_MARGIN = 0.25  # the view's box: the training points' box widened by a quarter of its size on each side

Snapshot = dict[str, Any]


@dataclass
class Sources:
    """What the views are computed from: plain functions of data-unit arrays."""

    sample: Callable[..., np.ndarray]  # (n, *, seed, labels, z) -> samples in data units
    d_probability: Callable[[np.ndarray], np.ndarray]  # points in data units -> D's P(real)
    push: Callable[[np.ndarray], np.ndarray] | None  # points -> the G loss's push on each (None: no loss known)
    real: np.ndarray | None  # training points in data units; None for images
    latent_dim: int
    classes: tuple[str, ...] = ()  # a conditional G's classes, in label order; () unconditional
    n_train: int | None = None  # the training set's size (`real` may be a subset); None: len(real)


# ----- from a trainer -----
def data_sampler(trainer: Any) -> Callable[..., np.ndarray]:
    """`sample(n, *, seed, labels, z)`: a trainer's samples in data units, as numpy; `z` gives your own latent
    points (n, latent_dim) instead of seeded draws."""

    def sample(n: int, *, seed: int = 0, labels: Any = None, z: Any = None) -> np.ndarray:
        label_tensor = torch.as_tensor(labels, dtype=torch.int64) if labels is not None else None
        z_tensor = torch.as_tensor(z, dtype=torch.float32) if z is not None else None
        return trainer.dataset.to_data_space(trainer.generate(n, seed=seed, labels=label_tensor, z=z_tensor)).numpy()

    return sample


def data_probability(trainer: Any) -> Callable[[np.ndarray], np.ndarray]:
    """D's P(real) of points given in data units."""

    def probability(points: np.ndarray) -> np.ndarray:
        x = trainer.dataset.to_model_space(torch.as_tensor(np.asarray(points), dtype=torch.float32))
        return trainer.d_probability(x).numpy()

    return probability


def generator_push(trainer: Any, real: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """`push(points)`: minus the gradient of G's loss with respect to each generated point, as G's step sees it
    (model space, per point: the batch mean's gradient times the batch size), in data units. A loss that asks
    for a real batch (relativistic losses) gets `real`; neither the training RNG nor any weight is touched.
    None when the run's loss is not known (a run of your own loss read back without it)."""
    loss = trainer.loss
    if loss is None:
        return None
    real_model = trainer.dataset.to_model_space(torch.as_tensor(real, dtype=torch.float32)).to(trainer.device)

    def push(points: np.ndarray) -> np.ndarray:
        x = trainer.dataset.to_model_space(torch.as_tensor(np.asarray(points), dtype=torch.float32))
        x = x.to(trainer.device).requires_grad_(True)
        was_training = trainer.D.training
        trainer.D.eval()
        try:
            with torch.enable_grad():
                logits = trainer.logits(x)
                batch = GeneratorBatch(
                    x,
                    None,
                    logits,
                    trainer.logits,
                    trainer.step,
                    outputs_probability=trainer.outputs_probability,
                    draw_real=lambda: (real_model, None),
                )
                (grad,) = torch.autograd.grad(loss.g_loss(batch) * len(x), x)
        finally:
            trainer.D.train(was_training)
        return (-grad.detach().cpu() * trainer.dataset.std).numpy()

    return push


def training_points(dataset: Any) -> np.ndarray:
    """At most VIEW_REAL of the training points (a fixed choice), in data units."""
    points = dataset.to_data_space(dataset.train).numpy()
    if len(points) > VIEW_REAL:
        points = points[np.sort(np.random.default_rng(0).choice(len(points), VIEW_REAL, replace=False))]
    return points


def trainer_sources(trainer: Any, dataset: Any = None) -> Sources:
    """The Sources of a trainer's GAN, with the training points of `dataset` (default: the trainer's own)."""
    image = trainer.config.is_image
    dataset = dataset if dataset is not None else trainer.dataset
    real = None if image else training_points(dataset)
    return Sources(
        sample=data_sampler(trainer),
        d_probability=data_probability(trainer),
        push=None if image else generator_push(trainer, real),
        real=None if image else real,
        latent_dim=trainer.config.latent_dim,
        classes=dataset.classes if trainer.n_classes else (),
        n_train=None if image else len(dataset.train),
    )


# ----- the snapshot -----
def plane(real: np.ndarray) -> tuple[list[int], np.ndarray, str]:
    """(the two coordinates drawn, the values of the others in D's slice, the plane in words)."""
    d = real.shape[1]
    cols = [0, 2] if d == 3 else [0, 1]
    fixed = np.median(real, axis=0) if len(real) else np.zeros(d)
    if d == 2:
        return cols, fixed, ""
    if d == 3:
        return cols, fixed, f"x-z plane: points projected along y; D at y = {fixed[1]:.3g} (the median)"
    return cols, fixed, f"coordinates 1-2 of {d}: points projected; D with the others at their medians"


def view_box(real: np.ndarray, cols: list[int]) -> np.ndarray:
    """[x_lo, x_hi, y_lo, y_hi]: the same for every snapshot of a run, so that the frames line up."""
    points = real[:, cols] if len(real) else np.zeros((1, 2))
    lo, hi = points.min(0), points.max(0)
    pad = BOX_MARGIN * np.maximum(hi - lo, 1e-3)
    return np.array([lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]])


def lattice(latent_dim: int) -> tuple[np.ndarray, str]:
    """(z of shape (lines, points, latent_dim), what it is in words) for G's manifold."""
    if latent_dim == 1:
        return np.linspace(-LATTICE, LATTICE, CURVE_POINTS)[None, :, None], f"G(z) for z in [-{LATTICE}, {LATTICE}]"
    t = np.linspace(-LATTICE, LATTICE, LATTICE_POINTS)
    v = np.linspace(-LATTICE, LATTICE, LATTICE_LINES)
    z = np.zeros((2 * LATTICE_LINES, LATTICE_POINTS, latent_dim))
    z[:LATTICE_LINES, :, 0], z[:LATTICE_LINES, :, 1] = t, v[:, None]
    z[LATTICE_LINES:, :, 0], z[LATTICE_LINES:, :, 1] = v[:, None], t
    size = f"{LATTICE_LINES} x {LATTICE_LINES} lattice of z in [-{LATTICE}, {LATTICE}]²"
    if latent_dim == 2:
        return z, f"G of a {size}"
    return z, f"G of a {size} on the z1-z2 plane of the {latent_dim}-D z (z3.. = 0)"


def snapshot(sources: Sources, step: int) -> Snapshot:
    """The views of a GAN at `step` (see the module's docstring), as a dict of numpy arrays and strings."""
    if sources.real is None:
        labels = grid_labels(sources.classes)
        n = len(labels) if labels is not None else GRID_IMAGES
        images = to_uint8(sources.sample(n, seed=FIGURE_SEED, labels=labels))
        return {
            "step": step,
            "images": images,
            "labels": labels if labels is not None else np.empty(0, np.int64),
            "classes": np.asarray(sources.classes, dtype=str),
        }
    real = np.asarray(sources.real, dtype=np.float32)
    d = real.shape[1]
    cols, fixed, plane_text = plane(real)
    box = view_box(real, cols)
    fake = sources.sample(N_FAKE, seed=FIGURE_SEED, labels=None)
    push = sources.push(fake) if sources.push is not None else np.empty((0, d), np.float32)
    gx, gy = np.linspace(box[0], box[1], GRID), np.linspace(box[2], box[3], GRID)
    grid = np.tile(fixed.astype(np.float32), (GRID * GRID, 1))
    mx, my = np.meshgrid(gx, gy)
    grid[:, cols[0]], grid[:, cols[1]] = mx.ravel(), my.ravel()
    prob = np.asarray(sources.d_probability(grid), dtype=np.float32).reshape(GRID, GRID)
    z, latent_text = lattice(sources.latent_dim)
    manifold = sources.sample(z.shape[0] * z.shape[1], seed=FIGURE_SEED, z=z.reshape(-1, sources.latent_dim))
    return {
        "step": step,
        "real": real,
        "n_train": sources.n_train if sources.n_train is not None else len(real),
        "fake": np.asarray(fake, dtype=np.float32),
        "push": np.asarray(push, dtype=np.float32),
        "cols": np.asarray(cols),
        "box": box.astype(np.float32),
        "prob": prob,
        "manifold": np.asarray(manifold, dtype=np.float32).reshape(z.shape[0], z.shape[1], d),
        "plane": plane_text,
        "latent": latent_text,
    }


# ----- in the run folder -----
def snapshot_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / VIEW_DIR / f"step-{step:08d}.npz"


def save_snapshot(run_dir: str | Path, view: Snapshot) -> Path:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{key: np.asarray(value) for key, value in view.items()})
    path = snapshot_path(run_dir, int(view["step"]))
    atomic_write(path, buffer.getvalue())
    return path


def load_snapshots(run_dir: str | Path) -> list[Snapshot]:
    """The run's saved snapshots, by step (a run killed and resumed may have some past its history's end)."""
    views = []
    for path in sorted((Path(run_dir) / VIEW_DIR).glob("step-*.npz")):
        view = read_npz(path, "saved view", "a view saved by gankit")
        view["step"] = int(view["step"])
        view["n_train"] = int(view.get("n_train", len(view.get("real", ()))))  # older snapshots: the points shown
        for key in ("plane", "latent"):
            if key in view:
                view[key] = str(view[key])
        views.append(view)
    return views
