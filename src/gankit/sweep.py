"""Sweeps: dozens of small toy GANs in one process, read as means with 95% intervals.

    import gankit
    result = gankit.sweep(gankit.TrainConfig(dataset="swiss_roll", steps=3000),
                          {"latent_dim": [1, 2, 3, 5, 10]}, seeds=8, out="runs/latent")
    result.table          # one row per setting: n, w1_mean, w1_low, w1_high, ...
    result.rows           # one row per GAN: its setting, seed and metrics
    result.plot()         # {name: Figure}: each metric against the swept value, and the samples grid

Every combination of the grid's values (their cross product) is trained with every seed. GANs
that differ only in PER_MEMBER_FIELDS (seed, learning rates, betas, EMA, noise) are trained
together in one `StackedTrainer`; settings that change shapes (latent size, widths, batch size,
steps, ...) get one stack each. Member k of a stack ends exactly where `gankit.train(config_k)`
ends, up to float rounding, and is written as an ordinary run folder (`gankit train --resume` continues it).
GANs that a stack cannot compute (your own networks when they are not a Sequential of Linear layers and
element-wise activations, a loss that does not handle stacks) are trained one at a time, in this process.
Stacks and single GANs train in the one training loop (`gankit.loop`): evaluations every
`eval_every`, checkpoints every `checkpoint_every` in each GAN's run folder, SIGINT/SIGTERM saved, and
an interrupted sweep continues exactly with `resume_sweep(out)` (`gankit sweep --resume OUT`).

The folder:
    out/sweep.json            the plan (base config, grid, seeds, interval method), then every row, timings
    out/gans.csv              one row per GAN: swept values, seed, metrics, diverged_at, run folder
    out/table.csv, table.md   one row per setting: n, and mean [95% interval] of each metric
    out/samples.npz           per setting: the median-W1 seed's samples and fresh real points (data units)
    out/figures/*.png         <metric>_vs_<field>.png (mean, 95% interval, every GAN as a dot), samples.png
    out/runs/<setting>_seed-<s>/   each GAN as a gankit run folder (Run(path).sample/plot/evaluate)

The 95% interval of a mean over n seeds is Student's t-interval by default
(mean ± t(0.975, n-1)·sd/√n); `interval="bootstrap"` gives the percentile bootstrap of the mean
(10,000 resamples).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import html
import itertools
import json
import math
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import gankit.plots as plots
from gankit import distributed
from gankit.checkpoint import load_checkpoint
from gankit.config import FREE_FIELDS, TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError, bad_value
from gankit.evaluation import make_evaluator
from gankit.files import atomic_write, marker, read_json, read_npz, resolve_folder, resolve_path, write_marker
from gankit.loop import Member, TrainingLoop
from gankit.losses import Loss
from gankit.metrics import NOT_SUMMARISED
from gankit.models import build_models
from gankit.models.source import Factory, NetworkSource
from gankit.resources import require
from gankit.run import Run, check_binding
from gankit.runfolder import (
    CONFIG_FILE,
    append_metrics,
    check_metrics_log,
    checkpoint_path,
    claimed,
    contents,
    is_run_folder,
    list_checkpoints,
    prepare_run_dir,
    read_config,
    read_metrics,
    remove_run_dir,
    set_global_rng_state,
)
from gankit.stacked import StackedTrainer, keep_freed_memory, stack_key, stack_refusal
from gankit.statecheck import check_state
from gankit.step import seeded
from gankit.tables import Table, html_table, text_table
from gankit.tensorboard import TensorBoardLog
from gankit.threads import ThreadGovernor, policy_threads
from gankit.trainer import Trainer

SWEEP_FILE, GANS_FILE, TABLE_FILE, MARKDOWN_FILE, SAMPLES_FILE = (
    "sweep.json",
    "gans.csv",
    "table.csv",
    "table.md",
    "samples.npz",
)
RUNS_DIR, FIGURE_DIR = "runs", "figures"
INTERVALS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 10_000
DEFAULT_SEEDS = 8
SAMPLE_SEED, N_SAMPLES = 7, 1000  # as a run's own figures draw them
# Metrics that are not summarised per setting: the floor is a property of the data, the ratio repeats w1.
# The standard errors are of one GAN's evaluation; a setting's interval is over its seeds.
# Memory a GAN of a sweep takes beyond its weights: its config, plan entry, records and row (a generous bound).
GAN_OVERHEAD = 1 << 16
NAME_LIMIT = 100  # characters of a member folder's name (file systems take 255 bytes)

__all__ = ["INTERVALS", "Estimate", "SweepResult", "estimate", "expand", "mean_interval", "resume_sweep", "sweep"]


# ----- the plan: lists -> runs -----
def expand(
    base: TrainConfig | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: int | Sequence[int] | None = None,
) -> list[tuple[dict[str, Any], TrainConfig]]:
    """Every (setting, config) of a sweep: the cross product of `grid`'s values, each with every seed.

    `seeds` is a count N (seeds 0..N-1) or a list of seeds; None means DEFAULT_SEEDS, or the grid's
    own "seed" list. Settings vary slowest in the grid's key order, seeds fastest. A setting is
    the dict of swept values; every config is validated here, before anything trains.
    """
    base_config = base if isinstance(base, TrainConfig) else TrainConfig.from_dict(dict(base or {}))
    grid = dict(grid or {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, values in grid.items():
        if name not in known:
            raise bad_value("sweep field", name, sorted(known))
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise bad_value(name, values, "a non-empty list of values to sweep")
        if len({_show(v) for v in values}) != len(values):
            raise bad_value(name, list(values), "a list of distinct values")
    if "seed" in grid:
        if seeds is not None:
            raise GankitError("seeds are given twice (seeds= and a 'seed' list in the grid); accepted: one of them")
        seed_list = list(grid.pop("seed"))
    elif seeds is None:
        seed_list = list(range(DEFAULT_SEEDS))
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds <= 0:
            raise bad_value("seeds", seeds, "a positive number of seeds, or a list of seeds")
        _require_gans(base_config, grid, seeds)  # before the list of seeds is made
        seed_list = list(range(seeds))
    elif isinstance(seeds, Sequence) and not isinstance(seeds, (str, bytes)):
        seed_list = list(seeds)
    else:
        raise bad_value("seeds", seeds, "a positive number of seeds, or a list of seeds")
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise bad_value("seeds", seed_list, "a non-empty list of distinct seeds")
    _require_gans(base_config, grid, len(seed_list))
    plan = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        for seed in seed_list:
            config = base_config.replace(**setting, seed=seed)
            if config.is_image:
                raise bad_value(
                    "dataset",
                    config.dataset,
                    "a toy dataset or a point file (image GANs train one at a time with gankit.train)",
                )
            plan.append((setting, config))
    return plan


def _require_gans(base: TrainConfig, grid: Mapping[str, Sequence[Any]], seeds: int) -> None:
    """GankitError unless the machine can hold every GAN of the sweep (weights, optimiser moments, EMA and
    gradients, in float32, and what each GAN's bookkeeping takes), checked before the plan is made."""
    count = math.prod(len(values) for values in grid.values()) * seeds
    widths = [base.latent_dim, *base.g_hidden, 3, *base.d_hidden, 1]
    weights = sum(a * b + b for a, b in itertools.pairwise(widths))
    require(
        f"a sweep of {count:,} GANs",
        count * (5 * 4 * weights + GAN_OVERHEAD),
        "fewer seeds or swept values (or sweeps of them one after another)",
    )


def setting_label(setting: Mapping[str, Any]) -> str:
    """'latent_dim=3, lr_g=0.001' (or 'all' when nothing is swept)."""
    return ", ".join(f"{k}={_show(v)}" for k, v in setting.items()) or "all"


def _folder_names(plan: list[tuple[dict[str, Any], TrainConfig]]) -> list[str]:
    """Each GAN's run folder name under RUNS_DIR: its swept values and seed, with every character that is not
    a letter, digit or one of ._=+- replaced (a value that is a path, '..' and all, stays one name inside the
    sweep folder); names cut short or equal after that get a hash of the whole, so that each is its own."""
    names = []
    for setting, config in plan:
        parts = [f"{k}-{_show(v).replace(',', 'x')}" for k, v in setting.items()]
        full = "_".join([*parts, f"seed-{config.seed}"])
        names.append(re.sub(r"[^A-Za-z0-9._=+-]", "_", full))
    counts = Counter(names)
    for i, ((setting, config), name) in enumerate(zip(plan, names)):
        if len(name) > NAME_LIMIT or counts[name] > 1:
            whole = f"{setting_label(setting)} seed {config.seed}".encode()
            names[i] = f"{name[: NAME_LIMIT - 13]}-{hashlib.blake2b(whole, digest_size=6).hexdigest()}"
    return names


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----- statistics -----
def mean_interval(values: Sequence[float], method: str = "t", *, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the finite `values`: Student's t-interval or the percentile bootstrap of the mean.

    With fewer than two finite values the interval is (nan, nan).
    """
    if method not in INTERVALS:
        raise bad_value("interval", method, INTERVALS)
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    if method == "t":
        from scipy.stats import t

        half = float(t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
        return mean, mean - half, mean + half
    means = x[np.random.default_rng(0).integers(len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))].mean(1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return mean, float(low), float(high)


def summarise(
    rows: Sequence[dict[str, Any]], fields: Sequence[str], metrics: Sequence[str], method: str
) -> list[dict[str, Any]]:
    """One row per setting (in order of appearance): swept values, n, diverged, metric_mean/_low/_high, w1_floor."""
    settings: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        settings.setdefault(row["setting"], []).append(row)
    table = []
    for label, members in settings.items():
        entry: dict[str, Any] = {
            "setting": label,
            **{k: members[0][k] for k in fields},
            "n": len(members),
            "diverged": sum(1 for m in members if m.get("diverged_at") is not None),
        }
        for metric in metrics:
            mean, low, high = mean_interval([m.get(metric, math.nan) for m in members], method)
            entry.update({f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high})
        floors = [
            m["w1_floor"] for m in members if isinstance(m.get("w1_floor"), float) and math.isfinite(m["w1_floor"])
        ]
        if floors:
            entry["w1_floor"] = float(np.mean(floors))
        table.append(entry)
    return table


def _median_member(members: Sequence[dict[str, Any]], metric: str = "w1") -> dict[str, Any] | None:
    """The member with the median metric (the lower of the two middle ones for an even count)."""
    finite = sorted((m for m in members if math.isfinite(m.get(metric, math.nan))), key=lambda m: m[metric])
    return finite[(len(finite) - 1) // 2] if finite else None


# ----- the result -----
@dataclass
class SweepResult:
    """A finished sweep folder: the per-GAN rows, the per-setting table, and its figures."""

    path: Path
    fields: list[str]  # the swept config fields (seed excluded)
    rows: list[dict[str, Any]]  # one per GAN
    table: list[dict[str, Any]]  # one per setting
    metrics: list[str]  # the summarised metrics, w1 first
    interval: str  # "t" or "bootstrap"
    base: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    seconds: float = math.nan

    def __post_init__(self) -> None:
        # Lists of dicts still, which a notebook shows as tables.
        self.rows, self.table = Table(self.rows), Table(self.table)

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        """Read a sweep folder back."""
        path = Path(path)
        saved = _read_spec(path)
        return cls(
            path,
            saved["fields"],
            saved["rows"],
            saved["table"],
            saved["metrics"],
            saved["interval"],
            saved.get("base", {}),
            saved.get("seeds", []),
            saved.get("seconds", math.nan),
        )

    @property
    def x(self) -> str:
        """The table column the figures put on the x axis: the swept field, or 'setting' when several are swept."""
        return self.fields[0] if len(self.fields) == 1 else "setting"

    def run(self, setting: Mapping[str, Any] | str, seed: int, **networks: Any) -> Run:
        """The gankit Run of one GAN: `result.run({"latent_dim": 3}, seed=0)`; a sweep of your own networks
        takes them as for gankit.Run (generator=, discriminator= or models=)."""
        label = setting if isinstance(setting, str) else setting_label(setting)
        for row in self.rows:
            if row["setting"] == label and row["seed"] == seed:
                if not row.get("run"):
                    raise GankitError(
                        f"GAN {label!r} seed {seed} has no run folder (diverged, or the sweep ran with save_runs=False)"
                    )
                return Run(self.path / row["run"], **networks)
        raise bad_value("setting and seed", f"{label}, seed {seed}", sorted({r["setting"] for r in self.rows}))

    def summary(self) -> tuple[list[str], list[list[str]], str]:
        """(columns, rows, note) of the table as it is read: mean [95% interval] of each metric per setting."""
        method = "Student t" if self.interval == "t" else "percentile bootstrap"
        columns = [*(self.fields or ["setting"]), "n", *self.metrics]
        rows = []
        for entry in self.table:
            cells = [_show(entry[k]) for k in (self.fields or ["setting"])]
            cells.append(
                f"{entry['n'] - entry['diverged']}" + (f" ({entry['diverged']} diverged)" if entry["diverged"] else "")
            )
            for metric in self.metrics:
                mean, low, high = (entry.get(f"{metric}_{s}", math.nan) for s in ("mean", "low", "high"))
                cells.append(f"{_num(mean)} [{_num(low)}, {_num(high)}]")
            rows.append(cells)
        floor = [e["w1_floor"] for e in self.table if "w1_floor" in e]
        note = f"Mean [95% {method} interval] over seeds {_seed_text(self.seeds)}"
        if floor:
            note += f"; W1 floor (two real samples of the same size): {_num(float(np.mean(floor)))}"
        return columns, rows, note + "."

    def markdown(self) -> str:
        """The table as Markdown: mean [95% interval] of each metric per setting."""
        columns, rows, note = self.summary()
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        return "\n".join(lines) + "\n\n" + note + "\n"

    def to_html(self) -> str:
        """The table as HTML (the report page, a notebook), with its note."""
        columns, rows, note = self.summary()
        return f'{html_table(rows, columns)}<p class="gk-note">{html.escape(note)}</p>'

    def plot(self, *, save: bool = True) -> plots.Figures:
        """{name: Figure}: each metric against the swept value (mean and 95% interval), and the
        median seed's samples of every setting; saved under figures/ unless save=False."""
        method = "t-interval" if self.interval == "t" else "bootstrap interval"
        dataset = self.base.get("dataset", "")
        figures = plots.Figures()  # {name: Figure}, shown inline in a notebook
        for metric in self.metrics:
            figure = plots.metric_vs_value(
                self.table, x=self.x, metric=metric, floor="w1_floor" if metric == "w1" else None
            )
            self._add_each_gan(figure.axes[0], metric)
            n = sorted({e["n"] - e["diverged"] for e in self.table})
            figure.axes[0].set_title(
                f"{Path(dataset).stem}: {metric} vs {self.x}\nmean and 95% {method} over {'/'.join(map(str, n))} seeds"
            )
            figures[f"{metric}_vs_{self.x}"] = figure
        if (self.path / SAMPLES_FILE).is_file():
            saved = read_npz(self.path / SAMPLES_FILE, "sweep samples", "the samples.npz gankit sweep wrote")
            panels = [
                (f"{entry['setting']} (seed {entry.get('median_seed')})", saved[f"real_{i}"], saved[f"setting_{i}"])
                for i, entry in enumerate(self.table)
                if f"setting_{i}" in saved and f"real_{i}" in saved
            ]
            if panels:
                figures["samples"] = plots.samples_grid(
                    panels,
                    title=f"{Path(dataset).stem}: generated (orange) over real (grey), "
                    "the median-W1 seed of each setting",
                )
        if save:
            for name, figure in figures.items():
                plots.save_figure(figure, self.path / FIGURE_DIR / f"{name}.png")
        return figures

    def _add_each_gan(self, axes, metric: str) -> None:
        """Every GAN's own value as a faint dot at its setting's x, so that outlying seeds show."""
        labels = [entry["setting"] for entry in self.table]
        numeric = all(
            isinstance(entry.get(self.x), (int, float)) and not isinstance(entry.get(self.x), bool)
            for entry in self.table
        )
        points = [
            ((row[self.x] if numeric else labels.index(row["setting"])), row[metric])
            for row in self.rows
            if isinstance(row.get(metric), (int, float)) and math.isfinite(row[metric])
        ]
        if points:
            xs, ys = zip(*points)
            axes.scatter(xs, ys, s=14, color=plots.GREY, alpha=0.7, linewidths=0, zorder=3, label="each GAN")
            axes.legend(loc="best", framealpha=0.9)

    def __repr__(self) -> str:
        return (
            f"SweepResult({str(self.path)!r}, fields={self.fields}, gans={len(self.rows)}, settings={len(self.table)})"
        )

    def __str__(self) -> str:
        columns, rows, note = self.summary()
        return f"{self!r}\n{text_table(rows, columns)}\n{note}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        heading = f"<p><code>{html.escape(repr(self))}</code></p>"
        return heading + self.to_html()


def _num(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.3g}"


def _seed_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(map(str, seeds))


# ----- training -----


def sweep(
    base: TrainConfig | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    seeds: int | Sequence[int] | None = None,
    out: str | Path | None = None,
    interval: str = "t",
    force: bool = False,
    progress: bool = True,
    save_runs: bool = True,
    figures: bool = True,
    generator: Factory | None = None,
    discriminator: Factory | None = None,
    loss: Loss | None = None,
    models: str | Path | None = None,
    confirm: Callable[[Estimate], None] | None = None,
) -> SweepResult:
    """Train every setting of `grid` (cross product) with every seed, many GANs at once, and summarise.

    `base` is the TrainConfig (or dict of fields) that the grid's values override; `seeds` is a
    count N (seeds 0..N-1, default 8) or a list. `out` is the sweep folder (default
    `runs/sweep-<dataset>-<time>`; an existing sweep folder is replaced only with force=True).
    `interval` is "t" (Student's t, default) or "bootstrap". `save_runs=False` removes the per-GAN
    run folders once the sweep is done. Your own networks: `generator` and `discriminator` are
    functions config -> nn.Module (each GAN gets its own, built under its seed), or `models` a models
    file; `loss` a gankit.Loss for every GAN. Toy datasets and point files only (image GANs: gankit.train).
    An interrupted sweep continues with `resume_sweep(out)`, exactly. `confirm(estimate)` is called
    before anything is written, with the sweep's GAN-steps and its time estimated from a short probe;
    it may raise to stop (the CLI asks for --yes when a long sweep starts at a terminal).
    """
    if interval not in INTERVALS:
        raise bad_value("interval", interval, INTERVALS)
    base_config = base if isinstance(base, TrainConfig) else TrainConfig.from_dict(dict(base or {}))
    plan = expand(base_config, grid, seeds)  # validates everything before anything is written
    factories = NetworkSource(generator, discriminator, loss, models, per_gan=True)
    out_dir = resolve_folder(
        out
        if out is not None
        else Path("runs") / f"sweep-{Path(base_config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    _check_replaceable(out_dir, force=force)  # before the estimate's probe, and checked again under the lock
    if confirm is not None:
        confirm(estimate(plan, factories))
    spec = {
        "status": "running",
        "id": uuid.uuid4().hex,  # in each member's marker: the run folders that are this sweep's own
        "base": base_config.to_dict(),
        "grid": _jsonable({k: list(v) for k, v in (grid or {}).items() if k != "seed"}),
        "seeds": list(dict.fromkeys(config.seed for _, config in plan)),
        "interval": interval,
        "save_runs": save_runs,
        "models_file": factories.models_file,
    }
    out_dir = Path(distributed.broadcast(str(out_dir)))  # several ranks (torchrun): rank 0's folder
    with _writer(out_dir):
        distributed.on_rank_zero(lambda: (_prepare(out_dir, force=force), _write_json(out_dir / SWEEP_FILE, spec)))
        return _run(out_dir, spec, plan, factories, resume=False, progress=progress, figures=figures)


def _writer(out_dir: Path):
    """The sweep folder's writer lock, held by rank 0 (each rank locks the run folders of the stacks it trains)."""
    return claimed(out_dir, what="sweep folder") if distributed.world().writes else contextlib.nullcontext()


def resume_sweep(
    path: str | Path,
    *,
    progress: bool = True,
    figures: bool = True,
    generator: Factory | None = None,
    discriminator: Factory | None = None,
    loss: Loss | None = None,
    models: str | Path | None = None,
) -> SweepResult:
    """Continue an interrupted sweep from its members' newest checkpoints; the result is what the sweep
    would have given uninterrupted (on the CPU: the same weights, bit for bit). Stacks that had finished
    are read back, not trained again. A sweep of your own networks or loss needs them again."""
    out_dir = resolve_path(path, "sweep")
    spec = _read_spec(out_dir)
    try:
        plan = expand(TrainConfig.from_dict(spec["base"]), spec["grid"], spec["seeds"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GankitError(
            f"{str(out_dir)!r} holds no readable {SWEEP_FILE}; accepted: a folder written by gankit sweep"
        ) from None
    factories = NetworkSource(generator, discriminator, loss, models, per_gan=True)
    with _writer(out_dir):
        return _run(out_dir, spec, plan, factories, resume=True, progress=progress, figures=figures)


def _read_spec(path: Path) -> dict[str, Any]:
    accepted = "a folder written by gankit sweep"
    if not (path / SWEEP_FILE).exists():
        raise GankitError(f"{str(path)!r} holds no readable {SWEEP_FILE}; accepted: {accepted}")
    spec = read_json(path / SWEEP_FILE, "sweep file", accepted)
    if not isinstance(spec, dict):
        raise GankitError(f"{str(path)!r} holds no readable {SWEEP_FILE}; accepted: {accepted}")
    return spec


def _units(configs: list[TrainConfig], nets: list, factories: NetworkSource, *, say: bool = True) -> list[list[int]]:
    """Plan indices grouped into what trains together: a stack of the GANs that share their shapes, else
    one GAN at a time (a line on stderr says why)."""
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(stack_key(config), []).append(index)
    units: list[list[int]] = []
    for members in groups.values():
        refusal = stack_refusal(configs[members[0]], factories.loss_for(configs[members[0]]), nets[members[0]])
        if refusal and len(members) > 1 and say:
            print(f"gankit sweep: {len(members)} GANs train one at a time, not as a stack: {refusal}", file=sys.stderr)
        units += [[i] for i in members] if refusal else [members]
    return units


def _game(configs: list[TrainConfig], datasets: list[Dataset], nets: list, loss: Loss | None) -> Any:
    """The game that trains one unit: a StackedTrainer, or a Trainer where the GANs cannot be stacked."""
    if stack_refusal(configs[0], loss, nets[0]) is None:
        return StackedTrainer(configs, datasets, networks=None if nets[0] is None else nets, loss=loss)
    generator, discriminator = nets[0] if nets[0] is not None else (None, None)
    return Trainer(configs[0], datasets[0], generator=generator, discriminator=discriminator, loss=loss)


@dataclass(frozen=True)
class Estimate:
    """How much a sweep trains, and how long that should take here (from a short probe of its first stack)."""

    gans: int
    gan_steps: int
    seconds: float
    probe_ms_per_gan_step: float

    def __str__(self) -> str:
        minutes = self.seconds / 60
        time_text = (
            f"{self.seconds:.0f} s"
            if minutes < 2
            else f"{minutes:.0f} min"
            if minutes < 120
            else f"{minutes / 60:.1f} h"
        )
        return (
            f"{self.gans} GANs, {self.gan_steps:,} GAN-steps: about {time_text} of training here "
            f"(probe: {self.probe_ms_per_gan_step:.2f} ms per GAN-step of the first stack)"
        )


PROBE_STEPS, PROBE_WARMUP = 20, 10  # the first steps of a process are slow (allocations, thread pools)


def estimate(plan: list[tuple[dict[str, Any], TrainConfig]], factories: NetworkSource) -> Estimate:
    """The sweep's GAN-steps, and its training time: a few steps of its first stack, timed, scaled to every
    stack by its GANs, steps and weights per GAN (the matrix work of a toy GAN grows with its weights)."""
    configs = [factories.configure(config) for _, config in plan]
    nets = [factories.pair(config) for config in configs]
    units = _units(configs, nets, factories, say=False)

    def work(i: int) -> float:
        pair = nets[i] if nets[i] is not None else seeded(configs[i].seed, lambda: build_models(configs[i], (2,)))
        return configs[i].batch_size * sum(p.numel() for module in pair for p in module.parameters())

    first = units[0]
    unit = [configs[i] for i in first]
    keep_freed_memory()  # as the sweep itself trains
    with policy_threads(unit[0], len(unit)):
        game = _game(unit, [load_dataset(c) for c in unit], [nets[i] for i in first], factories.loss_for(unit[0]))
        for _ in range(PROBE_WARMUP):
            game.train_step()
        started = time.perf_counter()
        for _ in range(PROBE_STEPS):
            stats = game.train_step()
        float(stats.sum())
        per_stack_step = (time.perf_counter() - started) / PROBE_STEPS
    per_work = per_stack_step / (len(first) * work(first[0]))
    seconds = sum(configs[u[0]].steps * len(u) * work(u[0]) * per_work for u in units)
    gan_steps = sum(config.steps for config in configs)
    return Estimate(len(configs), gan_steps, seconds, 1000 * per_stack_step / len(first))


def _run(
    out_dir: Path,
    spec: dict[str, Any],
    plan: list[tuple[dict[str, Any], TrainConfig]],
    factories: NetworkSource,
    *,
    resume: bool,
    progress: bool,
    figures: bool,
) -> SweepResult:
    fields = list(spec["grid"])
    keep_freed_memory()
    started = time.perf_counter()
    configs = [factories.configure(config) for _, config in plan]
    nets = [factories.pair(config) for config in configs]
    names = _folder_names(plan)
    rows: list[dict[str, Any] | None] = [None] * len(plan)
    samples: list[np.ndarray | None] = [None] * len(plan)  # each GAN's SAMPLE_SEED points, for the samples figure
    datasets: dict[tuple, Dataset] = {}
    evaluators: dict[tuple, Any] = {}
    units = _units(configs, nets, factories, say=distributed.world().writes)
    here = distributed.world()
    for number, members in enumerate(units, start=1):
        if (number - 1) % here.size != here.rank:  # several ranks: each trains its share of the stacks
            continue
        unit = [configs[i] for i in members]
        data = [_cached(datasets, (c.dataset, c.n_samples, c.noise, c.seed), lambda c=c: load_dataset(c)) for c in unit]
        scorers = [
            _cached(evaluators, (c.dataset, c.noise), lambda c=c, d=d: make_evaluator(c, d)) for c, d in zip(unit, data)
        ]
        results = _train_unit(
            unit,
            data,
            scorers,
            [nets[i] for i in members],
            [out_dir / RUNS_DIR / names[i] for i in members],
            factories,
            resume=resume,
            desc=f"sweep {number}/{len(units)}",
            progress=progress,
            out_dir=out_dir,
            sweep_id=spec.get("id"),
        )
        for i, (result, points) in zip(members, results):
            setting, config = plan[i]
            rows[i] = {"setting": setting_label(setting), **setting, "seed": config.seed, **result}
            samples[i] = points
    if here.active:  # rank 0 gathers every rank's rows and samples, and alone writes the sweep's files
        for theirs_rows, theirs_samples in distributed.gather((rows, samples)):
            for i, row in enumerate(theirs_rows):
                if row is not None:
                    rows[i], samples[i] = row, theirs_samples[i]
        if not here.writes:
            distributed.barrier()
            return SweepResult.load(out_dir)

    done = [row for row in rows if row is not None]
    if not spec.get("save_runs", True):  # the run folders served the checkpoints while training
        for name in names:
            remove_run_dir(out_dir / RUNS_DIR / name)
        with contextlib.suppress(OSError):
            (out_dir / RUNS_DIR).rmdir()  # only if empty
        for row in done:
            row["run"] = ""
    metrics = _metric_names(done, fields)
    table = summarise(done, fields, metrics, spec["interval"])
    _save_samples(out_dir, table, done, samples, configs)
    result = SweepResult(
        out_dir,
        fields,
        done,
        table,
        metrics,
        spec["interval"],
        spec["base"],
        spec["seeds"],
        round(time.perf_counter() - started, 3),
    )
    _write_outputs(result, spec)
    if figures:
        result.plot()
    distributed.barrier()  # the others read the files rank 0 wrote
    return result


def _train_unit(
    configs: list[TrainConfig],
    datasets: list[Dataset],
    evaluators: list[Any],
    nets: list,
    run_dirs: list[Path],
    factories: NetworkSource,
    *,
    resume: bool,
    desc: str,
    progress: bool,
    out_dir: Path,
    sweep_id: str | None,
) -> list[tuple[dict[str, Any], np.ndarray | None]]:
    """Train one stack (or one GAN) to its steps in the training loop, each member a run folder under
    out_dir; per member: (its row of results, its N_SAMPLES generated points, or None if it diverged)."""
    loss = factories.loss_for(configs[0])
    with policy_threads(configs[0], len(configs)), contextlib.ExitStack() as locks:  # the caller's, restored after
        for run_dir in run_dirs:  # each GAN's run folder is locked while it trains, as gankit.train locks its own
            locks.enter_context(claimed(run_dir))
        if resume:  # a member folder is only ever replaced when it is this sweep's own
            for run_dir, config in zip(run_dirs, configs):
                _check_member(run_dir, config, sweep_id)
        game = _game(configs, datasets, nets, loss)
        members = [
            Member(run_dir, evaluator, checkpoint_extra={"binding": {"data": data.fingerprint()}})
            for run_dir, evaluator, data in zip(run_dirs, evaluators, datasets)
        ]
        resumed_threads = _restore(game, members, configs) if resume else None
        if resumed_threads is None:
            for member, config, pair in zip(members, configs, nets):
                prepare_run_dir(
                    member.run_dir,
                    config,
                    force=resume,
                    networks=factories.description(pair, loss),
                    sweep=sweep_id,
                )
        for member, config in zip(members, configs):  # one event folder per GAN, in its run folder
            member.tensorboard = TensorBoardLog(member.run_dir) if config.tensorboard else None
        loop = TrainingLoop(
            game,
            members,
            progress=progress,
            desc=desc,
            stop_on_divergence=False,
            resume_hint=f"gankit sweep --resume {out_dir}",
            threads=ThreadGovernor(configs[0], len(configs), start_threads=resumed_threads or None),
        )
        loop.run()
        points = game.samples(N_SAMPLES, seed=SAMPLE_SEED)  # = Run.sample(N_SAMPLES, seed=SAMPLE_SEED)
        for member in members:
            if member.tensorboard is not None:
                member.tensorboard.close()
    results = []
    for k, member in enumerate(members):
        final = next(
            (
                r
                for r in reversed(member.records)
                if r.get("step") == game.step and "loss_d" not in r and "event" not in r
            ),
            {},
        )
        result: dict[str, Any] = {
            "diverged_at": member.diverged_at,
            "steps": game.step,
            "run": f"{RUNS_DIR}/{member.run_dir.name}",
        }
        result.update({name: value for name, value in final.items() if name != "step"})
        result["seconds"] = round(loop.seconds / len(members), 4)  # the stack's training time, per GAN
        results.append((result, points[k].numpy() if member.diverged_at is None else None))
    return results


def _check_member(run_dir: Path, config: TrainConfig, sweep_id: str | None) -> None:
    """GankitError unless `run_dir` is empty or this sweep's own member folder: marked as a run of this sweep (a
    sweep from before the marks: a run of the member's config), so that a run of yours put there is never replaced."""
    if not contents(run_dir):
        return
    owned = is_run_folder(run_dir) and marker(run_dir).get("sweep") == sweep_id
    if sweep_id is None and (run_dir / CONFIG_FILE).is_file():
        try:
            saved = read_config(run_dir).to_dict()
            owned = {**saved, **{name: config.to_dict()[name] for name in FREE_FIELDS}} == config.to_dict()
        except GankitError:
            owned = False
    if not owned:
        raise GankitError(
            f"the member folder {str(run_dir)!r} holds a run that is not this sweep's; accepted: move it elsewhere, "
            "then resume the sweep"
        )


def _restore(game: Any, members: list[Member], configs: list[TrainConfig]) -> int | None:
    """Resume a unit: every live member loads its checkpoint of the newest step that all of them have
    (members that had diverged by then stay diverged). Returns the thread count the stack had then (0 when
    not recorded), or None when there is nothing to resume from."""
    if not all((m.run_dir / CONFIG_FILE).is_file() for m in members):
        return None
    for member in members:
        check_metrics_log(member.run_dir)
    histories = [read_metrics(m.run_dir) for m in members]
    saved = [{int(p.stem.split("-")[1]) for p in list_checkpoints(m.run_dir)} for m in members]
    diverged = [next((r["step"] for r in h if r.get("event") == "diverged"), None) for h in histories]
    common = [s for s, d in zip(saved, diverged) if d is None]
    steps = set.intersection(*common) if common else set()
    if not steps:
        return None
    step = max(steps)
    alive = [k for k in range(len(members)) if diverged[k] is None or diverged[k] > step]
    if any(step not in saved[k] for k in alive):
        return None
    states = {k: load_checkpoint(checkpoint_path(members[k].run_dir, step)) for k in alive}
    for k, state in states.items():  # all of them, before any is loaded or any file changes
        check_state(state, checkpoint_path(members[k].run_dir, step), configs[k], game, k)
        check_binding(state, _member_data(game, k), members[k].run_dir)
    for k, member in enumerate(members):
        if k not in states:
            member.diverged_at = diverged[k]
            member.records = [r for r in histories[k] if r.get("step", 0) <= diverged[k]]
            continue
        game.load_member_state(k, states[k])
        append_metrics(member.run_dir, {"event": "resume", "step": step})
        member.records = read_metrics(member.run_dir)
    set_global_rng_state(states[alive[0]]["global_rng"])
    return states[alive[0]].get("threads", 0)


def _member_data(game: Any, k: int) -> Dataset:
    datasets = getattr(game, "datasets", None)  # a stack's members each have theirs
    return datasets[k] if datasets is not None else game.dataset


def _cached(cache: dict, key: tuple, make):
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _check_replaceable(out_dir: Path, *, force: bool) -> None:
    """GankitError unless `out_dir` is new or empty, or (with `force`) proved to be a sweep folder."""
    if not contents(out_dir):
        return
    if not force:
        raise GankitError(
            f"sweep folder {str(out_dir)!r} already exists; accepted: a new folder, or --force to replace it"
        )
    if marker(out_dir).get("gankit") != "sweep":
        raise GankitError(
            f"--force will not clear {str(out_dir)!r}: it is not empty and not marked as a gankit sweep folder; "
            "accepted: a new folder or a sweep folder written by this gankit"
        )


def _prepare(out_dir: Path, *, force: bool) -> None:
    """Make `out_dir` a fresh sweep folder; one with anything in it is replaced only with `force`, only when it is
    proved to be a sweep folder (its marker), and then only what gankit wrote in it is removed."""
    if contents(out_dir):
        _check_replaceable(out_dir, force=force)
        for name in (SWEEP_FILE, GANS_FILE, TABLE_FILE, MARKDOWN_FILE, SAMPLES_FILE):
            (out_dir / name).unlink(missing_ok=True)
        for figure in [*(out_dir / FIGURE_DIR).glob("*_vs_*.png"), out_dir / FIGURE_DIR / "samples.png"]:
            figure.unlink(missing_ok=True)
        if (out_dir / RUNS_DIR).is_dir():
            for run_dir in (out_dir / RUNS_DIR).iterdir():
                if run_dir.is_dir() and not run_dir.is_symlink():
                    remove_run_dir(run_dir)
    try:
        (out_dir / FIGURE_DIR).mkdir(parents=True, exist_ok=True)
        write_marker(out_dir, "sweep")
    except OSError as error:
        raise GankitError(
            f"sweep folder {str(out_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
        ) from None


def _metric_names(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> list[str]:
    """The numeric evaluation metrics present, in the evaluator's order (w1 first)."""
    skip = {"setting", "seed", "diverged_at", "steps", "run", "seconds", *fields, *NOT_SUMMARISED}
    skip |= {key for row in rows for key in row if key.endswith("_se")}
    names: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in skip and key not in names and isinstance(value, (int, float)) and not isinstance(value, bool):
                names.append(key)
    return sorted(names, key=lambda n: n != "w1")


def _save_samples(
    out_dir: Path,
    table: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    samples: list[np.ndarray | None],
    configs: list[TrainConfig],
) -> None:
    """samples.npz: for each setting, its median-W1 seed's generated points and fresh real points (data units)."""
    arrays: dict[str, np.ndarray] = {}
    real: dict[tuple, np.ndarray] = {}
    for index, entry in enumerate(table):
        members = [i for i, row in enumerate(rows) if row["setting"] == entry["setting"]]
        median = _median_member([rows[i] for i in members])
        if median is None:
            continue
        k = next(i for i in members if rows[i] is median)
        config = configs[k]
        arrays[f"setting_{index}"] = samples[k]
        arrays[f"real_{index}"] = _cached(
            real, (config.dataset, config.noise), lambda c=config: load_dataset(c).fresh(N_SAMPLES, SAMPLE_SEED)
        )
        entry["median_seed"] = median["seed"]
    np.savez(out_dir / SAMPLES_FILE, **arrays)


def _write_outputs(result: SweepResult, spec: dict[str, Any]) -> None:
    path = result.path
    saved = {
        **spec,
        "status": "done",
        "fields": result.fields,
        "metrics": result.metrics,
        "seconds": result.seconds,
        "rows": result.rows,
        "table": result.table,
    }
    _write_json(path / SWEEP_FILE, saved)
    _write_csv(path / GANS_FILE, result.rows)
    _write_csv(path / TABLE_FILE, result.table)
    (path / MARKDOWN_FILE).write_text(result.markdown())


def _write_json(path: Path, value: Any) -> None:
    atomic_write(path, (json.dumps(_jsonable(value), indent=1, allow_nan=True) + "\n").encode())


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: _show(v) if isinstance(v, (tuple, list)) else ("" if v is None else v) for k, v in row.items()}
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
