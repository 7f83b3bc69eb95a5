"""The report page: one self-contained HTML file of a run or a sweep, to open in any browser, offline.

A run's page has a slider over the steps of its saved views (RUN/views/, written at every evaluation)
that redraws the lab view (D's heatmap and 0.5 contour, G's manifold, the push of G's loss, the
points) or, for images, the grid of the same 100 draws of z; the loss and metric curves with the
slider's step marked; the doctor's findings, marked on the curves and listed up to the slider's step;
the final metrics beside their floors and the best step; and the config. A
sweep's page has its table, its figures and each setting's median run. `gankit lab` puts several
sections on one page.

Everything is inline: the data as JSON, the drawing as a small script of our own (report.js, about
250 lines of canvas drawing) rather than plotly or bokeh, whose bundles alone (3-4 MB and 1-2 MB) would
outweigh a run's data several times over on a page of seven runs; the views need only five primitives
(an image, lines, dots, arrows, a line chart).
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import contourpy
import matplotlib
import numpy as np
from torch import nn

from gankit import plots
from gankit.errors import GankitError
from gankit.figures import lab_figure, training_label
from gankit.files import atomic_write, resolve_file
from gankit.metrics import CURVES, FLOORS, METRICS, RANKING
from gankit.models.user import build_pair
from gankit.registry import CUSTOM
from gankit.run import Run
from gankit.runfolder import CONFIG_FILE, best_record, read_config, read_metrics
from gankit.sweep import SWEEP_FILE, SweepResult
from gankit.tables import html_table, number
from gankit.threads import policy_threads
from gankit.views import Snapshot, load_snapshots

REPORT_FILE = "report.html"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child, td:last-child { text-align: left; }
.gk-viewer { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; margin: 1em 0; }
.gk-left { flex: 1 1 540px; max-width: 580px; } .gk-right { flex: 1 1 420px; }
canvas.gk-view { display: block; margin: 0.6em 0 0.4em 0; }
.gk-slider { width: 100%; } .gk-step { font-weight: bold; } .gk-numbers { color: #444; font-size: 0.92em; }
.gk-legend > span { margin-right: 1em; white-space: nowrap; font-size: 0.9em; }
.gk-note { color: #555; font-size: 0.9em; }
.gk-findings div { color: #b2182b; font-size: 0.9em; margin: 0.2em 0; }
img.gk-grid, img.gk-figure { max-width: 100%; }
details { margin: 0.5em 0; } pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""
LEGEND = (
    '<div class="gk-legend"><span style="color:#009E73">&#9679; {real}</span>'
    '<span style="color:#E69F00">&#9679; generated</span><span>&#8212; D(x) = 0.5</span>'
    "<span style=\"color:#3b3b3b\">&#8212; G's manifold</span><span>&#8594; push of G's loss</span>"
    '<span>heatmap: D(x) = P(real), <span style="color:#2166ac">blue real</span>, '
    '<span style="color:#b2182b">red fake</span></span></div>'
)
_ids = iter(range(1, 1_000_000))


# ----- numbers -----
def _round(values: Any, digits: int = 4) -> Any:
    """Nested lists of floats rounded for the page (the views are pictures, not data to compute with)."""
    return np.round(np.nan_to_num(np.asarray(values, dtype=float)), digits).tolist()


def _colormap() -> list[list[int]]:
    rgba = matplotlib.colormaps[plots.HEATMAP](np.linspace(0, 1, 256))
    return (np.round(rgba[:, :3] * 255)).astype(int).tolist()


def _eval_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "loss_d" not in r and "event" not in r and len(r) > 1]


def _findings(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The doctor's findings that the run logged (gankit.doctor), each at its step."""
    return [
        {"step": r["step"], "kind": r.get("kind", "finding"), "text": r["text"]}
        for r in records
        if r.get("event") == "finding" and isinstance(r.get("text"), str)
    ]


def _at(records: Sequence[dict[str, Any]], step: int) -> dict[str, Any]:
    """The evaluation logged at `step` ({} if none)."""
    return next((r for r in reversed(_eval_records(records)) if r.get("step") == step), {})


def _numbers_text(record: dict[str, Any]) -> str:
    shown = [(k, record[k]) for k in METRICS if k in record and not isinstance(record[k], list)]
    return ", ".join(f"{k} {number(v)}" for k, v in shown)


# ----- the data of a viewer -----
def _charts(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    def series(key: str) -> list[list[float]]:
        return [[r["step"], r[key]] for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]

    charts = [
        {
            "title": "Losses",
            "log": False,
            "series": [
                {"name": "D loss", "colour": plots.BLUE, "points": series("loss_d")},
                {"name": "G loss", "colour": plots.ORANGE, "points": series("loss_g")},
            ],
        }
    ]
    metric = next((m for m in CURVES if series(m)), None)
    if metric is not None:
        charts.append(
            {
                "title": CURVES[metric],
                "log": True,
                "series": [
                    {"name": metric, "colour": plots.GREEN, "points": series(metric)},
                    {
                        "name": "floor (real vs real)",
                        "colour": plots.GREY,
                        "points": series(f"{metric}_floor"),
                        "dashed": True,
                    },
                ],
            }
        )
    return charts


def _point_frame(view: Snapshot, cols: list[int], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    box = view["box"]
    prob = np.nan_to_num(view["prob"].astype(float), nan=0.5)
    gx = np.linspace(box[0], box[1], prob.shape[1])
    gy = np.linspace(box[2], box[3], prob.shape[0])
    contour = contourpy.contour_generator(x=gx, y=gy, z=prob).lines(0.5) if prob.min() < 0.5 < prob.max() else []
    push = view["push"][: plots.ARROWS, cols] if len(view["push"]) else np.empty((0, 2))
    length = np.linalg.norm(push, axis=1) if len(push) else np.empty(0)
    typical = float(np.quantile(length, 0.95)) if length.size else 0.0
    # The same scale as the figure's arrows: the 95th percentile of the lengths is 7% of the box's diagonal.
    arrow_scale = 0.07 * math.hypot(box[1] - box[0], box[3] - box[2]) / typical if typical > 0 else 0.0
    return {
        "step": int(view["step"]),
        "fake": _round(view["fake"][:, cols]),
        "push": _round(push, 5),
        "arrow_scale": arrow_scale,
        "prob": {
            "w": prob.shape[1],
            "h": prob.shape[0],
            "data": np.round(np.clip(prob, 0, 1) * 255).astype(int).ravel().tolist(),
        },
        "manifold": _round(view["manifold"][:, :, cols]),
        "contour": [_round(line) for line in contour],
        "numbers": _numbers_text(_at(records, int(view["step"]))),
    }


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _image_frame(view: Snapshot, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    figure = lab_figure(view)
    return {
        "step": int(view["step"]),
        "png": _png_uri(plots.figure_to_png(figure, dpi=80)),
        "numbers": _numbers_text(_at(records, int(view["step"]))),
    }


def viewer_data(views: Sequence[Snapshot], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a viewer draws: the frames of `views` (a run's snapshots, by step) and the curves of `records`."""
    if not views:
        raise GankitError("a viewer needs at least one snapshot of the views")
    charts, findings = _charts(records), _findings(records)
    if "images" in views[0]:
        frames = [_image_frame(v, records) for v in views]
        return {"kind": "images", "frames": frames, "charts": charts, "findings": findings}
    last = views[-1]
    cols = [int(c) for c in last["cols"]]
    names = (
        ("x", "y", "z") if last["real"].shape[1] <= 3 else tuple(f"coordinate {i + 1}" for i in range(max(cols) + 1))
    )
    return {
        "kind": "points",
        "box": _round(last["box"]),
        "labels": [names[cols[0]], names[cols[1]]],
        "real": _round(last["real"][:, cols]),
        "colormap": _colormap(),
        "plane": str(last["plane"]),
        "latent": str(last["latent"]),
        "frames": [_point_frame(v, cols, records) for v in views],
        "charts": charts,
        "findings": findings,
    }


def viewer(views: Sequence[Snapshot], records: Sequence[dict[str, Any]]) -> str:
    """An HTML viewer: the view (or sample grid) at a step, a slider over the steps, the curves beside it."""
    data = viewer_data(views, records)
    source = f"gk-data-{next(_ids)}"
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    many = len(data["frames"]) > 1
    slider = (
        f'<input class="gk-slider" type="range" min="0" max="{len(data["frames"]) - 1}" '
        f'value="{len(data["frames"]) - 1}" aria-label="training step">'
        if many
        else ""
    )
    if data["kind"] == "points":
        real = training_label(len(views[-1]["real"]), int(views[-1]["n_train"]))
        picture = '<canvas class="gk-view"></canvas>' + LEGEND.format(real=html.escape(real))
        notes = [n for n in (data["plane"], data["latent"]) if n]
        picture += "".join(f'<div class="gk-note">{html.escape(n)}</div>' for n in notes)
    else:
        picture = '<img class="gk-grid" alt="generated samples">'
    charts = "".join('<div><canvas class="gk-chart"></canvas></div>' for _ in data["charts"])
    return (
        f'<script type="application/json" id="{source}">{payload}</script>'
        f'<div class="gk-viewer" data-source="{source}"><div class="gk-left">'
        f'<div><span class="gk-step"></span> <span class="gk-numbers"></span></div>{slider}'
        f'<div class="gk-findings"></div>{picture}</div>'
        f'<div class="gk-right">{charts}</div></div>'
    )


# ----- sections -----
def figure_html(figure: Any, caption: str = "") -> str:
    uri = _png_uri(plots.figure_to_png(figure))
    text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img class="gk-figure" src="{uri}" alt="{html.escape(caption)}">{text}</figure>'


def metrics_table(records: Sequence[dict[str, Any]]) -> str:
    """The final evaluation's metrics beside their floors, and the best step by the run's own metric."""
    evals = _eval_records(records)
    if not evals:
        return '<p class="gk-note">No evaluation was logged.</p>'
    final = evals[-1]
    rows = []
    known = [k for k in METRICS if k in final]
    others = [k for k, v in final.items() if k not in METRICS and k not in FLOORS and not k.endswith("_se")]
    for key in known + [k for k in others if k != "step" and isinstance(final[k], (int, float))]:
        value = final[key]
        floor, what = (METRICS[key].floor, METRICS[key].description) if key in METRICS else (None, "")
        if isinstance(value, list):  # one number per class or mode: the smallest and the largest
            numbers = [v for v in value if isinstance(v, (int, float))]
            shown = f"{number(min(numbers))} to {number(max(numbers))}" if numbers else "-"
        else:
            error = f" ± {number(final[key + '_se'])}" if isinstance(final.get(key + "_se"), float) else ""
            shown = f"{number(value)}{error}"
        rows.append([key, shown, final.get(floor, "") if floor else "", what])
    text = html_table(rows, [f"metric at step {final['step']:,}", "value", "floor or ceiling", "what it is"])
    best = best_record(list(records))
    if best is not None:
        metric = next(m for m in RANKING if m in best)
        text += f"<p>Best evaluation by {metric}: step {best['step']:,} ({metric} {number(best[metric])}).</p>"
    return text


def _read_back(run_dir: Path, networks: dict[str, Any]) -> Run:
    """The run in `run_dir` with your own networks, given as for gankit.Run (models=, generator=, discriminator=,
    loss=) or as the functions config -> nn.Module that a sweep took, built here for this run's config."""
    generator, discriminator = networks.get("generator"), networks.get("discriminator")
    config = read_config(run_dir)
    if config.model == CUSTOM and generator is None and networks.get("models") is None:
        raise GankitError(
            f"the report of {str(run_dir)!r} draws the networks' final state (no views were saved), and they are "
            "your own; accepted: write_report(path, generator=make_g, discriminator=make_d) with the functions "
            "(or modules) it was trained with, or models=FILE (gankit report --models FILE)"
        )
    if callable(generator) and callable(discriminator) and not isinstance(generator, nn.Module):
        made = build_pair(generator, discriminator, config)
        networks = {**networks, "generator": made[0], "discriminator": made[1]}
    return Run(run_dir, **{k: v for k, v in networks.items() if v is not None})


def run_section(
    run_dir: str | Path, *, heading: str | None = None, level: int = 2, models: Any = None, **networks: Any
) -> str:
    """One run: its viewer over the saved views (or its final state, for a run without saved views: `models`,
    or `generator=`/`discriminator=` (modules or functions config -> module) for one of your own networks),
    its final metrics with their floors, and its config."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    records = read_metrics(run_dir)
    views = load_snapshots(run_dir)
    last_step = max((r.get("step", 0) for r in records), default=0)
    with policy_threads(config):
        views = [v for v in views if v["step"] <= last_step] or [
            _read_back(run_dir, {"models": models, **networks}).view()
        ]
    title = heading or f"{Path(config.dataset).stem}: {run_dir}"
    config_rows = [[k, json.dumps(v)] for k, v in config.to_dict().items()]
    sampled = _sampled(_read_back(run_dir, {"models": models, **networks})) if config.sampler != "plain" else ""
    return (
        f"<h{level}>{html.escape(title)}</h{level}>{viewer(views, records)}{metrics_table(records)}{sampled}"
        f"<details><summary>config</summary>{html_table(config_rows, ['field', 'value'])}</details>"
    )


def _sampled(run: Run) -> str:
    """The run as its sampler draws it: the metrics of those samples and, for points, what the sampler drops."""
    with policy_threads(run.config):
        metrics = run.evaluate()
        figure = figure_html(run.sampler_view(), "what the sampler keeps and drops") if not run.config.is_image else ""
    text = (
        f"<p>Sampled by <code>sampler={html.escape(repr(run.config.sampler))}</code> (gankit.samplers): "
        f"{_numbers_text(metrics)}; "
        f"{metrics['acceptance']:.1%} of G's samples kept, {metrics['sampling_seconds']:.1f} s.</p>"
    )
    return text + figure


def page(title: str, sections: Sequence[str], *, intro: str = "") -> str:
    """A whole page around `sections` (HTML fragments), with the style and the drawing script inline."""
    script = files("gankit").joinpath("report.js").read_text()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{intro}{''.join(sections)}"
        f"<script>{script}</script></body></html>"
    )


def write_page(path: str | Path, text: str) -> Path:
    path = resolve_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode())
    except OSError as error:
        raise GankitError(
            f"report {str(path)!r} could not be written ({error.strerror}); accepted: a writable path"
        ) from None
    return path


# ----- sweeps -----
def sweep_sections(path: str | Path, *, level: int = 2, models: Any = None, **networks: Any) -> list[str]:
    """A sweep: its table, its figures, and each setting's median run (its views at the last step; a sweep of
    your own networks needs them again: `models`, or the `generator=`/`discriminator=` functions it took)."""
    result = SweepResult.load(path)
    sections = [f"<h{level}>Table</h{level}>", result.to_html()]
    figures = result.plot(save=False)
    # The metrics themselves, not their standard errors or floors, which a sweep summarises as well.
    shown = {n: f for n, f in figures.items() if not n.split("_vs_")[0].endswith(("_se", "_floor"))}
    sections += [figure_html(figure, name) for name, figure in shown.items()]
    sections.append(f"<h{level}>The median run of each setting</h{level}>")
    for entry in result.table:
        row = next(
            (r for r in result.rows if r["setting"] == entry["setting"] and r["seed"] == entry.get("median_seed")), None
        )
        if row and row.get("run"):
            heading = f"{entry['setting']}, seed {row['seed']}"
            sections.append(
                run_section(result.path / row["run"], heading=heading, level=level + 1, models=models, **networks)
            )
    return sections


# ----- the public call -----
def write_report(
    path: str | Path,
    out: str | Path | None = None,
    *,
    models: Any = None,
    generator: Any = None,
    discriminator: Any = None,
    loss: Any = None,
) -> Path:
    """Write the report page of a run folder or a sweep folder (default PATH/report.html); returns its path.
    A run or sweep of your own networks, where no views were saved (a sweep's runs): `models` its models file,
    or `generator`/`discriminator` the functions config -> nn.Module it was trained with (a run's own modules
    too), and `loss` its own loss for the arrows."""
    path = Path(path)
    out = resolve_file(out if out is not None else path / REPORT_FILE)  # checked before the page is made
    networks = {"generator": generator, "discriminator": discriminator, "loss": loss}
    if (path / SWEEP_FILE).is_file():
        sections = sweep_sections(path, models=models, **networks)
        title = f"gankit sweep: {path}"
    elif (path / CONFIG_FILE).is_file():
        sections = [run_section(path, heading="Training", models=models, **networks)]
        title = f"gankit run: {path}"
    else:
        raise GankitError(
            f"{str(path)!r} holds neither {CONFIG_FILE} nor {SWEEP_FILE}; "
            "accepted: a run or sweep folder written by gankit"
        )
    return write_page(out, page(title, sections))
