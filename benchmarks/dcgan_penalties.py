"""Which penalty helps the MNIST DCGAN: the `mnist-dcgan` preset against itself with R1 or spectral norm, at equal wall time.

    python -m benchmarks.dcgan_penalties --data-dir ../shared/data/mnist [--seconds 240]

Each variant trains the preset for the same wall-time budget (`max_seconds`), one after another on the
same machine, and is evaluated once at its last step as `benchmarks/mnist_quality.py` evaluates the
presets (FD to the test set and its floor, classifier score, smallest digit share).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import gankit

VARIANTS = {
    "preset (no penalty)": {},
    # StyleGAN2's lazy R1: every 16th D step, weighted 16, so it costs little per step.
    "R1 gamma 0.1, lazy (every 16)": dict(r1_gamma=0.1, penalty_every=16),
    "spectral norm in D": dict(d_norm="spectral"),
}
KEYS = ("fd", "fd_floor", "classifier_score", "coverage_min")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA_DIR"))
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.seconds:.0f} s of training each", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, overrides in VARIANTS.items():
            config = gankit.preset(  # evaluated at its last step only: no evaluation inside the budget
                "mnist-dcgan", max_seconds=args.seconds, data_dir=args.data_dir, eval_every=10**6, **overrides
            )
            run = gankit.train(config, out=Path(folder) / str(len(rows)), progress=False, figures=False)
            metrics = run.evaluate()
            row = {"variant": name, "steps": run.step, **{k: round(float(metrics[k]), 3) for k in KEYS}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| variant | steps in the budget | FD (floor) | classifier score | smallest digit share |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['variant']} | {r['steps']:,} | {r['fd']:.2f} ({r['fd_floor']:.2f}) | {r['classifier_score']:.2f} "
            f"| {r['coverage_min']:.1%} |"
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
