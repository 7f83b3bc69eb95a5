"""Fast checks of gankit.plots: every figure builds on small inputs and saves as a PNG."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from PIL import Image

from gankit import plots
from gankit.errors import GankitError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _saves_png(fig, tmp_path, name="fig.png"):
    path = plots.save_figure(fig, tmp_path / "nested" / "dir" / name)
    assert path.exists() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC
    return path


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("d", [2, 3, 5])
def test_real_vs_generated(rng, tmp_path, d):
    fig = plots.real_vs_generated(rng.normal(size=(60, d)), rng.normal(size=(50, d)) + 3, title="step 100")
    assert isinstance(fig, Figure)
    real_ax, fake_ax = fig.axes
    assert real_ax.name == fake_ax.name == ("3d" if d == 3 else "rectilinear")
    assert real_ax.get_xlim() == fake_ax.get_xlim() and real_ax.get_ylim() == fake_ax.get_ylim()
    # The shared box covers both clouds (the generated one is shifted by +3).
    assert real_ax.get_xlim()[1] > 3
    if d > 3:
        assert "1-2 of 5" in real_ax.get_title()
    _saves_png(fig, tmp_path)


def test_real_vs_generated_drops_nonfinite_and_rejects_bad_shapes(rng):
    fake = rng.normal(size=(20, 2))
    fake[3] = np.nan
    fig = plots.real_vs_generated(rng.normal(size=(20, 2)), fake)
    assert "n = 19" in fig.axes[1].get_title()
    with pytest.raises(ValueError):
        plots.real_vs_generated(rng.normal(size=(10, 2)), rng.normal(size=(10, 3)))
    with pytest.raises(GankitError):
        plots.real_vs_generated(rng.normal(size=10), rng.normal(size=10))


def _legend(ax):
    """The axes' legend, or the one its figure draws below everything."""
    return ax.get_legend() or ax.figure.legends[0]


def _legend_counts(ax):
    texts = [t.get_text() for t in _legend(ax).get_texts()]
    says_real = next(t for t in texts if t.startswith("D says real"))
    says_fake = next(t for t in texts if t.startswith("D says fake"))
    return [int(re.search(r": (\d+) \(", t).group(1)) for t in (says_real, says_fake)], texts


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_discriminator_verdict_counts(rng, tmp_path, d, threshold):
    fake = rng.normal(size=(40, d))
    prob = rng.uniform(size=40)
    prob[0] = threshold  # exactly at the threshold counts as "D says real"
    fig = plots.discriminator_verdict(fake, prob, real=rng.normal(size=(30, d)), threshold=threshold)
    (n_real, n_fake), texts = _legend_counts(fig.axes[0])
    assert n_real == int((prob >= threshold).sum())
    assert n_fake == int((prob < threshold).sum())
    assert any(t.startswith("real data") for t in texts)
    assert f"{100 * n_real / 40:.1f}%" in texts[1]
    _saves_png(fig, tmp_path)


def test_discriminator_verdict_one_sided_and_no_real(rng):
    fig = plots.discriminator_verdict(rng.normal(size=(10, 2)), np.ones((10, 1)))
    assert _legend_counts(fig.axes[0])[0] == [10, 0]
    with pytest.raises(ValueError):
        plots.discriminator_verdict(rng.normal(size=(10, 2)), np.ones(9))


def test_decision_map_2d(rng, tmp_path):
    widths = []

    def prob_fn(x):
        widths.append((x.shape, x.dtype))
        return _sigmoid(x[:, 0])

    fig = plots.decision_map(prob_fn, rng.normal(size=(50, 2)), rng.normal(size=(50, 2)), resolution=30)
    assert widths and all(shape == (900, 2) and dtype == np.float32 for shape, dtype in widths)
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    assert image.shape == (30, 30) and 0 <= image.min() < 0.5 < image.max() <= 1
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1 and contours[0].levels.tolist() == [0.5]
    assert sum(len(seg) for seg in contours[0].allsegs[0]) > 0
    (colourbar,) = ax.child_axes  # beside the drawn box, exactly as tall
    assert colourbar.get_ylabel() == "D(x) = P(real)"
    _saves_png(fig, tmp_path)


def test_decision_map_no_contour_when_prob_never_crosses_half(rng):
    fig = plots.decision_map(
        lambda x: np.full(len(x), 0.9), rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), resolution=10
    )
    assert not [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]


def test_decision_map_3d_slice(rng, tmp_path):
    calls = []

    def prob_fn(x):
        calls.append(x.copy())
        return _sigmoid(x[:, 0] - x[:, 2])

    real = rng.uniform(0, 10, size=(200, 3))
    fig = plots.decision_map(prob_fn, real, rng.uniform(0, 10, size=(100, 3)), resolution=20, slice_value=4.0)
    grid = np.concatenate(calls)
    assert grid.shape == (400, 3)
    assert np.all(grid[:, 1] == 4.0)  # the x-z plane at y = slice
    title = fig.axes[0].get_title()
    assert "slice y = 4" in title
    assert fig.axes[0].get_xlabel() == "x" and fig.axes[0].get_ylabel() == "z"
    assert [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]
    _saves_png(fig, tmp_path)

    # Default slice: the median of the real heights.
    calls.clear()
    fig = plots.decision_map(prob_fn, real, real, resolution=5)
    assert np.allclose(calls[0][:, 1], np.float32(np.median(real[:, 1])))


def test_decision_map_rejects_high_dimension(rng):
    with pytest.raises(ValueError):
        plots.decision_map(lambda x: np.zeros(len(x)), rng.normal(size=(10, 4)), rng.normal(size=(10, 4)))


def _train_records(n=80):
    return [{"step": 10 * i, "loss_d": 1.3 + 0.01 * i, "loss_g": 0.7, "d_real": 0.55, "d_fake": 0.45} for i in range(n)]


def test_loss_curves_training_only(tmp_path):
    fig = plots.loss_curves(_train_records(20))
    assert len(fig.axes) == 2
    labels = [line.get_label() for line in fig.axes[1].lines]
    assert any("D(x)" in s for s in labels) and any("D(G(z))" in s for s in labels)
    assert any(np.allclose(line.get_ydata(), 0.5) for line in fig.axes[1].lines)  # the dashed 0.5
    _saves_png(fig, tmp_path)


@pytest.mark.parametrize("metric", ["w1", "fd"])
def test_loss_curves_with_eval_records(tmp_path, metric):
    records = _train_records(80)  # long enough for the moving average
    records += [{"step": s, metric: 1.0 / (1 + s), f"{metric}_floor": 0.02} for s in (0, 200, 400, 600)]
    fig = plots.loss_curves(records)
    assert len(fig.axes) == 3
    eval_ax = fig.axes[2]
    assert eval_ax.get_yscale() == "log"
    floor = next(line for line in eval_ax.lines if "floor" in line.get_label())
    assert floor.get_linestyle() == "--" and np.allclose(floor.get_ydata(), 0.02)
    # Evaluation lines lack the loss keys and are skipped in the loss panel.
    assert all(len(line.get_xdata()) <= 80 for line in fig.axes[0].lines)
    _saves_png(fig, tmp_path)


def test_loss_curves_rejects_empty():
    with pytest.raises(ValueError):
        plots.loss_curves([])


def test_image_grid_tiles_pixels(rng, tmp_path):
    images = rng.integers(0, 256, size=(23, 28, 28), dtype=np.uint8)
    fig = plots.image_grid(images, nrow=5, row_labels=list("abcde"), title="samples")
    tiled = np.asarray(fig.axes[0].images[0].get_array())
    pad, ncols = 2, 5  # ceil(23 / 5)
    assert tiled.shape == (5 * 30 + pad, ncols * 30 + pad)
    for i in (0, 4, 5, 22):
        r, c = divmod(i, ncols)
        top, left = pad + 30 * r, pad + 30 * c
        np.testing.assert_array_equal(tiled[top : top + 28, left : left + 28], images[i])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list("abcde")
    _saves_png(fig, tmp_path)


def test_image_grid_takes_samples_in_minus_one_to_one(rng):
    images = rng.uniform(-1, 1, size=(20, 1, 28, 28)).astype(np.float32)  # as Run.sample gives MNIST images
    images[0, 0, 0, :2] = (-1.0, 1.0)
    tiled = np.asarray(plots.image_grid(images, nrow=4).axes[0].images[0].get_array())
    assert tiled.dtype == np.uint8 and tuple(tiled[2, 2:4]) == (0, 255)
    flat = plots.image_grid(images.reshape(20, 784), nrow=4).axes[0].images[0].get_array()
    np.testing.assert_array_equal(flat, tiled)


def test_image_grid_rejects_bad_input(rng):
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        plots.image_grid(rng.uniform(0, 255, size=(4, 28, 28)))
    with pytest.raises(ValueError):
        plots.image_grid(np.zeros((20, 28, 28), np.uint8), nrow=10, row_labels=["0"])


def _sweep(values):
    return [
        {"x": v, "w1_mean": 0.1 * (i + 1), "w1_low": 0.1 * i, "w1_high": 0.1 * (i + 2), "w1_floor": 0.01}
        for i, v in enumerate(values)
    ]


def test_metric_vs_value_numeric_log_x(tmp_path):
    fig = plots.metric_vs_value(_sweep([1000, 10, 100]), x="x", metric="w1", floor="w1_floor")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    mean = next(line for line in ax.lines if "mean" in line.get_label())
    assert mean.get_xdata().tolist() == [10, 100, 1000]  # sorted by x
    assert any("floor" in line.get_label() for line in ax.lines)
    assert ax.collections  # the 95% band
    _saves_png(fig, tmp_path)


def test_metric_vs_value_linear_and_categorical(tmp_path):
    assert plots.metric_vs_value(_sweep([1, 2, 3]), x="x", metric="w1").axes[0].get_xscale() == "linear"
    fig = plots.metric_vs_value(_sweep(["bce", "hinge", "wgan-gp"]), x="x", metric="w1")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bce", "hinge", "wgan-gp"]
    _saves_png(fig, tmp_path)
    with pytest.raises(ValueError):
        plots.metric_vs_value(_sweep([1]), x="x", metric="fd")


def test_figure_to_array_and_gif(rng, tmp_path):
    cloud = rng.normal(size=(20, 2))
    frames = [plots.figure_to_array(plots.real_vs_generated(cloud, cloud * k)) for k in (0.25, 0.5, 1.0)]
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    assert len({f.shape for f in frames}) == 1
    path = tmp_path / "out" / "anim.gif"
    plots.animation_frames_to_gif(frames, path, fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.size == frames[0].shape[1::-1]
        assert gif.info["duration"] == 200


def test_gif_rejects_mismatched_frames(tmp_path):
    with pytest.raises(ValueError):
        plots.animation_frames_to_gif(
            [np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "a.gif"
        )


def test_save_figure_adds_png_suffix(tmp_path):
    fig = plots.loss_curves(_train_records(5))
    path = plots.save_figure(fig, tmp_path / "curves")
    assert path.suffix == ".png" and path.read_bytes()[:8] == PNG_MAGIC


def test_no_pyplot_global_state():
    import sys

    import matplotlib

    before = dict(matplotlib.rcParams)
    plots.loss_curves(_train_records(5))
    assert dict(matplotlib.rcParams) == before
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


# ---------------------------------------------------------------- the lab's figures and fixes


def _facecolours(collection):
    if hasattr(collection, "update_scalarmappable"):
        collection.update_scalarmappable()  # colours from a colormap are applied when drawn
    return np.asarray(collection.get_facecolor())[:, :3]


def test_a_figure_and_a_dict_of_them_display_inline_without_pyplot(rng):
    fig = plots.point_cloud(rng.normal(size=(30, 2)))
    assert fig._repr_png_()[:8] == PNG_MAGIC
    figures = plots.Figures(cloud=fig, curves=plots.loss_curves(_train_records(5)))
    page = figures._repr_html_()
    assert page.count("<img") == 2 and "cloud" in page and "curves" in page
    assert figures["cloud"] is fig  # still a dict of Figures by name


@pytest.mark.parametrize("d", [2, 3, 5])
def test_point_cloud(rng, tmp_path, d):
    fig = plots.point_cloud(rng.normal(size=(40, d)), title="data")
    (ax,) = fig.axes
    assert ax.name == ("3d" if d == 3 else "rectilinear") and "n = 40" in ax.get_title()
    _saves_png(fig, tmp_path)


def test_wide_data_gets_a_wide_panel_not_a_blank_band():
    moons_like = np.stack([np.linspace(-1, 2, 200), np.sin(np.linspace(0, 6, 200)) * 0.7], 1)
    width, height = plots.real_vs_generated(moons_like, moons_like).get_size_inches()
    square_width, square_height = plots.real_vs_generated(
        moons_like[:, [1, 1]], moons_like[:, [1, 1]]
    ).get_size_inches()
    assert height / width < 0.7 * square_height / square_width


def test_decision_map_draws_real_points_apart_from_the_black_contour(rng):
    fig = plots.decision_map(lambda x: _sigmoid(x[:, 0]), rng.normal(size=(30, 2)), rng.normal(size=(30, 2)))
    real = next(c for c in fig.axes[0].collections if c.get_label().startswith("real"))
    assert np.all(np.abs(_facecolours(real) - 0.0).sum(1) > 0.3)  # not black
    legend_real = next(h for h in fig.legends[0].legend_handles if h.get_label().startswith("real"))
    np.testing.assert_allclose(_facecolours(legend_real)[0], _facecolours(real)[0])


def test_verdict_colours_points_by_probability_and_says_its_range(rng):
    prob = np.linspace(0.4, 0.55, 50)
    fig = plots.discriminator_verdict(rng.normal(size=(50, 2)), prob)
    ax = fig.axes[0]
    assert "from 0.40 to 0.55" in ax.get_title()
    colours = np.concatenate([_facecolours(c) for c in ax.collections if len(c.get_offsets())])
    assert colours.min(1).min() > 0.6  # all pale (near white): D is unsure, not two confident camps
    confident = plots.discriminator_verdict(rng.normal(size=(50, 2)), np.r_[np.zeros(25), np.ones(25)])
    colours = np.concatenate([_facecolours(c) for c in confident.axes[0].collections if len(c.get_offsets())])
    assert colours.min(1).max() < 0.45  # saturated blue and red


def test_a_sweep_of_two_seeds_warns_and_cuts_its_band_at_zero():
    rows = [dict(r, n=2, diverged=0) for r in _sweep([1, 2, 3])]
    rows[0]["w1_low"] = -17.0
    ax = plots.metric_vs_value(rows, x="x", metric="w1").axes[0]
    assert ax.get_ylim()[0] == 0
    note = " ".join(t.get_text() for t in ax.texts)
    assert "only 2 seeds" in note and "cut at 0" in note and "-17" in note


def _lab_view_inputs(rng, n=60):
    fake = rng.normal(size=(n, 2))
    return {
        "real": rng.normal(size=(80, 2)),
        "fake": fake,
        "box": [-3, 3, -2, 2],
        "prob": _sigmoid(np.linspace(-3, 3, 16))[None, :].repeat(12, 0),
        "push": -fake,
        "manifold": rng.normal(size=(18, 41, 2)),
    }


def test_lab_view_draws_heatmap_contour_manifold_arrows_and_curves(rng, tmp_path):
    records = _train_records(30) + [{"step": s, "w1": 1.0 / (1 + s), "w1_floor": 0.01} for s in (100, 200)]
    inputs = _lab_view_inputs(rng, n=plots.ARROWS + 40)
    fig = plots.lab_view(**inputs, records=records, step=150)
    view, losses, metric = fig.axes
    assert view.images[0].get_array().shape == (12, 16)
    assert [c for c in view.collections if isinstance(c, ContourSet)]
    (manifold,) = [c for c in view.collections if type(c).__name__ == "LineCollection"]
    assert len(manifold.get_segments()) == 18
    (arrows,) = [c for c in view.collections if type(c).__name__ == "Quiver"]
    assert arrows.N == plots.ARROWS  # a readable subset, not every point
    assert np.allclose(metric.lines[0].get_xdata(), [100])  # the curves stop at the view's step
    assert any(np.allclose(line.get_xdata(), 150) for line in losses.lines)  # the step is marked
    _saves_png(fig, tmp_path)
    alone = plots.lab_view(**{**inputs, "push": None, "manifold": None})
    assert len(alone.axes) == 1 and not [c for c in alone.axes[0].collections if type(c).__name__ == "Quiver"]


@pytest.mark.parametrize("curves", [False, True])
def test_the_lab_views_title_and_note_stay_on_its_canvas(rng, curves):
    """The live view shows the canvas as drawn (no tight crop): a long note over a narrow view must fit in it."""
    note = (
        "x-z plane: points projected along y; D at y = 10.4 (the median)\n"
        "manifold: G of a 9 x 9 lattice of z in [-2.5, 2.5]² on the z1-z2 plane of the 10-D z (z3.. = 0)"
    )
    records = _train_records(30) if curves else None
    fig = plots.lab_view(**{**_lab_view_inputs(rng), "box": [-1, 1, -3, 3]}, note=note, records=records, step=20)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    titles = [text for ax in fig.axes for text in (ax.title, *ax.texts)]  # the titles and the note under them
    texts = [t for t in titles if t.get_text().strip()]
    shown = " ".join(t.get_text() for t in texts)
    assert all(word in shown.split() for word in note.split())  # wrapped, not cut
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y0 >= 0 and box.y1 <= fig.bbox.height, text.get_text()
