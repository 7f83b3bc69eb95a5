"""More than one process: torch.distributed as torchrun starts it (gloo on CPUs, nccl on GPUs).

    torchrun --nproc-per-node 2 -m gankit.cli train --preset mnist-gan --out runs/ddp
    torchrun --nnodes 2 --node-rank 0 --rdzv-backend c10d --rdzv-endpoint HOST:29500 --nproc-per-node 4 \
        -m gankit.cli train ...

Each process (rank) holds the whole GAN; G and D are each wrapped in their own
DistributedDataParallel, so the D update and the G update each average their own gradients over
the ranks (one wrapper around both would mix the two players' updates). Every rank draws the whole
global batch from the same seeded generator and trains on its own slice of it, so the ranks together
take the step one process takes with the global batch. Rank 0 alone writes the run folder; the
others hold the same weights. A signal to any rank stops all of them at the next logging window,
with one checkpoint. Batch norm normalises each rank's slice by its own statistics (no SyncBatchNorm);
its running statistics are rank 0's, broadcast by DDP.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from gankit.errors import GankitError, bad_value

TIMEOUT_ENV = "GANKIT_DISTRIBUTED_TIMEOUT"  # seconds a rank waits for the others: rendezvous, and rank 0 evaluating
DEFAULT_TIMEOUT = 600


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (one rank when not started by torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def writes(self) -> bool:
        """Whether this rank writes run folders, logs and figures (rank 0)."""
        return self.rank == 0


def launched() -> bool:
    """Whether torchrun started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> World:
    """The current World: torch.distributed's, once initialised, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


@contextmanager
def started(device: str = "cpu") -> Iterator[World]:
    """Join the ranks torchrun started (gloo on CPUs, nccl on GPUs) for the block, then leave."""
    if not launched() or dist.is_initialized():
        yield world()
        return
    backend = "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    except (RuntimeError, ValueError, dist.DistStoreError) as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise GankitError(
            f"rank {os.environ.get('RANK')} could not reach the other ranks in {timeout:g} s ({reason}); "
            "accepted: all ranks started by torchrun with the same --rdzv-endpoint (or MASTER_ADDR/MASTER_PORT)"
        ) from None
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def check_batch(batch_size: int, here: World) -> int:
    """This rank's share of the global batch; the global batch must divide across the ranks."""
    if batch_size % here.size:
        raise bad_value("batch_size", batch_size, f"a multiple of the {here.size} ranks (each trains an equal slice)")
    return batch_size // here.size


def mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of `tensor` over the ranks (itself for one process)."""
    if world().active:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        tensor /= world().size
    return tensor


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true on any rank."""
    if not world().active:
        return flag
    value = torch.tensor([int(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(value: Any) -> list[Any]:
    """`value` of every rank, in rank order (picklable objects: rows of results, arrays)."""
    if not world().active:
        return [value]
    values: list[Any] = [None] * world().size
    dist.all_gather_object(values, value)
    return values


def barrier() -> None:
    """Wait for every rank (nothing for one process)."""
    if world().active:
        dist.barrier()


def on_rank_zero(action: Callable[[], Any]) -> Any:
    """Run `action` on rank 0 only (a write); every rank gets its result, or raises its GankitError, so that a
    refusal stops all ranks alike instead of leaving the others waiting."""
    if not world().active:
        return action()
    outcome: tuple[str, Any] = ("ok", None)
    if world().writes:
        try:
            outcome = ("ok", action())
        except GankitError as error:
            outcome = ("error", str(error))
    kind, value = broadcast(outcome)
    if kind == "error":
        raise GankitError(value)
    return value


def broadcast(value: Any) -> Any:
    """Rank 0's `value`, on every rank."""
    if not world().active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
