"""How close a training step runs to the machine's limit: multiply-adds, GFLOP/s and the share of peak.

    python -m benchmarks.roofline [--repeats 7] [--steps 300] [--cases toy|mnist|all] [--data-dir DIR]

For each case, on the threads and in the precision gankit trains it with: the multiply-adds one training
step needs, the step's median time, the GFLOP/s that gives, and the share of the peak measured at the
same sizes: each matrix product the step needs, timed alone with `torch.mm` in the step's precision (its
fastest run), so the peak is what these cores reach for exactly these shapes, not a datasheet number.

- toy cases (gankit's default toy step and the lab-sized step: G 10 -> 64 -> 64 -> 2, D 2 -> 64 -> 1,
  batch 100): one thread, float32;
- MNIST cases (the MLP GAN and the conditional MLP GAN presets): the usable cores, and bfloat16 where the
  trainer autocasts to it (a CPU with native bf16), else float32. Their images/s is batch / step.

The count, per linear layer (in, out) of G and D (read from the built networks) and n samples: forward
n*in*out multiply-adds; backward to the layer's inputs n*in*out; to its weights n*in*out.
D's step: G forward (B, no gradient); D forward on real and fake in one pass (2B); D backward to its
weights, through every layer but the first to its inputs (2B). G's step: G forward (B); D forward (B);
D backward to its inputs only, the first layer's included, to reach G's output (B); G backward to its
weights, through every layer but the first to its inputs (B).
Activations, normalisation, losses and Adam are left out of the count (they are O(n * width) or
O(parameters), not O(n * parameters)).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

import gankit
from gankit.config import preset
from gankit.data import load_dataset
from gankit.threads import usable_cores
from gankit.trainer import Trainer

TOY_CASES = {
    "toy default": {},
    "the earlier default (128-wide, batch 256)": dict(g_hidden=(128, 128), d_hidden=(128, 128), batch_size=256),
    "lab-sized": dict(g_hidden=(64, 64), d_hidden=(64,), batch_size=100),
}
MNIST_CASES = ("mnist-gan", "mnist-cgan")


@dataclass(frozen=True)
class Backward:
    """Which gradients a network's backward pass computes."""

    weights: bool
    first_inputs: bool  # the first layer's inputs: the network's own input (D's, to reach G's output)


def linear_layers(network: nn.Module) -> list[tuple[int, int]]:
    """(in, out) of each linear layer, in order."""
    return [(m.in_features, m.out_features) for m in network.modules() if isinstance(m, nn.Linear)]


def products(trainer: Trainer) -> list[tuple[int, int, int, int]]:
    """The step's matrix products as (count, n, in, out): each is an (n, in) x (in, out) multiply."""
    batch = trainer.config.batch_size
    g, d = linear_layers(trainer.G), linear_layers(trainer.D)
    counts: dict[tuple[int, int, int], int] = {}

    def add(layers: list[tuple[int, int]], n: int, backward: Backward | None) -> None:
        for index, shape in enumerate(layers):
            wanted = [True]  # forward
            if backward is not None:
                wanted += [backward.weights, index > 0 or backward.first_inputs]
            for _ in range(sum(wanted)):
                counts[(n, *shape)] = counts.get((n, *shape), 0) + 1

    add(g, batch, None)  # D's step: the fakes, no gradient
    add(d, 2 * batch, Backward(weights=True, first_inputs=False))  # D on real and fake, to D's weights
    add(g, batch, Backward(weights=True, first_inputs=False))  # G's step: G forward and backward
    add(d, batch, Backward(weights=False, first_inputs=True))  # D forward, backward to its inputs (to reach G)
    return [(count, n, fan_in, fan_out) for (n, fan_in, fan_out), count in counts.items()]


def mm_seconds(n: int, fan_in: int, fan_out: int, dtype: torch.dtype, repeats: int) -> float:
    """The fastest time of one (n, in) x (in, out) torch.mm in `dtype`, over `repeats` timings of many calls."""
    a, b = torch.randn(n, fan_in, dtype=dtype), torch.randn(fan_in, fan_out, dtype=dtype)
    calls = max(10, int(2e8 / max(n * fan_in * fan_out, 1)))  # about 0.1 s per timing at a few GFLOP/s
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def step_seconds(trainer: Trainer, steps: int, repeats: int) -> float:
    for _ in range(50):  # warm-up: allocator, first-call paths
        trainer.train_step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        times.append((time.perf_counter() - started) / steps)
    return statistics.median(times)


def cases(which: str, data_dir: str | None) -> list[tuple[str, gankit.TrainConfig]]:
    toys = [(name, gankit.TrainConfig(dataset="circle", threads=1, **fields)) for name, fields in TOY_CASES.items()]
    images = [(name, preset(name, threads=usable_cores(), data_dir=data_dir)) for name in MNIST_CASES]
    return {"toy": toys, "mnist": images, "all": toys + images}[which]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300, help="steps per timing of a toy step (MNIST: a tenth)")
    parser.add_argument("--cases", choices=("toy", "mnist", "all"), default="all")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    print(f"load average at start {os.getloadavg()[0]:.2f}; torch {torch.__version__}")
    print(
        "| step | threads | precision | multiply-adds per step | median step ms | images/s | GFLOP/s "
        "| peak at these sizes GFLOP/s | share |"
    )
    print("| --- " * 9 + "|")
    for name, config in cases(args.cases, args.data_dir):
        torch.set_num_threads(config.threads)
        trainer = Trainer(config, load_dataset(config))
        dtype = trainer.autocast_dtype or torch.float32
        terms = products(trainer)
        macs = sum(count * n * fan_in * fan_out for count, n, fan_in, fan_out in terms)
        mm_time = sum(count * mm_seconds(n, i, o, dtype, args.repeats) for count, n, i, o in terms)
        step = step_seconds(trainer, args.steps if not config.is_image else max(10, args.steps // 10), args.repeats)
        achieved, peak = 2 * macs / step / 1e9, 2 * macs / mm_time / 1e9
        images = f"{config.batch_size / step:,.0f}" if config.is_image else "-"
        print(
            f"| {name} | {config.threads} | {str(dtype).removeprefix('torch.')} | {macs:,} | {step * 1e3:.3f} "
            f"| {images} | {achieved:.2f} | {peak:.2f} | {achieved / peak:.0%} |",
            flush=True,
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
