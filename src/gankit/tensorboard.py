"""TensorBoard event files beside the metrics log (the optional `tensorboard` extra).

With `tensorboard=True` each GAN's run folder gets `tensorboard/`, where every record the training
loop logs is also a scalar: the losses and mean D outputs under `train/`, each metric and its floor
under `eval/`, and the standard sample figure of a single run (points, or the digit grid) as an
image at each evaluation. A sweep writes one event folder per GAN, so `tensorboard --logdir SWEEP`
shows one run per member. The metrics log stays the source of truth: these files are a view of it.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import GankitError

FOLDER = "tensorboard"
TRAINING_STATS = ("loss_d", "loss_g", "d_real", "d_fake")


class TensorBoardLog:
    """One run folder's TensorBoard writer: `record(...)` for metrics records, `image(...)` for figures."""

    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError(
                "tensorboard=True needs the tensorboard package; accepted: pip install 'gankit[tensorboard]', "
                "or tensorboard=False"
            ) from None
        self._writer = SummaryWriter(str(Path(run_dir) / FOLDER))

    def record(self, record: dict[str, Any]) -> None:
        step = record.get("step")
        if "event" in record or not isinstance(step, int):
            return
        for name, value in record.items():
            if name == "step" or not isinstance(value, numbers.Real) or isinstance(value, bool):
                continue
            group = "train" if name in TRAINING_STATS or name == "seconds" else "eval"
            self._writer.add_scalar(f"{group}/{name}", float(value), step)

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        """An RGB uint8 picture (H, W, 3)."""
        self._writer.add_image(tag, picture, step, dataformats="HWC")

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
