"""File helpers shared by every module that writes: atomic writes and the user cache folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CACHE_ENV = "XDG_CACHE_HOME"


@contextmanager
def atomic_file(path: str | Path, *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` only when the block ends without an exception.

    The data goes to a temporary file in the same folder, is fsynced, renamed over `path`, and the
    rename is made durable with an fsync of the folder; `handle.name` is the temporary file's path
    (to verify what was written before it counts). On any exception (Ctrl-C too) the temporary
    file is removed, so `path` holds either its old content or all of the new.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(descriptor)
    try:
        with open(temporary, "wb") as handle:  # opened by name, so that `handle.name` is the temporary path
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as handle:
        handle.write(data)


def user_cache_dir(*parts: str) -> Path:
    """($XDG_CACHE_HOME or ~/.cache)/gankit/<parts...>: where downloads and trained helpers are kept."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache"
    return Path(root).expanduser().joinpath("gankit", *parts)
