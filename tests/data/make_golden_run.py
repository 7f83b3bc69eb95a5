"""Writes tests/data/golden-run: a tiny circle run, its checkpoint and the samples it gives, which every later
version of gankit must still read back to the same samples (tests/test_golden_run.py).

    python tests/data/make_golden_run.py

Run it again only when a new state format (gankit.memberstate.STATE_FORMAT) is introduced, keeping the old
folder as golden-run-<format> beside the new one.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

import gankit

HERE = Path(__file__).parent
CONFIG = dict(dataset="circle", steps=20, eval_every=20, g_hidden=(8,), d_hidden=(8,), latent_dim=2, n_samples=64)
SAMPLE = dict(n=16, seed=3)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = gankit.TrainConfig(**CONFIG)
        run = gankit.train(config, Path(folder) / "run", progress=False, figures=False, live=False)
        target = HERE / "golden-run"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for name in ("config.json", "metrics.jsonl"):
            shutil.copy(run.path / name, target / name)
        shutil.copytree(run.path / "checkpoints", target / "checkpoints")
        np.save(target / "samples.npy", run.sample(SAMPLE["n"], seed=SAMPLE["seed"]))


if __name__ == "__main__":
    main()
