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

The folder:
    out/sweep.json            the base config, grid, seeds, interval method, every row, timings
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

import csv
import dataclasses
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError, bad_value
from gankit.stacked import STAT_NAMES, StackedTrainer, check_stackable, keep_freed_memory, stack_key

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
NOT_SUMMARISED = ("w1_floor", "w1_ratio")

__all__ = ["INTERVALS", "SweepResult", "expand", "mean_interval", "sweep"]


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
        seed_list = list(range(seeds))
    else:
        seed_list = list(seeds)
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise bad_value("seeds", seed_list, "a non-empty list of distinct seeds")
    plan = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        for seed in seed_list:
            config = base_config.replace(**setting, seed=seed)
            check_stackable(config)
            plan.append((setting, config))
    return plan


def setting_label(setting: Mapping[str, Any]) -> str:
    """'latent_dim=3, lr_g=0.001' (or 'all' when nothing is swept)."""
    return ", ".join(f"{k}={_show(v)}" for k, v in setting.items()) or "all"


def _folder_name(setting: Mapping[str, Any], seed: int) -> str:
    parts = [f"{k}-{_show(v).replace(',', 'x')}" for k, v in setting.items()]
    return "_".join([*parts, f"seed-{seed}"])


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

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        """Read a sweep folder back."""
        path = Path(path)
        try:
            saved = json.loads((path / SWEEP_FILE).read_text())
        except (OSError, ValueError):
            raise GankitError(
                f"{str(path)!r} holds no readable {SWEEP_FILE}; accepted: a folder written by gankit sweep"
            ) from None
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

    def run(self, setting: Mapping[str, Any] | str, seed: int):
        """The gankit Run of one GAN: `result.run({"latent_dim": 3}, seed=0)`."""
        from gankit.run import Run

        label = setting if isinstance(setting, str) else setting_label(setting)
        for row in self.rows:
            if row["setting"] == label and row["seed"] == seed:
                if not row.get("run"):
                    raise GankitError(
                        f"GAN {label!r} seed {seed} has no run folder (diverged, or the sweep ran with save_runs=False)"
                    )
                return Run(self.path / row["run"])
        raise bad_value("setting and seed", f"{label}, seed {seed}", sorted({r["setting"] for r in self.rows}))

    def markdown(self) -> str:
        """The table as Markdown: mean [95% interval] of each metric per setting."""
        method = "Student t" if self.interval == "t" else "percentile bootstrap"
        columns = [*(self.fields or ["setting"]), "n", *self.metrics]
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        for entry in self.table:
            cells = [_show(entry[k]) for k in (self.fields or ["setting"])]
            cells.append(
                f"{entry['n'] - entry['diverged']}" + (f" ({entry['diverged']} diverged)" if entry["diverged"] else "")
            )
            for metric in self.metrics:
                mean, low, high = (entry.get(f"{metric}_{s}", math.nan) for s in ("mean", "low", "high"))
                cells.append(f"{_num(mean)} [{_num(low)}, {_num(high)}]")
            lines.append("| " + " | ".join(cells) + " |")
        floor = [e["w1_floor"] for e in self.table if "w1_floor" in e]
        note = f"Mean [95% {method} interval] over seeds {_seed_text(self.seeds)}"
        if floor:
            note += f"; W1 floor (two real samples of the same size): {_num(float(np.mean(floor)))}"
        return "\n".join(lines) + "\n\n" + note + ".\n"

    def plot(self, *, save: bool = True) -> dict[str, Any]:
        """{name: Figure}: each metric against the swept value (mean and 95% interval), and the
        median seed's samples of every setting; saved under figures/ unless save=False."""
        from gankit import plots

        method = "t-interval" if self.interval == "t" else "bootstrap interval"
        dataset = self.base.get("dataset", "")
        figures = {}
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
            with np.load(self.path / SAMPLES_FILE) as saved:
                panels = [
                    (f"{entry['setting']} (seed {entry.get('median_seed')})", saved[f"real_{i}"], saved[f"setting_{i}"])
                    for i, entry in enumerate(self.table)
                    if f"setting_{i}" in saved
                ]
            if panels:
                figures["samples"] = samples_grid(
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
        from gankit import plots

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


def _num(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.3g}"


def _seed_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(map(str, seeds))


def samples_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, title: str | None = None):
    """Small multiples: one panel per (title, real points, generated points), real faint behind, shared limits.

    Points as in `plots.real_vs_generated`: 2-D, 3-D (the swiss roll, viewed along y), or the first two coordinates.
    """
    from matplotlib.figure import Figure

    from gankit import plots

    @plots._styled
    def build():
        reals = [plots._points("real", real) for _, real, _ in panels]
        fakes = [plots._points("generated", fake, real.shape[1]) for (_, _, fake), real in zip(panels, reals)]
        dim, note, labels = plots._plot_dim(reals[0].shape[1])
        lo, hi = plots._bounds(np.concatenate(reals), *fakes)
        ncols = min(len(panels), 5)
        nrows = math.ceil(len(panels) / ncols)
        figure = Figure(figsize=(3.3 * ncols + 0.4, 3.3 * nrows + 0.8), layout="constrained")
        for index, ((label, _, _), real, fake) in enumerate(zip(panels, reals, fakes)):
            axes = figure.add_subplot(nrows, ncols, index + 1, **({"projection": "3d"} if dim == 3 else {}))
            plots._scatter(axes, real, color=plots.GREY, alpha=0.25, s=4)
            plots._scatter(axes, fake, color=plots.FAKE_COLOUR, s=4)
            plots._frame(axes, lo, hi, labels)
            axes.set_title(label + note, fontsize=10)
        if title:
            figure.suptitle(title, fontsize=12)
        return figure

    return build()


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
) -> SweepResult:
    """Train every setting of `grid` (cross product) with every seed, many GANs at once, and summarise.

    `base` is the TrainConfig (or dict of fields) that the grid's values override; `seeds` is a
    count N (seeds 0..N-1, default 8) or a list. `out` is the sweep folder (default
    runs/sweep-<dataset>-<time>; an existing sweep folder is replaced only with force=True).
    `interval` is "t" (Student's t, default) or "bootstrap". `save_runs=False` skips the per-GAN
    run folders. Toy datasets and point files only (image GANs: one at a time with gankit.train).
    """
    if interval not in INTERVALS:
        raise bad_value("interval", interval, INTERVALS)
    base_config = base if isinstance(base, TrainConfig) else TrainConfig.from_dict(dict(base or {}))
    plan = expand(base_config, grid, seeds)
    fields = [k for k in (grid or {}) if k != "seed"]
    seed_list = list(dict.fromkeys(config.seed for _, config in plan))
    out_dir = (
        Path(out)
        if out is not None
        else Path("runs") / f"sweep-{Path(base_config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    _prepare(out_dir, force=force)

    keep_freed_memory()
    started = time.perf_counter()
    stacks: dict[tuple, list[int]] = {}
    for index, (_, config) in enumerate(plan):
        stacks.setdefault(stack_key(config), []).append(index)
    rows: list[dict[str, Any] | None] = [None] * len(plan)
    samples: list[np.ndarray | None] = [None] * len(plan)  # each GAN's SAMPLE_SEED points, for the samples figure
    datasets: dict[tuple, Dataset] = {}
    evaluators: dict[tuple, Any] = {}
    for number, members in enumerate(stacks.values(), start=1):
        configs = [plan[i][1] for i in members]
        member_data = [
            _cached(datasets, (c.dataset, c.n_samples, c.noise, c.seed), lambda c=c: load_dataset(c)) for c in configs
        ]
        results = _train_stack(
            configs,
            member_data,
            evaluators,
            out_dir if save_runs else None,
            [_folder_name(plan[i][0], plan[i][1].seed) for i in members],
            desc=f"sweep {number}/{len(stacks)}",
            progress=progress,
        )
        for i, (result, points) in zip(members, results):
            setting, config = plan[i]
            rows[i] = {"setting": setting_label(setting), **setting, "seed": config.seed, **result}
            samples[i] = points

    done = [row for row in rows if row is not None]
    metrics = _metric_names(done, fields)
    table = summarise(done, fields, metrics, interval)
    _save_samples(out_dir, table, done, samples, [config for _, config in plan])
    result = SweepResult(
        out_dir,
        fields,
        done,
        table,
        metrics,
        interval,
        base_config.to_dict(),
        seed_list,
        round(time.perf_counter() - started, 3),
    )
    _write_outputs(result, {k: v for k, v in (grid or {}).items() if k != "seed"})
    if figures:
        result.plot()
    return result


def _cached(cache: dict, key: tuple, make):
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _prepare(out_dir: Path, *, force: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise GankitError(
                f"sweep folder {str(out_dir)!r} already exists; accepted: a new folder, or --force to replace it"
            )
        if not (out_dir / SWEEP_FILE).is_file():
            raise GankitError(
                f"{str(out_dir)!r} is not empty and holds no {SWEEP_FILE}, so --force will not clear it; "
                "accepted: a new folder or an earlier sweep folder"
            )
        for name in (SWEEP_FILE, GANS_FILE, TABLE_FILE, MARKDOWN_FILE, SAMPLES_FILE):
            (out_dir / name).unlink(missing_ok=True)
        for name in (RUNS_DIR, FIGURE_DIR):
            shutil.rmtree(out_dir / name, ignore_errors=True)
    try:
        (out_dir / FIGURE_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GankitError(
            f"sweep folder {str(out_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
        ) from None


def stack_threads(config: TrainConfig, members: int) -> int:
    """Torch threads for a stack: `config.threads`, else one for a lone GAN (as gankit.train: toy-sized
    products gain nothing from more) and every core for two or more (64 GANs: 1.4x faster on two cores
    than on one at width 32, 1.7x at width 128; 8 GANs at width 128: 1.5x)."""
    if config.threads:
        return config.threads
    return 1 if members == 1 else (os.cpu_count() or 1)


def _train_stack(
    configs: list[TrainConfig],
    datasets: list[Dataset],
    evaluators: dict,
    out_dir: Path | None,
    names: list[str],
    *,
    desc: str,
    progress: bool,
) -> list[tuple[dict[str, Any], np.ndarray | None]]:
    """Train one stack to its steps; per member: (its row of results, its N_SAMPLES generated points or None
    if it diverged); its run folder is written under out_dir when that is given."""
    from tqdm.auto import tqdm

    from gankit.run import _evaluator, evaluate_trainer

    config = configs[0]
    threads_before = torch.get_num_threads()
    torch.set_num_threads(stack_threads(config, len(configs)))
    try:
        stack = StackedTrainer(configs, datasets)
        logs: list[list[dict[str, Any]]] = [[] for _ in configs]
        diverged_at: list[int | None] = [None] * len(configs)
        window: list[torch.Tensor] = []
        started = time.perf_counter()
        bar = tqdm(
            total=config.steps,
            disable=not progress,
            desc=f"{desc} ({len(configs)} GANs)",
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        try:
            while stack.step < config.steps:
                window.append(stack.train_step())
                step = stack.step
                last = step == config.steps or (
                    config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
                )
                if step % config.log_every == 0 or last:
                    means = torch.stack(window).mean(0)  # (K, 4): one host sync per logging window
                    window.clear()
                    finite = torch.isfinite(means).all(1) & stack.finite()
                    seconds = round(time.perf_counter() - started, 3)
                    for k, values in enumerate(means.tolist()):
                        if diverged_at[k] is not None:
                            continue
                        if not finite[k]:
                            diverged_at[k] = step
                            continue
                        logs[k].append(
                            {"step": step, **{n: round(v, 6) for n, v in zip(STAT_NAMES, values)}, "seconds": seconds}
                        )
                    bar.update(step - bar.n)
                if last:
                    break
        finally:
            bar.close()
        train_seconds = time.perf_counter() - started

        results = []
        for k, (member, dataset) in enumerate(zip(configs, datasets)):
            result: dict[str, Any] = {"diverged_at": diverged_at[k], "steps": stack.step, "run": ""}
            trainer = stack.member_trainer(k)
            points = None
            if diverged_at[k] is None:
                evaluator = _cached(
                    evaluators, (member.dataset, member.noise), lambda m=member, d=dataset: _evaluator(m, d)
                )
                evaluation = evaluate_trainer(trainer, evaluator, dataset)
                result.update(evaluation)
                logs[k].append({"step": stack.step, **evaluation})
                points = dataset.to_data_space(trainer.generate(N_SAMPLES, seed=SAMPLE_SEED)).numpy()  # = Run.sample
            if out_dir is not None:
                result["run"] = _write_member(
                    out_dir / RUNS_DIR / names[k], trainer, logs[k], save=diverged_at[k] is None
                )
            result["seconds"] = round(train_seconds / len(configs), 4)  # the stack's training time, per GAN
            results.append((result, points))
        return results
    finally:
        torch.set_num_threads(threads_before)


def _write_member(run_dir: Path, trainer, log: list[dict[str, Any]], *, save: bool) -> str:
    """Member k as a gankit run folder: config.json, metrics.jsonl and (unless it diverged) its checkpoint."""
    from gankit.run import METRICS_FILE, _prepare_run_dir, _save

    _prepare_run_dir(run_dir, trainer.config, force=False)
    (run_dir / METRICS_FILE).write_text("".join(json.dumps(record) + "\n" for record in log))
    if save:
        _save(run_dir, trainer, trainer.config.keep_checkpoints)
    return f"{RUNS_DIR}/{run_dir.name}"


def _metric_names(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> list[str]:
    """The numeric evaluation metrics present, in the evaluator's order (w1 first)."""
    skip = {"setting", "seed", "diverged_at", "steps", "run", "seconds", *fields, *NOT_SUMMARISED}
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


def _write_outputs(result: SweepResult, grid: Mapping[str, Any]) -> None:
    path = result.path
    saved = {
        "base": result.base,
        "grid": {k: [_jsonable(v) for v in values] for k, values in grid.items()},
        "seeds": result.seeds,
        "fields": result.fields,
        "metrics": result.metrics,
        "interval": result.interval,
        "seconds": result.seconds,
        "rows": result.rows,
        "table": result.table,
    }
    (path / SWEEP_FILE).write_text(json.dumps(_jsonable(saved), indent=1, allow_nan=True) + "\n")
    _write_csv(path / GANS_FILE, result.rows)
    _write_csv(path / TABLE_FILE, result.table)
    (path / MARKDOWN_FILE).write_text(result.markdown())


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
