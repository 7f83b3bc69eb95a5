"""Train each MNIST preset for a wall-time budget and print one table of its quality and speed.

    python benchmarks/mnist_quality.py                       # mnist-gan, mnist-cgan, mnist-dcgan, 600 s each
    python benchmarks/mnist_quality.py --seconds 120 --presets mnist-cgan --data-dir ../shared/data/mnist

Each preset trains with `max_seconds` = the budget (or until its own `steps`, whichever comes
first) and is evaluated once, at its last step, on 10,000 samples (the evaluation is not part of
the budget). Presets run one after another, never together, so that each has the machine's
cores to itself; timings are only comparable between rows of one invocation on a quiet machine.

Columns: wall time of training (s), generator steps, training images per second (real images
through D per second: steps x batch size x d_steps / s), Frechet distance of the samples to the
MNIST test set in the classifier's feature space and the floor (the distance of a real held-out
sample), the classifier score (an Inception-score analogue, 10 at best), label accuracy
(conditional presets: the share of samples the classifier reads as the digit asked for), and
the smallest share of any digit among the samples (10% for a perfectly balanced G).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gankit
from gankit.config import PRESETS

DEFAULT_PRESETS = ("mnist-gan", "mnist-cgan", "mnist-dcgan")
COLUMNS = (
    "preset",
    "seconds",
    "steps",
    "img_per_s",
    "fd",
    "fd_floor",
    "classifier_score",
    "label_accuracy",
    "coverage_min",
)


def run_preset(
    name: str,
    seconds: float,
    out: Path,
    *,
    data_dir: str | None,
    steps: int | None,
    seed: int,
    threads: int | None = None,
) -> dict:
    overrides = dict(max_seconds=seconds, seed=seed, data_dir=data_dir)
    if steps is not None:
        overrides["steps"] = steps
    if threads is not None:
        overrides["threads"] = threads
    config = gankit.preset(name, **overrides)
    config = config.replace(
        eval_every=config.steps, checkpoint_every=config.steps, log_every=100
    )  # evaluate at the end only
    started = time.perf_counter()
    run = gankit.train(config, out / name, force=True, progress=False)
    total = time.perf_counter() - started
    records = run.metrics
    train_records = [r for r in records if "loss_d" in r]
    summary = run.metrics_summary()
    trained = train_records[-1]["seconds"]
    return {
        "preset": name,
        "seconds": round(trained, 1),
        "steps": run.step,
        "img_per_s": round(run.step * config.batch_size * config.d_steps / trained),
        "fd": summary.get("fd"),
        "fd_floor": summary.get("fd_floor"),
        "classifier_score": summary.get("classifier_score"),
        "label_accuracy": summary.get("label_accuracy"),
        "coverage_min": summary.get("coverage_min"),
        "total_seconds": round(total, 1),
        "run": str(run.path),
    }


def format_table(rows: list[dict]) -> str:
    def cell(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS), choices=sorted(PRESETS))
    parser.add_argument("--seconds", type=float, default=600.0, help="training budget per preset (default 600)")
    parser.add_argument("--steps", type=int, help="override each preset's steps (default: the preset's own)")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    parser.add_argument("--out", default="runs/bench-mnist", help="parent folder of the runs (replaced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: the config's; 1 is faster on a machine shared with other jobs)",
    )
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for name in args.presets:
        print(f"training {name} for up to {args.seconds:g} s ...", file=sys.stderr, flush=True)
        row = run_preset(
            name,
            args.seconds,
            Path(args.out),
            data_dir=args.data_dir,
            steps=args.steps,
            seed=args.seed,
            threads=args.threads,
        )
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
