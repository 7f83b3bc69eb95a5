"""Single runs: `train` and `resume` write a run folder (see `gankit.runfolder`), `Run` reads one back
to sample, plot and evaluate.

G and D are gankit's own networks for the config, or your own: modules passed as
`generator=` / `discriminator=`, or a models file (`models="my_models.py"`, whose
`make_generator(config)` and `make_discriminator(config)` are called under the run's seed and whose
optional `make_loss(config)` gives the loss). The loss is the config's registered one or `loss=`.
A run of your own networks or loss records them in networks.json (class, parameter count, a
fingerprint of the weights' shapes) and its config says `custom`; reading it back needs modules of
those shapes, and anything else is refused in one line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit.checkpoint import load_checkpoint
from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError
from gankit.evaluation import evaluate_members, make_evaluator
from gankit.figures import FIGURE_SEED, N_POINTS, run_figures, save_figures, save_progress_frame
from gankit.loop import Member, TrainingLoop
from gankit.losses import Loss, config_name
from gankit.models.user import build_pair, check_fits, describe, load_models_file
from gankit.registry import CUSTOM
from gankit.runfolder import (
    CONFIG_FILE,
    FIGURE_DIR,
    append_metrics,
    list_checkpoints,
    newest_state,
    prepare_run_dir,
    read_config,
    read_metrics,
    read_networks,
    set_global_rng_state,
    write_json,
)
from gankit.threads import torch_threads, training_threads
from gankit.trainer import Trainer

Models = str | Path | None


class _Networks:
    """The user's G, D and loss for one run (None each where gankit's own serve), and how to record them."""

    def __init__(
        self,
        config: TrainConfig,
        generator: nn.Module | None,
        discriminator: nn.Module | None,
        loss: Loss | None,
        models: Models,
    ):
        self.models_file = None
        if models is not None:
            if generator is not None or discriminator is not None:
                raise GankitError("models= was given with generator=/discriminator=; accepted: one of the two")
            code = load_models_file(models)
            if code.make_generator is not None:
                generator, discriminator = build_pair(code.make_generator, code.make_discriminator, config)
            if loss is None and code.make_loss is not None:
                loss = code.make_loss(config)
            self.models_file = str(code.path)
        self.generator, self.discriminator, self.loss = generator, discriminator, loss

    @property
    def custom(self) -> bool:
        return self.generator is not None or (self.loss is not None and config_name(self.loss) == CUSTOM)

    def configure(self, config: TrainConfig) -> TrainConfig:
        """The config as the run records it: `custom` for the user's networks or loss."""
        changes: dict[str, Any] = {}
        if self.generator is not None:
            changes["model"] = CUSTOM
        if self.loss is not None:
            changes["loss"] = config_name(self.loss)
        return config.replace(**changes) if changes else config

    def description(self) -> dict[str, Any] | None:
        if not self.custom:
            return None
        return {
            "generator": describe(self.generator) if self.generator is not None else None,
            "discriminator": describe(self.discriminator) if self.discriminator is not None else None,
            "loss": type(self.loss).__name__ if self.loss is not None and config_name(self.loss) == CUSTOM else None,
            "models_file": self.models_file,
        }

    def check_against(
        self, run_dir: Path, config: TrainConfig, recorded: dict[str, Any] | None, *, needs_loss: bool
    ) -> None:
        """GankitError unless these are what the run in `run_dir` was trained with (one line saying what to pass)."""
        if config.model == CUSTOM and self.generator is None:
            hint = (
                f" (this run used --models {recorded['models_file']})"
                if recorded and recorded.get("models_file")
                else ""
            )
            shapes = ", ".join(
                f"{role} {recorded[role]['class']} of {recorded[role]['parameters']:,} parameters"
                for role in ("generator", "discriminator")
                if recorded and recorded.get(role)
            )
            raise GankitError(
                f"run folder {str(run_dir)!r} was trained with your own networks ({shapes or 'not recorded'}); "
                "accepted: "
                f"gankit.Run(path, generator=G, discriminator=D) with modules of those shapes, or --models FILE{hint}"
            )
        if self.generator is not None:
            if config.model != CUSTOM or recorded is None or not recorded.get("generator"):
                raise GankitError(
                    f"run folder {str(run_dir)!r} was trained with gankit's {config.model!r} networks; accepted: no "
                    "generator=/discriminator=/--models for it"
                )
            check_fits("generator", self.generator, recorded["generator"], f"run folder {str(run_dir)!r}")
            check_fits("discriminator", self.discriminator, recorded["discriminator"], f"run folder {str(run_dir)!r}")
        if needs_loss and config.loss == CUSTOM and self.loss is None:
            name = recorded.get("loss") if recorded else None
            raise GankitError(
                f"run folder {str(run_dir)!r} was trained with your own loss{f' ({name})' if name else ''}; accepted: "
                "loss=gankit.Loss(...) (or make_loss(config) in the --models file)"
            )

    def trainer(self, config: TrainConfig, dataset: Dataset) -> Trainer:
        return Trainer(config, dataset, generator=self.generator, discriminator=self.discriminator, loss=self.loss)


def default_run_dir(config: TrainConfig) -> Path:
    return Path("runs") / f"{Path(config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    loss: Loss | None = None,
    models: Models = None,
    force: bool = False,
    progress: bool = True,
    figures: bool = True,
) -> Run:
    """Train a GAN as `config` says and return the finished Run.

    `out` is the run folder (default runs/<dataset>-<time>); an existing one is only replaced with
    `force=True` (use `resume` to continue it). `generator`, `discriminator` (any nn.Modules, see
    gankit.models.user) and `loss` (a gankit.Loss) replace gankit's own; `models` is a Python file
    defining make_generator(config) / make_discriminator(config) [/ make_loss(config)], imported and run.
    Figures are written at the end unless `figures=False`.
    """
    if not isinstance(config, TrainConfig):
        raise GankitError(f"config={type(config).__name__} is not valid; accepted: a gankit.TrainConfig")
    run_dir = Path(out) if out is not None else default_run_dir(config)
    networks = _Networks(config, generator, discriminator, loss, models)
    config = networks.configure(config)
    dataset = load_dataset(config)  # before touching the folder: bad data leaves nothing behind
    with torch_threads(training_threads(config)):
        trainer = networks.trainer(config, dataset)  # bad networks, too
    prepare_run_dir(run_dir, config, force=force, networks=networks.description())
    return _train_in(run_dir, trainer, None, networks, progress=progress, figures=figures)


def resume(
    run_dir: str | Path,
    *,
    steps: int | None = None,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    loss: Loss | None = None,
    models: Models = None,
    progress: bool = True,
    figures: bool = True,
) -> Run:
    """Continue a run from its newest checkpoint, to its configured steps or to `steps`.

    The result is bit-identical (on the CPU) to the run that was never interrupted: the
    checkpoint holds the weights, both optimisers, the EMA, the step, the data order and
    every random state. A run of your own networks or loss needs them again.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise GankitError(
            f"cannot resume {str(run_dir)!r}: it holds no {CONFIG_FILE}; accepted: a run folder written by gankit train"
        )
    saved_config = read_config(run_dir)
    config = saved_config.replace(steps=steps) if steps is not None and steps != saved_config.steps else saved_config
    networks = _Networks(config, generator, discriminator, loss, models)
    networks.check_against(run_dir, config, read_networks(run_dir), needs_loss=True)
    state = newest_state(run_dir)  # None: no checkpoint yet, start again from step 0
    if state is not None:
        fixed = {k: v for k, v in state["config"].items() if k != "steps"}
        mismatch = [k for k, v in fixed.items() if config.to_dict().get(k) != v]
        if mismatch:
            raise GankitError(
                f"checkpoint {str(list_checkpoints(run_dir)[-1])!r} was made with "
                f"{mismatch[0]}={fixed[mismatch[0]]!r} but the run's "
                f"config has {config.to_dict().get(mismatch[0])!r}; accepted: a checkpoint of this run's config"
            )
    dataset = load_dataset(config)
    with torch_threads(training_threads(config)):
        trainer = networks.trainer(config, dataset)
    if config is not saved_config:  # only now that the resume can go ahead
        write_json(run_dir / CONFIG_FILE, config.to_dict())
    return _train_in(run_dir, trainer, state, networks, progress=progress, figures=figures)


def _load(trainer: Trainer, state: dict[str, Any], where: str) -> None:
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, IndexError) as error:
        raise GankitError(
            f"the checkpoint of {where} does not fit the run's models ({str(error).splitlines()[0][:100]}); "
            "accepted: a checkpoint of this run"
        ) from None


def _train_in(
    run_dir: Path, trainer: Trainer, state: dict[str, Any] | None, networks: _Networks, *, progress: bool, figures: bool
) -> Run:
    config, dataset = trainer.config, trainer.dataset
    with torch_threads(training_threads(config)):
        records: list[dict[str, Any]] = []
        if state is not None:
            _load(trainer, state, repr(str(run_dir)))
            set_global_rng_state(state["global_rng"])
            append_metrics(run_dir, {"event": "resume", "step": trainer.step})
            records = read_metrics(run_dir)
        member = Member(run_dir, make_evaluator(config, dataset), records=records)
        loop = TrainingLoop(
            trainer,
            [member],
            progress=progress,
            desc=f"gankit {Path(config.dataset).stem}",
            frames=_frame_writer(run_dir, dataset) if figures else None,
            resume_hint=f"gankit train --resume {run_dir}",
        )
        loop.run()
    run = Run(run_dir, generator=networks.generator, discriminator=networks.discriminator)
    if figures:
        run.plot()
    return run


def _frame_writer(run_dir: Path, dataset: Dataset):
    real = None if dataset.is_image else dataset.fresh(N_POINTS, FIGURE_SEED)

    def write(trainer: Trainer) -> None:
        save_progress_frame(
            run_dir / FIGURE_DIR,
            trainer.step,
            sample=_sampler(trainer),
            real=real,
            dataset=trainer.config.dataset,
            conditional=bool(trainer.n_classes),
        )

    return write


def _sampler(trainer: Trainer):
    """`sample(n, *, seed, labels, z)`: a trainer's samples in data units, as numpy."""

    def sample(n: int, *, seed: int = 0, labels: Any = None, z: Any = None) -> np.ndarray:
        label_tensor = torch.as_tensor(labels, dtype=torch.int64) if labels is not None else None
        z_tensor = torch.as_tensor(z, dtype=torch.float32) if z is not None else None
        return trainer.dataset.to_data_space(trainer.generate(n, seed=seed, labels=label_tensor, z=z_tensor)).numpy()

    return sample


# ----- reading a run back -----
class Run:
    """A trained run folder: its config, metrics and newest checkpoint, and what can be done with them.

    For a run of your own networks pass modules of the same shapes: their weights are loaded from the checkpoint.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        checkpoint: str | Path | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        models: Models = None,
    ):
        self.path = Path(path)
        self.config = read_config(self.path)
        networks = _Networks(self.config, generator, discriminator, None, models)
        networks.check_against(self.path, self.config, read_networks(self.path), needs_loss=False)
        checkpoints = list_checkpoints(self.path)
        if checkpoint is None and not checkpoints:
            raise GankitError(
                f"run folder {str(self.path)!r} holds no checkpoint yet; "
                "accepted: a run that trained for at least one checkpoint interval"
            )
        state = load_checkpoint(checkpoint or checkpoints[-1])
        shape = (1, 28, 28) if self.config.is_image else (state["data_mean"].numel(),)
        self._dataset = Dataset(
            self.config.dataset,
            torch.empty(0, *shape),
            None,
            10 if self.config.is_image else 0,
            state["data_mean"],
            state["data_std"],
            None,
        )
        # Weights only: sampling and plotting need no training data.
        self.trainer = networks.trainer(self.config.replace(device="cpu"), self._dataset)
        _load(self.trainer, state, repr(str(self.path)))
        self.trainer.G.eval()
        self.trainer.D.eval()

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def sample(
        self, n: int = 1000, *, seed: int = 0, labels: np.ndarray | None = None, z: np.ndarray | None = None
    ) -> np.ndarray:
        """n generated samples in data units: toy points (n, dim), or images (n, 1, 28, 28) in [-1, 1].

        `z` (n, latent_dim) gives your own latent points instead of seeded draws."""
        return _sampler(self.trainer)(n, seed=seed, labels=labels, z=z)

    def d_probability(self, points: np.ndarray) -> np.ndarray:
        """D's P(real) for points given in data units."""
        x = self._dataset.to_model_space(torch.as_tensor(points, dtype=torch.float32))
        return self.trainer.d_probability(x).numpy()

    def evaluate(self) -> dict[str, float]:
        """The run's metrics now, as training logs them (W1 and floor for toy data; FD etc. for images)."""
        dataset = load_dataset(self.config) if not self.config.is_image else self._dataset
        (metrics,) = evaluate_members(self.trainer, [make_evaluator(self.config, dataset)])
        return metrics

    def metrics_summary(self) -> dict[str, Any]:
        """The last logged value of every metric (training statistics and evaluations)."""
        summary: dict[str, Any] = {}
        for record in self.metrics:
            summary.update(record)
        return summary

    def plot(self, *, save: bool = True) -> dict[str, Any]:
        """All figures of this run as {name: matplotlib Figure}; saved as PNGs under figures/ too."""
        real = None if self.config.is_image else load_dataset(self.config).fresh(N_POINTS, FIGURE_SEED)
        figures = run_figures(
            dataset=self.config.dataset,
            step=self.step,
            records=self.metrics,
            sample=self.sample,
            d_probability=self.d_probability,
            real=real,
            conditional=self.config.conditional,
        )
        if save:
            save_figures(figures, self.path / FIGURE_DIR)
        return figures

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, dataset={self.config.dataset!r}, step={self.step})"
