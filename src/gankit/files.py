"""File helpers shared by every module that writes: atomic writes, a folder's writer lock, the user cache folder."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gankit.errors import GankitError, bad_value

CACHE_ENV = "XDG_CACHE_HOME"
# The marker that proves a folder was written by gankit (only gankit writes this name): what may be cleared in it.
MARKER_FILE, MARKER_FORMAT = ".gankit", 1
MARKER_LIMIT = 4096
JSON_LIMIT = 64 << 20  # far above any config, networks or sweep file gankit writes


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


# ----- one spelling of every path, regular files only -----
def _kind(path: Path) -> str | None:
    """'folder', 'file', or what else `path` is (None: nothing there); a link counts as what it points to."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise GankitError(
            f"{str(path)!r} cannot be inspected ({error.strerror}); accepted: a path you can use"
        ) from None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return {stat.S_IFCHR: "device", stat.S_IFBLK: "device", stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}.get(
        stat.S_IFMT(mode), "special file"
    )


def resolve_path(path: str | os.PathLike, what: str) -> Path:
    """`path` absolute, with '..' and symlinks resolved: the one spelling that is compared, created, locked and
    cleaned afterwards ('a/missing/../b' is 'a/b', whatever 'missing' is)."""
    if not isinstance(path, (str, os.PathLike)) or str(path).strip() == "":
        raise bad_value(
            what,
            str(path) if isinstance(path, (str, os.PathLike)) else path,
            "a path (an empty one would mean the current folder)",
        )
    return Path(os.path.realpath(os.fspath(path)))


def resolve_folder(path: str | os.PathLike, what: str = "--out") -> Path:
    """An output folder, resolved (see `resolve_path`): GankitError for an existing file, device, FIFO or socket,
    and for a folder inside a gankit run folder (whose clean-ups it would be caught in)."""
    resolved = resolve_path(path, what)
    kind = _kind(resolved)
    if kind not in (None, "folder"):
        raise bad_value(what, str(path), f"a folder, not an existing {kind} ({str(resolved)!r})")
    inside = next((parent for parent in resolved.parents if marker(parent).get("gankit") == "run"), None)
    if inside is not None:
        raise bad_value(what, str(path), f"a folder outside the gankit run folder {str(inside)!r}")
    return resolved


def resolve_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """An output file, resolved (see `resolve_path`): GankitError unless it is new or an existing regular file
    (a device node or FIFO would be replaced by a regular file, or block)."""
    resolved = resolve_path(path, what)
    kind = _kind(resolved)
    if kind not in (None, "file"):
        raise bad_value(what, str(path), f"a new or regular file, not an existing {kind} ({str(resolved)!r})")
    return resolved


@contextmanager
def open_regular(path: str | Path, what: str, accepted: str) -> Iterator[BinaryIO]:
    """`path` opened for reading only if it is a regular file (a link to one counts): a FIFO would block and
    a device never end (GankitError, one line)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise GankitError(f"{what} {str(path)!r} could not be read ({error.strerror}); accepted: {accepted}") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            kind = _kind(Path(path)) or "special file"
            raise GankitError(f"{what} {str(path)!r} is a {kind}, not a regular file; accepted: {accepted}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        yield handle


def read_regular(path: str | Path, what: str, accepted: str, *, limit: int) -> bytes:
    """The bytes of a regular file (see `open_regular`) of at most `limit` bytes (GankitError beyond)."""
    with open_regular(path, what, accepted) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise GankitError(f"{what} {str(path)!r} is larger than {limit:,} bytes; accepted: {accepted}")
    return data


def parse_json(text: str | bytes) -> Any:
    """JSON with every object's keys distinct (a repeated key would silently keep one of them); ValueError
    otherwise, and for nesting too deep to parse."""

    def distinct(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated = next((key for key in keys if keys.count(key) > 1), None)
        if repeated is not None:
            raise ValueError(f"key {repeated!r} appears twice")
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=distinct)
    except RecursionError:
        raise ValueError("nested too deep") from None


def read_json(path: str | Path, what: str, accepted: str) -> Any:
    """A JSON file (a regular one, of at most JSON_LIMIT bytes, keys distinct), or GankitError in one line."""
    data = read_regular(path, what, accepted, limit=JSON_LIMIT)
    try:
        return parse_json(data)
    except ValueError as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise GankitError(f"{what} {str(path)!r} could not be read ({reason}); accepted: {accepted}") from None


def read_npz(path: str | Path, what: str, accepted: str) -> dict[str, Any]:
    """The arrays of an .npz file (a regular one; no pickles), or GankitError in one line."""
    with open_regular(path, what, accepted) as handle:
        try:
            with np.load(handle, allow_pickle=False) as saved:
                return {key: saved[key] for key in saved.files}
        except (ValueError, OSError, EOFError, KeyError) as error:
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            raise GankitError(f"{what} {str(path)!r} could not be read ({reason}); accepted: {accepted}") from None


def marker(folder: Path) -> dict[str, Any]:
    """The gankit marker of `folder` ({} when there is none, or one of a format this gankit does not know)."""
    path = Path(folder) / MARKER_FILE
    if _kind(path) != "file":
        return {}
    try:
        value = parse_json(read_regular(path, "marker", "gankit's own", limit=MARKER_LIMIT))
    except (GankitError, ValueError):
        return {}
    if not isinstance(value, dict) or value.get("format") != MARKER_FORMAT or not isinstance(value.get("gankit"), str):
        return {}
    return value


def write_marker(folder: Path, kind: str, **extra: Any) -> None:
    """Mark `folder` as a gankit `kind` folder ('run', 'sweep'): only a marked folder is ever cleared."""
    atomic_write(
        Path(folder) / MARKER_FILE, (json.dumps({"gankit": kind, "format": MARKER_FORMAT, **extra}) + "\n").encode()
    )
