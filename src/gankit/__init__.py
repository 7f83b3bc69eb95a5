"""gankit: train, evaluate and visualise GANs, from 2-D toy distributions to MNIST.

import gankit
run = gankit.train(gankit.TrainConfig(dataset="swiss_roll", latent_dim=3), out="runs/roll")
run.plot()            # {name: Figure}, shown inline in a notebook
run.evaluate()        # {"w1": ..., "w1_floor": ..., ...}
run.sample(1000)      # numpy array in the data's units

result = gankit.sweep(gankit.TrainConfig(dataset="swiss_roll"), {"latent_dim": [1, 2, 3, 5, 10]}, seeds=8, out="runs/latent")
result.table          # per setting: mean and 95% interval of each metric over the seeds
"""

from gankit.config import PRESETS, TrainConfig, preset
from gankit.errors import GankitError
from gankit.run import Run, TrainingDiverged, TrainingInterrupted, read_metrics, resume, train
from gankit.sweep import SweepResult, sweep

__version__ = "0.1.0"
__all__ = [
    "PRESETS",
    "GankitError",
    "Run",
    "SweepResult",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "__version__",
    "preset",
    "read_metrics",
    "resume",
    "sweep",
    "train",
]
