"""Whether a checkpoint's state can be loaded into a game: checked whole before anything is loaded or any file
changes, so that a forged or damaged checkpoint is refused in one line instead of crashing the process, being
reported as a diverged training, or overwriting the good checkpoints of its folder.

The state is compared with what the game itself would save (`game.member_state(k)`): every entry and its type,
the weights' names, dtypes and shapes, the optimiser moments against the parameters they belong to, finite
values, the step within [0, the config's steps], the data order a permutation of the training set, and every
random state of the size its generator takes (tried on a fresh generator, never the global ones).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit.config import FREE_FIELDS, TrainConfig
from gankit.errors import GankitError
from gankit.memberstate import CHECKPOINT_ENTRIES, STATE_FORMAT, state_format

ADAM_MOMENTS = ("exp_avg", "exp_avg_sq")
ACCEPTED = "a checkpoint written by gankit train for this run"


class _Refused(Exception):
    """What is wrong with the state, said in a few words."""


def check_state(state: dict[str, Any], path: Path, config: TrainConfig, game: Any = None, k: int = 0) -> None:
    """GankitError (one line) unless `state` is a complete, healthy checkpoint of a run trained with `config` (all
    fields but the FREE_FIELDS equal) that member `k` of `game` (a Trainer or StackedTrainer built for it) can load."""
    where = f"checkpoint {str(path)!r}"
    for name, kind in CHECKPOINT_ENTRIES.items():
        value = state.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = "missing" if name not in state else f"a {type(value).__name__}"
            raise GankitError(f"{where} has {found} for {name!r}; accepted: a checkpoint written by gankit train")
    written = state_format(state)
    if not isinstance(written, int) or isinstance(written, bool) or not 1 <= written <= STATE_FORMAT:
        raise GankitError(
            f"{where} has state format {written!r}, which this gankit does not know (a later version wrote it?); "
            f"accepted: formats 1 to {STATE_FORMAT}"
        )
    ours = config.to_dict()
    theirs = state["config"]
    keys = sorted((set(ours) | set(theirs)) - set(FREE_FIELDS))
    mismatch = [key for key in keys if ours.get(key) != theirs.get(key)]
    if mismatch:
        name = mismatch[0]
        raise GankitError(
            f"{where} was made with {name}={theirs.get(name)!r} but the run's config has {ours.get(name)!r}; "
            "accepted: a checkpoint of this run"
        )
    for net in ("G", "D", "G_ema"):
        weights = state.get(net) or {}
        bad = next((key for key, v in weights.items() if not isinstance(v, torch.Tensor) or not _finite(v)), None)
        if bad is not None:
            raise GankitError(
                f"{where} holds NaN or infinite weights ({net}.{bad}); accepted: a checkpoint of a healthy run"
            )
    if game is None:
        return
    try:
        _check_against(state, game, k, config)
    except _Refused as reason:
        raise GankitError(f"{where} is damaged or forged ({reason}); accepted: {ACCEPTED}") from None


def _finite(tensor: torch.Tensor) -> bool:
    return not tensor.is_floating_point() or bool(torch.isfinite(tensor).all())


def _check_against(state: dict[str, Any], game: Any, k: int, config: TrainConfig) -> None:
    expected = game.member_state(k)
    step = state["step"]
    if not 0 <= step <= config.steps:
        raise _Refused(f"step {step} outside [0, {config.steps}]")
    for net in ("G", "D", "G_ema"):
        _same_tensors(net, state.get(net), expected[net])
    generator, discriminator = _modules(game, k)
    for name, module in (("opt_g", generator), ("opt_d", discriminator)):
        _check_adam(name, state[name], [p for p in module.parameters() if p.requires_grad], expected[name])
    order = state["order"]
    # A game built without its training data (a run read back to sample) knows no size: the order's own then.
    n = len(expected["order"]) or len(order)
    if order.dtype != expected["order"].dtype or tuple(order.shape) != (n,):
        raise _Refused(f"data order of shape {tuple(order.shape)}, {order.dtype}; the data has {n} points")
    if not torch.equal(order.sort().values, torch.arange(n, dtype=order.dtype)):
        raise _Refused(f"the data order is not a permutation of the {n} training points")
    if not 0 <= state["cursor"] <= n:
        raise _Refused(f"data cursor {state['cursor']} outside [0, {n}]")
    for name in ("data_mean", "data_std"):
        _same_tensors(name, {name: state[name]}, {name: expected[name]})
    if not bool((state["data_std"] > 0).all()):
        raise _Refused("a data scale that is not positive")
    _check_random_states(state, expected)
    threads = state.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 0):
        raise _Refused(f"thread count {threads!r}")
    if not isinstance(state.get("binding", {}), dict):
        raise _Refused("a binding that is not a record")


def _modules(game: Any, k: int) -> tuple[nn.Module, nn.Module]:
    """Member k's (G, D) modules, whose parameters its optimisers hold in order."""
    networks = getattr(game, "networks", None)  # a stack keeps one module pair per member
    return networks[k] if networks is not None else (game.G, game.D)


def _same_tensors(what: str, saved: Any, expected: Any) -> None:
    """`saved` has exactly `expected`'s tensor names, dtypes and shapes, all finite."""
    if expected is None or saved is None:
        if (expected is None) != (saved is None):
            raise _Refused(f"{what} {'missing' if saved is None else 'where the run has none'}")
        return
    if not isinstance(saved, dict) or set(saved) != set(expected):
        names = sorted(set(saved) ^ set(expected)) if isinstance(saved, dict) else [type(saved).__name__]
        raise _Refused(f"{what} with other entries ({', '.join(map(str, names[:3]))})")
    for name, tensor in saved.items():
        want = expected[name]
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != want.dtype or tensor.shape != want.shape:
            got = f"{tuple(tensor.shape)} {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise _Refused(f"{what}.{name} is {got}, the run's is {tuple(want.shape)} {want.dtype}")
        if not _finite(tensor):
            raise _Refused(f"{what}.{name} holds NaN or infinite values")


def _check_adam(what: str, saved: dict[str, Any], params: list[torch.Tensor], expected: dict[str, Any]) -> None:
    """An Adam state_dict for `params`: its parameter groups as the run's, and each moment of its parameter's
    shape and dtype and finite (a moment of another shape crashes the fused update)."""
    groups, moments = saved.get("param_groups"), saved.get("state")
    if not isinstance(groups, list) or not isinstance(moments, dict) or set(saved) != {"state", "param_groups"}:
        raise _Refused(f"{what} is not an optimiser state")
    if len(groups) != len(expected["param_groups"]) or any(
        not isinstance(g, dict) or g.get("params") != e["params"] for g, e in zip(groups, expected["param_groups"])
    ):
        raise _Refused(f"{what} holds other parameter groups than the run's networks")
    for group in groups:
        for key, value in group.items():
            numbers = value if isinstance(value, (list, tuple)) and key != "params" else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
                raise _Refused(f"{what} has {key}={value!r}")
    for index, entry in moments.items():
        if not isinstance(index, int) or not 0 <= index < len(params):
            raise _Refused(f"{what} has a state for parameter {index!r} of {len(params)}")
        if not isinstance(entry, dict) or set(entry) != {"step", *ADAM_MOMENTS}:
            raise _Refused(f"{what} parameter {index} has no Adam state")
        param = params[index]
        for name in ADAM_MOMENTS:
            moment = entry[name]
            if not isinstance(moment, torch.Tensor) or moment.shape != param.shape or moment.dtype != param.dtype:
                got = tuple(moment.shape) if isinstance(moment, torch.Tensor) else type(moment).__name__
                raise _Refused(
                    f"{what} parameter {index} has {name} of shape {got}, the parameter {tuple(param.shape)}"
                )
            if not _finite(moment) or (name == "exp_avg_sq" and bool((moment < 0).any())):
                raise _Refused(f"{what} parameter {index} has NaN, infinite or negative {name}")
        count = entry["step"]
        if not isinstance(count, torch.Tensor) or count.numel() != 1 or not _finite(count) or float(count) < 0:
            raise _Refused(f"{what} parameter {index} has step count {count!r}")


def _check_random_states(state: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every random state loads into a fresh generator of its kind (the global ones are not touched)."""
    rng = state["rng"]
    if rng.dtype != expected["rng"].dtype or rng.shape != expected["rng"].shape:
        raise _Refused(f"training random state of {rng.numel()} bytes, not {expected['rng'].numel()}")
    saved = state["global_rng"]
    try:
        torch.Generator().set_state(saved["torch"])
        kind, keys, position, has_gauss, cached = saved["numpy"]
        np.random.RandomState().set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
        if keys.numel() != 624 or keys.min() < 0 or keys.max() >= 2**32:
            raise ValueError("numpy key of the wrong size or range")
        version, mt_state, gauss = saved["python"]
        random.Random().setstate((version, tuple(mt_state), gauss))
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, AttributeError, IndexError) as error:
        reason = str(error).splitlines()[0][:80] if str(error) else type(error).__name__
        raise _Refused(f"a global random state that does not load ({reason})") from None
