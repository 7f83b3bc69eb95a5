"""How long K toy GANs trained at once in a stack take, against one GAN trained by gankit alone.

    python benchmarks/sweep_speed.py                   # 64 GANs, 32-wide G and D, 300 steps, 3 repeats
    python benchmarks/sweep_speed.py --width 64        # the toy default widths (64, 64)
    python benchmarks/sweep_speed.py --batch-size 100  # the lab's batch
    python benchmarks/sweep_speed.py --end-to-end      # also gankit.train vs gankit.sweep, evaluation and files included

The target: K = 64 GANs at once take at most 8x the wall time of one run of the same length.

"training": building the trainer(s) (data, initial weights) and `steps` training steps, for one
`gankit.trainer.Trainer` (what gankit.train runs) and for one `StackedTrainer` of K members
(seeds 0..K-1, what gankit.sweep runs). "end-to-end" (--end-to-end): `gankit.train` of one GAN
against `gankit.sweep` of K GANs, each with its evaluations, checkpoints and run folders
(gankit.train evaluates every steps/10 steps by default, the sweep each GAN once at the end;
no figures for either).

Everything runs in one process; each contender uses the thread count gankit gives it (one for a
single toy run, `gankit.threads.training_threads`: every core for a stack). The single run and the
stack alternate for each repeat, so that both see the same machine, and the medians of the
repeats are printed: wall seconds (the target's measure) and CPU seconds of this process.
`keep_freed_memory()` is applied first, as gankit.sweep does; it holds for both.

The last line bounds what any stack could do here: the matrix work of K GANs at the peak rate of
the stack's largest product (measured on the stack's threads), against the single run's time.

The measured ratios are in docs/benchmarks.md (A stack of toy GANs).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

import gankit
from gankit.data import load_dataset
from gankit.loop import Member, TrainingLoop
from gankit.stacked import StackedTrainer, keep_freed_memory
from gankit.threads import training_threads
from gankit.trainer import Trainer

TARGET = 8.0


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def train_single(config: gankit.TrainConfig) -> None:
    trainer = Trainer(config, load_dataset(config))
    TrainingLoop(trainer, [Member()], progress=False).run()  # the loop gankit.train runs, without files


@contextlib.contextmanager
def threads_of_a_stack(config: gankit.TrainConfig, gans: int) -> Iterator[None]:
    """Run the block on the threads gankit.sweep gives a stack of `gans`, then return to one."""
    torch.set_num_threads(training_threads(config, gans))
    try:
        yield
    finally:
        torch.set_num_threads(1)


def train_stack(configs: list[gankit.TrainConfig]) -> None:
    with threads_of_a_stack(configs[0], len(configs)):
        stack = StackedTrainer(configs)
        TrainingLoop(stack, [Member() for _ in configs], progress=False, stop_on_divergence=False).run()


def matmul_flops_per_step(config: gankit.TrainConfig, data_dim: int) -> float:
    """Floating-point operations of one GAN's training step in its matrix products (d_steps = 1).

    Per sample, with g and d the multiply-adds of one forward pass of G and of D: the D step runs G
    forward (g), D forward on real and fake (2d) and D's backward (input and weight gradients, 4d);
    the G step runs G forward (g), D forward (d), D's backward for input gradients only (d) and G's
    backward (2g). That is 4g + 8d multiply-adds, two operations each; the first layers' unneeded
    input gradients are ignored, so this slightly overcounts.
    """

    def forward_macs(widths: list[int]) -> int:
        return sum(a * b for a, b in itertools.pairwise(widths))

    g = forward_macs([config.latent_dim, *config.g_hidden, data_dim])
    d = forward_macs([data_dim, *config.d_hidden, 1])
    return 2.0 * config.batch_size * (4 * g + 8 * d)


def peak_stacked_gflops(gans: int, batch_size: int, width: int, repeats: int = 20) -> float:
    """GFLOP/s of this CPU (this thread count) on the stack's largest product: (K, B, w) x (K, w, w) with baddbmm."""
    bias, x, w = torch.randn(gans, 1, width), torch.randn(gans, batch_size, width), torch.randn(gans, width, width)
    torch.baddbmm(bias, x, w)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.baddbmm(bias, x, w)
        seconds.append(time.perf_counter() - started)
    return 2.0 * gans * batch_size * width * width / min(seconds) / 1e9


def compute_bound(
    config: gankit.TrainConfig, gans: int, width: int, steps: int, single_wall_s: float
) -> dict[str, float]:
    """The smallest ratio any implementation could reach here: K GANs' matrix work at this CPU's peak against one run's time."""
    flops = matmul_flops_per_step(config, load_dataset(config).shape[0])
    with threads_of_a_stack(config, gans):
        peak = peak_stacked_gflops(gans, config.batch_size, width)
    single_step = single_wall_s / steps
    return {
        "mflop_per_gan_step": flops / 1e6,
        "peak_gflops": peak,
        "single_run_gflops": flops / single_step / 1e9,
        "ratio_lower_bound": gans * flops / (peak * 1e9) / single_step,
    }


def measure(name: str, single, stacked, repeats: int) -> dict[str, float]:
    times: dict[str, list[tuple[float, float]]] = {"single": [], "stack": []}
    for _ in range(repeats):
        times["single"].append(timed(single))
        times["stack"].append(timed(stacked))
    result = {}
    for kind, values in times.items():
        result[f"{kind}_wall_s"] = statistics.median(v[0] for v in values)
        result[f"{kind}_cpu_s"] = statistics.median(v[1] for v in values)
        print(
            f"  {name:<10} {kind:<6} wall {' '.join(f'{v[0]:7.2f}' for v in values)} s   cpu {' '.join(f'{v[1]:7.2f}' for v in values)} s",
            flush=True,
        )
    result["ratio_wall"] = result["stack_wall_s"] / result["single_wall_s"]
    result["ratio_cpu"] = result["stack_cpu_s"] / result["single_cpu_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gans", type=int, default=64, help="GANs in the stack (default 64)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of every run (default 300)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats; the medians are reported (default 3, at least 3)"
    )
    parser.add_argument(
        "--width", type=int, default=32, help="hidden width of G's and D's two hidden layers (default 32)"
    )
    parser.add_argument("--batch-size", type=int, help="batch size (default: the toy default of TrainConfig)")
    parser.add_argument("--dataset", default="swiss_roll")
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--end-to-end", action="store_true", help="also time gankit.train against gankit.sweep")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")

    torch.set_num_threads(1)
    kept = keep_freed_memory()
    config = gankit.TrainConfig(
        dataset=args.dataset,
        latent_dim=args.latent_dim,
        g_hidden=(args.width, args.width),
        d_hidden=(args.width, args.width),
        steps=args.steps,
        batch_size=args.batch_size,
    )
    configs = [config.replace(seed=seed) for seed in range(args.gans)]
    print(
        f"{args.gans} GANs vs 1, {args.dataset}, latent {args.latent_dim}, hidden ({args.width}, {args.width}), "
        f"batch {config.batch_size}, {args.steps} steps, {args.repeats} repeats, threads 1 (single) and "
        f"{training_threads(config, args.gans)} (stack), keep_freed_memory={kept}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    train_single(config.replace(steps=20))  # warm up both paths (first calls load kernels)
    train_stack([c.replace(steps=5) for c in configs[:2]])

    results = {
        "gans": args.gans,
        "steps": args.steps,
        "width": args.width,
        "batch_size": config.batch_size,
        "dataset": args.dataset,
        "repeats": args.repeats,
    }
    results["training"] = measure("training", lambda: train_single(config), lambda: train_stack(configs), args.repeats)
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            counter = iter(range(10**6))
            results["end_to_end"] = measure(
                "end-to-end",
                lambda: gankit.train(
                    config, out=Path(folder) / f"train-{next(counter)}", progress=False, figures=False
                ),
                lambda: gankit.sweep(
                    config,
                    {},
                    seeds=args.gans,
                    out=Path(folder) / f"sweep-{next(counter)}",
                    progress=False,
                    figures=False,
                ),
                args.repeats,
            )

    print()
    print(
        f"| measure | one GAN: wall s (cpu s) | {args.gans} GANs: wall s (cpu s) | ratio wall (cpu) | "
        f"us per GAN-step, one / stack (wall) |"
    )
    print("|---|---|---|---|---|")
    for name, r in ((k, results[k]) for k in ("training", "end_to_end") if k in results):
        per_step = (
            f"{r['single_wall_s'] / args.steps * 1e6:.0f} / {r['stack_wall_s'] / args.steps / args.gans * 1e6:.0f}"
        )
        print(
            f"| {name} | {r['single_wall_s']:.2f} ({r['single_cpu_s']:.2f}) | {r['stack_wall_s']:.2f} ({r['stack_cpu_s']:.2f}) | "
            f"{r['ratio_wall']:.2f}x ({r['ratio_cpu']:.2f}x) | {per_step} |"
        )
    bound = results["compute_bound"] = compute_bound(
        config, args.gans, args.width, args.steps, results["training"]["single_wall_s"]
    )
    stack_gflops = args.gans * bound["mflop_per_gan_step"] / 1e3 / (results["training"]["stack_wall_s"] / args.steps)
    print(
        f"\nmatrix work: {bound['mflop_per_gan_step']:.1f} MFLOP per GAN-step; one run does it at {bound['single_run_gflops']:.1f} "
        f"GFLOP/s (building included), the stack at {stack_gflops:.1f}; a ({args.gans}, {config.batch_size}, {args.width}) x "
        f"({args.gans}, {args.width}, {args.width}) baddbmm peaks at {bound['peak_gflops']:.1f} GFLOP/s here, so no stack can "
        f"take less than {bound['ratio_lower_bound']:.1f}x one run"
    )
    ratio = results["training"]["ratio_wall"]
    print(
        f"\n{args.gans} GANs at once took {ratio:.2f}x the wall time of one (median of {args.repeats}); "
        f"target <= {TARGET:g}x: {'met' if ratio <= TARGET else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
