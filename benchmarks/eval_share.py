"""How much of a run's time its evaluations and checkpoints take: every `eval_every` against gankit's default share.

    python -m benchmarks.eval_share [--datasets circle,mnist] [--mnist-seconds 120] [--data-dir DIR]

Each data set trains twice with `gankit.train`'s defaults: once with `eval_share=0` (an evaluation and a checkpoint at
every `eval_every`, steps // 10) and once with the default share. The toy run trains its default 5,000 steps, the
MNIST run (gankit's MLP, FD on 10,000 samples per evaluation) `--mnist-seconds` of training. Printed from each
run's log (its `end` event): the seconds of training, the seconds of evaluations and checkpoints, their share, and
the number of evaluations.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import gankit


def measure(dataset: str, share: float | None, folder: Path, **fields) -> dict:
    config = gankit.TrainConfig(dataset=dataset, eval_share=share, **fields)
    run = gankit.train(config, folder / f"{dataset}-{share}", progress=False, figures=False, live=False)
    (end,) = [r for r in run.metrics if r.get("event") == "end"]
    evaluations = sum(1 for r in run.metrics if "w1" in r or "fd" in r)
    return {**end, "evaluations": evaluations, "share": end["eval_seconds"] / end["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="circle,mnist")
    parser.add_argument("--mnist-seconds", type=float, default=120.0)
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    print(f"{'data':<8} {'eval_share':>10} {'seconds':>8} {'evaluating':>10} {'share':>6} {'evaluations':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets.split(","):
            image = gankit.TrainConfig(dataset=dataset).is_image
            fields = {"max_seconds": args.mnist_seconds, "data_dir": args.data_dir} if image else {}
            for share in (0.0, None):
                row = measure(dataset, share, Path(folder), **fields)
                shown = "default" if share is None else f"{share:g}"
                print(
                    f"{dataset:<8} {shown:>10} {row['seconds']:>8.1f} {row['eval_seconds']:>10.1f} "
                    f"{row['share']:>6.1%} {row['evaluations']:>11}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
