"""The run folder's layout: what a training writes where, and how it is read back.

out/.gankit                     the marker: this folder is a gankit run folder (format version; sweep member of)
out/config.json                 the TrainConfig, every field concrete
out/networks.json               only for your own networks or loss: their class, parameter count, fingerprint
out/metrics.jsonl               append-only, one JSON object a line (training stats and evaluations)
out/checkpoints/step-N.safetensors
out/best.safetensors            the checkpoint of the best evaluation (gankit.metrics.RANKING), out of the rotation
out/views/step-N.npz            the lab's views at each evaluation (gankit.views), for the report page
out/figures/*.png
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.config import TrainConfig
from gankit.errors import GankitError
from gankit.files import (
    LOCK_FILE,
    MARKER_FILE,
    FolderLock,
    atomic_write,
    marker,
    open_regular,
    read_json,
    write_marker,
)
from gankit.metrics import RANKING
from gankit.tensorboard import FOLDER as TENSORBOARD_DIR

CONFIG_FILE, NETWORKS_FILE, METRICS_FILE = "config.json", "networks.json", "metrics.jsonl"
CHECKPOINT_DIR, FIGURE_DIR, VIEW_DIR = "checkpoints", "figures", "views"
BEST_CHECKPOINT = "best.safetensors"
# A metrics line longer than this is no record gankit wrote (its records are a few hundred bytes).
METRICS_LINE_LIMIT = 1 << 16


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Where the checkpoint of `step` lives in a run folder."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:08d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """A run folder's step checkpoints, oldest first."""
    return sorted((Path(run_dir) / CHECKPOINT_DIR).glob("step-*.safetensors"))


def best_checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / BEST_CHECKPOINT


def best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The evaluation record with the lowest value of the run's own metric (the first of gankit.metrics.RANKING
    logged; the earliest of equal ones), or None before any evaluation."""
    metric = next((m for m in RANKING if any(m in r for r in records)), None)
    scored = [r for r in records if isinstance(r.get(metric), (int, float)) and r[metric] == r[metric]]
    return min(scored, key=lambda r: r[metric]) if scored else None


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The metrics log as the run's history: after a resume from step N, lines the killed run
    wrote past N are superseded by the resumed run's and dropped here (the file keeps them)."""
    records: list[dict[str, Any]] = []
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return records
    parsed = []
    with open_regular(path, "metrics log", "a metrics log written by gankit") as handle:
        for number, raw in enumerate(_bounded_lines(handle), start=1):
            line = raw.decode(errors="replace") if raw is not None else "<a line too long>"
            try:
                record = json.loads(line) if raw is not None else None
            except (ValueError, RecursionError):
                record = None
            parsed.append((number, line, record if _is_record(record) else None))
    skipped = []
    for index, (number, line, record) in enumerate(parsed):
        if record is None:
            following = next((r for _, _, r in parsed[index + 1 :] if r is not None), None)
            cut_by_a_kill = following is None or following.get("event") == "resume"
            if line.strip() and not cut_by_a_kill:
                skipped.append(number)
            continue
        if record.get("event") == "resume":
            records = [r for r in records if r.get("step", 0) <= record["step"]]
        else:
            records.append(record)
    if skipped:
        shown = ", ".join(map(str, skipped[:5])) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"{path}: skipped {len(skipped)} line(s) that are not metrics records (line {shown})", stacklevel=2
        )
    return records


def _bounded_lines(handle) -> Iterator[bytes | None]:
    """The lines of a binary file, each None when longer than METRICS_LINE_LIMIT (read past, never held)."""
    while True:
        line = handle.readline(METRICS_LINE_LIMIT + 1)
        if not line:
            return
        if len(line) > METRICS_LINE_LIMIT and not line.endswith(b"\n"):
            while (rest := handle.readline(METRICS_LINE_LIMIT)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line.rstrip(b"\r\n")


def _is_record(record: Any) -> bool:
    """A metrics record: a JSON object with a whole, non-negative step."""
    if not isinstance(record, dict):
        return False
    step = record.get("step")
    return isinstance(step, int) and not isinstance(step, bool) and step >= 0


def check_metrics_log(run_dir: Path) -> None:
    """GankitError unless the run's metrics log is absent or its own regular file: appending through a link or
    into a FIFO would write outside the run (checked before a resume changes anything)."""
    path = Path(run_dir) / METRICS_FILE
    with suppress(FileNotFoundError):
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a link" if stat.S_ISLNK(mode) else "not a regular file"
            raise GankitError(
                f"metrics log {str(path)!r} is {kind}; accepted: the run's own metrics.jsonl, a regular file"
            )


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line to the run's metrics log (which is never rewritten)."""
    path = Path(run_dir) / METRICS_FILE
    # Never through a link, nor into a FIFO or device: the log is the run's own regular file.
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags, 0o666)
        with os.fdopen(descriptor, "rb+") as handle:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise GankitError(f"metrics log {str(path)!r} is not a regular file; {_what_is_kept(run_dir)}")
            os.set_blocking(descriptor, True)
            handle.seek(0, 2)
            if handle.tell():  # a line a kill cut short must not swallow the next record
                handle.seek(-1, 2)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            handle.write((json.dumps(record) + "\n").encode())
    except OSError as error:
        reason = "it is a link" if path.is_symlink() else error.strerror
        raise GankitError(
            f"metrics log {str(path)!r} could not be written ({reason}); {_what_is_kept(run_dir)}"
        ) from None


def write_json(path: Path, value: Any) -> None:
    """Write `value` as indented JSON, atomically."""
    atomic_write(path, (json.dumps(value, indent=2) + "\n").encode())


def read_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run folder was trained with (GankitError when it holds none)."""
    if not (Path(run_dir) / CONFIG_FILE).exists():
        raise GankitError(
            f"run folder {str(run_dir)!r} holds no {CONFIG_FILE}; accepted: a folder written by gankit train"
        )
    return TrainConfig.from_json(Path(run_dir) / CONFIG_FILE)


def read_networks(run_dir: Path) -> dict[str, Any] | None:
    """What networks.json records (None for a run of gankit's own networks and loss)."""
    path = Path(run_dir) / NETWORKS_FILE
    if not path.exists():
        return None
    return read_json(path, "networks record", "the file gankit train wrote")


def contents(folder: Path) -> list[Path]:
    """What a folder holds, its lock file left out."""
    return [path for path in Path(folder).iterdir() if path.name != LOCK_FILE] if Path(folder).is_dir() else []


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` is proved to be one that gankit wrote: it holds gankit's run marker (a config.json alone
    proves nothing: anyone can write one)."""
    return marker(folder).get("gankit") == "run"


def _make_folders(folder: Path, what: str) -> list[Path]:
    """Create `folder` and its missing parents; the ones this call created, outermost first."""
    missing = [path for path in [folder, *folder.parents] if not os.path.lexists(path)][::-1]
    created = []
    for path in missing:
        try:
            path.mkdir()
        except FileExistsError:  # made by another process meanwhile: not ours to remove
            continue
        except OSError as error:
            raise GankitError(
                f"{what} {str(folder)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
            ) from None
        created.append(path)
    if not folder.is_dir():
        raise GankitError(f"{what} {str(folder)!r} is not a folder; accepted: a folder you can write to")
    return created


@contextmanager
def claimed(folder: Path, *, what: str = "run folder") -> Iterator[None]:
    """Create `folder` (a resolved path, `files.resolve_folder`) if needed and hold its writer lock for the block
    (a second writer is refused in one line naming the holder's PID). If the block fails (a refusal, Ctrl-C)
    before anything was trained into a folder this call created, that folder (and the parents this call created,
    when empty) is removed again: a refused command leaves nothing behind, and a folder that existed before is
    never removed."""
    created = _make_folders(folder, what)
    try:
        with FolderLock(folder, what=what):
            yield
    except BaseException:
        if folder in created and not any(folder.rglob("*.safetensors")) and not read_metrics(folder):
            shutil.rmtree(folder, ignore_errors=True)
            for parent in reversed(created[:-1]):
                with suppress(OSError):
                    parent.rmdir()  # only if empty
        raise


def prepare_run_dir(
    run_dir: Path,
    config: TrainConfig,
    *,
    force: bool,
    networks: dict[str, Any] | None = None,
    sweep: str | None = None,
) -> None:
    """Make `run_dir` a fresh run folder holding `config` (and `networks`); the caller holds its lock.
    `sweep`: the id of the sweep whose member it is (recorded in the marker).

    A folder with anything in it is replaced only with `force`, and only when it is proved to be a gankit run
    folder (its marker); then only the files gankit wrote are removed (a file of your own in it stays). A new
    sweep's member folder may hold only files of yours (left by a sweep's --force): the run goes beside them."""
    if contents(run_dir) and not (sweep and not force and not is_run_folder(run_dir)):
        if not force:
            raise GankitError(
                f"run folder {str(run_dir)!r} already exists; "
                "accepted: a new folder, --resume to continue it, or --force to replace it "
                "(in Python: out=None for the next numbered folder, gankit.resume(path), or force=True)"
            )
        if not is_run_folder(run_dir):
            raise GankitError(
                f"--force will not clear {str(run_dir)!r}: it is not empty and not marked as a gankit run folder "
                f"(no {MARKER_FILE} of this gankit); accepted: a new or empty folder, or a folder written by gankit "
                "train"
            )
        clear_run_dir(run_dir)
    try:
        write_marker(run_dir, "run", **({"sweep": sweep} if sweep else {}))
        if networks is not None:
            write_json(run_dir / NETWORKS_FILE, networks)
        write_json(run_dir / CONFIG_FILE, config.to_dict())
    except OSError as error:
        raise GankitError(
            f"run folder {str(run_dir)!r} is not writable ({error.strerror}); accepted: a folder you can write to"
        ) from None


def gankit_files(run_dir: Path) -> list[Path]:
    """The files of a run folder that gankit wrote (by their names), its marker last."""
    return [
        *list_checkpoints(run_dir),
        best_checkpoint_path(run_dir),
        *sorted((run_dir / VIEW_DIR).glob("step-*.npz")),
        # the old run's progress frames would join the new animation
        *sorted((run_dir / FIGURE_DIR / "progress").glob("step-*.png")),
        *sorted((run_dir / TENSORBOARD_DIR).glob("events.out.tfevents.*")),
        run_dir / METRICS_FILE,
        run_dir / NETWORKS_FILE,
        run_dir / CONFIG_FILE,
        run_dir / MARKER_FILE,
    ]


def clear_run_dir(run_dir: Path) -> None:
    """Remove what gankit wrote in a run folder proved to be one (`is_run_folder`); your own files stay."""
    for path in gankit_files(run_dir):
        if not path.is_dir():
            path.unlink(missing_ok=True)


def remove_run_dir(run_dir: Path) -> None:
    """Remove a gankit run folder: the files gankit wrote in it (only if it is proved to be one), then every
    folder left empty; a folder that still holds a file of your own stays, with that file."""
    if not is_run_folder(run_dir):
        return
    clear_run_dir(run_dir)
    for folder in sorted((p for p in run_dir.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        with suppress(OSError):
            folder.rmdir()
    with suppress(OSError):
        run_dir.rmdir()


def write_checkpoint(run_dir: Path, step: int, state: dict[str, Any], *, path: Path | None = None) -> Path:
    """The checkpoint of `step` (or another `path`, e.g. the best one), written atomically."""
    path = path or checkpoint_path(run_dir, step)
    kept = _what_is_kept(run_dir)
    try:
        save_checkpoint(path, state)
    except OSError as error:
        raise GankitError(f"checkpoint {str(path)!r} could not be written ({error.strerror}); {kept}") from None
    return path


def _what_is_kept(run_dir: Path) -> str:
    """What a failed write leaves, said truthfully."""
    kept = list_checkpoints(run_dir)
    if not kept:
        return "no checkpoint had been written yet"
    return f"the earlier checkpoints are intact (newest: {kept[-1].name})"


def rotate_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints."""
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def newest_state(run_dir: Path) -> dict[str, Any] | None:
    """The newest checkpoint's state (None: no checkpoint yet); nothing in the folder changes."""
    checkpoints = list_checkpoints(run_dir)
    return load_checkpoint(checkpoints[-1]) if checkpoints else None


def remove_cut_writes(run_dir: Path) -> None:
    """Remove the temporary files of checkpoint writes that a kill cut short (`files.atomic_file`'s names)."""
    for leftover in (Path(run_dir) / CHECKPOINT_DIR).glob(".step-*.safetensors.*.tmp"):
        leftover.unlink(missing_ok=True)


# ----- the global random states, saved in every checkpoint -----
def global_rng_state() -> dict[str, Any]:
    """torch's, numpy's and Python's global random states, as a checkpoint stores them."""
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
    """Restore the global random states of `global_rng_state()`."""
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
