"""How many torch CPU threads a training uses, chosen in one place.

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
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from gankit.config import TrainConfig

CGROUP_V2, CGROUP_V1 = Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
PROC_STAT = Path("/proc/stat")
CHECK_SECONDS = 10.0  # how often a governed run looks at the other processes' load
PROBE_SECONDS = 0.25  # how long the first look lasts


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


def free_cores(others: float | None, cores: int) -> int:
    """The threads to use when other processes keep `others` cores busy: the rest, at least one."""
    if others is None:
        return cores
    return max(1, min(cores, round(cores - others)))


def training_threads(config: TrainConfig, members: int = 1, *, others: float | None = None) -> int:
    """`config.threads` (capped at the usable cores, with a warning), else: one thread for a single toy
    GAN, and for image models and for stacks of two or more toy GANs the usable cores that other
    processes leave free (a stack of many GANs has enough work to share between cores)."""
    cores = usable_cores()
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
        self.governed = not config.threads and (config.is_image or members > 1)
        self.threads = training_threads(config, members)
        self._load = CpuLoad()
        self._checked = time.perf_counter()

    def start(self) -> int:
        """Set the threads to start with: a resumed run's own count, else what the load leaves free."""
        if self._start_threads and self.governed:
            self.threads = min(self._start_threads, usable_cores())
        elif self.governed:
            time.sleep(PROBE_SECONDS)
            self.threads = training_threads(self.config, self.members, others=self._load.others())
        torch.set_num_threads(self.threads)
        self._checked = time.perf_counter()
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


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` torch threads, then restore the caller's count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
