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

import contextlib
import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit import distributed, doctor, plots
from gankit.checkpoint import load_checkpoint
from gankit.config import TrainConfig, check_seed
from gankit.data import Dataset, load_dataset
from gankit.data.mnist import CLASSES, MNIST_SHAPE
from gankit.errors import GankitError, bad_value
from gankit.evaluation import EVAL_SEED, evaluate_members, evaluation_draw, make_evaluator, score
from gankit.figures import FIGURE_SEED, N_POINTS, lab_figure, run_figures, save_figures, save_progress_frame
from gankit.files import resolve_folder, resolve_path
from gankit.live import live_view
from gankit.loop import Member, TrainingLoop
from gankit.losses import Loss
from gankit.models.source import NetworkSource
from gankit.models.user import check_fits
from gankit.notebook import say, silenced
from gankit.plots import Figure, Figures, figure_to_array
from gankit.registry import CUSTOM
from gankit.runfolder import (
    CONFIG_FILE,
    FIGURE_DIR,
    append_metrics,
    best_checkpoint_path,
    best_record,
    check_metrics_log,
    checkpoint_path,
    claimed,
    list_checkpoints,
    newest_state,
    prepare_run_dir,
    read_config,
    read_metrics,
    read_networks,
    remove_cut_writes,
    set_global_rng_state,
    write_json,
)
from gankit.samplers import SAMPLERS, Draw, draw
from gankit.statecheck import check_state
from gankit.tables import Metrics
from gankit.tensorboard import TensorBoardLog
from gankit.threads import ThreadGovernor, follows_policy, policy_threads
from gankit.trainer import Trainer, resolve_loss
from gankit.views import (
    Snapshot,
    Sources,
    data_sampler,
    save_snapshot,
    snapshot,
    trainer_sources,
)

Models = str | Path | None
Live = bool | int | None  # the live view: None = in a notebook only, False = never, N = every N steps


class _Networks:
    """The user's G, D and loss for one run (None each where gankit's own serve), from modules or a models file
    (`gankit.models.source`), and the checks that they are what a run folder was trained with."""

    def __init__(
        self,
        config: TrainConfig,
        generator: nn.Module | None,
        discriminator: nn.Module | None,
        loss: Loss | None,
        models: Models,
    ):
        self.source = NetworkSource(generator, discriminator, loss, models, per_gan=False)
        self.generator, self.discriminator = self.source.pair(config) or (None, None)
        self.loss = self.source.loss_for(config)

    def configure(self, config: TrainConfig) -> TrainConfig:
        """The config as the run records it: `custom` for the user's networks or loss, Adam's defaults for it."""
        return self.source.configure(config)

    def description(self) -> dict[str, Any] | None:
        pair = (self.generator, self.discriminator) if self.generator is not None else None
        return self.source.description(pair, self.loss)

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
    """runs/<dataset>-<n> with the next free number, so that re-running a notebook cell trains into a new folder."""
    stem = Path(config.dataset).stem
    numbers = [
        int(m.group(1))
        for p in Path("runs").glob(f"{stem}-*")
        if (m := re.fullmatch(rf"{re.escape(stem)}-(\d+)", p.name))
    ]
    return resolve_folder(Path("runs") / f"{stem}-{max(numbers, default=0) + 1}")


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
    live: Live = None,
) -> Run:
    """Train a GAN as `config` says and return the finished Run.

    `out` is the run folder (default `runs/<dataset>-<n>`, the next free number); an existing one is only replaced with
    `force=True`, and only when gankit wrote it (use `resume` to continue it). `generator`,
    `discriminator` (any nn.Modules, see gankit.models.user) and `loss` (a gankit.Loss) replace
    gankit's own; `models` is a Python file defining make_generator(config) / make_discriminator(config)
    [/ make_loss(config)], imported and run. Figures are written at the end unless `figures=False`.
    Everything is checked before the folder is touched, and the folder is locked while training.
    In a notebook one figure (the lab view and the curves) is redrawn in place while it trains (`live`:
    None = in a notebook only, at most every LIVE_EVERY steps and 5% of the time; N = every N steps; False = never).
    """
    run_dir, trainer, networks = _start(config, out, generator, discriminator, loss, models)
    run_dir = Path(distributed.broadcast(str(run_dir)))  # data-parallel: rank 0's folder for every rank
    with _writer(run_dir):
        distributed.on_rank_zero(
            lambda: prepare_run_dir(run_dir, trainer.config, force=force, networks=networks.description())
        )
        return _train_in(run_dir, trainer, None, networks, progress=progress, figures=figures, live=live)


def _writer(run_dir: Path):
    """The folder's writer lock, held by the rank that writes (every rank but 0 of a data-parallel run reads)."""
    return claimed(run_dir) if distributed.world().writes else contextlib.nullcontext()


def _start(
    config: TrainConfig, out: str | Path | None, generator: Any, discriminator: Any, loss: Any, models: Models
) -> tuple[Path, Trainer, _Networks]:
    """The run folder's path, the trainer and the networks of a new run, all checked before any file is touched."""
    if not isinstance(config, TrainConfig):
        raise GankitError(f"config={type(config).__name__} is not valid; accepted: a gankit.TrainConfig")
    run_dir = resolve_folder(out) if out is not None else default_run_dir(config)
    networks = _Networks(config, generator, discriminator, loss, models)
    note = config.saturating_note(resolve_loss(config, networks.loss))
    config = networks.configure(config)
    dataset = load_dataset(config)  # before touching the folder: bad data leaves nothing behind
    with policy_threads(config):
        trainer = networks.trainer(config, dataset)  # bad networks, too
    if note is not None:
        say(note)
    return run_dir, trainer, networks


def new_training(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    loss: Loss | None = None,
    models: Models = None,
    force: bool = False,
) -> Training:
    """A new run folder and its Training, to be stepped by hand (`gankit.Lab`); each chunk of training and
    each checkpoint claims the folder while it writes."""
    run_dir, trainer, networks = _start(config, out, generator, discriminator, loss, models)
    with claimed(run_dir):
        prepare_run_dir(run_dir, trainer.config, force=force, networks=networks.description())
    return Training(run_dir, trainer, None, networks, progress=False, figures=True, live=False, claim=True)


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
    live: Live = None,
) -> Run:
    """Continue a run from its newest checkpoint, to its configured steps or to `steps`.

    The result is bit-identical (on the CPU) to the run that was never interrupted: the
    checkpoint holds the weights, both optimisers, the EMA, the step, the data order and
    every random state. A run of your own networks or loss needs them again. The checkpoint
    must belong to the run (its config, its training data): anything else is refused, and a
    refused resume changes nothing in the folder.
    """
    run_dir = resolve_path(run_dir, "run")
    if not (run_dir / CONFIG_FILE).is_file():
        raise GankitError(
            f"cannot resume {str(run_dir)!r}: it holds no {CONFIG_FILE}; accepted: a run folder written by gankit train"
        )
    with _writer(run_dir):
        saved_config = read_config(run_dir)
        check_metrics_log(run_dir)
        config = (
            saved_config.replace(steps=steps) if steps is not None and steps != saved_config.steps else saved_config
        )
        networks = _Networks(config, generator, discriminator, loss, models)
        networks.check_against(run_dir, config, read_networks(run_dir), needs_loss=True)
        state = newest_state(run_dir)  # None: no checkpoint yet, start again from step 0
        if state is not None:
            check_state(state, list_checkpoints(run_dir)[-1], config)
            if config.steps < state["step"]:
                raise bad_value("steps", config.steps, f"at least {state['step']}, the step the run has reached")
        dataset = load_dataset(config)
        if state is not None:
            check_binding(state, dataset, run_dir)
        with policy_threads(config):
            trainer = networks.trainer(config, dataset)
        if state is not None:  # whole, before anything in the folder changes
            check_state(state, list_checkpoints(run_dir)[-1], config, trainer)
        # Only now that the resume can go ahead does the folder change.
        if distributed.world().writes:
            remove_cut_writes(run_dir)
            if config is not saved_config:
                write_json(run_dir / CONFIG_FILE, config.to_dict())
        return _train_in(run_dir, trainer, state, networks, progress=progress, figures=figures, live=live)


def _data_shape(config: TrainConfig, state: dict[str, Any]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(the shape of one sample, the classes' names) of the data a checkpoint was trained on. Images: as its
    binding records them (a checkpoint without them is of MNIST's registered sets, the only images then)."""
    if not config.is_image:
        return (state["data_mean"].numel(),), ()
    recorded = state.get("binding", {})
    if "shape" in recorded:
        return tuple(int(n) for n in recorded["shape"]), tuple(str(c) for c in recorded["classes"])
    return MNIST_SHAPE, CLASSES[config.dataset]


def check_binding(state: dict[str, Any], dataset: Dataset, run_dir: Path) -> None:
    """GankitError unless `state` was trained on `dataset` (the fingerprint its checkpoint records)."""
    if state.get("binding", {}).get("data") not in (None, dataset.fingerprint()):
        raise GankitError(
            f"the training data of {str(run_dir)!r} ({dataset.name!r}) changed since the run started; "
            "accepted: the data it was trained on, or a new run"
        )


def _load(trainer: Trainer, state: dict[str, Any], where: str) -> None:
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, IndexError, TypeError, AttributeError) as error:
        raise GankitError(
            f"the checkpoint of {where} does not fit the run's models ({str(error).splitlines()[0][:100]}); "
            "accepted: a checkpoint of this run"
        ) from None


def binding(trainer: Trainer) -> dict[str, Any]:
    """What ties a checkpoint to its run beyond its config: the training data's fingerprint, and the shape and
    classes of its images, which sampling a saved run needs without the data."""
    data = trainer.dataset
    images = {"shape": list(data.shape), "classes": list(data.classes)} if data.is_image else {}
    return {"binding": {"data": data.fingerprint(), **images}}


def _train_in(
    run_dir: Path,
    trainer: Trainer,
    state: dict[str, Any] | None,
    networks: _Networks,
    *,
    progress: bool,
    figures: bool,
    live: Live,
) -> Run:
    training = Training(run_dir, trainer, state, networks, progress=progress, figures=figures, live=live)
    training.run()
    return training.finish()


class Training:
    """A run folder in training: its trainer, its member of the training loop and the loop, for `train`,
    `resume` and `gankit.Lab` (which also steps the trainer by hand between chunks). `claim`: take the
    folder's writer lock for each chunk and checkpoint (the Lab's; `train` holds it throughout)."""

    def __init__(
        self,
        run_dir: Path,
        trainer: Trainer,
        state: dict[str, Any] | None,
        networks: _Networks,
        *,
        progress: bool,
        figures: bool,
        live: Live,
        claim: bool = False,
    ):
        self.path, self.trainer, self.networks, self.claim = run_dir, trainer, networks, claim
        writes = distributed.world().writes  # data-parallel: rank 0 writes the folder, logs and figures
        self.figures = figures and writes
        config, dataset = trainer.config, trainer.dataset
        self.threads = ThreadGovernor(config, start_threads=state.get("threads") if state is not None else None)
        with policy_threads(config), silenced(not progress):  # the classifier's bar too
            records: list[dict[str, Any]] = []
            if state is not None:
                _load(trainer, state, repr(str(run_dir)))
                set_global_rng_state(state["global_rng"])
                if writes:
                    append_metrics(run_dir, {"event": "resume", "step": trainer.step})
                records = read_metrics(run_dir)
            self.tensorboard = TensorBoardLog(run_dir) if config.tensorboard and writes else None
            self.member = Member(
                run_dir if writes else None,
                make_evaluator(config, dataset) if writes else None,
                checkpoint_extra=binding(trainer),
                records=records,
                keep_best=True,
                tensorboard=self.tensorboard,
                doctor=doctor.Doctor(config, networks.loss) if writes else None,
                tell=self._tell,
            )
            if self.member.doctor is not None:
                self.member.doctor.replay(records)  # a resumed run tells only what is new since
            self.sources = sources = trainer_sources(trainer)  # what every view of this training is drawn from
            self.live = live_view(sources, self.member.records, live if writes else False)
            self.loop = TrainingLoop(
                trainer,
                [self.member],
                progress=progress,
                desc=f"gankit {Path(config.dataset).stem}",
                frames=_frame_writer(
                    run_dir, sources, self.member.records, figures=self.figures, tensorboard=self.tensorboard
                )
                if writes
                else None,
                watch=self.live,
                watch_every=self.live.every if self.live is not None else 0,
                resume_hint=f"gankit train --resume {run_dir}",
                threads=self.threads,
            )

    def _tell(self, text: str) -> None:
        """A new finding of the doctor: under the live view in a notebook, else one line on stderr."""
        if self.live is not None:
            self.live.note(text)
        else:
            say(text)

    def _writing(self):
        return claimed(self.path) if self.claim else contextlib.nullcontext()

    def run(self, until: int | None = None) -> None:
        """Train to step `until` (default: the configured end)."""
        with self._writing(), policy_threads(count=self.threads.threads):  # the governor's, restored after
            self.loop.run(until)

    def checkpoint(self) -> None:
        with self._writing(), policy_threads(self.trainer.config):
            self.loop.checkpoint()

    def finish(self) -> Run:
        """The Run of the folder, its figures written (unless figures=False) and the live view drawn a last time."""
        if self.live is not None:
            with policy_threads(self.trainer.config):
                self.live.draw(self.trainer)
        if self.tensorboard is not None:
            self.tensorboard.close()
        distributed.barrier()  # rank 0 has written the last checkpoint
        networks = self.networks
        run = Run(self.path, generator=networks.generator, discriminator=networks.discriminator, loss=networks.loss)
        if self.figures:
            run.plot()
        return run


def _frame_writer(
    run_dir: Path, sources: Sources, records: list[dict[str, Any]], *, figures: bool, tensorboard: TensorBoardLog | None
):
    """At each evaluation: the lab's views saved (RUN/views/step-N.npz, for the report page) and, with
    `figures`, drawn as a progress frame; with `tensorboard`, that frame as a TensorBoard image too."""

    def write(trainer: Trainer) -> None:
        view = snapshot(sources, trainer.step)
        save_snapshot(run_dir, view)
        if figures:
            save_progress_frame(run_dir / FIGURE_DIR, view, records=records, dataset=trainer.config.dataset)
        if tensorboard is not None:
            picture = figure_to_array(
                lab_figure(view, records, title=f"{Path(trainer.config.dataset).stem}, step {trainer.step:,}")
            )
            tensorboard.image("samples", picture, trainer.step)

    return write


# ----- reading a run back -----
def _checkpoint_file(run_dir: Path, checkpoint: Any) -> Path:
    """A checkpoint named by its path, or by its step (an int) in the run folder."""
    if isinstance(checkpoint, int) and not isinstance(checkpoint, bool):
        path = checkpoint_path(run_dir, checkpoint)
        if not path.exists():
            steps = [int(p.stem.split("-")[1]) for p in list_checkpoints(run_dir)]
            raise bad_value("checkpoint", checkpoint, f"a step that has a checkpoint: {steps}, or a checkpoint's path")
        return path
    if not isinstance(checkpoint, (str, Path)):
        raise bad_value("checkpoint", checkpoint, "a checkpoint's path, or a step that has one")
    return Path(checkpoint)


class Run:
    """A trained run folder: its config, metrics and newest checkpoint, and what can be done with them.

    For a run of your own networks pass modules of the same shapes: their weights are loaded from the checkpoint.
    Its own loss (`loss=`, or the models file's) is needed only for the arrows of the lab view.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        checkpoint: str | Path | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        models: Models = None,
        loss: Loss | None = None,
    ):
        self.path = Path(path)
        self.config = read_config(self.path)
        self._given = {"generator": generator, "discriminator": discriminator, "models": models, "loss": loss}
        networks = _Networks(self.config, generator, discriminator, loss, models)
        networks.check_against(self.path, self.config, read_networks(self.path), needs_loss=False)
        checkpoints = list_checkpoints(self.path)
        if checkpoint is None and not checkpoints:
            raise GankitError(
                f"run folder {str(self.path)!r} holds no checkpoint yet; "
                "accepted: a run that trained for at least one checkpoint interval"
            )
        path = _checkpoint_file(self.path, checkpoint) if checkpoint is not None else checkpoints[-1]
        state = load_checkpoint(path)
        check_state(state, path, self.config)
        self._state = {"binding": state.get("binding", {})}  # what ties it to its training data
        shape, classes = _data_shape(self.config, state)
        self._dataset = Dataset(
            self.config.dataset,
            torch.empty(0, *shape),
            None,
            len(classes),
            state["data_mean"],
            state["data_std"],
            None,
            classes,
        )
        # Weights only: sampling and plotting need no training data.
        self.trainer = networks.trainer(self.config.replace(device="cpu"), self._dataset)
        check_state(state, path, self.config, self.trainer)
        _load(self.trainer, state, repr(str(self.path)))
        self.trainer.G.eval()
        self.trainer.D.eval()

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def classes(self) -> tuple[str, ...]:
        """The names of its data's classes, in label order (labels 0, 1, ...): () for points and unlabelled images."""
        return self._dataset.classes

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    @follows_policy
    def sample(
        self,
        n: int = 1000,
        *,
        seed: int = 0,
        labels: np.ndarray | None = None,
        z: np.ndarray | None = None,
        sampler: str | None = None,
    ) -> np.ndarray:
        """n generated samples in data units: toy points (n, dim), or images (n, C, H, W) in [-1, 1].

        `sampler` (None: the run's `config.sampler`) says how they are drawn (gankit.samplers: plain G(z),
        jacobian, drs); `z` (n, latent_dim) gives your own latent points instead, each mapped by G as it is."""
        check_seed("seed", seed)
        if z is not None:
            shape = np.shape(z)
            if shape != (n, self.config.latent_dim):
                raise bad_value(
                    "z", f"an array of shape {shape}", f"shape (n, latent_dim) = ({n}, {self.config.latent_dim})"
                )
            return data_sampler(self.trainer)(n, seed=seed, labels=labels, z=z)
        return self._dataset.to_data_space(self.draw(n, seed=seed, labels=labels, sampler=sampler).samples).numpy()

    @follows_policy
    def draw(
        self, n: int = 1000, *, seed: int = 0, labels: np.ndarray | None = None, sampler: str | None = None
    ) -> Draw:
        """n samples in model space by `sampler` (None: `config.sampler`), with what the sampler kept and what it
        cost (`Draw.acceptance`, `Draw.seconds`)."""
        check_seed("seed", seed)
        name = self.config.sampler if sampler is None else sampler
        data = self.training_data() if SAMPLERS[name].needs_data else None
        label_tensor = torch.as_tensor(labels, dtype=torch.int64) if labels is not None else None
        return draw(self.trainer, n, sampler=name, seed=seed, labels=label_tensor, data=data)

    @follows_policy
    def d_probability(self, points: np.ndarray) -> np.ndarray:
        """D's P(real) for points given in data units."""
        x = self._dataset.to_model_space(torch.as_tensor(points, dtype=torch.float32))
        return self.trainer.d_probability(x).numpy()

    def training_data(self) -> Dataset:
        """The run's training data, checked to be what it was trained on (as a resume checks it)."""
        dataset = load_dataset(self.config)
        check_binding(self._state, dataset, self.path)
        return dataset

    @follows_policy
    def evaluate(self, *, sampler: str | None = None) -> Metrics:
        """The run's metrics now (W1 and floor for toy data; FD etc. for images) of the samples `sampler` draws
        (None: `config.sampler`; a sampler other than plain adds its acceptance and seconds): a dict, shown in a
        notebook as a table. Training logs the metrics of G's own samples, as `sampler="plain"` scores them."""
        # MNIST's evaluator reads its own files; points and your own images are the reference
        registered_images = self.config.is_image and not self.config.is_own_images
        evaluator = make_evaluator(self.config, self._dataset if registered_images else self.training_data())
        name = self.config.sampler if sampler is None else sampler
        if name == "plain":
            (metrics,) = evaluate_members(self.trainer, [evaluator])
            return Metrics(metrics)
        n, labels = evaluation_draw(self.config, [evaluator], self.trainer.n_classes)
        drawn = self.draw(n, seed=EVAL_SEED, labels=labels, sampler=name)
        return Metrics({**score(evaluator, self._dataset.to_data_space(drawn.samples), labels), **drawn.summary(name)})

    def metrics_summary(self) -> Metrics:
        """The last logged value of every metric (training statistics and evaluations)."""
        summary = Metrics()
        for record in self.metrics:
            if "event" not in record:  # events (threads, findings, the end) are not metrics
                summary.update(record)
        return summary

    @property
    def best_step(self) -> int | None:
        """The step of the best evaluation by the run's own metric (W1 / floor, or FD), None before any."""
        record = best_record(self.metrics)
        return record["step"] if record is not None else None

    def best(self) -> Run:
        """This run at its best evaluation (its checkpoint is kept apart from the rotation of the others)."""
        path = best_checkpoint_path(self.path)
        if not path.is_file():
            raise GankitError(
                f"run folder {str(self.path)!r} holds no best checkpoint ({path.name}); accepted: a run trained "
                "with this gankit, evaluated at least once"
            )
        given = dict(self._given)
        if given["generator"] is not None:  # the best run gets its own copies of your modules to load weights into
            given["generator"], given["discriminator"] = copy.deepcopy(self.trainer.G), copy.deepcopy(self.trainer.D)
        return Run(self.path, checkpoint=path, **given)

    def diagnose(self) -> list[doctor.Finding]:
        """What went wrong while it trained, each at the step it was first seen (see gankit.doctor): what is
        seen with the numbers, why it happens, and what to try. An empty list: nothing the doctor knows of."""
        return doctor.diagnose(self.metrics, self.config, self.trainer.loss)

    @follows_policy
    def view(self) -> Snapshot:
        """The lab's views of the run now (see gankit.views): arrays for lab_view, or the sample grid for images."""
        dataset = None if self.config.is_image else self.training_data()
        return snapshot(trainer_sources(self.trainer, dataset), self.step)

    @follows_policy
    def lab_view(self) -> Figure:
        """GAN Lab's view (D's heatmap, G's manifold, the push of G's loss, the points) with the curves."""
        return lab_figure(
            self.view(), self.metrics, title=f"{Path(self.config.dataset).stem}: GAN Lab view, step {self.step:,}"
        )

    @follows_policy
    def plot(self, *, save: bool = True, best: bool = False) -> Figures:
        """All figures of this run as {name: Figure}, shown inline in a notebook; saved as PNGs under figures/
        too. `best=True`: the figures of its best evaluation (`best()`), under figures/best/."""
        if best:
            run = self.best()
            figures = run.plot(save=False)
            if save:
                save_figures(figures, self.path / FIGURE_DIR / "best")
            return figures
        dataset = None if self.config.is_image else self.training_data()
        figures = run_figures(
            dataset=self.config.dataset,
            step=self.step,
            records=[r for r in self.metrics if r.get("step", 0) <= self.step],
            sample=self.sample,
            d_probability=self.d_probability,
            real=None if dataset is None else dataset.fresh(N_POINTS, FIGURE_SEED),
            classes=self.classes if self.config.conditional else (),
            n_train=None if dataset is None else len(dataset.train),
        )
        if dataset is not None and self.config.sampler != "plain":
            figures["sampler"] = self.sampler_view()
        if save:
            save_figures(figures, self.path / FIGURE_DIR)
        return figures

    def sampler_view(self, sampler: str | None = None, *, n: int = N_POINTS, seed: int = FIGURE_SEED) -> Figure:
        """What `sampler` (None: `config.sampler`) keeps of G's samples and what it rejects, over fresh real
        points: toy data only (gankit.plots.sampler_view)."""
        if self.config.is_image:
            raise bad_value("sampler_view of", self.config.dataset, "a run of points (images have no such view)")
        name = self.config.sampler if sampler is None else sampler
        drawn = self.draw(n, seed=seed, sampler=name)
        rejected = drawn.rejected if drawn.rejected is not None else drawn.samples[:0]
        to_data = self._dataset.to_data_space
        return plots.sampler_view(
            self.training_data().fresh(n, FIGURE_SEED),
            to_data(drawn.samples).numpy(),
            to_data(rejected).numpy(),
            sampler=name,
            acceptance=drawn.acceptance,
        )

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, dataset={self.config.dataset!r}, step={self.step})"


def diagnose(run: Run | str | Path) -> list[doctor.Finding]:
    """The doctor's findings of a Run or a run folder (`Run.diagnose`); a folder is read without loading its
    networks, so a run of your own loss is read as if its G loss did not saturate."""
    if isinstance(run, Run):
        return run.diagnose()
    path = Path(run)
    if not (path / CONFIG_FILE).is_file():
        raise GankitError(f"{str(path)!r} holds no {CONFIG_FILE}; accepted: a run folder written by gankit train")
    return doctor.diagnose(read_metrics(path), read_config(path))
