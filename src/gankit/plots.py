"""Figures for a GAN teaching lab: point clouds, the discriminator's view, training curves.

Every function returns a `matplotlib.figure.Figure` built without pyplot, so nothing here
touches global state: it works headless, and in a notebook a returned Figure displays
inline. The caller saves it with `save_figure`. Inputs are numpy arrays and plain callables.

Colours are from the Okabe-Ito colourblind-safe palette; "real" is blue throughout, as
it is in the RdBu decision map (blue = D says real, red = D says fake).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gankit.errors import GankitError

__all__ = [
    "animation_frames_to_gif",
    "decision_map",
    "discriminator_verdict",
    "figure_to_array",
    "image_grid",
    "loss_curves",
    "metric_vs_value",
    "real_vs_generated",
    "samples_grid",
    "save_figure",
]

# Okabe-Ito palette.
BLUE, ORANGE, VERMILLION, GREEN, GREY = "#0072B2", "#E69F00", "#D55E00", "#009E73", "#999999"
REAL_COLOUR, FAKE_COLOUR = BLUE, ORANGE
SAYS_REAL_COLOUR, SAYS_FAKE_COLOUR = BLUE, VERMILLION

# Swiss-roll view: the roll lies in the x-z plane, so look (almost) along y.
VIEW_3D = {"elev": 12, "azim": -70}
DPI = 110

_STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "figure.titlesize": 14,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.interpolation": "nearest",
}


class PlotInputError(GankitError, ValueError):
    """Bad input to a plotting function (a GankitError that is also a ValueError)."""


def _styled(fn):
    """Build the figure under the lab style without changing the global rcParams."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_STYLE):
            return fn(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- point clouds


def _points(name: str, a: np.ndarray, d: int | None = None) -> np.ndarray:
    """(N, d>=2) finite float array; rows with NaN/inf (a diverged generator) are dropped."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[1] < 2:
        raise PlotInputError(f"{name} must have shape (N, d) with d >= 2, got {a.shape}")
    if d is not None and a.shape[1] != d:
        raise PlotInputError(f"{name} has {a.shape[1]} coordinates but the other points have {d}")
    return a[np.isfinite(a).all(axis=1)]


def _plot_dim(d: int) -> tuple[int, str, tuple[str, ...]]:
    """How many coordinates a scatter shows (2 or 3), a title note when some are hidden,
    and the axis labels."""
    if d <= 3:
        return d, "", ("x", "y", "z")
    return 2, f" (coordinates 1-2 of {d})", ("coordinate 1", "coordinate 2")


def _bounds(ref: np.ndarray, *others: np.ndarray, margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate box around all clouds, with a relative margin. The other clouds
    (generated points) may widen the box of `ref` (real data) by at most its own size on
    each side, so a few far outliers of a diverging generator don't shrink everything."""
    clouds = [c for c in (ref, *others) if len(c)]
    if not clouds:
        return np.full(ref.shape[1], -1.0), np.full(ref.shape[1], 1.0)
    lo, hi = clouds[0].min(axis=0), clouds[0].max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    for c in clouds[1:]:
        lo = np.minimum(lo, np.maximum(c.min(axis=0), lo - span))
        hi = np.maximum(hi, np.minimum(c.max(axis=0), hi + span))
    pad = margin * np.maximum(hi - lo, 1e-6)
    return lo - pad, hi + pad


def _marker_size(n: int) -> float:
    return float(np.clip(6000.0 / max(n, 1), 3.0, 25.0))


def _point_axes(fig: Figure, n: int, dim: int) -> list[Axes]:
    kw = {"projection": "3d"} if dim == 3 else {}
    return [fig.add_subplot(1, n, i + 1, **kw) for i in range(n)]


def _scatter(ax: Axes, pts: np.ndarray, **kw):
    """Draw a point cloud on a 2-D or 3-D axes (the axes decides how many coordinates)."""
    dim = 3 if ax.name == "3d" else 2
    kw.setdefault("s", _marker_size(len(pts)))
    kw.setdefault("alpha", 0.6)
    kw.setdefault("linewidths", 0)
    return ax.scatter(*pts[:, :dim].T, **kw)


def _frame(ax: Axes, lo: np.ndarray, hi: np.ndarray, labels: Sequence[str] = ("x", "y", "z")) -> None:
    """Shared limits, axis labels and an equal scale on every axis."""
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if ax.name == "3d":
        ax.set_zlim(lo[2], hi[2])
        ax.set_zlabel(labels[2])
        ax.set_box_aspect(tuple(hi[:3] - lo[:3]), zoom=1.0)
        ax.view_init(**VIEW_3D)
    else:
        ax.set_aspect("equal", adjustable="box")


@_styled
def real_vs_generated(real: np.ndarray, fake: np.ndarray, *, title: str | None = None) -> Figure:
    """Real data and generated samples in two panels with the same axis limits.

    (N, 2) points give 2-D scatters, (N, 3) 3-D scatters viewed along y (the swiss roll),
    and (N, d>3) the first two coordinates, which the panel titles say.
    """
    real = _points("real", real)
    fake = _points("fake", fake, real.shape[1])
    dim, note, labels = _plot_dim(real.shape[1])
    lo, hi = _bounds(real, fake)
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    for ax, pts, name, colour in zip(
        _point_axes(fig, 2, dim), (real, fake), ("Real data", "Generated"), (REAL_COLOUR, FAKE_COLOUR)
    ):
        _scatter(ax, pts, color=colour)
        _frame(ax, lo, hi, labels)
        ax.set_title(f"{name} (n = {len(pts)}){note}")
    if title:
        fig.suptitle(title)
    return fig


@_styled
def samples_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, title: str | None = None) -> Figure:
    """Small multiples: one panel per (title, real points, generated points), real faint behind, shared limits.

    Points as in `real_vs_generated`: 2-D, 3-D (the swiss roll, viewed along y), or the first two coordinates.
    """
    if not panels:
        raise PlotInputError("samples_grid needs at least one (title, real, generated) panel")
    reals = [_points("real", real) for _, real, _ in panels]
    fakes = [_points("generated", fake, real.shape[1]) for (_, _, fake), real in zip(panels, reals)]
    dim, note, labels = _plot_dim(reals[0].shape[1])
    lo, hi = _bounds(np.concatenate(reals), *fakes)
    ncols = min(len(panels), 5)
    nrows = math.ceil(len(panels) / ncols)
    figure = Figure(figsize=(3.3 * ncols + 0.4, 3.3 * nrows + 0.8), layout="constrained")
    for index, ((label, _, _), real, fake) in enumerate(zip(panels, reals, fakes)):
        axes = figure.add_subplot(nrows, ncols, index + 1, **({"projection": "3d"} if dim == 3 else {}))
        _scatter(axes, real, color=GREY, alpha=0.25, s=4)
        _scatter(axes, fake, color=FAKE_COLOUR, s=4)
        _frame(axes, lo, hi, labels)
        axes.set_title(label + note, fontsize=10)
    if title:
        figure.suptitle(title, fontsize=12)
    return figure


def _verdict_labels(fake_prob: np.ndarray, threshold: float) -> tuple[np.ndarray, str, str]:
    says_real = fake_prob >= threshold
    n, k = len(fake_prob), int(says_real.sum())
    pct = (lambda c: 100.0 * c / n) if n else (lambda c: 0.0)
    return (
        says_real,
        f"D says real (p ≥ {threshold:g}): {k} ({pct(k):.1f}%)",
        f"D says fake (p < {threshold:g}): {n - k} ({pct(n - k):.1f}%)",
    )


@_styled
def discriminator_verdict(
    fake: np.ndarray,
    fake_prob: np.ndarray,
    *,
    real: np.ndarray | None = None,
    threshold: float = 0.5,
) -> Figure:
    """Generated points coloured by the discriminator's verdict P(real) >= threshold.

    The legend gives the count and percentage of each verdict; `real` points, when given,
    are drawn faintly behind. 2-D, 3-D or first-two-coordinates as in `real_vs_generated`.
    """
    fake = np.asarray(fake, dtype=float)
    fake_prob = np.asarray(fake_prob, dtype=float).reshape(-1)
    if fake.ndim != 2 or fake.shape[1] < 2:
        raise PlotInputError(f"fake must have shape (N, d) with d >= 2, got {fake.shape}")
    if len(fake_prob) != len(fake):
        raise PlotInputError(f"fake_prob has {len(fake_prob)} values for {len(fake)} generated points")
    keep = np.isfinite(fake).all(axis=1) & np.isfinite(fake_prob)
    fake, fake_prob = _points("fake", fake[keep]), fake_prob[keep]
    real = None if real is None else _points("real", real, fake.shape[1])
    dim, note, labels = _plot_dim(fake.shape[1])
    lo, hi = _bounds(fake) if real is None else _bounds(real, fake)

    fig = Figure(figsize=(6.8, 6.2), layout="constrained")
    (ax,) = _point_axes(fig, 1, dim)
    if real is not None:
        _scatter(ax, real, color=GREY, alpha=0.15, label=f"real data (n = {len(real)})", zorder=1)
    says_real, real_label, fake_label = _verdict_labels(fake_prob, threshold)
    s = _marker_size(len(fake))
    _scatter(ax, fake[says_real], color=SAYS_REAL_COLOUR, s=s, label=real_label, zorder=3)
    _scatter(ax, fake[~says_real], color=SAYS_FAKE_COLOUR, s=s, label=fake_label, zorder=2)
    _frame(ax, lo, hi, labels)
    ax.set_title(f"Discriminator's verdict on {len(fake)} generated points{note}")
    ax.legend(loc="upper right", markerscale=max(1.0, 30 / s) ** 0.5, framealpha=0.9)
    return fig


@_styled
def decision_map(
    prob_fn: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray,
    fake: np.ndarray,
    *,
    resolution: int = 200,
    slice_value: float | None = None,
) -> Figure:
    """Heatmap of the discriminator's P(real) with its 0.5 contour and the points on top.

    `prob_fn` takes an (M, d) float32 array and returns P(real) as an (M,) array.
    d == 2: over a box around real and fake. d == 3 (swiss roll in the x-z plane, y the
    height): over the x-z plane at y = `slice_value` (default: median real y), with only
    the points within a slab around it drawn. d > 3: ValueError.
    """
    real = _points("real", real)
    fake = _points("fake", fake, real.shape[1])
    d = real.shape[1]
    if d > 3:
        raise PlotInputError(f"decision_map draws 2-D or 3-D points; these have d = {d}")
    if int(resolution) < 2:
        raise PlotInputError(f"resolution must be at least 2, got {resolution}")
    resolution = int(resolution)
    lo, hi = _bounds(real, fake)

    # Which coordinates span the picture, and (in 3-D) where the slice sits.
    cols, labels, suffix = [0, 1], ("x", "y"), ""
    if d == 3:
        if slice_value is None:
            slice_value = float(np.median(real[:, 1])) if len(real) else 0.0
        half = 0.1 * float(np.ptp(real[:, 1])) if len(real) else 1.0
        half = max(half, 1e-6)
        real = real[np.abs(real[:, 1] - slice_value) <= half]
        fake = fake[np.abs(fake[:, 1] - slice_value) <= half]
        cols, labels = [0, 2], ("x", "z")
        suffix = f"\nslice y = {slice_value:.3g}; points shown: |y − {slice_value:.3g}| ≤ {half:.2g}"

    gx = np.linspace(lo[cols[0]], hi[cols[0]], resolution)
    gy = np.linspace(lo[cols[1]], hi[cols[1]], resolution)
    mx, my = np.meshgrid(gx, gy)
    grid = np.full((mx.size, d), 0.0 if slice_value is None else slice_value, dtype=np.float32)
    grid[:, cols[0]], grid[:, cols[1]] = mx.ravel(), my.ravel()
    prob = np.asarray(prob_fn(grid), dtype=float).reshape(-1)
    if prob.shape != (grid.shape[0],):
        raise PlotInputError(f"prob_fn returned {prob.shape[0]} values for {grid.shape[0]} points")
    prob = prob.reshape(mx.shape)

    fig = Figure(figsize=(7.4, 6.2), layout="constrained")
    ax = fig.add_subplot()
    extent = (gx[0], gx[-1], gy[0], gy[-1])
    im = ax.imshow(prob, origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1, aspect="equal", alpha=0.85)
    fig.colorbar(im, ax=ax, label="D(x) = P(real)", shrink=0.85)
    finite = prob[np.isfinite(prob)]
    if finite.size and finite.min() < 0.5 < finite.max():
        ax.contour(mx, my, prob, levels=[0.5], colors="k", linewidths=1.5)
        ax.plot([], [], color="k", lw=1.5, label="D(x) = 0.5")
    s = _marker_size(len(real) + len(fake))
    ax.scatter(real[:, cols[0]], real[:, cols[1]], s=s, c="k", alpha=0.6, lw=0, label=f"real (n = {len(real)})")
    ax.scatter(
        fake[:, cols[0]],
        fake[:, cols[1]],
        s=s * 1.3,
        c=FAKE_COLOUR,
        edgecolors="k",
        lw=0.3,
        alpha=0.85,
        label=f"generated (n = {len(fake)})",
    )
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(False)
    ax.set_title("Discriminator's decision map" + suffix)
    ax.legend(loc="upper right", markerscale=max(1.0, 30 / s) ** 0.5, framealpha=0.9)
    return fig


# ---------------------------------------------------------------- curves


def _series(records: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the records that have `key` with a numeric value, sorted by step."""
    pairs = [
        (r.get("step", i), r[key])
        for i, r in enumerate(records)
        if isinstance(r.get(key), numbers.Real) and not isinstance(r.get(key), bool)
    ]
    if not pairs:
        return np.empty(0), np.empty(0)
    steps, values = np.array(sorted(pairs, key=lambda p: p[0]), dtype=float).T
    return steps, values


def _plot_series(ax: Axes, steps: np.ndarray, values: np.ndarray, label: str, colour: str) -> None:
    """A noisy training series: faint raw line plus a moving average when it is long."""
    if len(values) > 50:
        w = max(len(values) // 25, 2)
        smooth = np.convolve(values, np.ones(w) / w, mode="valid")
        ax.plot(steps, values, color=colour, alpha=0.25, lw=0.8)
        ax.plot(steps[w - 1 :], smooth, color=colour, lw=1.8, label=f"{label} (moving avg. of {w})")
    else:
        ax.plot(steps, values, color=colour, lw=1.6, marker="." if len(values) < 30 else None, label=label)


_EVAL_METRICS = {"w1": "Wasserstein-1 distance", "fd": "Fréchet distance"}


@_styled
def loss_curves(records: list[dict]) -> Figure:
    """Training curves from metrics-log records (dicts with "step").

    Panel 1: loss_d and loss_g. Panel 2: mean D(x) ("d_real") and D(G(z)) ("d_fake") with
    0.5 dashed. One more log-y panel per evaluation metric present ("w1", "fd"), with its
    floor ("w1_floor", "fd_floor": the value two real samples would score) dashed.
    Records lacking a key are skipped for that curve.
    """
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        raise PlotInputError("loss_curves needs at least one metrics record (a dict with 'step')")
    evals = [m for m in _EVAL_METRICS if any(m in r for r in records)]
    fig = Figure(figsize=(11, 3.6 * (2 + len(evals)) * 0.8), layout="constrained")
    axes = fig.subplots(2 + len(evals), 1, sharex=True, squeeze=False)[:, 0]

    panels = [
        (axes[0], "Losses", "loss", [("loss_d", "discriminator loss", BLUE), ("loss_g", "generator loss", ORANGE)]),
        (
            axes[1],
            "Discriminator outputs",
            "mean D",
            [("d_real", "D(x), real data", BLUE), ("d_fake", "D(G(z)), generated", VERMILLION)],
        ),
    ]
    panels += [
        (ax, _EVAL_METRICS[m], m, [(m, m, GREEN), (f"{m}_floor", f"{m} floor (real vs real)", GREY)])
        for ax, m in zip(axes[2:], evals)
    ]
    for i, (ax, title, ylabel, curves) in enumerate(panels):
        for key, label, colour in curves:
            steps, values = _series(records, key)
            if not len(steps):
                continue
            if key.endswith("_floor"):
                ax.plot(steps, values, color=colour, ls="--", lw=1.5, label=label)
            else:
                _plot_series(ax, steps, values, label, colour)
        if i == 1:
            ax.axhline(0.5, color="k", ls="--", lw=1, alpha=0.6, label="0.5 (D can't tell)")
            ax.set_ylim(-0.02, 1.02)
        if i >= 2 and all(np.all(line.get_ydata() > 0) for line in ax.lines):
            ax.set_yscale("log")
        ax.set_title(title, loc="left")
        ax.set_ylabel(ylabel)
        if ax.lines:
            ax.legend(loc="best", framealpha=0.9)
        else:
            ax.text(0.5, 0.5, "no data in the records", transform=ax.transAxes, ha="center", color=GREY)
    axes[-1].set_xlabel("training step")
    return fig


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@_styled
def metric_vs_value(table: list[dict], *, x: str, metric: str, floor: str | None = None) -> Figure:
    """A sweep: `metric` ± its 95 % interval against the swept value `x`.

    Rows look like {x: value, metric+"_mean": m, metric+"_low": lo, metric+"_high": hi}
    (and optionally {floor: f}, drawn dashed). Numeric x values are placed by value (sorted,
    log-x when all > 0 and they span more than a decade); anything else is categorical,
    in table order.
    """
    rows = [r for r in table if x in r and f"{metric}_mean" in r]
    if not rows:
        raise PlotInputError(f"no row of the table has both {x!r} and {metric + '_mean'!r}")
    numeric = all(_is_number(r[x]) for r in rows)
    if numeric:
        rows = sorted(rows, key=lambda r: r[x])
        pos = np.array([r[x] for r in rows], dtype=float)
    else:
        pos = np.arange(len(rows), dtype=float)

    def column(key: str) -> np.ndarray:
        return np.array([r[key] if _is_number(r.get(key)) else np.nan for r in rows], dtype=float)

    mean, low, high = column(f"{metric}_mean"), column(f"{metric}_low"), column(f"{metric}_high")
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    if np.isfinite(low).any() and np.isfinite(high).any():
        ax.fill_between(pos, low, high, color=BLUE, alpha=0.22, lw=0, label="95% interval")
    ax.plot(pos, mean, color=BLUE, marker="o", lw=1.8, label=f"{metric} (mean)")
    if floor is not None and np.isfinite(column(floor)).any():
        ax.plot(pos, column(floor), color=GREY, ls="--", lw=1.5, marker=".", label=floor)
    if numeric:
        if pos.min() > 0 and pos.max() / pos.min() > 10:
            ax.set_xscale("log")
    else:
        ax.set_xticks(pos, [str(r[x]) for r in rows], rotation=30 if len(rows) > 6 else 0)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs {x}")
    ax.legend(loc="best", framealpha=0.9)
    return fig


# ---------------------------------------------------------------- images


def _tile(images: np.ndarray, nrow: int, pad: int, fill: int) -> np.ndarray:
    """(N, H, W) -> one (nrow*(H+pad)+pad, ncols*(W+pad)+pad) array, row-major, `fill` between."""
    n, h, w = images.shape
    ncols = math.ceil(n / nrow)
    out = np.full((nrow * (h + pad) + pad, ncols * (w + pad) + pad), fill, dtype=images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad) : (r + 1) * (h + pad), pad + c * (w + pad) : (c + 1) * (w + pad)] = img
    return out


@_styled
def image_grid(
    images: np.ndarray,
    *,
    nrow: int = 10,
    row_labels: list[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Grayscale images (N, H, W) uint8 (e.g. MNIST 28x28) tiled into `nrow` rows.

    Row-major: with ncols = ceil(N / nrow), image i sits at row i // ncols, column
    i % ncols, so a conditional GAN's samples ordered by class give one class per row;
    `row_labels` (one per row) are written on the left. Tiles are separated by 2 grey
    pixels and drawn with a single imshow (fast for large grids).
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise PlotInputError(f"images must have shape (N, H, W) with N >= 1, got {images.shape}")
    if images.dtype != np.uint8:
        raise PlotInputError(f"images must be uint8 (0-255), got {images.dtype}")
    nrow = min(int(nrow), len(images))
    if nrow < 1:
        raise PlotInputError(f"nrow must be at least 1, got {nrow}")
    if row_labels is not None and len(row_labels) != nrow:
        raise PlotInputError(f"row_labels has {len(row_labels)} labels for {nrow} rows")
    pad, h = 2, images.shape[1]
    tiled = _tile(images, nrow, pad, fill=128)

    ncols = math.ceil(len(images) / nrow)
    fig = Figure(figsize=(max(2.5, 0.55 * ncols + 0.8), max(2.5, 0.55 * nrow + 0.6)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(tiled, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks(
        [] if row_labels is None else pad + np.arange(nrow) * (h + pad) + (h - 1) / 2,
        [] if row_labels is None else [str(s) for s in row_labels],
    )
    ax.tick_params(left=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a Figure to an RGB uint8 array (H, W, 3): one frame of an animation."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def animation_frames_to_gif(frames: list[np.ndarray], path: str | Path, *, fps: int = 10) -> None:
    """Write RGB uint8 frames (H, W, 3) of equal size as a looping animated GIF.

    Pillow merges a frame identical to the one before it into a longer frame.
    """
    from PIL import Image  # matplotlib depends on Pillow

    if not frames:
        raise PlotInputError("animation_frames_to_gif needs at least one frame")
    if fps <= 0:
        raise PlotInputError(f"fps must be positive, got {fps}")
    arrays = [np.asarray(f) for f in frames]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3 or a.shape != shape:
            raise PlotInputError(
                f"frame {i} is {a.dtype} {a.shape}; every frame must be uint8 (H, W, 3) of shape {shape}"
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(a) for a in arrays]
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(round(1000 / fps), 20),
        loop=0,
    )


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG (dpi 110, tight bbox), creating the parent folder; returns the path.

    A path without a suffix gets ".png". The figure is left open (a pyplot-free Figure
    is freed when no longer referenced).
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path
