"""The run folder's layout: what a training writes where, and how it is read back.

out/config.json                 the TrainConfig, every field concrete
out/networks.json               only for your own networks or loss: their class, parameter count, fingerprint
out/metrics.jsonl               append-only, one JSON object a line (training stats and evaluations)
out/checkpoints/step-N.safetensors
out/figures/*.png
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.config import TrainConfig
from gankit.errors import GankitError
from gankit.files import atomic_write

CONFIG_FILE, NETWORKS_FILE, METRICS_FILE = "config.json", "networks.json", "metrics.jsonl"
CHECKPOINT_DIR, FIGURE_DIR = "checkpoints", "figures"


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:08d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[Path]:
    return sorted((Path(run_dir) / CHECKPOINT_DIR).glob("step-*.safetensors"))


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


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    try:
        with (Path(run_dir) / METRICS_FILE).open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as error:
        raise GankitError(
            f"metrics log in {str(run_dir)!r} could not be written ({error.strerror}); earlier checkpoints are intact"
        ) from None


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, (json.dumps(value, indent=2) + "\n").encode())


def read_config(run_dir: Path) -> TrainConfig:
    if not (Path(run_dir) / CONFIG_FILE).is_file():
        raise GankitError(
            f"run folder {str(run_dir)!r} holds no {CONFIG_FILE}; accepted: a folder written by gankit train"
        )
    return TrainConfig.from_json(Path(run_dir) / CONFIG_FILE)


def read_networks(run_dir: Path) -> dict[str, Any] | None:
    """What networks.json records (None for a run of gankit's own networks and loss)."""
    path = Path(run_dir) / NETWORKS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GankitError(f"{str(path)!r} could not be read ({error}); accepted: the file gankit train wrote") from None


def prepare_run_dir(run_dir: Path, config: TrainConfig, *, force: bool, networks: dict[str, Any] | None = None) -> None:
    """Make `run_dir` a fresh run folder holding `config` (and `networks`); an existing run needs `force`."""
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise GankitError(
                f"run folder {str(run_dir)!r} already exists; "
                "accepted: a new folder, --resume to continue it, or --force to replace it"
            )
        progress_frames = sorted(
            (run_dir / FIGURE_DIR / "progress").glob("step-*.png")
        )  # else the old run's frames join the GIF
        for path in [
            *list_checkpoints(run_dir),
            run_dir / METRICS_FILE,
            run_dir / CONFIG_FILE,
            run_dir / NETWORKS_FILE,
            *progress_frames,
        ]:
            path.unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if networks is not None:
            write_json(run_dir / NETWORKS_FILE, networks)
        write_json(run_dir / CONFIG_FILE, config.to_dict())
    except OSError as error:
        raise GankitError(
            f"run folder {str(run_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
        ) from None


def write_checkpoint(run_dir: Path, step: int, state: dict[str, Any]) -> Path:
    path = checkpoint_path(run_dir, step)
    try:
        save_checkpoint(path, state)
    except OSError as error:
        raise GankitError(
            f"checkpoint {str(path)!r} could not be written ({error.strerror}); earlier checkpoints are intact"
        ) from None
    return path


def rotate_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints."""
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def newest_state(run_dir: Path) -> dict[str, Any] | None:
    """The newest checkpoint's state, after removing writes that a kill cut short (None: no checkpoint yet)."""
    for leftover in (Path(run_dir) / CHECKPOINT_DIR).glob(".*.tmp"):
        leftover.unlink()
    checkpoints = list_checkpoints(run_dir)
    return load_checkpoint(checkpoints[-1]) if checkpoints else None


# ----- the global random states, saved in every checkpoint -----
def global_rng_state() -> dict[str, Any]:
    # Training draws only from the trainer's own generator; the global states are saved too so
    # that code a user hooks into the loop also continues exactly.
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, mt_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": [version, list(mt_state), gauss],
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
