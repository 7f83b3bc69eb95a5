"""File helpers shared by every module that writes: atomic writes, a folder's writer lock, the user cache folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from gankit.errors import GankitError

CACHE_ENV = "XDG_CACHE_HOME"


@contextmanager
def atomic_file(path: str | Path, *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` only when the block ends without an exception.

    The data goes to a temporary file in the same folder, is fsynced, renamed over `path`, and the
    rename is made durable with an fsync of the folder; `handle.name` is the temporary file's path
    (to verify what was written before it counts). On any exception (Ctrl-C too) the temporary
    file is removed, so `path` holds either its old content or all of the new. The file's mode follows
    the umask, as a file that any other program writes (with umask 022 others may read it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(descriptor)
    try:
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp's file is private (0600) whatever the umask
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


def current_umask() -> int:
    """This process's umask: from /proc where Linux shows it, else set and put back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as handle:
        handle.write(data)


LOCK_FILE = ".lock"


class FolderLock:
    """An exclusive OS file lock (flock) on `folder`/.lock, held by one writing process at a time.

    The kernel releases it when the process ends in any way, SIGKILL included, so a lock can never be
    left stale; the file holds the holder's PID for the refusal message and is removed on release (a
    process that locked a file removed meanwhile takes the new one instead). Readers take no lock.
    Where `fcntl` does not exist (Windows) nothing is locked.
    """

    def __init__(self, folder: str | Path, *, what: str = "run folder"):
        self.folder, self.what = Path(folder), what
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:
            return self
        path = self.folder / LOCK_FILE
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise GankitError(
                    f"{self.what} {str(self.folder)!r} is being written by process {holder}; accepted: wait until "
                    "it has finished (reading it with sample, eval or plot works meanwhile), or another folder"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # released and removed by its holder between our open and our lock: take the new file
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        import fcntl

        (self.folder / LOCK_FILE).unlink(missing_ok=True)  # while held, so no other process holds this file
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def user_cache_dir(*parts: str) -> Path:
    """($XDG_CACHE_HOME or ~/.cache)/gankit/<parts...>: where downloads and trained helpers are kept."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache"
    return Path(root).expanduser().joinpath("gankit", *parts)
