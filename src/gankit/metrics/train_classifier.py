"""Train the MNIST classifier that ships with gankit and write it into the package (or `--out`).

    python -m gankit.metrics.train_classifier --data-dir ../shared/data/mnist

Seeded (`--seed`), on `--threads` threads (one by default, so that another machine with the same
torch build writes the same weights), on the genuine MNIST training split; prints its test accuracy,
which the file's metadata records too. The file is what FD, the classifier score and label accuracy
use wherever no classifier of the user's own is given (see gankit.metrics.classifier).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.metrics.classifier import SEED, SHIPPED, _write_cache, train_classifier


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gankit.metrics.train_classifier", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=SHIPPED["mnist"], help="the file to write (default: the package's)")
    args = parser.parse_args(argv)
    model = train_classifier("mnist", data_dir=args.data_dir, seed=args.seed, threads=args.threads)
    _write_cache(args.out, model, model.metadata)
    meta = model.metadata
    print(
        f"wrote {args.out}: test accuracy {float(meta['test_accuracy']):.2%} (10,000 MNIST test images), "
        f"seed {meta['seed']}, {meta['epochs']} epochs, {meta['train_seconds']} s on {meta['threads']} thread(s)"
    )


if __name__ == "__main__":
    main()
