"""A run: the folder a training writes (config, metrics log, checkpoints, figures) and the object
that reads it back to sample, plot and evaluate.

    out/config.json                 the TrainConfig, every field concrete
    out/metrics.jsonl               append-only, one JSON object a line (training stats and evaluations)
    out/checkpoints/step-N.safetensors
    out/figures/*.png
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gankit.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError
from gankit.trainer import STAT_NAMES, Trainer

CONFIG_FILE, METRICS_FILE, CHECKPOINT_DIR, FIGURE_DIR = "config.json", "metrics.jsonl", "checkpoints", "figures"
EVAL_SEED = 1_000_003  # evaluation draws its own z, never the training RNG's


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM arrived; a checkpoint was saved. `exit_code` is 130 or 143."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(GankitError):
    """A loss or weight became NaN or infinite; the last good checkpoint is kept."""


# ----- the run folder -----
def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step-{step:08d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[Path]:
    return sorted((run_dir / CHECKPOINT_DIR).glob("step-*.safetensors"))


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The metrics log as the run's history: after a resume from step N, lines the killed run
    wrote past N are superseded by the resumed run's and dropped here (the file keeps them)."""
    records: list[dict[str, Any]] = []
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if record.get("event") == "resume":
            records = [r for r in records if r.get("step", 0) <= record["step"]]
        else:
            records.append(record)
    return records


def _append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with (run_dir / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def _prepare_run_dir(run_dir: Path, config: TrainConfig, *, force: bool) -> None:
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise GankitError(f"run folder {str(run_dir)!r} already exists; accepted: a new folder, --resume to continue it, or --force to replace it")
        for path in [*list_checkpoints(run_dir), run_dir / METRICS_FILE, run_dir / CONFIG_FILE]:
            path.unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / CONFIG_FILE, (json.dumps(config.to_dict(), indent=2) + "\n").encode())
    except OSError as error:
        raise GankitError(f"run folder {str(run_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to") from None


# ----- training -----
@contextmanager
def _threads(config: TrainConfig, dataset: Dataset) -> Iterator[None]:
    # One thread is fastest for toy-sized matrices (less sync than work); images use every core.
    before = torch.get_num_threads()
    torch.set_num_threads(config.threads or (os.cpu_count() or 1 if dataset.is_image else 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _stop_signals() -> Iterator[dict[str, int]]:
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps, so a checkpoint is never half-made.

    Signal handlers can only be set from the main thread; elsewhere the defaults stay.
    """
    received: dict[str, int] = {}
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda signum, _frame: received.setdefault("signal", signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _evaluator(config: TrainConfig, dataset: Dataset):
    if dataset.is_image:
        from gankit.metrics.classifier import ImageEvaluator

        return ImageEvaluator(dataset=config.dataset, data_dir=config.data_dir)
    from gankit.metrics.toy import ToyEvaluator

    return ToyEvaluator(config.dataset if not config.is_point_file else "file", dataset.fresh, noise=config.noise)


def evaluate_trainer(trainer: Trainer, evaluator, dataset: Dataset) -> dict[str, float]:
    if dataset.is_image:
        n = 10_000
        labels = torch.arange(n) % 10 if trainer.n_classes else None
        images = trainer.generate(n, seed=EVAL_SEED, labels=labels)
        return evaluator.evaluate(images, labels)
    generated = dataset.to_data_space(trainer.generate(evaluator.needs, seed=EVAL_SEED)).numpy()
    return evaluator.evaluate(generated)


def _save(run_dir: Path, trainer: Trainer, keep: int) -> Path:
    path = checkpoint_path(run_dir, trainer.step)
    try:
        save_checkpoint(path, {"config": trainer.config.to_dict(), **trainer.state_dict()})
    except OSError as error:
        raise GankitError(f"checkpoint {str(path)!r} could not be written ({error.strerror}); earlier checkpoints are intact") from None
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def train(config: TrainConfig, out: str | Path | None = None, *, resume: bool = False, force: bool = False,
          progress: bool = True, figures: bool = True) -> "Run":
    """Train a GAN as `config` says and return the finished Run.

    `out` is the run folder (default runs/<dataset>-<time>). An existing folder needs
    `resume=True` (continue from its newest checkpoint, to the config's `steps`) or
    `force=True` (start over). Figures are written at the end unless `figures=False`.
    """
    run_dir = Path(out) if out is not None else Path("runs") / f"{Path(config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    state = None
    if resume:
        state, config = _resume_state(run_dir, config)
    else:
        _prepare_run_dir(run_dir, config, force=force)
    dataset = load_dataset(config)
    with _threads(config, dataset), _stop_signals() as received:
        trainer = Trainer(config, dataset)
        if state is not None:
            trainer.load_state_dict(state)
            _append_metrics(run_dir, {"event": "resume", "step": trainer.step})
        evaluator = _evaluator(config, dataset)
        _loop(trainer, evaluator, dataset, run_dir, received, progress=progress)
    run = Run(run_dir)
    if figures:
        run.plot()
    return run


def _resume_state(run_dir: Path, config: TrainConfig | None) -> tuple[dict[str, Any] | None, TrainConfig]:
    checkpoints = list_checkpoints(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise GankitError(f"cannot resume {str(run_dir)!r}: it holds no {CONFIG_FILE}; accepted: a run folder written by gankit train")
    saved = TrainConfig.from_json(run_dir / CONFIG_FILE)
    if config is not None:
        changed = [k for k, v in config.to_dict().items() if k != "steps" and saved.to_dict()[k] != v]
        if changed:
            raise GankitError(f"cannot resume {str(run_dir)!r} with {changed[0]}={config.to_dict()[changed[0]]!r}: the run has {saved.to_dict()[changed[0]]!r}; accepted: the run's own settings (only steps may change)")
        saved = saved.replace(steps=config.steps)
    if not checkpoints:
        return None, saved  # killed before its first checkpoint: start from step 0
    state = load_checkpoint(checkpoints[-1])
    ckpt_config = {k: v for k, v in state["config"].items() if k not in ("steps", "eval_every", "checkpoint_every")}
    if any(saved.to_dict()[k] != v for k, v in ckpt_config.items()):
        raise GankitError(f"checkpoint {str(checkpoints[-1])!r} belongs to another config; accepted: a checkpoint of this run")
    return state, saved


def _loop(trainer: Trainer, evaluator, dataset: Dataset, run_dir: Path, received: dict[str, int], *, progress: bool) -> None:
    config = trainer.config
    bar = tqdm(total=config.steps, initial=trainer.step, disable=not progress, desc=f"gankit {config.dataset}", unit="step",
               dynamic_ncols=True, file=sys.stderr)
    window: list[torch.Tensor] = []
    started = time.perf_counter()
    try:
        while trainer.step < config.steps:
            window.append(trainer.train_step())
            step = trainer.step
            if step % config.log_every == 0 or step == config.steps:
                means = torch.stack(window).mean(0).tolist()  # the one host sync of a logging window
                window.clear()
                stats = dict(zip(STAT_NAMES, means))
                if not all(np.isfinite(means)) or not trainer.weights_are_finite():
                    raise TrainingDiverged(_divergence_message(config, step, stats, run_dir))
                _append_metrics(run_dir, {"step": step, **{k: round(v, 6) for k, v in stats.items()},
                                          "seconds": round(time.perf_counter() - started, 3)})
                bar.set_postfix(loss_d=f"{stats['loss_d']:.3f}", loss_g=f"{stats['loss_g']:.3f}",
                                D_x=f"{stats['d_real']:.2f}", D_Gz=f"{stats['d_fake']:.2f}", refresh=False)
                bar.update(step - bar.n)
            if step % config.eval_every == 0 or step == config.steps:
                _append_metrics(run_dir, {"step": step, **evaluate_trainer(trainer, evaluator, dataset)})
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save(run_dir, trainer, config.keep_checkpoints)
            if received:
                _save(run_dir, trainer, config.keep_checkpoints)
                signum = received["signal"]
                name = signal.Signals(signum).name
                raise TrainingInterrupted(f"{name} at step {step}: checkpoint saved; continue with: gankit train --resume {run_dir}",
                                          128 + signum)
    finally:
        bar.close()


def _divergence_message(config: TrainConfig, step: int, stats: dict[str, float], run_dir: Path) -> str:
    kept = list_checkpoints(run_dir)
    last = f"last good checkpoint: {kept[-1]}" if kept else "no checkpoint was written yet"
    return (f"training diverged at step {step} (loss_d={stats['loss_d']}, loss_g={stats['loss_g']}); {last}; "
            f"try a lower learning rate (lr_g={config.lr_g}, lr_d={config.lr_d}), beta1=0.5, or loss=nonsaturating")


# ----- reading a run back -----
class Run:
    """A trained run folder: its config, metrics and newest checkpoint, and what can be done with them."""

    def __init__(self, path: str | Path, *, checkpoint: str | Path | None = None):
        self.path = Path(path)
        if not (self.path / CONFIG_FILE).is_file():
            raise GankitError(f"run folder {str(self.path)!r} holds no {CONFIG_FILE}; accepted: a folder written by gankit train")
        self.config = TrainConfig.from_json(self.path / CONFIG_FILE)
        checkpoints = list_checkpoints(self.path)
        if checkpoint is None and not checkpoints:
            raise GankitError(f"run folder {str(self.path)!r} holds no checkpoint yet; accepted: a run that trained for at least one checkpoint interval")
        state = load_checkpoint(checkpoint or checkpoints[-1])
        shape = (1, 28, 28) if self.config.is_image else (state["data_mean"].numel(),)
        self._dataset = Dataset(self.config.dataset, torch.empty(0, *shape), None, 10 if self.config.is_image else 0,
                                state["data_mean"], state["data_std"], None)
        # Weights only: sampling and plotting need no training data.
        self.trainer = Trainer(self.config.replace(device="cpu"), self._dataset)
        try:
            self.trainer.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as error:
            raise GankitError(f"checkpoint of {str(self.path)!r} does not fit its config ({str(error).splitlines()[0][:100]}); "
                              "accepted: a checkpoint of this run") from None
        self.trainer.G.eval()
        self.trainer.D.eval()

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def sample(self, n: int = 1000, *, seed: int = 0, labels: np.ndarray | None = None) -> np.ndarray:
        """n generated samples in data units: toy points (n, dim), or images (n, 1, 28, 28) in [-1, 1]."""
        label_tensor = torch.as_tensor(labels, dtype=torch.int64) if labels is not None else None
        return self._dataset.to_data_space(self.trainer.generate(n, seed=seed, labels=label_tensor)).numpy()

    def d_probability(self, points: np.ndarray) -> np.ndarray:
        """D's P(real) for points given in data units."""
        x = self._dataset.to_model_space(torch.as_tensor(points, dtype=torch.float32))
        return self.trainer.d_probability(x).numpy()

    def evaluate(self) -> dict[str, float]:
        """The run's metrics now, as training logs them (W1 and floor for toy data; FD etc. for images)."""
        dataset = load_dataset(self.config) if not self.config.is_image else self._dataset
        return evaluate_trainer(self.trainer, _evaluator(self.config, dataset), dataset)

    def metrics_summary(self) -> dict[str, Any]:
        """The last logged value of every metric (training statistics and evaluations)."""
        summary: dict[str, Any] = {}
        for record in self.metrics:
            summary.update(record)
        return summary

    def plot(self, *, save: bool = True) -> dict[str, Any]:
        """All figures of this run as {name: matplotlib Figure}; saved as PNGs under figures/ too."""
        from gankit.figures import run_figures

        return run_figures(self, save=save)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, dataset={self.config.dataset!r}, step={self.step})"
