"""How long K toy GANs trained at once in a stack take, against one GAN trained by gankit alone.

    python benchmarks/sweep_speed.py                   # 64 GANs, 32-wide G and D, 300 steps, 3 repeats
    python benchmarks/sweep_speed.py --width 128       # the toy default widths (128, 128)
    python benchmarks/sweep_speed.py --batch-size 100  # the toy default batch before it became 256
    python benchmarks/sweep_speed.py --end-to-end      # also gankit.train vs gankit.sweep, evaluation and files included

The target (issue 6): K = 64 GANs at once take at most 8x the wall time of one run of the same length.

"training": building the trainer(s) (data, initial weights) and `steps` training steps, for one
`gankit.trainer.Trainer` (what gankit.train runs) and for one `StackedTrainer` of K members
(seeds 0..K-1, what gankit.sweep runs). "end-to-end" (--end-to-end): `gankit.train` of one GAN
against `gankit.sweep` of K GANs, each with its evaluations, checkpoints and run folders
(gankit.train evaluates every steps/10 steps by default, the sweep each GAN once at the end;
no figures for either).

Everything runs in one process on one thread (torch.set_num_threads(1)); the single run and the
stack alternate for each repeat, so that both see the same machine, and the medians of the
repeats are printed: wall seconds (the target's measure) and CPU seconds of this process (less
disturbed by other processes on a shared machine). `keep_freed_memory()` is applied first, as
gankit.sweep does; it holds for both.

Measured on the 2-core development machine (shared, busy), 64 GANs vs 1, training, wall-time ratio:
32-wide, batch 100: 7.7x (met); 32-wide, batch 256: 15x (end-to-end 7.0x); 128-wide, batch 256: 58-62x.
A single run of small networks is overhead-bound and the stack shares that overhead; a stack's own
cost per GAN grows with batch x width^2, and at 128 x 128 a single run is already compute-bound.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import gankit
from gankit.data import load_dataset
from gankit.stacked import StackedTrainer, keep_freed_memory
from gankit.trainer import Trainer

TARGET = 8.0


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def train_single(config: gankit.TrainConfig) -> None:
    trainer = Trainer(config, load_dataset(config))
    for _ in range(config.steps):
        trainer.train_step()


def train_stack(configs: list[gankit.TrainConfig]) -> None:
    stack = StackedTrainer(configs)
    for _ in range(configs[0].steps):
        stack.train_step()


def measure(name: str, single, stacked, repeats: int) -> dict[str, float]:
    times: dict[str, list[tuple[float, float]]] = {"single": [], "stack": []}
    for _ in range(repeats):
        times["single"].append(timed(single))
        times["stack"].append(timed(stacked))
    result = {}
    for kind, values in times.items():
        result[f"{kind}_wall_s"] = statistics.median(v[0] for v in values)
        result[f"{kind}_cpu_s"] = statistics.median(v[1] for v in values)
        print(f"  {name:<10} {kind:<6} wall {' '.join(f'{v[0]:7.2f}' for v in values)} s   cpu {' '.join(f'{v[1]:7.2f}' for v in values)} s",
              flush=True)
    result["ratio_wall"] = result["stack_wall_s"] / result["single_wall_s"]
    result["ratio_cpu"] = result["stack_cpu_s"] / result["single_cpu_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gans", type=int, default=64, help="GANs in the stack (default 64)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of every run (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the medians are reported (default 3, at least 3)")
    parser.add_argument("--width", type=int, default=32, help="hidden width of G's and D's two hidden layers (default 32)")
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
    config = gankit.TrainConfig(dataset=args.dataset, latent_dim=args.latent_dim, g_hidden=(args.width, args.width),
                                d_hidden=(args.width, args.width), steps=args.steps, batch_size=args.batch_size)
    configs = [config.replace(seed=seed) for seed in range(args.gans)]
    print(f"{args.gans} GANs vs 1, {args.dataset}, latent {args.latent_dim}, hidden ({args.width}, {args.width}), "
          f"batch {config.batch_size}, {args.steps} steps, {args.repeats} repeats, 1 thread, keep_freed_memory={kept}, "
          f"torch {torch.__version__}", flush=True)
    train_single(config.replace(steps=20))  # warm up both paths (first calls load kernels)
    train_stack([c.replace(steps=5) for c in configs[:2]])

    results = {"gans": args.gans, "steps": args.steps, "width": args.width, "batch_size": config.batch_size, "dataset": args.dataset,
               "repeats": args.repeats}
    results["training"] = measure("training", lambda: train_single(config), lambda: train_stack(configs), args.repeats)
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            counter = iter(range(10**6))
            results["end_to_end"] = measure(
                "end-to-end",
                lambda: gankit.train(config, out=Path(folder) / f"train-{next(counter)}", progress=False, figures=False),
                lambda: gankit.sweep(config, {}, seeds=args.gans, out=Path(folder) / f"sweep-{next(counter)}", progress=False,
                                     figures=False),
                args.repeats)

    print()
    print(f"| measure | one GAN: wall s (cpu s) | {args.gans} GANs: wall s (cpu s) | ratio wall (cpu) | "
          f"us per GAN-step, one / stack (wall) |")
    print("|---|---|---|---|---|")
    for name, r in ((k, results[k]) for k in ("training", "end_to_end") if k in results):
        per_step = f"{r['single_wall_s'] / args.steps * 1e6:.0f} / {r['stack_wall_s'] / args.steps / args.gans * 1e6:.0f}"
        print(f"| {name} | {r['single_wall_s']:.2f} ({r['single_cpu_s']:.2f}) | {r['stack_wall_s']:.2f} ({r['stack_cpu_s']:.2f}) | "
              f"{r['ratio_wall']:.2f}x ({r['ratio_cpu']:.2f}x) | {per_step} |")
    ratio = results["training"]["ratio_wall"]
    print(f"\n{args.gans} GANs at once took {ratio:.2f}x the wall time of one (median of {args.repeats}); "
          f"target <= {TARGET:g}x: {'met' if ratio <= TARGET else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
