"""The state of one GAN of a game, as a checkpoint holds it: the one schema a single run and a stack's member write.

`member_state(...)` assembles it from its parts (both trainers call it); `gankit.statecheck` checks a loaded one
against it before anything is restored. `STATE_FORMAT` numbers the schema: a checkpoint records it, one without it
is of format 1 (written before the number was), and one of a later format than this code knows is refused in one
line rather than misread. `tests/data/golden-run` holds a run written by an earlier version, which every later one
must still read.
"""

from __future__ import annotations

from typing import Any

import torch

STATE_FORMAT = 1
# What every checkpoint holds, and of which type: anything else is a forged or foreign file. ("format" may be absent:
# format 1; "G_ema" is None without an EMA.)
CHECKPOINT_ENTRIES = {
    "config": dict, "step": int, "G": dict, "D": dict, "opt_g": dict, "opt_d": dict, "rng": torch.Tensor,
    "order": torch.Tensor, "cursor": int, "data_mean": torch.Tensor, "data_std": torch.Tensor, "global_rng": dict,
}  # fmt: skip


def member_state(
    *,
    step: int,
    G: dict[str, torch.Tensor],
    G_ema: dict[str, torch.Tensor] | None,
    D: dict[str, torch.Tensor],
    opt_g: dict[str, Any],
    opt_d: dict[str, Any],
    rng: torch.Tensor,
    order: torch.Tensor,
    cursor: int,
    data: Any,
) -> dict[str, Any]:
    """One member's state: its step, weights (G, its moving average, D), both Adams' states (torch's format), its
    training RNG, its data order and cursor, and its data's standardisation (`data.mean`, `data.std`)."""
    return {
        "format": STATE_FORMAT,
        "step": step,
        "G": G,
        "G_ema": G_ema,
        "D": D,
        "opt_g": opt_g,
        "opt_d": opt_d,
        "rng": rng,
        "order": order,
        "cursor": cursor,
        "data_mean": data.mean,
        "data_std": data.std,
    }


def state_format(state: dict[str, Any]) -> Any:
    """The schema's number a checkpoint records (1 where it records none)."""
    return state.get("format", 1)
