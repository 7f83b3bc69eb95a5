"""gankit on a GPU: each MNIST preset for a fixed number of steps, and toy stacks of many GANs.

    python -m benchmarks.gpu [--data-dir ../shared/data/mnist] [--steps 300] [--stack-steps 100]

On a machine with CUDA: trains `mnist-gan`, `mnist-cgan` and `mnist-dcgan` for `--steps` steps each
(after 20 warm-up steps, cuDNN autotuning included) and one stack of K = 1, 64, 1,024 and 4,096 toy
GANs (the circle, gankit's default 128-wide networks) for `--stack-steps` steps, all through
gankit's training loop on `device="cuda"` with no files written, and prints images per second (real
images through D per second), GAN-steps per second and the peak GPU memory of each. Meant to run
in under 8 minutes. Without CUDA it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import gankit
from gankit.data import load_dataset
from gankit.loop import Member, TrainingLoop
from gankit.stacked import StackedTrainer
from gankit.trainer import Trainer

WARMUP = 20
STACKS = (1, 64, 1024, 4096)


def _timed(game, steps: int) -> float:
    """Seconds for `steps` steps of the training loop (after WARMUP), synchronised with the device."""
    loop = TrainingLoop(game, [Member() for _ in range(game.K)], progress=False, stop_on_divergence=False)
    loop.run(until=WARMUP)
    torch.cuda.synchronize()
    started = time.perf_counter()
    loop.run(until=WARMUP + steps)
    torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA_DIR"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--stack-steps", type=int, default=100)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing measured (run this on a machine with a GPU)")
        return
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    rows = []
    for name in ("mnist-gan", "mnist-cgan", "mnist-dcgan"):
        config = gankit.preset(name, device="cuda", data_dir=args.data_dir, steps=WARMUP + args.steps)
        torch.cuda.reset_peak_memory_stats()
        trainer = Trainer(config, load_dataset(config))
        seconds = _timed(trainer, args.steps)
        images = config.batch_size * config.d_steps * args.steps / seconds
        rows.append(
            {
                "case": name,
                "images_per_s": round(images),
                "steps_per_s": round(args.steps / seconds, 1),
                "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        del trainer
        torch.cuda.empty_cache()
    for gans in STACKS:
        base = gankit.TrainConfig(dataset="circle", device="cuda", steps=WARMUP + args.stack_steps)
        torch.cuda.reset_peak_memory_stats()
        stack = StackedTrainer([base.replace(seed=seed) for seed in range(gans)])
        seconds = _timed(stack, args.stack_steps)
        rows.append(
            {
                "case": f"toy stack of {gans}",
                "gan_steps_per_s": round(gans * args.stack_steps / seconds),
                "steps_per_s": round(args.stack_steps / seconds, 1),
                "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        del stack
        torch.cuda.empty_cache()
    print("\n| case | images/s | GAN-steps/s | steps/s | peak GPU memory |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['case']} | {row.get('images_per_s', '-')} | {row.get('gan_steps_per_s', '-')} | "
            f"{row['steps_per_s']} | {row['peak_gpu_mb']} MB |"
        )


if __name__ == "__main__":
    main()
