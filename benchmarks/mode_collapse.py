"""The mode-collapse table: PacGAN's protocol on the ring of 8 and the grid of 25, one row per loss.

    python -m benchmarks.mode_collapse                      # every row on both data sets, 10 seeds each
    python -m benchmarks.mode_collapse --datasets ring --rows preset,hinge+sn
    python -m benchmarks.mode_collapse --quick              # 2 seeds, 100 steps: a smoke run
    python -m benchmarks.mode_collapse --rows preset,preset+jacobian,preset+drs   # the samplers' rows

Each row is one sweep of 10 seeds trained as one stack, exactly what `gankit sweep` runs:

    gankit sweep --preset mode-collapse-ring --loss hinge --r1-gamma 0 --d-norm spectral --seeds 10 --out runs/mc-ring-hinge

The protocol is PacGAN's (Lin et al. 2018, Table 1, after VEEGAN's): 2,500 samples of G; a sample is
high quality within 3 sigma of its nearest mode; a mode is covered when a high-quality sample is
nearest to it; the reverse KL is KL(modes of the high-quality samples || uniform). Every row but the
loss, its penalties and D's normalisation trains with the preset's settings (`gankit.config.PRESETS`).
The table gives mean ± standard error over the seeds, the seeds that covered every mode, and the
seconds the stack of 10 took to train (evaluation excluded), beside the published rows. Why samples miss
(tails: 3 to 6 sigma from their mode; bridges: beyond 6 sigma of every mode) is printed below the table.

A row `<row> + <sampler>` (e.g. `preset + jacobian`) trains the row's stack, keeps its runs, and evaluates
each GAN's samples as that sampler draws them (`gankit.Run(path).evaluate(sampler=...)`, gankit.samplers);
its seconds add the sampling of every GAN (2,500 samples each) to the training.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

import gankit
from gankit.config import PRESETS

SEEDS = 10
# The loss, its penalties and D's normalisation: what every row sets anew; the rest comes from the preset
# (a row may override it too: WGAN-GP's critic steps).
ROW_FIELDS = ("loss", "gp_lambda", "r1_gamma", "r2_gamma", "penalty_every", "d_norm")
R1_GAMMA = 0.1  # the R1 row's gamma, as the preset's (see docs/benchmarks.md)
LOSS_ROWS = {
    "nonsaturating": dict(loss="nonsaturating"),
    "minimax": dict(loss="minimax"),
    "hinge": dict(loss="hinge"),
    "least_squares": dict(loss="least_squares"),
    "WGAN-GP": dict(loss="wasserstein", d_steps=5, beta2=0.9),  # the paper's 5 critic steps and Adam beta2
    "R1": dict(loss="nonsaturating", r1_gamma=R1_GAMMA),  # the preset (mode-collapse-ring, -grid)
    "least_squares + R1": dict(loss="least_squares", r1_gamma=R1_GAMMA),
    "RpGAN + R1 + R2": dict(loss="relativistic"),
}
# Spectral normalisation where it makes sense: not on WGAN-GP's critic, whose gradient penalty already holds
# D near 1-Lipschitz.
ROWS = {
    **LOSS_ROWS,
    **{f"{name} + SN": {**row, "d_norm": "spectral"} for name, row in LOSS_ROWS.items() if name != "WGAN-GP"},
}
# Training-time remedies, rows of their own on the preset's loss: a disconnected latent (gankit.latent) of as many
# components as the data set has modes, as a user who knows their data's modes would set it.
REMEDY_ROWS = {"mixture latent": dict(latent="mixture")}
# Published rows: (modes, high-quality %, reverse KL), as printed (± as in the papers; VEEGAN gives no KL).
PUBLISHED = {
    "ring": [
        ("GAN (PacGAN Table 1)", "6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"),
        ("PacGAN4 (PacGAN Table 1)", "7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02"),
        ("VEEGAN (VEEGAN Table 1)", "8", "52.9", "-"),
    ],
    "grid": [
        ("GAN (PacGAN Table 1)", "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
        ("PacGAN4 (PacGAN Table 1)", "24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01"),
        ("VEEGAN (VEEGAN Table 1)", "24.6", "40.0", "-"),
    ],
}


def preset_name(dataset: str) -> str:
    return f"mode-collapse-{dataset}"


def row_config(dataset: str, name: str, **overrides) -> gankit.TrainConfig:
    """The preset of `dataset` with row `name`'s loss, penalties and normalisation ("preset": the preset's own;
    a remedy row: the preset with the remedy)."""
    values = dict(PRESETS[preset_name(dataset)])
    if name in REMEDY_ROWS:
        values |= REMEDY_ROWS[name] | {"latent_modes": len(_means(dataset))}
    elif name != "preset":
        values = {k: v for k, v in values.items() if k not in ROW_FIELDS} | ROWS[name]
    return gankit.TrainConfig(**{**values, **overrides})


METRICS = ("modes", "high_quality", "reverse_kl", "tails", "bridges")
SAMPLERS = ("jacobian", "drs")  # sampling-time remedies, a row each after a `+`


def measure(config: gankit.TrainConfig, seeds: int, out: Path, sampler: str | None = None) -> dict:
    """One row: a sweep of `seeds` GANs (one stack), evaluated once at its end (with `sampler`: each GAN's
    run evaluated as the sampler draws, its seconds added)."""
    started = time.perf_counter()
    result = gankit.sweep(
        config, {}, seeds=seeds, out=out, force=True, progress=False, save_runs=sampler is not None, figures=False
    )
    rows = result.rows
    sampling = 0.0
    if sampler is not None:
        rows = [gankit.Run(out / row["run"]).evaluate(sampler=sampler) | {"seconds": row["seconds"]} for row in rows]
        sampling = sum(row["sampling_seconds"] for row in rows)
    values = {key: np.array([r.get(key, math.nan) for r in rows], dtype=float) for key in METRICS}
    # A GAN with no high-quality sample has no reverse KL (NaN): the mean is over the others, their count shown.
    finite = {key: v[np.isfinite(v)] for key, v in values.items()}
    return {
        **{key: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))) for key, v in finite.items()},
        "reverse_kl_n": len(finite["reverse_kl"]),
        "all_modes": int(sum(r.get("modes") == len(_means(config.dataset)) for r in rows)),
        "n": len(rows),
        "train_seconds": round(sum(r["seconds"] for r in rows) + sampling, 1),  # the stack's, per GAN; sampling
        "acceptance": float(np.median([r.get("acceptance", 1.0) for r in rows])),
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def _means(dataset: str) -> np.ndarray:
    from gankit.data import DATASETS

    return DATASETS[dataset].mode_centres()


def _cell(mean_se: tuple[float, float], digits: int, scale: float = 1.0) -> str:
    mean, se = mean_se
    return f"{mean * scale:.{digits}f} ± {se * scale:.{digits}f}"


def _kl_cell(r: dict) -> str:
    cell = _cell(r["reverse_kl"], 3)
    return cell if r["reverse_kl_n"] == r["n"] else f"{cell} ({r['reverse_kl_n']} of {r['n']} seeds had any)"


def table(dataset: str, results: dict[str, dict]) -> str:
    lines = [
        f"{dataset} ({len(_means(dataset))} modes)",
        "",
        "| row | modes | high quality % | reverse KL | seeds with every mode | seconds (10 GANs) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {_cell(r['modes'], 2)} | {_cell(r['high_quality'], 1, 100)} | {_kl_cell(r)} "
            f"| {r['all_modes']}/{r['n']} | {r['train_seconds']:.0f} |"
        )
    for name, modes, quality, kl in PUBLISHED[dataset]:
        lines.append(f"| {name} | {modes} | {quality} | {kl} | - | - |")
    lines += ["", "| row | tails % | bridges % | samples kept (median) |", "| --- | --- | --- | --- |"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {_cell(r['tails'], 1, 100)} | {_cell(r['bridges'], 1, 100)} | {r['acceptance']:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ring,grid")
    parser.add_argument("--rows", default=",".join(ROWS), help="any of preset, " + ", ".join([*ROWS, *REMEDY_ROWS]))
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--latent-dim", type=int, help="override the preset's latent_dim")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 100 steps")
    parser.add_argument("--out", default="runs/mode-collapse", help="the sweep folders")
    args = parser.parse_args(argv)
    seeds, steps = (2, 100) if args.quick else (args.seeds, args.steps)
    # "hinge+sn" is "hinge + SN"; any row may end in "+ <sampler>"
    spelled = {name.replace(" ", "").lower(): name for name in ["preset", *ROWS, *REMEDY_ROWS]}
    spelled |= {
        f"{key}+{sampler}": f"{name} + {sampler}" for key, name in list(spelled.items()) for sampler in SAMPLERS
    }
    asked = [n.replace(" ", "").lower() for n in args.rows.split(",")]
    unknown = [n for n in asked if n not in spelled]
    if unknown:
        parser.error(
            f"--rows: unknown {', '.join(unknown)}; accepted: preset, {', '.join([*ROWS, *REMEDY_ROWS])}, each with + "
            f"{' or + '.join(SAMPLERS)}"
        )
    names = [spelled[n] for n in asked]
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.2f}", flush=True)
    for dataset in args.datasets.split(","):
        results = {}
        for name in names:
            overrides = {"steps": steps, "eval_every": steps} if steps else {}
            overrides |= {"latent_dim": args.latent_dim} if args.latent_dim else {}
            row, _, sampler = name.rpartition(" + ") if name.rsplit(" + ", 1)[-1] in SAMPLERS else (name, "", "")
            config = row_config(dataset, row, **overrides)
            label = f"gankit preset ({preset_name(dataset)})" if row == "preset" else row
            label += f" + {sampler}" if sampler else ""
            out = Path(args.out) / dataset / name.replace(" ", "")
            results[label] = measure(config, seeds, out, sampler or None)
            print(f"{dataset} {label}: {results[label]}", flush=True)
        print("\n" + table(dataset, results) + "\n", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
