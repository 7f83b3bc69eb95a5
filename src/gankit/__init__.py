"""gankit: train, evaluate and visualise GANs, from 2-D toy distributions to MNIST.

    import gankit
    run = gankit.train(gankit.TrainConfig(dataset="swiss_roll", latent_dim=3), out="runs/roll")
    run.plot()            # {name: Figure}, shown inline in a notebook
    run.evaluate()        # {"w1": ..., "w1_floor": ..., ...}
    run.sample(1000)      # numpy array in the data's units
"""

from gankit.config import PRESETS, TrainConfig, preset
from gankit.errors import GankitError
from gankit.run import Run, TrainingDiverged, TrainingInterrupted, read_metrics, resume, train

__version__ = "0.1.0"
__all__ = ["TrainConfig", "PRESETS", "preset", "train", "resume", "Run", "read_metrics", "GankitError", "TrainingDiverged",
           "TrainingInterrupted", "__version__"]
