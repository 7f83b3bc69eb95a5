"""Quality of the toy defaults: with default settings, does each toy GAN reach W1 <= 2x the
real-vs-real floor within 60 s of training on this machine?

Trains with the default TrainConfig of each dataset, evaluates every 250 steps (evaluation
time excluded from the clock) and prints, per dataset and seed, the training seconds until
the first evaluation at or below 2x the floor, and the best ratio seen.

    python -m benchmarks.toy_quality [--seconds 60] [--seeds 3] [--datasets circle,moons,swiss_roll]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from benchmarks.speed import gankit_chunks, pay_one_time_costs
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.evaluation import evaluate_members, make_evaluator

CHECK_EVERY = 250


def time_to_target(config: TrainConfig, budget: float, target: float = 2.0) -> dict:
    dataset = load_dataset(config)
    evaluator = make_evaluator(config, dataset)
    chunks = gankit_chunks(config.replace(steps=10**7), CHECK_EVERY, dataset=dataset)
    trained, reached, best = 0.0, None, float("inf")
    while trained < budget:
        start = time.perf_counter()
        trainer = next(chunks)
        trained += time.perf_counter() - start
        ratio = evaluate_members(trainer, [evaluator])[0]["w1_ratio"]
        best = min(best, ratio)
        if reached is None and ratio <= target:
            reached = {"seconds": round(trained, 1), "step": trainer.step, "ratio": round(ratio, 3)}
    return {
        "dataset": config.dataset,
        "seed": config.seed,
        "reached": reached,
        "best_ratio": round(best, 3),
        "steps_in_budget": trainer.step,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", default="circle,moons,swiss_roll")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as gankit.train does for toy models
    pay_one_time_costs()
    rows = []
    for name in args.datasets.split(","):
        for seed in range(args.seeds):
            row = time_to_target(TrainConfig(dataset=name, seed=seed), args.seconds)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'dataset':<11} {'reached 2x floor':>17} {'median seconds':>15} {'median best ratio':>18}")
    for name in args.datasets.split(","):
        mine = [r for r in rows if r["dataset"] == name]
        hits = [r["reached"]["seconds"] for r in mine if r["reached"]]
        median_seconds = f"{statistics.median(hits):.1f}" if hits else "-"
        print(
            f"{name:<11} {len(hits):>9}/{len(mine):<7} {median_seconds:>15} {statistics.median(r['best_ratio'] for r in mine):>18.2f}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
