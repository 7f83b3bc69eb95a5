"""How close a toy step runs to the machine's limit: multiply-adds, GFLOP/s and the share of fp32 peak.

    python -m benchmarks.roofline [--repeats 7] [--steps 300]

For gankit's default toy step and the lab-sized step (G 10 -> 64 -> 64 -> 2, D 2 -> 64 -> 1, batch
100), on one thread: the multiply-adds one training step needs, the step's median time, the GFLOP/s
that gives, and the share of one core's fp32 peak measured at the same sizes: each matrix product
the step needs, timed alone with `torch.mm` (its fastest run), so the peak is what this core reaches
for exactly these shapes, not a datasheet number.

The count, per linear layer (in, out) and n samples: forward n*in*out multiply-adds; backward to the
inputs n*in*out (not for the first layer of a network, whose inputs need no gradient); to the weights
n*in*out. D's step: G forward (B), D forward (2B: real and fake in one pass), D backward to its weights
(2B). G's step: G and D forward (B), D backward to its inputs only (B), G backward (B).
Activations, losses and Adam are left out of the count (they are O(parameters), not O(n * parameters)).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time

import torch

import gankit
from gankit.data import load_dataset
from gankit.trainer import Trainer

CASES = {
    "toy default": {},
    "the earlier default (128-wide, batch 256)": dict(g_hidden=(128, 128), d_hidden=(128, 128), batch_size=256),
    "lab-sized": dict(g_hidden=(64, 64), d_hidden=(64,), batch_size=100),
}


def layer_sizes(dims: list[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(dims))


def products(config: gankit.TrainConfig, dim: int) -> list[tuple[int, int, int, int]]:
    """The step's matrix products as (count, n, in, out): each is an (n, in) x (in, out) multiply."""
    batch = config.batch_size
    g = layer_sizes([config.latent_dim, *config.g_hidden, dim])
    d = layer_sizes([dim, *config.d_hidden, 1])
    counts: dict[tuple[int, int, int], int] = {}

    def add(layers, n, *, forward=True, inputs=False, weights=False):
        for index, (fan_in, fan_out) in enumerate(layers):
            for wanted in (forward, inputs and index > 0, weights):
                if wanted:
                    counts[(n, fan_in, fan_out)] = counts.get((n, fan_in, fan_out), 0) + 1

    add(g, batch)  # D step: the fakes
    add(d, 2 * batch, weights=True)  # D on real and fake, backward to D's weights
    add(g, batch, weights=True, inputs=True)  # G step: G forward and backward
    add(d, batch, inputs=True)  # D forward, backward to its inputs (to reach G)
    return [(count, n, fan_in, fan_out) for (n, fan_in, fan_out), count in counts.items()]


def mm_seconds(n: int, fan_in: int, fan_out: int, repeats: int) -> float:
    """The fastest time of one (n, in) x (in, out) torch.mm, fp32, over `repeats` timings of many calls."""
    a, b = torch.randn(n, fan_in), torch.randn(fan_in, fan_out)
    calls = max(10, int(2e8 / max(n * fan_in * fan_out, 1)))  # about 0.1 s per timing at a few GFLOP/s
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def step_seconds(config: gankit.TrainConfig, steps: int, repeats: int) -> float:
    trainer = Trainer(config, load_dataset(config))
    for _ in range(50):  # warm-up: allocator, first-call paths
        trainer.train_step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        times.append((time.perf_counter() - started) / steps)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"one thread; load average at start {os.getloadavg()[0]:.2f}; torch {torch.__version__}")
    print("| step | multiply-adds per step | median step ms | GFLOP/s | fp32 peak at these sizes GFLOP/s | share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, overrides in CASES.items():
        config = gankit.TrainConfig(dataset="circle", threads=1, **overrides)
        dim = load_dataset(config).train.shape[1]
        terms = products(config, dim)
        macs = sum(count * n * fan_in * fan_out for count, n, fan_in, fan_out in terms)
        mm_time = sum(count * mm_seconds(n, fan_in, fan_out, args.repeats) for count, n, fan_in, fan_out in terms)
        step = step_seconds(config, args.steps, args.repeats)
        achieved, peak = 2 * macs / step / 1e9, 2 * macs / mm_time / 1e9
        print(f"| {name} | {macs:,} | {step * 1e3:.3f} | {achieved:.2f} | {peak:.2f} | {achieved / peak:.0%} |")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
