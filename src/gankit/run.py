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
import random
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
EVAL_SAMPLES = 10_000  # generated images per evaluation (as many as the MNIST test set FD compares with; conditional: 1,000 per digit)


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
    try:
        with (run_dir / METRICS_FILE).open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as error:
        raise GankitError(
            f"metrics log in {str(run_dir)!r} could not be written ({error.strerror}); earlier checkpoints are intact"
        ) from None


def _prepare_run_dir(run_dir: Path, config: TrainConfig, *, force: bool) -> None:
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise GankitError(
                f"run folder {str(run_dir)!r} already exists; accepted: a new folder, --resume to continue it, or --force to replace it"
            )
        progress_frames = sorted(
            (run_dir / FIGURE_DIR / "progress").glob("step-*.png")
        )  # else the old run's frames join the GIF
        for path in [*list_checkpoints(run_dir), run_dir / METRICS_FILE, run_dir / CONFIG_FILE, *progress_frames]:
            path.unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / CONFIG_FILE, (json.dumps(config.to_dict(), indent=2) + "\n").encode())
    except OSError as error:
        raise GankitError(
            f"run folder {str(run_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
        ) from None


# ----- training -----
@contextmanager
def _threads(config: TrainConfig, dataset: Dataset) -> Iterator[None]:
    # One thread is fastest for toy-sized matrices (less sync than work); images use every core.
    before = torch.get_num_threads()
    default = (os.cpu_count() or 1) if dataset.is_image else 1
    torch.set_num_threads(config.threads or default)
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
        previous = {
            sig: signal.signal(sig, lambda signum, _frame: received.setdefault("signal", signum))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
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
        n = EVAL_SAMPLES
        labels = torch.arange(n) % 10 if trainer.n_classes else None
        images = trainer.generate(n, seed=EVAL_SEED, labels=labels)
        return evaluator.evaluate(images, labels)
    generated = dataset.to_data_space(trainer.generate(evaluator.needs, seed=EVAL_SEED)).numpy()
    return evaluator.evaluate(generated)


def _save(run_dir: Path, trainer: Trainer, keep: int) -> Path:
    path = checkpoint_path(run_dir, trainer.step)
    try:
        save_checkpoint(path, {"config": trainer.config.to_dict(), **trainer.state_dict(), "global_rng": _global_rng()})
    except OSError as error:
        raise GankitError(
            f"checkpoint {str(path)!r} could not be written ({error.strerror}); earlier checkpoints are intact"
        ) from None
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    figures: bool = True,
) -> Run:
    """Train a GAN as `config` says and return the finished Run.

    `out` is the run folder (default runs/<dataset>-<time>); an existing one is only
    replaced with `force=True` (use `resume` to continue it). Figures are written at the
    end unless `figures=False`.
    """
    run_dir = (
        Path(out) if out is not None else Path("runs") / f"{Path(config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    dataset = load_dataset(config)  # before touching the folder: bad data leaves nothing behind
    _prepare_run_dir(run_dir, config, force=force)
    return _train_in(run_dir, config, dataset, None, progress=progress, figures=figures)


def resume(run_dir: str | Path, *, steps: int | None = None, progress: bool = True, figures: bool = True) -> Run:
    """Continue a run from its newest checkpoint, to its configured steps or to `steps`.

    The result is bit-identical (on the CPU) to the run that was never interrupted: the
    checkpoint holds the weights, both optimisers, the EMA, the step, the data order and
    every random state.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise GankitError(
            f"cannot resume {str(run_dir)!r}: it holds no {CONFIG_FILE}; accepted: a run folder written by gankit train"
        )
    config = TrainConfig.from_json(run_dir / CONFIG_FILE)
    if steps is not None and steps != config.steps:
        config = config.replace(steps=steps)
        atomic_write(run_dir / CONFIG_FILE, (json.dumps(config.to_dict(), indent=2) + "\n").encode())
    for leftover in (run_dir / CHECKPOINT_DIR).glob(".*.tmp"):
        leftover.unlink()  # a checkpoint write that a kill cut short
    checkpoints = list_checkpoints(run_dir)
    state = load_checkpoint(checkpoints[-1]) if checkpoints else None  # none yet: start again from step 0
    if state is not None:
        fixed = {k: v for k, v in state["config"].items() if k != "steps"}
        mismatch = [k for k, v in fixed.items() if config.to_dict().get(k) != v]
        if mismatch:
            raise GankitError(
                f"checkpoint {str(checkpoints[-1])!r} was made with {mismatch[0]}={fixed[mismatch[0]]!r} but the run's "
                f"config has {config.to_dict().get(mismatch[0])!r}; accepted: a checkpoint of this run's config"
            )
    return _train_in(run_dir, config, load_dataset(config), state, progress=progress, figures=figures)


def _train_in(
    run_dir: Path, config: TrainConfig, dataset: Dataset, state: dict[str, Any] | None, *, progress: bool, figures: bool
) -> Run:
    with _threads(config, dataset), _stop_signals() as received:
        trainer = Trainer(config, dataset)
        if state is not None:
            try:
                trainer.load_state_dict(state)
            except (RuntimeError, KeyError, ValueError) as error:
                raise GankitError(
                    f"the newest checkpoint of {str(run_dir)!r} does not fit the run's models "
                    f"({str(error).splitlines()[0][:100]}); accepted: a checkpoint of this run"
                ) from None
            _set_global_rng(state["global_rng"])
            _append_metrics(run_dir, {"event": "resume", "step": trainer.step})
        evaluator = _evaluator(config, dataset)
        _loop(trainer, evaluator, dataset, run_dir, received, progress=progress, figures=figures)
    run = Run(run_dir)
    if figures:
        run.plot()
    return run


def _global_rng() -> dict[str, Any]:
    # Training draws only from the trainer's own generator; the global states are saved too so
    # that code a user hooks into the loop also continues exactly.
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, mt_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": [version, list(mt_state), gauss],
    }


def _set_global_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))


def _loop(
    trainer: Trainer,
    evaluator,
    dataset: Dataset,
    run_dir: Path,
    received: dict[str, int],
    *,
    progress: bool,
    figures: bool,
) -> None:
    config = trainer.config
    bar = tqdm(
        total=config.steps,
        initial=trainer.step,
        disable=not progress,
        desc=f"gankit {config.dataset}",
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
    )
    window: list[torch.Tensor] = []
    started = time.perf_counter()
    try:
        while trainer.step < config.steps:
            window.append(trainer.train_step())
            step = trainer.step
            # The final step: the configured one, or the first past max_seconds (then treated just the same).
            last = step == config.steps or (
                config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
            )
            log_due, eval_due = step % config.log_every == 0 or last, step % config.eval_every == 0 or last
            save_due = step % config.checkpoint_every == 0 or last or bool(received)
            if log_due or eval_due or save_due:
                # The one host sync of a window; nothing is evaluated or saved before it proves finite.
                means = torch.stack(window).mean(0).tolist()
                window.clear()
                stats = dict(zip(STAT_NAMES, means))
                if not all(np.isfinite(means)) or not trainer.weights_are_finite():
                    raise TrainingDiverged(_divergence_message(config, step, stats, run_dir))
            if log_due:
                _append_metrics(
                    run_dir,
                    {
                        "step": step,
                        **{k: round(v, 6) for k, v in stats.items()},
                        "seconds": round(time.perf_counter() - started, 3),
                    },
                )
                bar.set_postfix(
                    loss_d=f"{stats['loss_d']:.3f}",
                    loss_g=f"{stats['loss_g']:.3f}",
                    D_x=f"{stats['d_real']:.2f}",
                    D_Gz=f"{stats['d_fake']:.2f}",
                    refresh=False,
                )
                bar.update(step - bar.n)
            if eval_due:
                _append_metrics(run_dir, {"step": step, **evaluate_trainer(trainer, evaluator, dataset)})
                if figures:
                    from gankit.figures import save_progress_frame

                    save_progress_frame(run_dir / FIGURE_DIR, trainer)
            if save_due:
                _save(run_dir, trainer, config.keep_checkpoints)
            if received:
                signum = received["signal"]
                name = signal.Signals(signum).name
                raise TrainingInterrupted(
                    f"{name} at step {step}: checkpoint saved; continue with: gankit train --resume {run_dir}",
                    128 + signum,
                )
            if last:
                break
    finally:
        bar.close()


def _divergence_message(config: TrainConfig, step: int, stats: dict[str, float], run_dir: Path) -> str:
    kept = list_checkpoints(run_dir)
    last = f"last good checkpoint: {kept[-1]}" if kept else "no checkpoint was written yet"
    return (
        f"training diverged at step {step} (loss_d={stats['loss_d']}, loss_g={stats['loss_g']}); {last}; "
        f"try a lower learning rate (lr_g={config.lr_g}, lr_d={config.lr_d}), beta1=0.5, or loss=nonsaturating"
    )


# ----- reading a run back -----
class Run:
    """A trained run folder: its config, metrics and newest checkpoint, and what can be done with them."""

    def __init__(self, path: str | Path, *, checkpoint: str | Path | None = None):
        self.path = Path(path)
        if not (self.path / CONFIG_FILE).is_file():
            raise GankitError(
                f"run folder {str(self.path)!r} holds no {CONFIG_FILE}; accepted: a folder written by gankit train"
            )
        self.config = TrainConfig.from_json(self.path / CONFIG_FILE)
        checkpoints = list_checkpoints(self.path)
        if checkpoint is None and not checkpoints:
            raise GankitError(
                f"run folder {str(self.path)!r} holds no checkpoint yet; accepted: a run that trained for at least one checkpoint interval"
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
        self.trainer = Trainer(self.config.replace(device="cpu"), self._dataset)
        try:
            self.trainer.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as error:
            raise GankitError(
                f"checkpoint of {str(self.path)!r} does not fit its config ({str(error).splitlines()[0][:100]}); "
                "accepted: a checkpoint of this run"
            ) from None
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
