"""MNIST against the common loops: quality at equal wall time, and time to a quality both reach.

    python -m benchmarks.mnist_race [--cases mnist_mlp,dcgan] [--budgets 60,180] [--seeds 5] [--data-dir DIR]
    python -m benchmarks.mnist_race --quick      # smoke run: 1 seed, a few seconds per case

The MNIST counterpart of `benchmarks.time_to_quality`, for the two image cases of `benchmarks.speed`:
each seed races gankit's preset (mnist-gan, mnist-dcgan; its training loop as `gankit.train` runs it)
against the common loop it is measured against (`benchmarks.baselines`: PyTorch-GAN's gan.py MLP loop,
the PyTorch DCGAN tutorial's loop at 28x28), chunk by chunk in one process on the same threads
(gankit's choice: the usable cores), so both share whatever load the machine has. Only the chunks are
on the clock, start-up included; after each chunk (about 10 s of training on the 2-core machine) the
model is scored off the clock: FD over its floor in gankit's classifier features, 10,000 samples (the
evaluator of `gankit.train`; a common loop's G samples in eval mode, as the tutorials do).

Printed per case, as median [min, max] over the seeds:
- FD / floor at each wall-time budget: the score of the last chunk that ended within it;
- the seconds to reach the FD / floor that the common loop reaches in every seed within the largest
  budget (its worst seed's best), so that the ratio of times is a measured ratio, not a bound.
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from benchmarks import baselines
from benchmarks.speed import BASELINES, Contender, gankit_chunks, image_evaluator, race
from benchmarks.time_to_quality import every_seed_quality, print_tables
from gankit.config import preset
from gankit.data import load_dataset
from gankit.data.mnist import load_mnist
from gankit.evaluation import evaluate_members
from gankit.threads import usable_cores

# Steps between scores, (common loop, gankit), about 10 s of training each on the 2-core machine (docs/benchmarks.md).
CHUNK_STEPS = {"mnist_mlp": (400, 600), "dcgan": (60, 200)}
QUICK_CHUNK_STEPS = {"mnist_mlp": (40, 40), "dcgan": (6, 10)}
COMMON = "common loop"


def contenders(case: str, seed: int, images: torch.Tensor, evaluator, data_dir: str | None, quick: bool):
    loop, _, conv, preset_name = BASELINES[case]
    base_chunk, our_chunk = (QUICK_CHUNK_STEPS if quick else CHUNK_STEPS)[case]
    threads = usable_cores()
    config = preset(preset_name, data_dir=data_dir, seed=seed, steps=10**7, threads=threads)
    dataset = load_dataset(config)  # decoded outside both clocks, as the common loop's images are

    def fd_ratio(metrics: dict) -> float:
        return metrics["fd"] / metrics["fd_floor"]

    common = Contender(
        COMMON,
        lambda: loop(images, seed, epochs=10**6, check_every=base_chunk),
        lambda G: fd_ratio(evaluator.evaluate(baselines.sample_images(G, 10_000, conv=conv))),
        base_chunk,
        threads,
    )
    ours = Contender(
        f"gankit {preset_name}",
        lambda: gankit_chunks(config, our_chunk, dataset=dataset),
        lambda trainer: fd_ratio(evaluate_members(trainer, [evaluator])[0]),
        our_chunk,
        threads,
    )
    return [common, ours]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="mnist_mlp,dcgan", help=f"comma-separated, of {sorted(BASELINES)}")
    parser.add_argument("--budgets", default="60,180", help="seconds of training, comma-separated")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, a 2-s budget")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    for case in cases:
        if case not in BASELINES:
            raise SystemExit(f"--cases: {case!r} is not a case; accepted: {sorted(BASELINES)}")
    budgets, seeds = ([2.0], 1) if args.quick else (sorted(float(b) for b in args.budgets.split(",")), args.seeds)
    images, _ = load_mnist("train", data_dir=args.data_dir)
    evaluator = image_evaluator(args.data_dir)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {usable_cores()} threads each; {seeds} seeds")
    for case in cases:
        histories: dict[str, list[list]] = {}
        for seed in range(seeds):
            racers = contenders(case, seed, images, evaluator, args.data_dir, args.quick)
            for racer in racers:
                racer.max_seconds = budgets[-1]
            race(racers)
            for racer in racers:
                histories.setdefault(racer.name, []).append(racer.history)
                print(json.dumps({"case": case, "seed": seed, "who": racer.name, "history": racer.history}), flush=True)
        thresholds = [every_seed_quality(histories[COMMON])]
        limits = dict.fromkeys(histories, budgets[-1])
        print_tables(f"{case}: FD / floor", histories, budgets, limits, thresholds)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
