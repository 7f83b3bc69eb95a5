"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# The tests' models are tiny: one thread is fastest, and on a shared 2-core machine more
# threads mostly wait for each other.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder of the genuine MNIST .gz files.

    $GANKIT_TEST_MNIST_DIR when set (CI points it at ../shared/data/mnist; a wrong value fails
    rather than skips), else the repository's sibling shared/data/mnist; skips when neither exists.
    """
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    configured = os.environ.get("GANKIT_TEST_MNIST_DIR")
    folder = Path(configured) if configured else Path(__file__).parents[2] / "shared" / "data" / "mnist"
    if all((folder / name).is_file() for name in names):
        return folder
    if configured:
        pytest.fail(f"GANKIT_TEST_MNIST_DIR={configured!r} does not hold the four MNIST .gz files {', '.join(names)}")
    pytest.skip(
        f"genuine MNIST files not found in {str(folder)!r}; set GANKIT_TEST_MNIST_DIR to a folder that holds them"
    )


@pytest.fixture(scope="session")
def circle_run(tmp_path_factory):
    """A tiny trained circle run (a few hundred steps), shared by the tests that only read a run."""
    import gankit

    config = gankit.TrainConfig(
        dataset="circle", steps=300, g_hidden=(32, 32), d_hidden=(32, 32), log_every=50, eval_every=150
    )
    return gankit.train(config, tmp_path_factory.mktemp("runs") / "circle", progress=False, figures=False)
