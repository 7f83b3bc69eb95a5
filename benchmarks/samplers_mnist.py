"""The samplers on the MNIST presets: FD and classifier score of each preset's samples as each sampler draws them.

    python -m benchmarks.samplers_mnist [--presets mnist-gan,mnist-dcgan] [--samplers plain,drs,jacobian]
                                        [--seconds 120] [--data-dir DIR]

Each preset trains once for `--seconds` (seed 0, `max_seconds`), then its run is evaluated as
`gankit.Run(path).evaluate(sampler=...)` scores it (10,000 samples; conditional: 1,000 per digit), once per
sampler of gankit.samplers. Printed per preset and sampler: FD / floor, classifier score, the smallest digit
share, the share of G's samples kept and the seconds the sampling took.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import gankit
from gankit.samplers import SAMPLERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="mnist-gan,mnist-dcgan")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="gankit.samplers to compare")
    parser.add_argument("--seconds", type=float, default=120.0, help="training time of each preset")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    lines = [
        "| preset | sampler | FD / floor | classifier score | smallest digit share | kept | sampling s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for name in args.presets.split(","):
            config = gankit.preset(name, max_seconds=args.seconds, data_dir=args.data_dir)
            run = gankit.train(config, Path(folder) / name, progress=False, figures=False, live=False)
            for sampler in args.samplers.split(","):
                m = run.evaluate(sampler=sampler)
                kept = m.get("acceptance", 1.0)
                lines.append(
                    f"| `{name}` ({run.step:,} steps) | {sampler} | {m['fd'] / m['fd_floor']:.2f} "
                    f"| {m['classifier_score']:.2f} | {m['coverage_min']:.1%} | {kept:.1%} "
                    f"| {m.get('sampling_seconds', 0.0):.1f} |"
                )
                print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
