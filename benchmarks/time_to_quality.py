"""Quality at equal wall time, and time to a quality, for the toy sets: gankit's defaults and the lab's loop.

    python -m benchmarks.time_to_quality [--seeds 5] [--datasets circle,moons,swiss_roll] [--config JSON] [--no-lab]

Each seed races gankit's default training (`gankit train --dataset D`, one thread) and, on the circle,
the lab's loop (`benchmarks.baselines.lab_circle`: 100 points, batch 100, DataLoader, BCELoss, default
Adam, one thread) chunk by chunk in one process, so both share whatever load the machine has. Only the
chunks are on the clock; after each chunk the model is scored off the clock with gankit's toy metric:
W1 / floor, W1 averaged over 8 pairs of 500 generated and fresh real points, the floor over 30 real
pairs (`gankit.metrics.toy.ToyEvaluator`; docs/guide/metrics.md).

Printed per data set, as median [min, max] over the seeds:
- the quality at each wall-time budget: the score of the last chunk that ended within it;
- the seconds to reach each threshold: 2x and 1.5x the floor, and on the circle the quality that the
  lab's loop reaches in every seed within its budget (the worst seed's best), so that the ratio of
  times is a measured ratio, not a bound.

`--config '{"batch_size": 256}'` races those TrainConfig fields over the defaults instead (how the
defaults were chosen; docs/benchmarks.md); `--no-lab` leaves the lab's loop out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from collections.abc import Sequence

import numpy as np
import torch

from benchmarks import baselines
from benchmarks.speed import Contender, gankit_chunks, race
from gankit.config import TrainConfig
from gankit.data import DATASETS, load_dataset
from gankit.evaluation import EVAL_SEED, evaluate_members
from gankit.metrics.toy import ToyEvaluator

BUDGETS = (0.5, 1.0, 2.0, 3.0, 10.0, 30.0)  # seconds of training
GANKIT_SECONDS = 10.0
LAB_SECONDS = 30.0
GANKIT_CHUNK = 50  # steps between scores (about 0.08 s of training)
LAB_CHUNK = 100  # the lab's epochs between scores (one step each; about 0.5 s)
THRESHOLDS = (2.0, 1.5)


def evaluator_for(dataset: str) -> ToyEvaluator:
    entry = DATASETS[dataset]
    return ToyEvaluator(dataset, lambda n, seed: entry.make(n, random_state=seed))


def contenders(dataset: str, seed: int, evaluator: ToyEvaluator, fields: dict, lab: bool) -> list[Contender]:
    config = TrainConfig.from_dict({**fields, "dataset": dataset, "seed": seed, "steps": 100_000, "threads": 1})
    data = load_dataset(config)

    def gankit_quality(trainer) -> float:
        return evaluate_members(trainer, [evaluator])[0]["w1_ratio"]

    ours = Contender(
        "gankit " + (json.dumps(fields) if fields else "default"),
        lambda: gankit_chunks(config, GANKIT_CHUNK, dataset=data),
        gankit_quality,
        GANKIT_CHUNK,
        threads=1,
    )
    if dataset != "circle" or not lab:
        return [ours]

    def lab_quality(G) -> float:
        with torch.no_grad():
            z = torch.randn(evaluator.needs, 10, generator=torch.Generator().manual_seed(EVAL_SEED))
            return evaluator.evaluate(G(z).numpy().astype(np.float32))["w1_ratio"]

    lab = Contender(
        "lab loop", lambda: baselines.lab_circle(seed, epochs=10**7, check_every=LAB_CHUNK), lab_quality, LAB_CHUNK, 1
    )
    return [lab, ours]


def quality_at(history: list[tuple[int, float, float]], budget: float) -> float | None:
    """The score of the last chunk that ended within `budget` seconds of training."""
    within = [quality for _, seconds, quality in history if seconds <= budget]
    return within[-1] if within else None


def time_to(history: list[tuple[int, float, float]], threshold: float) -> float | None:
    return next((seconds for _, seconds, quality in history if quality <= threshold), None)


def spread(values: list[float | None], digits: int = 2) -> str:
    """median [min, max] of the seeds, or how many seeds never got there."""
    known = [v for v in values if v is not None]
    missing = len(values) - len(known)
    if missing:
        return f"{missing}/{len(values)} seeds never" + (
            f"; others {statistics.median(known):.{digits}f}" if known else ""
        )
    return f"{statistics.median(known):.{digits}f} [{min(known):.{digits}f}, {max(known):.{digits}f}]"


def every_seed_quality(runs: list[list[tuple[int, float, float]]]) -> float:
    """The quality that every seed's run reaches: the worst seed's best, rounded up so that it does reach it."""
    worst_best = max(min(quality for *_, quality in history) for history in runs)
    return math.ceil(worst_best * 100) / 100


def print_tables(
    label: str,
    histories: dict[str, list[list[tuple[int, float, float]]]],
    budgets: Sequence[float],
    limits: dict[str, float],
    thresholds: Sequence[float],
) -> None:
    """The quality of each contender after each budget (up to the longest it trained: `limits`), and its
    seconds to each threshold, as median [min, max] over the seeds (one history per seed)."""
    budgets = [b for b in budgets if b <= max(limits.values())]
    print(f"\n{label} after each budget of training seconds")
    print("| who | " + " | ".join(f"{b:g} s" for b in budgets) + " |")
    print("| --- |" + " --- |" * len(budgets))
    for who, runs in histories.items():
        cells = [spread([quality_at(h, b) for h in runs]) if b <= limits[who] else "-" for b in budgets]
        print(f"| {who} | " + " | ".join(cells) + " |")
    print(f"\n{label}: training seconds to reach it <= threshold")
    print("| who | " + " | ".join(f"<= {t:g}x" for t in thresholds) + " |")
    print("| --- |" + " --- |" * len(thresholds))
    for who, runs in histories.items():
        print(f"| {who} | " + " | ".join(spread([time_to(h, t) for h in runs]) for t in thresholds) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="circle,moons,swiss_roll")
    parser.add_argument("--config", default="{}", help="a JSON object of TrainConfig fields over the defaults")
    parser.add_argument("--no-lab", action="store_true", help="leave the lab's loop out")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 s and 3 s budgets: a smoke run")
    args = parser.parse_args(argv)
    fields = json.loads(args.config)
    TrainConfig.from_dict({**fields, "dataset": "circle"})  # a bad field fails here, before any training
    seeds, gankit_seconds, lab_seconds = (1, 2.0, 3.0) if args.quick else (args.seeds, GANKIT_SECONDS, LAB_SECONDS)
    torch.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; one thread each; {seeds} seeds", flush=True)
    for dataset in args.datasets.split(","):
        evaluator = evaluator_for(dataset)
        histories: dict[str, list[list]] = {}
        for seed in range(seeds):
            racers = contenders(dataset, seed, evaluator, fields, lab=not args.no_lab)
            for racer in racers:
                racer.max_seconds = lab_seconds if racer.name == "lab loop" else gankit_seconds
            race(racers)
            for racer in racers:
                histories.setdefault(racer.name, []).append(racer.history)
                print(json.dumps({"dataset": dataset, "seed": seed, "who": racer.name, "history": racer.history}))
        thresholds = list(THRESHOLDS)
        if "lab loop" in histories:  # the quality the lab's loop reaches in every seed
            thresholds.append(every_seed_quality(histories["lab loop"]))
        limits = {who: lab_seconds if who == "lab loop" else gankit_seconds for who in histories}
        print_tables(f"{dataset}: W1 / floor (floor {evaluator.floor:.4f})", histories, BUDGETS, limits, thresholds)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
