"""Figures for a GAN teaching lab: point clouds, the discriminator's view, GAN Lab's view, training curves.

Every function returns a `gankit.plots.Figure` (a `matplotlib.figure.Figure`) built without pyplot,
so nothing here touches global state: it works headless, and in a notebook a returned Figure
displays inline even where pyplot was never imported (it renders itself as a PNG). `Figures`, a dict
of them by name, displays all of them. The caller saves one with `save_figure`. Inputs are numpy
arrays and plain callables.

Colours are from the Okabe-Ito colourblind-safe palette; "real" is blue throughout in point clouds,
as it is in the RdBu heatmaps of D (blue = D says real, red = D says fake). On a heatmap, where
blue points would vanish, real points are green with a white rim and generated ones orange.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import numbers
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.figure
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from gankit.errors import GankitError
from gankit.metrics import CURVES

__all__ = [
    "Figure",
    "Figures",
    "animation_frames_to_gif",
    "decision_map",
    "discriminator_verdict",
    "figure_to_array",
    "figure_to_png",
    "image_grid",
    "lab_view",
    "loss_curves",
    "metric_vs_value",
    "point_cloud",
    "real_vs_generated",
    "samples_grid",
    "save_figure",
]

# Okabe-Ito palette.
BLUE, ORANGE, VERMILLION, GREEN, GREY = "#0072B2", "#E69F00", "#D55E00", "#009E73", "#999999"
REAL_COLOUR, FAKE_COLOUR = BLUE, ORANGE
SAYS_REAL_COLOUR, SAYS_FAKE_COLOUR = BLUE, VERMILLION
# On D's RdBu heatmap: real points green with a white rim (visible on red, blue and the black 0.5 contour).
MAP_REAL_COLOUR, MANIFOLD_COLOUR = GREEN, "#3b3b3b"
HEATMAP = "RdBu"

# Swiss-roll view: the roll lies in the x-z plane and y is its height. Seen almost along y the spiral
# shows, a little from above and aside its height too; 3-D points are shaded by their distance from the
# y axis (`_shades`), which tells the turns of the sheet apart where one flat colour merged them.
VIEW_3D = {"elev": 18, "azim": -72}
DPI = 110
ARROWS = 150  # generated points that get an arrow in the lab view
NOTE_SIZE, NOTE_WIDTH = 8.5, 70  # the lab view's note under its title: points, characters a line
PANEL_WIDTH = 5.4  # inches of one 2-D panel; its height follows the data's aspect

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


def figure_to_png(fig: matplotlib.figure.Figure, *, dpi: float = DPI, tight: bool = True) -> bytes:
    """The figure as PNG bytes (Agg). `tight`: cropped to its bounding box, which draws it twice; a figure
    with a constrained layout fits its canvas without it (the live view's redraws)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that a notebook displays inline as a PNG, with or without pyplot."""

    def _repr_png_(self) -> bytes:
        return figure_to_png(self)


class Figures(dict):
    """{name: Figure}, as a run or a sweep plots them; a notebook shows every figure under its name."""

    def _repr_html_(self) -> str:
        parts = []
        for name, fig in self.items():
            data = base64.b64encode(figure_to_png(fig)).decode()
            parts.append(
                f'<figure style="margin:0 0 1em 0"><figcaption><code>{html.escape(name)}</code></figcaption>'
                f'<img src="data:image/png;base64,{data}" style="max-width:100%"></figure>'
            )
        return "".join(parts)


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


def _panel_size(lo: np.ndarray, hi: np.ndarray, dim: int) -> tuple[float, float]:
    """(width, height) in inches of one panel that draws the box lo..hi at an equal scale, so that a
    wide cloud (the moons) gets a wide panel and no blank band above and below it."""
    if dim == 3:
        return PANEL_WIDTH, 0.85 * PANEL_WIDTH
    aspect = float(hi[1] - lo[1]) / max(float(hi[0] - lo[0]), 1e-9)
    return PANEL_WIDTH, float(np.clip(PANEL_WIDTH * aspect, 2.2, 1.3 * PANEL_WIDTH))


def _point_figure(lo: np.ndarray, hi: np.ndarray, dim: int, n: int, *, extra_height: float = 0.8) -> Figure:
    width, height = _panel_size(lo, hi, dim)
    return Figure(figsize=(width * n + 0.4, height + extra_height), layout="constrained")


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
        ax.set_box_aspect(tuple(hi[:3] - lo[:3]), zoom=0.9)
        ax.view_init(**VIEW_3D)
    else:
        ax.set_aspect("equal", adjustable="box")


def _legend_below(ax: Axes, *, ncol: int, markerscale: float = 1.0, handles=None) -> None:
    """The legend under the axes, off the data: in a constrained layout below the whole figure (the layout
    makes room for it), else just under the axes."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    options = {"handles": handles, "ncol": ncol, "markerscale": markerscale, "frameon": False}
    if ax.figure.get_layout_engine() is not None:
        ax.figure.legend(loc="outside lower center", **options)
    else:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), **options)


def _shades(points: np.ndarray, centre: np.ndarray, cmap: str) -> np.ndarray:
    """Colours of 3-D points by their distance from the vertical axis (y) through `centre`, light to dark:
    on the swiss roll the turns of the sheet get different shades, as the roll's own parameter would."""
    radius = np.hypot(points[:, 0] - centre[0], points[:, 2] - centre[2])
    if not len(radius):
        return np.empty((0, 4))
    span = max(float(np.ptp(radius)), 1e-9)
    return matplotlib.colormaps[cmap](0.35 + 0.6 * (radius - radius.min()) / span)


@_styled
def point_cloud(points: np.ndarray, *, title: str | None = None, colour: str = REAL_COLOUR) -> Figure:
    """One point cloud: (N, 2) as a 2-D scatter, (N, 3) in 3-D (the swiss roll), (N, d>3) its first two
    coordinates (the title says so). The lab's first question: what does the data look like?"""
    points = _points("points", points)
    dim, note, labels = _plot_dim(points.shape[1])
    lo, hi = _bounds(points)
    fig = _point_figure(lo, hi, dim, 1)
    (ax,) = _point_axes(fig, 1, dim)
    if dim == 3:
        _scatter(ax, points, color=_shades(points, np.median(points, 0), "Blues"), alpha=0.85)
    else:
        _scatter(ax, points, color=colour)
    _frame(ax, lo, hi, labels)
    ax.set_title(f"{title or 'Points'} (n = {len(points):,}){note}")
    return fig


@_styled
def real_vs_generated(
    real: np.ndarray, fake: np.ndarray, *, title: str | None = None, real_title: str | None = None
) -> Figure:
    """Real data and generated samples in two panels with the same axis limits.

    (N, 2) points give 2-D scatters, (N, 3) 3-D scatters (the swiss roll), and (N, d>3) the first
    two coordinates, which the panel titles say. `real_title` names the real panel (default
    "Real data (n = N)"), e.g. to say that these are fresh draws and not the training points.
    """
    real = _points("real", real)
    fake = _points("fake", fake, real.shape[1])
    dim, note, labels = _plot_dim(real.shape[1])
    lo, hi = _bounds(real, fake)
    fig = _point_figure(lo, hi, dim, 2)
    titles = (real_title or f"Real data (n = {len(real):,})", f"Generated (n = {len(fake):,})")
    centre = np.median(real, 0) if len(real) else np.zeros(real.shape[1])
    for ax, pts, name, colour, shades in zip(
        _point_axes(fig, 2, dim), (real, fake), titles, (REAL_COLOUR, FAKE_COLOUR), ("Blues", "Oranges")
    ):
        if dim == 3:
            _scatter(ax, pts, color=_shades(pts, centre, shades), alpha=0.85)
        else:
            _scatter(ax, pts, color=colour)
        _frame(ax, lo, hi, labels)
        ax.set_title(name + note)
    if title:
        fig.suptitle(title + ("\n(shade: distance from the y axis)" if dim == 3 else ""))
    return fig


@_styled
def sampler_view(
    real: np.ndarray,
    kept: np.ndarray,
    rejected: np.ndarray,
    *,
    sampler: str,
    acceptance: float,
    title: str | None = None,
) -> Figure:
    """What a sampler keeps and drops (gankit.samplers): real points faint behind, G's samples the sampler kept,
    and the proposals it rejected, on one 2-D panel (the first two coordinates of wider points). Where G carries
    mass across the gaps between modes ("no GAN's land"), the rejected points mark the gaps."""
    real = _points("real", real)
    kept, rejected = _points("kept", kept, real.shape[1]), _points("rejected", rejected, real.shape[1])
    if 0 < acceptance < 1:  # as many rejected proposals as came with the kept ones
        rejected = rejected[: round(len(kept) * (1 - acceptance) / acceptance)]
    lo, hi = _bounds(real, kept, rejected)
    lo, hi = lo[:2], hi[:2]
    fig = _point_figure(lo, hi, 2, 1)
    (ax,) = _point_axes(fig, 1, 2)
    _scatter(ax, real, color=REAL_COLOUR, alpha=0.35, label=f"real (n = {len(real):,})")
    _scatter(ax, kept, color=FAKE_COLOUR, label=f"kept (n = {len(kept):,})")
    _scatter(
        ax,
        rejected,
        color=SAYS_FAKE_COLOUR,
        marker="x",
        s=12,
        linewidths=0.8,
        label=f"rejected (n = {len(rejected):,})",
    )
    _frame(ax, lo, hi)
    _legend_below(ax, ncol=3, markerscale=2.0)
    ax.set_title(title or f"sampler={sampler!r}: {acceptance:.1%} of G's samples kept")
    return fig


@_styled
def samples_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, title: str | None = None) -> Figure:
    """Small multiples: one panel per (title, real points, generated points), real faint behind, shared limits.

    Points as in `real_vs_generated`: 2-D, 3-D (the swiss roll), or the first two coordinates.
    """
    if not panels:
        raise PlotInputError("samples_grid needs at least one (title, real, generated) panel")
    reals = [_points("real", real) for _, real, _ in panels]
    fakes = [_points("generated", fake, real.shape[1]) for (_, _, fake), real in zip(panels, reals)]
    dim, note, labels = _plot_dim(reals[0].shape[1])
    lo, hi = _bounds(np.concatenate(reals), *fakes)
    ncols = min(len(panels), 5)
    nrows = math.ceil(len(panels) / ncols)
    width, height = _panel_size(lo, hi, dim)
    scale = 3.3 / width
    figure = Figure(figsize=(3.3 * ncols + 0.4, (height * scale + 0.5) * nrows + 0.6), layout="constrained")
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


def _colourbar(fig: Figure, ax: Axes, mappable, label: str) -> None:
    """A colourbar exactly as tall as the drawn axes (an inset beside it follows its aspect), not the cell."""
    if ax.name == "3d":
        fig.colorbar(mappable, ax=ax, label=label, shrink=0.6, pad=0.08)
        return
    cax = ax.inset_axes([1.03, 0.0, 0.035, 1.0])
    fig.colorbar(mappable, cax=cax, label=label)


@_styled
def discriminator_verdict(
    fake: np.ndarray,
    fake_prob: np.ndarray,
    *,
    real: np.ndarray | None = None,
    threshold: float = 0.5,
    real_label: str | None = None,
) -> Figure:
    """Generated points coloured by the discriminator's P(real) (RdBu: blue real, red fake, white 0.5),
    marked by its verdict P(real) >= threshold (dots: says real, crosses: says fake).

    The legend gives the count and percentage of each verdict and the title the range of D's outputs, so
    that a 49.8/50.2 split where D says 0.4-0.55 everywhere reads as "D cannot tell", not as two
    confident camps. `real` points, when given, are drawn faintly behind (`real_label` names them).
    2-D, 3-D or first-two-coordinates as in `real_vs_generated`.
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

    fig = _point_figure(lo, hi, dim, 1, extra_height=1.5)
    (ax,) = _point_axes(fig, 1, dim)
    handles = []
    if real is not None:
        label = real_label or f"real data (n = {len(real):,})"
        handles.append(_scatter(ax, real, color=GREY, alpha=0.2, label=label, zorder=1))
    says_real, real_text, fake_text = _verdict_labels(fake_prob, threshold)
    s = _marker_size(len(fake)) * 1.3
    colours = {"c": None, "cmap": HEATMAP, "vmin": 0.0, "vmax": 1.0, "edgecolors": "k", "alpha": 0.9}
    shown = None
    for mask, marker, lw in ((says_real, "o", 0.25), (~says_real, "X", 0.25)):
        if mask.any():
            shown = _scatter(ax, fake[mask], **{**colours, "c": fake_prob[mask]}, marker=marker, s=s, linewidths=lw)
    for marker, text in (("o", real_text), ("X", fake_text)):
        handles.append(Line2D([], [], ls="", marker=marker, color=GREY, markeredgecolor="k", markersize=7, label=text))
    _frame(ax, lo, hi, labels)
    if shown is not None:
        _colourbar(fig, ax, shown, "D(G(z)) = P(real)")
    spread = (
        f"D(G(z)) from {fake_prob.min():.2f} to {fake_prob.max():.2f}, mean {fake_prob.mean():.2f}"
        if len(fake_prob)
        else "no finite points"
    )
    ax.set_title(f"Discriminator's verdict on {len(fake):,} generated points{note}\n{spread}")
    _legend_below(ax, ncol=1, handles=handles)
    return fig


def _heatmap(ax: Axes, prob: np.ndarray, extent: Sequence[float]):
    """D's P(real) as an RdBu image with its 0.5 contour (when it crosses 0.5); returns the image."""
    im = ax.imshow(
        prob,
        origin="lower",
        extent=extent,
        cmap=HEATMAP,
        vmin=0,
        vmax=1,
        aspect="equal",
        alpha=0.85,
        interpolation="bilinear",
    )
    finite = prob[np.isfinite(prob)]
    if finite.size and finite.min() < 0.5 < finite.max():
        gx = np.linspace(extent[0], extent[1], prob.shape[1])
        gy = np.linspace(extent[2], extent[3], prob.shape[0])
        ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1.5)
        ax.plot([], [], color="k", lw=1.5, label="D(x) = 0.5")
    return im


def _map_points(ax: Axes, real: np.ndarray, fake: np.ndarray, *, real_label: str, fake_label: str) -> float:
    """Real (green, white rim) and generated (orange, black rim) points on a heatmap; the marker size."""
    s = _marker_size(len(real) + len(fake))
    ax.scatter(*real.T, s=s, c=MAP_REAL_COLOUR, edgecolors="white", lw=0.35, alpha=0.9, label=real_label, zorder=3)
    ax.scatter(*fake.T, s=s * 1.3, c=FAKE_COLOUR, edgecolors="k", lw=0.35, alpha=0.9, label=fake_label, zorder=4)
    return s


@_styled
def decision_map(
    prob_fn: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray,
    fake: np.ndarray,
    *,
    resolution: int = 200,
    slice_value: float | None = None,
    real_label: str | None = None,
) -> Figure:
    """Heatmap of the discriminator's P(real) with its 0.5 contour and the points on top.

    `prob_fn` takes an (M, d) float32 array and returns P(real) as an (M,) array.
    d == 2: over a box around real and fake. d == 3 (swiss roll in the x-z plane, y the
    height): over the x-z plane at y = `slice_value` (default: median real y), with only
    the points within a slab around it drawn. d > 3: ValueError. `real_label` names the real points.
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

    fig = _point_figure(lo[cols], hi[cols], 2, 1, extra_height=1.4)
    ax = fig.add_subplot()
    extent = (gx[0], gx[-1], gy[0], gy[-1])
    im = _heatmap(ax, prob, extent)
    _colourbar(fig, ax, im, "D(x) = P(real)")
    s = _map_points(
        ax,
        real[:, cols],
        fake[:, cols],
        real_label=real_label or f"real (n = {len(real):,})",
        fake_label=f"generated (n = {len(fake):,})",
    )
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(False)
    ax.set_title("Discriminator's decision map" + suffix)
    _legend_below(ax, ncol=3, markerscale=max(1.0, 30 / s) ** 0.5)
    return fig


@_styled
def lab_view(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    box: Sequence[float],
    prob: np.ndarray | None = None,
    push: np.ndarray | None = None,
    manifold: np.ndarray | None = None,
    labels: Sequence[str] = ("x", "y"),
    manifold_label: str = "G's manifold",
    real_label: str | None = None,
    note: str = "",
    records: Sequence[dict] | None = None,
    step: int | None = None,
    title: str | None = None,
) -> Figure:
    """GAN Lab's view of a GAN in one picture, with its training curves beside it.

    All arrays are 2-D pictures already (the caller projects): `real` and `fake` (N, 2) points, `box`
    [x_lo, x_hi, y_lo, y_hi]; `prob` D's P(real) on a lattice over the box (rows = y), drawn as the RdBu
    heatmap with its 0.5 contour; `manifold` (lines, points, 2) the images of lattice lines of z, drawn
    as lines; `push` (N, 2) on each generated point the change G's loss asks for, drawn as arrows to one
    scale (the legend gives it). `records` (metrics-log records) add the losses and W1 (with its floor)
    or FD panels up to `step`, marked. `note` goes under the title (which plane is drawn, say).
    """
    real = _points("real", real, 2)
    fake = _points("fake", fake, 2)
    box = [float(v) for v in box]
    curves = [r for r in records or [] if isinstance(r, dict) and (step is None or r.get("step", 0) <= step)]
    # A fixed layout, not a constrained one: the live view redraws this figure while training, and the
    # layout solver was a third of each redraw.
    fig = Figure(figsize=(12.5 if curves else 7.0, 6.6))
    place = {"left": 0.07, "right": 0.97, "top": 0.86, "bottom": 0.22}
    if curves:
        grid = fig.add_gridspec(2, 2, width_ratios=(1.25, 1.0), wspace=0.42, hspace=0.42, **place)
        ax = fig.add_subplot(grid[:, 0])
        _curve_panels(fig, [grid[0, 1], grid[1, 1]], curves, step)
    else:
        ax = fig.add_subplot(fig.add_gridspec(1, 1, **{**place, "right": 0.85})[0])
    if prob is not None:
        im = _heatmap(ax, np.asarray(prob, dtype=float), box)
        _colourbar(fig, ax, im, "D(x) = P(real)")
    if manifold is not None and len(manifold):
        lines = LineCollection(np.asarray(manifold, dtype=float), colors=MANIFOLD_COLOUR, linewidths=0.8, alpha=0.75)
        ax.add_collection(lines)
        ax.plot([], [], color=MANIFOLD_COLOUR, lw=0.8, label=manifold_label)
    s = _map_points(
        ax,
        real,
        fake,
        real_label=real_label or f"real (n = {len(real):,})",
        fake_label=f"generated (n = {len(fake):,})",
    )
    if push is not None and len(push) == len(fake) and len(fake):
        # Arrows on the first ARROWS points only (a random subset: z is random), to one scale: the 95th
        # percentile of their lengths is drawn as 7% of the box's diagonal.
        push = np.nan_to_num(np.asarray(push, dtype=float))[:ARROWS]
        length = np.linalg.norm(push, axis=1)
        typical = float(np.quantile(length, 0.95)) if length.size else 0.0
        if typical > 0:
            scale = 0.07 * math.hypot(box[1] - box[0], box[3] - box[2]) / typical
            ax.quiver(
                *fake[:ARROWS].T,
                *(scale * push).T,
                angles="xy",
                scale_units="xy",
                scale=1.0,
                width=0.0028,
                color="k",
                alpha=0.7,
                zorder=5,
                label=f"push of G's loss (x{scale:.2g})",
            )
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(False)
    heading = title or "GAN Lab view" + (f", step {step:,}" if step is not None else "")
    # The note in smaller type, each line wrapped to about the axes' width: centred over a narrow view, a long
    # line ran off the figure's left edge (the live view draws the canvas as it is, without a tight crop).
    lines = [part for line in note.splitlines() for part in textwrap.wrap(line, NOTE_WIDTH)]
    ax.set_title(heading, fontsize=11, pad=8 + NOTE_SIZE * 1.25 * len(lines))
    if lines:
        ax.annotate(
            "\n".join(lines),
            xy=(0.5, 1),
            xycoords="axes fraction",
            xytext=(0, 5),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=NOTE_SIZE,
            color="#333",
        )
    _legend_below(ax, ncol=2, markerscale=max(1.0, 30 / s) ** 0.5)
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


def _curve_panels(fig: Figure, cells: Sequence[Any], records: Sequence[dict], step: int | None) -> list[Axes]:
    """Two small panels in `cells`: the losses, then the evaluation metric with its floor (W1 or FD), with
    the current `step` marked: the curves beside a view."""
    top = fig.add_subplot(cells[0])
    bottom = fig.add_subplot(cells[1], sharex=top)
    for key, label, colour in (("loss_d", "D loss", BLUE), ("loss_g", "G loss", ORANGE)):
        steps, values = _series(records, key)
        if len(steps):
            _plot_series(top, steps, values, label, colour)
    top.set_title("Losses", loc="left", fontsize=11)
    metric = next((m for m in CURVES if any(m in r for r in records)), None)
    if metric is None:
        bottom.text(0.5, 0.5, "no evaluation yet", transform=bottom.transAxes, ha="center", color=GREY)
    else:
        for key, label, colour, style in (
            (metric, metric, GREEN, "-"),
            (f"{metric}_floor", "floor (real vs real)", GREY, "--"),
        ):
            steps, values = _series(records, key)
            if len(steps):
                bottom.plot(
                    steps, values, color=colour, ls=style, lw=1.6, marker="." if style == "-" else None, label=label
                )
        if bottom.lines and all(np.all(line.get_ydata() > 0) for line in bottom.lines):
            bottom.set_yscale("log")
            # Plain numbers, no minor labels: mathtext tick labels make a live redraw markedly slower.
            bottom.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            bottom.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        bottom.set_title(CURVES[metric], loc="left", fontsize=11)
    bottom.set_xlabel("training step")
    for ax in (top, bottom):
        if step is not None:
            ax.axvline(step, color="k", lw=0.8, alpha=0.4)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8, framealpha=0.9)  # not "best": its search is slow for a live view
    return [top, bottom]


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
    evals = [m for m in CURVES if any(m in r for r in records)]
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
        (ax, CURVES[m], m, [(m, m, GREEN), (f"{m}_floor", f"{m} floor (real vs real)", GREY)])
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


FEW_SEEDS = 5  # below this many seeds a t-interval is too wide to read (t(0.975, 1) = 12.7)


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
    warnings = []
    counts = column("n") - np.nan_to_num(column("diverged"))
    if np.isfinite(counts).any() and np.nanmin(counts) < FEW_SEEDS:
        warnings.append(
            f"only {int(np.nanmin(counts))} seeds in a setting: its 95% interval is very wide (use {FEW_SEEDS} or more)"
        )
    if np.isfinite(low).any() and np.isfinite(high).any():
        ax.fill_between(pos, low, high, color=BLUE, alpha=0.22, lw=0, label="95% interval")
        if np.nanmin(mean) >= 0 and np.nanmin(low) < 0:
            # A distance cannot be negative: the band is cut at 0, and the figure says how far down it went.
            ax.set_ylim(bottom=0, top=max(float(np.nanmax(high)), float(np.nanmax(mean))) * 1.05)
            warnings.append(f"interval cut at 0 (it reaches {np.nanmin(low):.3g})")
    if warnings:
        ax.text(0.01, 0.99, "\n".join(warnings), transform=ax.transAxes, va="top", fontsize=9, color=VERMILLION)
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
    """(N, H, W[, 3]) -> one (nrow*(H+pad)+pad, ncols*(W+pad)+pad[, 3]) array, row-major, `fill` between."""
    n, h, w = images.shape[:3]
    ncols = math.ceil(n / nrow)
    out = np.full((nrow * (h + pad) + pad, ncols * (w + pad) + pad, *images.shape[3:]), fill, dtype=images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad) : (r + 1) * (h + pad), pad + c * (w + pad) : (c + 1) * (w + pad)] = img
    return out


def _uint8_images(images: np.ndarray) -> np.ndarray:
    """(N, H, W) or, in colour, (N, H, W, 3) uint8 from uint8 pictures or from float images in [-1, 1] (what
    gankit's samplers give), of shape (N, H, W), (N, H, W, 3), (N, 1 or 3, H, W) or (N, H*W) with square pictures."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    elif images.ndim == 4 and images.shape[1] == 3 and images.shape[3] != 3:
        images = images.transpose(0, 2, 3, 1)
    if images.ndim == 2 and len(images) and math.isqrt(images.shape[1]) ** 2 == images.shape[1]:
        side = math.isqrt(images.shape[1])
        images = images.reshape(len(images), side, side)
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)) or len(images) == 0:
        raise PlotInputError(f"images must have shape (N, H, W) or (N, H, W, 3) with N >= 1, got {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise PlotInputError(f"images must be uint8 (0-255) or floats in [-1, 1], got {images.dtype}")
    finite = images[np.isfinite(images)]
    if finite.size and (finite.min() < -1.01 or finite.max() > 1.01):
        raise PlotInputError(
            f"float images must lie in [-1, 1] (gankit's samples do), got {finite.min():.3g}..{finite.max():.3g}"
        )
    return np.clip(np.rint((np.nan_to_num(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


@_styled
def image_grid(
    images: np.ndarray,
    *,
    nrow: int = 10,
    row_labels: list[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Images tiled into `nrow` rows: grayscale uint8 (N, H, W) (e.g. MNIST 28x28) or colour (N, H, W, 3), or
    floats in [-1, 1] as `Run.sample` gives them ((N, C, H, W) with C 1 or 3, (N, H, W) or (N, 784)).

    Row-major: with ncols = ceil(N / nrow), image i sits at row i // ncols, column
    i % ncols, so a conditional GAN's samples ordered by class give one class per row;
    `row_labels` (one per row) are written on the left. Tiles are separated by 2 grey
    pixels and drawn with a single imshow (fast for large grids).
    """
    images = _uint8_images(images)
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
