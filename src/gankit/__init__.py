"""gankit: train, evaluate and visualise GANs, from 2-D toy distributions to MNIST.

import gankit
run = gankit.train(gankit.TrainConfig(dataset="swiss_roll", latent_dim=3), out="runs/roll")
run.plot()            # {name: Figure}, shown inline in a notebook (run.plot(best=True): its best evaluation)
run.lab_view()        # GAN Lab's view: D's heatmap, G's manifold, the push of G's loss, the points, the curves
run.evaluate()        # {"w1": ..., "w1_floor": ..., ...}
run.sample(1000)      # numpy array in the data's units
run.diagnose()        # what went wrong, why, and what to try (also said while it trains)

# your own networks and loss train the same way
run = gankit.train(config, generator=G, discriminator=D, loss=gankit.Loss(discriminator=d_loss, generator=g_loss))

result = gankit.sweep(gankit.TrainConfig(dataset="swiss_roll"), {"latent_dim": [1, 2, 3, 5, 10]}, seeds=8)
result.table          # per setting: mean and 95% interval of each metric over the seeds

lab = gankit.Lab(gankit.TrainConfig(dataset="circle"))   # GAN Lab's buttons: lab.step_d(), lab.step_g(), lab.show()
gankit.write_report("runs/roll")                         # runs/roll/report.html: one self-contained page
"""

from importlib.metadata import version

from gankit import figures, notebook, plots, views
from gankit.config import PRESETS, TrainConfig, preset
from gankit.data import DATASETS
from gankit.errors import GankitError
from gankit.lab import Lab
from gankit.labbook import run_lab
from gankit.loop import TrainingDiverged, TrainingInterrupted
from gankit.losses import LOSSES, DiscriminatorBatch, GeneratorBatch, Loss
from gankit.models import MODELS
from gankit.report import write_report
from gankit.run import Run, diagnose, resume, train
from gankit.runfolder import read_metrics
from gankit.sweep import SweepResult, resume_sweep, sweep

__version__ = version("gankit")  # pyproject.toml holds the one version number
notebook.brief_errors()
__all__ = [
    "DATASETS",
    "LOSSES",
    "MODELS",
    "PRESETS",
    "DiscriminatorBatch",
    "GankitError",
    "GeneratorBatch",
    "Lab",
    "Loss",
    "Run",
    "SweepResult",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "__version__",
    "diagnose",
    "figures",
    "plots",
    "preset",
    "read_metrics",
    "resume",
    "resume_sweep",
    "run_lab",
    "sweep",
    "train",
    "views",
    "write_report",
]
