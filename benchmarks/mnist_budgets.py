"""MNIST quality at equal wall time: each preset's samples scored after 1, 3 and 10 minutes of training.

    python -m benchmarks.mnist_budgets [--presets mnist-cgan] [--budgets 60,180,600] [--seeds 5] [--config JSON]
                                       [--data-dir DIR]

The MNIST counterpart of `benchmarks.time_to_quality`. Each seed trains the preset as `gankit.train`
runs it (its training loop, on the threads gankit chooses) in chunks of `--chunk` steps; only the
chunks are on the clock. After the first chunk that ends past a budget, the model is scored off the
clock with the evaluator of `gankit.train` (10,000 samples; docs/guide/metrics.md): FD over its floor, label
accuracy (conditional presets), the smallest digit share and the classifier score. Printed per preset
and budget: the seconds and steps actually trained when it was scored (and, per seed, the precision of
the networks' products: bfloat16 on a CPU with native bf16), and each metric as median [min, max] over
the seeds. Presets and seeds run one after another, so each has the cores to itself.
`--config '{"batch_size": 64}'` trains those TrainConfig fields over each preset (how a preset is chosen).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from benchmarks.speed import gankit_chunks, pay_one_time_costs
from gankit.config import PRESETS, preset
from gankit.data import load_dataset
from gankit.evaluation import evaluate_members, make_evaluator

METRICS = ("fd_ratio", "label_accuracy", "coverage_min", "classifier_score")


def scores_at_budgets(
    name: str, seed: int, budgets: list[float], chunk: int, data_dir: str | None, fields: dict
) -> list[dict]:
    """One seed of a preset (with `fields` over it): its scores after each budget of training seconds."""
    config = preset(name, **{**fields, "seed": seed, "steps": 10**7, "data_dir": data_dir, "log_every": chunk})
    dataset = load_dataset(config)
    evaluator = make_evaluator(config, dataset)
    chunks, clock, rows = gankit_chunks(config, chunk, dataset=dataset), 0.0, []
    for budget in budgets:
        while clock < budget:
            started = time.perf_counter()
            trainer = next(chunks)
            clock += time.perf_counter() - started
        metrics = evaluate_members(trainer, [evaluator])[0]
        metrics["fd_ratio"] = metrics["fd"] / metrics["fd_floor"]
        rows.append(
            {"preset": name, "seed": seed, "budget": budget, "seconds": round(clock, 1), "step": trainer.step}
            | {"precision": str(trainer.autocast_dtype or torch.float32).removeprefix("torch.")}
            | {key: metrics.get(key) for key in METRICS}
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="mnist-cgan", help="comma-separated MNIST presets")
    parser.add_argument("--budgets", default="60,180,600", help="seconds of training, comma-separated")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=20, help="steps between looks at the clock")
    parser.add_argument("--config", default="{}", help="a JSON object of TrainConfig fields over each preset")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    names = args.presets.split(",")
    for name in names:
        if name not in PRESETS or not preset(name).is_image:
            raise SystemExit(
                f"--presets: {name!r} is not an MNIST preset; accepted: "
                f"{sorted(n for n in PRESETS if preset(n).is_image)}"
            )
    budgets = sorted(float(b) for b in args.budgets.split(","))
    fields = json.loads(args.config)
    pay_one_time_costs()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.seeds} seeds", flush=True)
    rows = [
        row
        for name in names
        for seed in range(args.seeds)
        for row in scores_at_budgets(name, seed, budgets, args.chunk, args.data_dir, fields)
    ]
    print("\n| preset | budget | seconds trained | steps | " + " | ".join(METRICS) + " |")
    print("| --- " * (4 + len(METRICS)) + "|")
    for name in names:
        for budget in budgets:
            mine = [r for r in rows if r["preset"] == name and r["budget"] == budget]
            cells = [spread([r[key] for r in mine]) if mine[0][key] is not None else "-" for key in METRICS]
            seconds, steps = spread([r["seconds"] for r in mine]), spread([r["step"] for r in mine])
            print(f"| {name} | {budget:g} s | {seconds} | {steps} | " + " | ".join(cells) + " |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
