"""Memory checks before allocating: a request the machine cannot hold is refused in one line with the estimate,
instead of swapping the machine to a halt or dying mid-run."""

from __future__ import annotations

import os
from pathlib import Path

from gankit.errors import GankitError

MEMINFO = Path("/proc/meminfo")
HEADROOM = 0.8  # of the available memory a single request may take


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now (Linux: MemAvailable), or None where unknown."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def readable(size: float) -> str:
    """A byte count for people: 25.6 GB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def require(what: str, needed: float, accepted: str) -> None:
    """GankitError unless `needed` bytes fit in the memory available now (with headroom)."""
    available = available_memory()
    if available is not None and needed > HEADROOM * available:
        raise GankitError(
            f"{what} would need about {readable(needed)} of memory and {readable(available)} are available; "
            f"accepted: {accepted}"
        )
