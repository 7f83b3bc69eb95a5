"""The whole lab in one call: `gankit lab --out lab/` trains the lab's questions and answers each on one page.

The questions, each answered with its figures and numbers measured in this very run:
1. the circle: can a GAN learn it, and what happens with the lab's own settings (100 points, batch 100,
   the minimax loss, no EMA), where D can win after a good start;
2. the moons: what does D say about the generated points (the verdict counts and D's range);
3. the swiss roll, in 3-D (the lab view draws its x-z plane);
4. the latent dimension: a sweep over latent sizes with seeds, its table and what it finds;
5. MNIST: the MLP GAN, the conditional GAN (row = digit, label accuracy) and the DCGAN, their
   digit grids over training and their classifier metrics.

`quick=True` trains fewer steps and seeds, for a class on laptops (docs/threads-and-sharing.md gives its
time here), and draws no PNG figures into the run folders: the page shows every view and curve from the runs'
saved views and metrics, and `gankit plot RUN` draws a run's figures when they are wanted. The lab says as it
goes what each question cost, and computes on gankit's thread policy (gankit.threads), so that a class sharing
one server shares its cores. The pages and run folders go
under `out`: out/report.html, out/runs/<question>, out/latent-sweep.
"""

from __future__ import annotations

import html
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gankit.config import TrainConfig, preset
from gankit.errors import GankitError
from gankit.files import resolve_folder
from gankit.notebook import silenced
from gankit.report import REPORT_FILE, figure_html, page, run_section, sweep_sections, write_page
from gankit.run import Run, train
from gankit.sweep import sweep
from gankit.threads import choose_threads, usable_cores

LATENT_SIZES = (1, 2, 3, 5)
LAB_DIR_MARK = "lab.json"  # marks a folder written by gankit lab, which --force may clear


class _Book:
    """Where the lab writes, how long it trains, and the page it fills."""

    def __init__(self, out: Path, *, quick: bool, data_dir: str | None, progress: bool, force: bool = False):
        self.out, self.quick, self.data_dir, self.progress, self.force = out, quick, data_dir, progress, force
        self.sections: list[str] = []

    def steps(self, quick: int, full: int) -> int:
        return quick if self.quick else full

    def evaluations(self, steps: int, quick: int = 5) -> int:
        """eval_every for `steps`: `quick` evaluations (views on the slider) in a quick lab, 10 in a full one."""
        return max(1, steps // self.steps(quick, 10))

    def say(self, text: str) -> None:
        print(f"gankit lab: {text}", file=sys.stderr, flush=True)

    def train(self, name: str, config: TrainConfig) -> Run:
        # Three evaluations of an image GAN in a quick lab: each generates and classifies 10,000 images.
        every = self.evaluations(config.steps, 3 if config.is_image else 5)
        # One checkpoint besides the best: an MNIST checkpoint is 30-50 MB and a class's laptops are small.
        config = config.replace(eval_every=every, keep_checkpoints=1)
        self.say(f"training {name} ({config.steps:,} steps)")
        started = time.perf_counter()
        run = train(config, self.out / "runs" / name, progress=self.progress, force=self.force, figures=not self.quick)
        self.say(f"  {name}: {time.perf_counter() - started:.0f} s")
        return run


def _final(run: Run) -> dict[str, Any]:
    evals = [r for r in run.metrics if "w1" in r or "fd" in r]
    return evals[-1] if evals else {}


def _ratio_text(run: Run) -> str:
    final = _final(run)
    best = next((r for r in run.metrics if r.get("step") == run.best_step and "w1_ratio" in r), None)
    text = f"W1 ends at {final.get('w1_ratio', math.nan):.2f}x its floor"
    if best is not None and best["step"] != run.step:
        text += f"; its best was {best['w1_ratio']:.2f}x at step {best['step']:,}"
        if final.get("w1_ratio", 0) > 1.5 * best["w1_ratio"]:
            text += " - the end is far worse than the best: the best checkpoint is kept, run.best() reads it"
    return text


def _paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


# The lab's text: 100 points, batch 100, 128-wide networks, torch's default Adam, BCE (minimax), no EMA.
LAB_SETTINGS = dict(
    n_samples=100,
    batch_size=100,
    g_hidden=(128, 128),
    d_hidden=(128, 128),
    lr_g=1e-3,
    lr_d=1e-3,
    beta1=0.9,
    beta2=0.999,
    loss="minimax",
    ema=0.0,
)


# ----- the questions -----
def _circle(book: _Book) -> None:
    steps = book.steps(2000, 5000)
    ours = book.train("circle", TrainConfig(dataset="circle", steps=steps, latent_dim=2))
    lab = book.train("circle-lab-settings", TrainConfig(dataset="circle", steps=steps, latent_dim=2, **LAB_SETTINGS))
    book.sections += [
        "<h2>1. Can a GAN learn the unit circle?</h2>",
        _paragraph(
            f"gankit's defaults (1,000 training points, batch {ours.config.batch_size}, G and D "
            f"{ours.config.g_hidden[0]}-wide, Adam ({ours.config.beta1:g}, {ours.config.beta2:g}), the "
            "non-saturating loss, EMA of G): "
            f"{_ratio_text(ours)}; radial error {_final(ours).get('radial_error', math.nan):.3f}."
        ),
        run_section(ours.path, heading="gankit's defaults", level=3),
        _paragraph(
            f"The lab's own settings ({lab.config.n_samples} training points, batch {lab.config.batch_size}, G and D "
            f"{lab.config.g_hidden[0]}-wide, Adam's defaults (lr {lab.config.lr_g:g}, betas {lab.config.beta1:g} and "
            f"{lab.config.beta2:g}), the {lab.config.loss} loss, no EMA): "
            f"{_ratio_text(lab)}. With 100 points G can only learn those 100 points; the slider shows whether D "
            "overtook G late in training."
        ),
        run_section(lab.path, heading="the lab's settings", level=3),
    ]


def _moons(book: _Book) -> None:
    run = book.train("moons", TrainConfig(dataset="moons", steps=book.steps(3000, 5000), latent_dim=2))
    fake = run.sample(1000, seed=7)
    prob = run.d_probability(fake)
    says_real = int((prob >= 0.5).sum())
    confident = float(np.mean(np.abs(prob - 0.5) > 0.25))
    verdict = (
        "D cannot tell them apart: its outputs stay near 0.5"
        if confident < 0.1
        else f"D is confident (beyond 0.25 from 0.5) on {confident:.0%} of them"
    )
    book.sections += [
        "<h2>2. What does D say about the generated moons?</h2>",
        _paragraph(
            f"Of 1,000 generated points D says real (P(real) >= 0.5) for {says_real} ({says_real / 10:.1f}%) and fake "
            f"for {1000 - says_real}. D's outputs on them range from {prob.min():.2f} to {prob.max():.2f} "
            f"(mean {prob.mean():.2f}): {verdict}. {_ratio_text(run)}."
        ),
        figure_html(run.plot(save=False)["d_verdict"], "D's verdict, coloured by P(real)"),
        run_section(run.path, heading="the moons over training", level=3),
    ]


def _swiss_roll(book: _Book) -> None:
    run = book.train("swiss_roll", TrainConfig(dataset="swiss_roll", steps=book.steps(3000, 5000), latent_dim=2))
    book.sections += [
        "<h2>3. The swiss roll, a 2-D sheet rolled up in 3-D</h2>",
        _paragraph(f"A latent of 2, the sheet's own dimension: {_ratio_text(run)}."),
        figure_html(run.plot(save=False)["real_vs_generated"], "real and generated points in 3-D"),
        run_section(run.path, heading="the roll over training (x-z plane)", level=3),
    ]


def latent_finding(table: list[dict[str, Any]]) -> str:
    """What a latent-size sweep's table says: the best mean W1, which sizes are as good (their 95% intervals
    overlap the best's) and which are worse (their intervals lie above it)."""
    rows = [e for e in table if math.isfinite(e.get("w1_mean", math.nan))]
    if not rows:
        return "No setting gave a finite W1."
    best = min(rows, key=lambda e: e["w1_mean"])
    as_good = [e["latent_dim"] for e in rows if not e.get("w1_low", math.nan) > best.get("w1_high", math.nan)]
    worse = [e["latent_dim"] for e in rows if e["latent_dim"] not in as_good]
    text = (
        f"The lowest mean W1 is {best['w1_mean']:.3g} at latent {best['latent_dim']}; "
        + (f"latents {', '.join(map(str, as_good))} cannot" if len(as_good) > 1 else "no other latent can")
        + " be told apart from it (their 95% intervals reach its own)"
    )
    if worse:
        ratios = ", ".join(
            f"latent {e['latent_dim']}: {e['w1_mean'] / best['w1_mean']:.1f}x" for e in rows if e["latent_dim"] in worse
        )
        which = f"latents {', '.join(map(str, worse))} are" if len(worse) > 1 else f"latent {worse[0]} is"
        text += f", while {which} worse ({ratios} the best mean W1)"
    smallest = min(as_good)
    return text + f". The smallest latent that is enough here: {smallest}."


def _latent(book: _Book) -> None:
    seeds, steps = book.steps(3, 8), book.steps(1500, 3000)
    book.say(f"training the latent study: {len(LATENT_SIZES)} latent sizes x {seeds} seeds, {steps:,} steps each")
    result = sweep(
        # One evaluation per GAN in a quick lab: the table needs only the last.
        TrainConfig(dataset="swiss_roll", steps=steps, eval_every=steps if book.quick else None, keep_checkpoints=1),
        {"latent_dim": list(LATENT_SIZES)},
        seeds=seeds,
        out=book.out / "latent-sweep",
        force=True,
        progress=book.progress,
        figures=not book.quick,
    )
    book.sections += [
        "<h2>4. How small can the latent be? (swiss roll)</h2>",
        _paragraph(f"Latent sizes {', '.join(map(str, LATENT_SIZES))}, {seeds} seeds each, {steps:,} steps."),
        f"<p><b>Finding:</b> {html.escape(latent_finding(result.table))}</p>",
        *sweep_sections(result.path, level=3),
    ]


def _mnist(book: _Book) -> None:
    book.sections.append("<h2>5. MNIST: a GAN, a conditional GAN and a DCGAN</h2>")
    # name: (steps, and in a quick lab (steps, batch)). A quick lab's budget of a minute or so: a smaller batch than
    # the presets' reached the same FD sooner (docs/benchmarks.md, gankit lab --quick); the DCGAN's 600 steps: FD 43
    # (1,000 steps: 16, in twice the time).
    runs = {
        "mnist-gan": (20000, (2500, 64)),
        "mnist-cgan": (20000, (4000, 128)),
        "mnist-dcgan": (7000, (600, None)),
    }
    for name, (full, (quick, batch)) in runs.items():
        steps = book.steps(quick, full)
        config = preset(name, steps=steps, data_dir=book.data_dir)
        if book.quick and batch is not None:
            config = config.replace(batch_size=batch)
        try:
            run = book.train(name, config)
        except GankitError as error:  # no MNIST files here: the page says so and the rest of the lab stands
            book.say(f"skipped {name}: {error}")
            book.sections.append(_paragraph(f"{name} was skipped: {error}"))
            return
        final = _final(run)
        numbers = (
            f"FD {final.get('fd', math.nan):.3g} (floor {final.get('fd_floor', math.nan):.2g}), "
            f"classifier score {final.get('classifier_score', math.nan):.3g}"
        )
        if "label_accuracy" in final:
            numbers += f", label accuracy {final['label_accuracy']:.1%} (row = digit asked for)"
        book.sections += [
            _paragraph(f"{name}, {steps:,} steps of batch {config.batch_size}: {numbers}."),
            run_section(run.path, heading=name, level=3),
        ]


QUESTIONS = {
    "1. the circle": _circle,
    "2. the moons": _moons,
    "3. the swiss roll": _swiss_roll,
    "4. the latent study": _latent,
    "5. MNIST": _mnist,
}


def run_lab(
    out: str | Path = "lab",
    *,
    quick: bool = False,
    data_dir: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Train every question of the lab into `out` and write out/report.html, the page that answers them.

    `quick`: fewer steps and seeds (a class on laptops); `data_dir`: the MNIST files (else $GANKIT_DATA_DIR,
    then the cache; without them the MNIST question says it was skipped). An existing lab folder is replaced
    only with `force`."""
    out = resolve_folder(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise GankitError(
                f"lab folder {str(out)!r} already exists; accepted: a new folder, or --force to replace it"
            )
        if not (out / LAB_DIR_MARK).is_file():
            raise GankitError(
                f"--force will not clear {str(out)!r}: it is not a folder written by gankit lab; accepted: a new folder"
            )
    # --force replaces what the lab writes (its marked runs and sweep, as train's and sweep's --force do, and its
    # page); other files in the folder stay.
    out.mkdir(parents=True, exist_ok=True)
    (out / LAB_DIR_MARK).write_text(f'{{"quick": {str(quick).lower()}}}\n')
    book = _Book(out, quick=quick, data_dir=data_dir, progress=progress, force=force)
    book.say(f"image work on {choose_threads()} of {usable_cores()} usable cores now (gankit.threads' policy)")
    started, costs = time.perf_counter(), []
    with silenced(not progress):
        for name, question in QUESTIONS.items():
            begun = time.perf_counter()
            question(book)
            cost, total = time.perf_counter() - begun, (time.perf_counter() - started) / 60
            costs.append(f"{name} {cost:.0f} s")
            book.say(f"{name}: done in {cost:.0f} s ({total:.1f} minutes in all)")
    minutes = (time.perf_counter() - started) / 60
    intro = _paragraph(
        f"Every number and picture on this page was measured by this run of gankit lab{' --quick' if quick else ''} "
        f"({minutes:.1f} minutes of training and evaluation). Move a slider to see a run at an earlier step."
    )
    path = write_page(out / REPORT_FILE, page("The GAN lab, answered", book.sections, intro=intro))
    book.say(f"wrote {path} after {minutes:.1f} minutes ({'; '.join(costs)})")
    return path
