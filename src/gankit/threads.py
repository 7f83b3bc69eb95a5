"""How many CPU threads gankit computes with, chosen in one place for everything it computes.

A run may only use the cores it is given: its CPU affinity, a cgroup CPU quota (a container, a
shared server's slice), and OMP_NUM_THREADS when set. Of those, other processes may keep some busy:
with two CPU-bound processes beside it on 2 cores, an MNIST run on both cores trained at 2-3
steps/s against 13-14 on one, because the threads of one step wait for each other at every
barrier while the other processes hold the cores. So an image model's default thread count is the
usable cores that other processes leave free (measured from /proc/stat, this process's own CPU
time taken out), checked again as training goes (`ThreadGovernor`). Toy models stay on one thread:
their matrices are too small for more to pay.

Results depend on the thread count (parallel sums add in another order), so a run is reproducible
bit for bit with the same count: `--threads N` pins it, a resumed run starts on its checkpoint's
count, and every change is logged in the metrics log as {"event": "threads"}.

The same policy covers everything else gankit computes, in the CLI, the Python API, a notebook and
`gankit lab`: the classifier's training and features, FD and W1 evaluations, sampling, the standing
statistics, views, figures and the report's data. Each public entry point runs inside
`policy_threads(config)`, which sets torch's threads (and the BLAS pools numpy and scipy use) to
`choose_threads(config)` and restores the caller's counts after; inside another such block it changes
nothing, so the outermost entry (a training's `ThreadGovernor`, say) decides for all it calls. Work
that belongs to no run (the classifier, a report) counts as image work. A choice that differs from
the one before is logged (logger "gankit.threads"); in a run, the metrics log has the events above.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from gankit.config import TrainConfig

CGROUP_V2, CGROUP_V1 = Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
PROC_STAT = Path("/proc/stat")
CHECK_SECONDS = 10.0  # how often a governed run looks at the other processes' load
PROBE_SECONDS = 0.25  # how long the first look lasts
LOG = logging.getLogger("gankit.threads")


def cpu_quota() -> float | None:
    """Cores' worth of CPU time the cgroup allows (cgroup v2 cpu.max or v1 cfs quota), None when unlimited."""
    try:
        quota, period = CGROUP_V2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(CGROUP_V1.read_text())
        period = int(CGROUP_V1.with_name("cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup quota and OMP_NUM_THREADS."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        cores = min(cores, int(omp))
    return cores


class CpuLoad:
    """How many cores' worth of CPU other processes used since the last reading (system busy time from
    /proc/stat minus this process's CPU time); None where /proc/stat cannot be read."""

    def __init__(self) -> None:
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            fields = [int(v) for v in PROC_STAT.read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / ticks, time.process_time(), time.perf_counter()

    def others(self) -> float | None:
        """Cores' worth of CPU other processes used since the last call."""
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[2] - last[2] <= 0:
            return None
        return max(0.0, (now[0] - last[0]) - (now[1] - last[1])) / (now[2] - last[2])


_recent: tuple[float, float | None] | None = None  # (when, others) of the last look by others_now


def others_now() -> float | None:
    """Cores' worth of CPU other processes keep busy now: a look of PROBE_SECONDS, reused for CHECK_SECONDS
    (so that many small computations in a row pay for one look)."""
    global _recent
    if _recent is None or time.perf_counter() - _recent[0] > CHECK_SECONDS:
        load = CpuLoad()
        time.sleep(PROBE_SECONDS)
        _recent = (time.perf_counter(), load.others())
    return _recent[1]


def free_cores(others: float | None, cores: int) -> int:
    """The threads to use when other processes keep `others` cores busy: the rest, at least one."""
    if others is None:
        return cores
    return max(1, min(cores, round(cores - others)))


def governed(config: TrainConfig | None, members: int = 1) -> bool:
    """Whether the work follows the load: not pinned (`threads`), and image-sized (image models, a stack of
    toy GANs, or work of no run) rather than one toy GAN."""
    return config is None or (not config.threads and (config.is_image or members > 1))


def training_threads(config: TrainConfig | None, members: int = 1, *, others: float | None = None) -> int:
    """`config.threads` (capped at the usable cores, with a warning), else: one thread for a single toy
    GAN, and for image models, for stacks of two or more toy GANs and for work of no run (`config` None)
    the usable cores that other processes leave free (a stack of many GANs has enough work to share between
    cores)."""
    cores = usable_cores()
    if config is None:
        return free_cores(others, cores)
    if config.threads:
        if config.threads > cores:  # more threads than cores only make them wait for each other
            warnings.warn(
                f"threads={config.threads} is more than the {cores} usable cores; using {cores}", stacklevel=2
            )
            return cores
        return config.threads
    return free_cores(others, cores) if config.is_image or members > 1 else 1


class ThreadGovernor:
    """Keeps an unpinned image run (or stack) on the cores other processes leave free, as it trains.

    `start()` measures the load for PROBE_SECONDS and sets the threads; `check()`, called between
    steps, looks again every CHECK_SECONDS and returns the new count when it changed (else None).
    A pinned count (`--threads`) or a single toy GAN is left alone.
    """

    def __init__(self, config: TrainConfig, members: int = 1, *, start_threads: int | None = None):
        self.config, self.members, self._start_threads = config, members, start_threads
        self.governed = governed(config, members)
        self.threads = training_threads(config, members)
        self._load = CpuLoad()
        self._checked = time.perf_counter()

    def start(self) -> int:
        """Set the threads to start with: a resumed run's own count, else what the load leaves free."""
        if self._start_threads and self.governed:
            self.threads = min(self._start_threads, usable_cores())
        elif self.governed:
            self.threads = training_threads(self.config, self.members, others=others_now())
        torch.set_num_threads(self.threads)
        self._load, self._checked = CpuLoad(), time.perf_counter()  # the next check looks from here
        return self.threads

    def check(self) -> int | None:
        """Look at the load again (every CHECK_SECONDS); the new thread count when it changed, else None."""
        if not self.governed or time.perf_counter() - self._checked < CHECK_SECONDS:
            return None
        self._checked = time.perf_counter()
        wanted = training_threads(self.config, self.members, others=self._load.others())
        if wanted == self.threads:
            return None
        self.threads = wanted
        torch.set_num_threads(wanted)
        return wanted


def choose_threads(config: TrainConfig | None = None, members: int = 1) -> int:
    """The policy's thread count for work on `config` (a run, or a stack of `members` GANs; None: work of
    no run), the load measured now where the work follows it (`governed`)."""
    return training_threads(config, members, others=others_now() if governed(config, members) else None)


_depth = 0  # how many policy blocks are running now
_logged: int | None = None
_blas: tuple[int, Any] | None = None  # (modules imported, threadpoolctl's controller of the BLAS pools then)


def _blas_pools() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries: looking for them takes milliseconds, so it is
    looked for again only when more modules (which may bring another BLAS) were imported since."""
    global _blas
    if _blas is None or _blas[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _blas = (len(sys.modules), ThreadpoolController().select(user_api="blas"))
    return _blas[1]


@contextmanager
def policy_threads(config: TrainConfig | None = None, members: int = 1, *, count: int | None = None) -> Iterator[int]:
    """Run the block on the policy's thread count (`choose_threads`, or `count` when given: a governor's),
    for torch and for the BLAS pools of numpy and scipy; restore the caller's counts after. Inside another
    policy block the outer block's threads stay as they are. Yields the count."""
    global _depth, _logged
    if _depth:
        yield torch.get_num_threads()
        return
    count = choose_threads(config, members) if count is None else count
    if count != _logged:
        LOG.info("computing on %d thread%s of %d usable cores", count, "s" * (count != 1), usable_cores())
        _logged = count
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    _depth += 1
    try:
        with _blas_pools().limit(limits=count):
            yield count
    finally:
        _depth -= 1
        torch.set_num_threads(before)


Function = TypeVar("Function", bound=Callable[..., Any])


def follows_policy(method: Function) -> Function:
    """A method that computes inside `policy_threads` of its object's `config` (None when it has none)."""

    @functools.wraps(method)
    def computing(self: Any, *args: Any, **kwargs: Any) -> Any:
        with policy_threads(getattr(self, "config", None)):
            return method(self, *args, **kwargs)

    return computing  # type: ignore[return-value]
